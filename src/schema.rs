//! The canonical line item: FOCUS column names, plus `x_` columns for what
//! FOCUS does not name (lineage, provider-specific detail).
//!
//! One macro invocation declares every column once; the Arrow schema, the
//! borrowed [`LineItem`] that mappers fill and the [`BatchBuilder`] that turns
//! line items into Arrow record batches are all generated from that list, so
//! they cannot drift apart.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, Decimal128Builder, MapBuilder, MapFieldNames, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use crate::money;

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Exact decimal, `Decimal128(38, 20)`: costs and unit prices.
    Decimal,
    /// Exact decimal, `Decimal128(38, 16)`: usage, pricing and consumed quantities.
    Quantity,
    /// UTC microseconds.
    Timestamp,
    Count,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Decimal => DataType::Decimal128(money::PRECISION, money::SCALE),
            Kind::Quantity => DataType::Decimal128(money::PRECISION, money::QUANTITY_SCALE),
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Count => DataType::UInt64,
        }
    }
}

macro_rules! value_type {
    (Text, $a:lifetime) => { Option<&$a str> };
    (Decimal, $a:lifetime) => { Option<i128> };
    (Quantity, $a:lifetime) => { Option<i128> };
    (Timestamp, $a:lifetime) => { Option<i64> };
    (Count, $a:lifetime) => { Option<u64> };
}

macro_rules! builder_type {
    (Text) => {
        StringBuilder
    };
    (Decimal) => {
        Decimal128Builder
    };
    (Quantity) => {
        Decimal128Builder
    };
    (Timestamp) => {
        TimestampMicrosecondBuilder
    };
    (Count) => {
        UInt64Builder
    };
}

macro_rules! new_builder {
    (Text, $n:expr) => {
        StringBuilder::with_capacity($n, $n * 16)
    };
    (Decimal, $n:expr) => {
        Decimal128Builder::with_capacity($n)
            .with_precision_and_scale(money::PRECISION, money::SCALE)
            .expect("valid decimal type")
    };
    (Quantity, $n:expr) => {
        Decimal128Builder::with_capacity($n)
            .with_precision_and_scale(money::PRECISION, money::QUANTITY_SCALE)
            .expect("valid decimal type")
    };
    (Timestamp, $n:expr) => {
        TimestampMicrosecondBuilder::with_capacity($n).with_timezone("UTC")
    };
    (Count, $n:expr) => {
        UInt64Builder::with_capacity($n)
    };
}

macro_rules! canonical_columns {
    ($( $name:literal => $field:ident : $kind:ident, )*) => {
        /// Every column before `Tags`, in lake order.
        pub const COLUMNS: &[(&str, Kind)] = &[ $( ($name, Kind::$kind), )* ];

        /// One line item in canonical form. Text borrows from the source row or
        /// from the mapper, so mapping a row allocates nothing but the tag list.
        #[derive(Debug, Default, Clone)]
        pub struct LineItem<'a> {
            $( pub $field: value_type!($kind, 'a), )*
            /// Tag key/value pairs, in source order; the builder sorts them by key.
            /// Borrowed from CSV cells, owned when parsed out of JSON.
            pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
            /// Which export of a pair the line came from (Azure `actual` or
            /// `amortized`), which is part of the unit of replacement (not a column).
            pub lake_variant: Option<&'static str>,
        }

        /// Accumulates line items into Arrow arrays of the canonical schema.
        pub struct BatchBuilder {
            $( $field: builder_type!($kind), )*
            tags: MapBuilder<StringBuilder, StringBuilder>,
            sorted_tags: Vec<usize>,
        }

        impl BatchBuilder {
            pub fn with_capacity(rows: usize) -> Self {
                BatchBuilder {
                    $( $field: new_builder!($kind, rows), )*
                    tags: new_tags_builder(),
                    sorted_tags: Vec::new(),
                }
            }

            pub fn push(&mut self, item: &LineItem<'_>) {
                let filled = item.with_container_tags();
                let item = filled.as_ref().unwrap_or(item);
                $( self.$field.append_option(item.$field); )*
                self.push_tags(&item.tags);
            }

            pub fn len(&self) -> usize {
                self.tags.len()
            }

            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Takes the rows built so far as a batch; the builder starts over empty.
            pub fn finish(&mut self) -> RecordBatch {
                let columns: Vec<ArrayRef> = vec![
                    $( Arc::new(self.$field.finish()), )*
                    Arc::new(self.tags.finish()),
                ];
                RecordBatch::try_new(SCHEMA.clone(), columns).expect("builders match the schema")
            }
        }
    };
}

canonical_columns! {
    "BillingAccountId" => billing_account_id: Text,
    "BillingAccountName" => billing_account_name: Text,
    "SubAccountId" => sub_account_id: Text,
    "SubAccountName" => sub_account_name: Text,
    "ProviderName" => provider_name: Text,
    "PublisherName" => publisher_name: Text,
    "InvoiceIssuerName" => invoice_issuer_name: Text,
    "InvoiceId" => invoice_id: Text,
    "BillingCurrency" => billing_currency: Text,
    "BillingPeriodStart" => billing_period_start: Timestamp,
    "BillingPeriodEnd" => billing_period_end: Timestamp,
    "ChargePeriodStart" => charge_period_start: Timestamp,
    "ChargePeriodEnd" => charge_period_end: Timestamp,
    "ChargeCategory" => charge_category: Text,
    "ChargeClass" => charge_class: Text,
    "ChargeFrequency" => charge_frequency: Text,
    "ChargeDescription" => charge_description: Text,
    "BilledCost" => billed_cost: Decimal,
    "EffectiveCost" => effective_cost: Decimal,
    "ListCost" => list_cost: Decimal,
    "ContractedCost" => contracted_cost: Decimal,
    "PricingCategory" => pricing_category: Text,
    "PricingQuantity" => pricing_quantity: Quantity,
    "PricingUnit" => pricing_unit: Text,
    "ListUnitPrice" => list_unit_price: Decimal,
    "ContractedUnitPrice" => contracted_unit_price: Decimal,
    "ConsumedQuantity" => consumed_quantity: Quantity,
    "ConsumedUnit" => consumed_unit: Text,
    "ServiceName" => service_name: Text,
    "ServiceCategory" => service_category: Text,
    "RegionId" => region_id: Text,
    "RegionName" => region_name: Text,
    "AvailabilityZone" => availability_zone: Text,
    "ResourceId" => resource_id: Text,
    "ResourceName" => resource_name: Text,
    "ResourceType" => resource_type: Text,
    "SkuId" => sku_id: Text,
    "SkuPriceId" => sku_price_id: Text,
    "CommitmentDiscountId" => commitment_discount_id: Text,
    "CommitmentDiscountName" => commitment_discount_name: Text,
    "CommitmentDiscountType" => commitment_discount_type: Text,
    "CommitmentDiscountCategory" => commitment_discount_category: Text,
    "CommitmentDiscountStatus" => commitment_discount_status: Text,
    // FOCUS 1.1: files of earlier versions (and lake files written before
    // these columns) read them as null.
    "CapacityReservationId" => capacity_reservation_id: Text,
    "CapacityReservationStatus" => capacity_reservation_status: Text,
    "CommitmentDiscountQuantity" => commitment_discount_quantity: Quantity,
    "CommitmentDiscountUnit" => commitment_discount_unit: Text,
    "ServiceSubcategory" => service_subcategory: Text,
    "SkuMeter" => sku_meter: Text,
    "SkuPriceDetails" => sku_price_details: Text,
    // FOCUS 1.2.
    "BillingAccountType" => billing_account_type: Text,
    "SubAccountType" => sub_account_type: Text,
    "PricingCurrency" => pricing_currency: Text,
    "PricingCurrencyContractedUnitPrice" => pricing_currency_contracted_unit_price: Decimal,
    "PricingCurrencyEffectiveCost" => pricing_currency_effective_cost: Decimal,
    "PricingCurrencyListUnitPrice" => pricing_currency_list_unit_price: Decimal,
    // FOCUS 1.3.
    "ServiceProviderName" => service_provider_name: Text,
    "HostProviderName" => host_provider_name: Text,
    "AllocatedMethodId" => allocated_method_id: Text,
    "AllocatedMethodDetails" => allocated_method_details: Text,
    "AllocatedResourceId" => allocated_resource_id: Text,
    "AllocatedResourceName" => allocated_resource_name: Text,
    "AllocatedTags" => allocated_tags: Text,
    "ContractApplied" => contract_applied: Text,
    // FOCUS 1.4.
    "CommitmentProgramEligibilityDetails" => commitment_program_eligibility_details: Text,
    "InvoiceDetailId" => invoice_detail_id: Text,
    "x_ServiceCode" => x_service_code: Text,
    "x_LineItemType" => x_line_item_type: Text,
    "x_UsageType" => x_usage_type: Text,
    "x_Operation" => x_operation: Text,
    "x_ResourceGroup" => x_resource_group: Text,
    // Containers: the cluster, namespace, workload and pod (or ECS task) of a row, where the
    // export names them (AWS split cost allocation data, GKE cost allocation).
    "x_Cluster" => x_cluster: Text,
    "x_Namespace" => x_namespace: Text,
    "x_Workload" => x_workload: Text,
    "x_Pod" => x_pod: Text,
    // AWS split cost allocation data: a pod's (task's) row carries no cost of its own; these say
    // what part of its parent EC2 instance's cost it used, and what it left unused (idle).
    "x_SplitParentResourceId" => x_split_parent_resource_id: Text,
    "x_SplitCost" => x_split_cost: Decimal,
    "x_SplitUnusedCost" => x_split_unused_cost: Decimal,
    "x_SplitNetCost" => x_split_net_cost: Decimal,
    "x_SplitNetUnusedCost" => x_split_net_unused_cost: Decimal,
    "x_SplitUsage" => x_split_usage: Quantity,
    "x_SourceFile" => x_source_file: Text,
    "x_SourceRow" => x_source_row: Count,
    "x_SourceLineItemId" => x_source_line_item_id: Text,
    "x_IngestRunId" => x_ingest_run_id: Text,
}

/// The tags that name a container's cluster, namespace and workload, in preference order, where
/// a row has no `x_Cluster`/`x_Namespace`/`x_Workload` of its own: AWS split cost allocation data
/// (EKS, ECS; as legacy CUR writes them, then as Athena and CUR 2.0 flatten them) and GKE cost
/// allocation labels. Ingest fills the columns from them; rules fall back to them.
pub mod containers {
    pub const CLUSTER_TAGS: [&str; 5] = [
        "aws:eks:cluster-name",
        "aws:eks_cluster_name",
        "aws:ecs:cluster-name",
        "aws:ecs_cluster_name",
        "goog-k8s-cluster-name",
    ];
    pub const NAMESPACE_TAGS: [&str; 3] = ["aws:eks:namespace", "aws:eks_namespace", "k8s-namespace"];
    /// The Deployment behind a ReplicaSet first, then the workload itself, then an ECS service,
    /// then GKE's workload.
    pub const WORKLOAD_TAGS: [&str; 7] = [
        "aws:eks:deployment",
        "aws:eks_deployment",
        "aws:eks:workload-name",
        "aws:eks_workload_name",
        "aws:ecs:service-name",
        "aws:ecs_service_name",
        "k8s-workload-name",
    ];
}

impl LineItem<'_> {
    /// The row with `x_Cluster`, `x_Namespace` and `x_Workload` filled from its tags
    /// ([`containers`]) where its mapper left them empty; `None` when there is nothing to fill.
    /// Here, not in each mapper: tags parsed out of JSON (CUR 2.0, GCP) are owned by the row.
    fn with_container_tags(&self) -> Option<LineItem<'_>> {
        let tag = |keys: &[&str]| {
            keys.iter().find_map(|key| self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref()))
        };
        let cluster = if self.x_cluster.is_none() { tag(&containers::CLUSTER_TAGS) } else { None };
        let namespace = if self.x_namespace.is_none() { tag(&containers::NAMESPACE_TAGS) } else { None };
        let workload = if self.x_workload.is_none() { tag(&containers::WORKLOAD_TAGS) } else { None };
        if cluster.is_none() && namespace.is_none() && workload.is_none() {
            return None;
        }
        let mut item: LineItem<'_> = self.clone();
        item.x_cluster = item.x_cluster.or(cluster);
        item.x_namespace = item.x_namespace.or(namespace);
        item.x_workload = item.x_workload.or(workload);
        Some(item)
    }
}

/// FOCUS's own column lists, by version: what an export writes and how an ingest tells a
/// file's version.
pub mod focus {
    /// The FOCUS 1.2 cost-and-usage columns (specification, appendix: column list), in order.
    pub const COLUMNS_1_2: &[&str] = &[
        "AvailabilityZone",
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingAccountType",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "CapacityReservationId",
        "CapacityReservationStatus",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargeFrequency",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "CommitmentDiscountCategory",
        "CommitmentDiscountId",
        "CommitmentDiscountName",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountStatus",
        "CommitmentDiscountType",
        "CommitmentDiscountUnit",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "InvoiceId",
        "InvoiceIssuerName",
        "ListCost",
        "ListUnitPrice",
        "PricingCategory",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "RegionId",
        "RegionName",
        "ResourceId",
        "ResourceName",
        "ResourceType",
        "ServiceCategory",
        "ServiceName",
        "ServiceSubcategory",
        "SkuId",
        "SkuMeter",
        "SkuPriceDetails",
        "SkuPriceId",
        "SubAccountId",
        "SubAccountName",
        "SubAccountType",
        "Tags",
    ];

    /// Columns that first appeared in a version: the newest one present names the
    /// version (FOCUS specification, each version's column appendix).
    pub const INTRODUCED_IN_1_4: &[&str] = &["CommitmentProgramEligibilityDetails", "InvoiceDetailId"];
    pub const INTRODUCED_IN_1_3: &[&str] = &[
        "AllocatedMethodDetails",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
        "HostProviderName",
        "ServiceProviderName",
    ];
    pub const INTRODUCED_IN_1_2: &[&str] = &[
        "BillingAccountType",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "SubAccountType",
    ];
}

/// Name of the map column holding tags (`map<string, string>`).
pub const TAGS: &str = "Tags";

/// The lake's line-item schema: [`COLUMNS`] then `Tags`.
pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = COLUMNS.iter().map(|(name, kind)| Field::new(*name, kind.data_type(), true)).collect();
    let tags_type = new_tags_builder().finish().data_type().clone();
    fields.push(Field::new(TAGS, tags_type, true));
    Arc::new(Schema::new(fields))
});

fn new_tags_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    // Parquet's canonical MAP naming, so Spark, Athena and DuckDB read it as a map.
    let names = MapFieldNames { entry: "key_value".into(), key: "key".into(), value: "value".into() };
    MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new())
}

impl BatchBuilder {
    /// Appends one row of tags sorted by key (deterministic output), keeping
    /// the last value when a key repeats.
    fn push_tags(&mut self, tags: &[(Cow<'_, str>, Cow<'_, str>)]) {
        if tags.is_empty() {
            self.tags.append(true).expect("map builder accepts an empty row");
            return;
        }
        self.sorted_tags.clear();
        self.sorted_tags.extend(0..tags.len());
        // Stable sort: among repeated keys the last one in source order comes last.
        self.sorted_tags.sort_by(|&a, &b| tags[a].0.cmp(&tags[b].0));
        for (n, &i) in self.sorted_tags.iter().enumerate() {
            let next_same_key = self.sorted_tags.get(n + 1).is_some_and(|&j| tags[j].0 == tags[i].0);
            if next_same_key {
                continue;
            }
            self.tags.keys().append_value(&tags[i].0);
            self.tags.values().append_value(&tags[i].1);
        }
        self.tags.append(true).expect("keys and values have equal length");
    }
}

/// Index of a column in [`SCHEMA`].
pub fn column_index(name: &str) -> usize {
    SCHEMA.index_of(name).unwrap_or_else(|_| panic!("no canonical column {name}"))
}

/// Column names compared in a `const fn` (slices have no const `==`), so column
/// positions can be resolved at compile time.
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn schema_lists_focus_columns_then_tags() {
        assert_eq!(SCHEMA.field(0).name(), "BillingAccountId");
        assert_eq!(SCHEMA.fields().last().unwrap().name(), TAGS);
        assert_eq!(SCHEMA.fields().len(), COLUMNS.len() + 1);
    }

    #[test]
    fn builds_a_batch_with_sorted_deduplicated_tags() {
        let mut builder = BatchBuilder::with_capacity(2);
        builder.push(&LineItem {
            billed_cost: Some(125 * 10i128.pow(18)),
            tags: [("team", "a"), ("env", "prod"), ("team", "b")].map(|(k, v)| (Cow::from(k), Cow::from(v))).to_vec(),
            ..Default::default()
        });
        builder.push(&LineItem::default());
        let batch = builder.finish();
        assert_eq!(batch.num_rows(), 2);
        let cost =
            batch.column(column_index("BilledCost")).as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        assert_eq!(cost.value_as_string(0), "1.25000000000000000000");
        assert!(cost.is_null(1));
        let tags = batch.column(column_index(TAGS)).as_map();
        let keys = tags.keys().as_string::<i32>();
        let values = tags.values().as_string::<i32>();
        let row0: Vec<_> = (0..keys.len()).map(|i| (keys.value(i), values.value(i))).collect();
        assert_eq!(row0, vec![("env", "prod"), ("team", "b")]);
        assert_eq!(tags.value_length(1), 0);
    }
}
