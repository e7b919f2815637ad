//! FOCUS 1.0 to 1.4 exports. Column names already are the canonical ones
//! (every column of every version is kept); the work is telling the version,
//! naming the provider where 1.4 dropped `ProviderName`, and tolerating real
//! files: timestamps without `T`/`Z`, literal `NULL`/`null` cells, extra
//! columns without the `x_` prefix.

use std::borrow::Cow;

use csv::StringRecord;

use super::mapper::{Column, Header, Mapper, Normalisations, ParseCache, RowError, decimal, quantity, text};
use crate::schema::focus::{INTRODUCED_IN_1_2, INTRODUCED_IN_1_3, INTRODUCED_IN_1_4};
use crate::schema::{self, LineItem};

pub struct FocusMapper {
    columns: Vec<Option<Column>>,
    tags: Option<Column>,
    currency_fallback: Option<String>,
    cost: Column,
    /// Columns that are neither FOCUS nor `x_`: kept out of the lake, reported.
    pub extra_columns: Vec<String>,
    /// A 1.4 file names its provider in `ServiceProviderName` only.
    provider_from_service_provider: bool,
    pub version: &'static str,
}

/// Columns a FOCUS file must have for tally to place and reconcile its rows.
const REQUIRED: &[&str] = &["BilledCost", "ChargePeriodStart", "BillingPeriodStart"];

const INTRODUCED_IN_1_1: &[&str] = &[
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
];

/// Columns 1.4 removed: a file with a 1.3 column and neither of these is 1.4.
const REMOVED_IN_1_4: &[&str] = &["ProviderName", "PublisherName"];

/// `x_` columns a provider's FOCUS export may carry that mean what tally's
/// own do (AWS's FOCUS export has `x_ServiceCode`, `x_UsageType`,
/// `x_Operation`); lineage columns are always tally's.
const PROVIDER_EXTENSIONS: &[&str] =
    &["x_ServiceCode", "x_UsageType", "x_Operation", "x_LineItemType", "x_ResourceGroup"];

pub fn version(header: &Header) -> &'static str {
    let any = |columns: &[&str]| columns.iter().any(|c| header.has(c));
    if any(INTRODUCED_IN_1_4) || (any(INTRODUCED_IN_1_3) && !any(REMOVED_IN_1_4)) {
        "1.4"
    } else if any(INTRODUCED_IN_1_3) {
        "1.3"
    } else if any(INTRODUCED_IN_1_2) {
        "1.2"
    } else if any(INTRODUCED_IN_1_1) {
        "1.1"
    } else {
        "1.0"
    }
}

impl FocusMapper {
    pub fn new(header: &Header, currency_fallback: Option<String>) -> Result<Self, Vec<String>> {
        let mut missing: Vec<String> = REQUIRED.iter().filter(|c| !header.has(c)).map(|c| c.to_string()).collect();
        if !header.has("BillingCurrency") && currency_fallback.is_none() {
            missing.push("BillingCurrency (or pass --currency)".to_string());
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let columns =
            schema::COLUMNS
                .iter()
                .map(|(name, _)| {
                    if name.starts_with("x_") && !PROVIDER_EXTENSIONS.contains(name) { None } else { header.find(name) }
                })
                .collect();
        let extra_columns =
            header.names.iter().filter(|n| !n.starts_with("x_") && !header_is_canonical(n)).cloned().collect();
        Ok(FocusMapper {
            columns,
            tags: header.find(schema::TAGS),
            currency_fallback,
            cost: header.find("BilledCost").expect("checked above"),
            extra_columns,
            provider_from_service_provider: !header.has("ProviderName") && header.has("ServiceProviderName"),
            version: version(header),
        })
    }

    fn col(&self, name: &str) -> Option<&Column> {
        let index = schema::COLUMNS.iter().position(|(n, _)| *n == name)?;
        self.columns[index].as_ref()
    }
}

fn header_is_canonical(name: &str) -> bool {
    name.eq_ignore_ascii_case(schema::TAGS) || schema::COLUMNS.iter().any(|(c, _)| c.eq_ignore_ascii_case(name))
}

/// A cell, or `None` when empty or the literal `NULL`/`null` some exporters write.
fn cell<'a>(row: &'a StringRecord, column: Option<&Column>, notes: &mut Normalisations) -> Option<&'a str> {
    let value = text(row, column)?;
    if value.eq_ignore_ascii_case("null") {
        notes.note("literal NULL read as empty");
        return None;
    }
    Some(value)
}

const LOOSE_TIMESTAMP: &str = "timestamp not ISO 8601 with T and Z";

impl Mapper for FocusMapper {
    fn map<'a>(
        &'a self,
        row: &'a StringRecord,
        cache: &mut ParseCache,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        // A literal NULL in a numeric or time column means "no value" too.
        let present = |name: &str, notes: &mut Normalisations| {
            let column = self.col(name)?;
            cell(row, Some(column), notes).map(|_| column)
        };
        macro_rules! number {
            ($name:literal) => {
                decimal(row, present($name, notes), notes)?
            };
        }
        macro_rules! time {
            ($name:literal) => {
                cache.timestamp(row, present($name, notes), notes, Some(LOOSE_TIMESTAMP))?
            };
        }
        macro_rules! string {
            ($name:literal) => {
                cell(row, self.col($name), notes)
            };
        }

        item.billed_cost =
            Some(number!("BilledCost").ok_or_else(|| RowError::new(&self.cost.name, "empty BilledCost"))?);
        item.effective_cost = match self.col("EffectiveCost") {
            Some(_) => number!("EffectiveCost"),
            None => {
                notes.note("EffectiveCost column missing -> BilledCost");
                item.billed_cost
            }
        };
        item.list_cost = number!("ListCost");
        item.contracted_cost = number!("ContractedCost");
        item.pricing_quantity = quantity(row, present("PricingQuantity", notes), notes)?;
        item.list_unit_price = number!("ListUnitPrice");
        item.contracted_unit_price = number!("ContractedUnitPrice");
        item.consumed_quantity = quantity(row, present("ConsumedQuantity", notes), notes)?;

        item.billing_period_start = time!("BillingPeriodStart");
        item.billing_period_end = time!("BillingPeriodEnd");
        item.charge_period_start = time!("ChargePeriodStart");
        item.charge_period_end = time!("ChargePeriodEnd");
        if item.billing_period_start.is_none() {
            let name = self.col("BillingPeriodStart").map_or("BillingPeriodStart", |c| c.name.as_str());
            return Err(RowError::new(name, "empty billing period start"));
        }

        item.billing_currency = match string!("BillingCurrency") {
            Some(c) => Some(c),
            None => {
                notes.note("currency assumed from --currency");
                Some(self.currency_fallback.as_deref().ok_or_else(|| {
                    RowError::new("BillingCurrency", "empty currency (pass --currency to assume one)")
                })?)
            }
        };

        item.billing_account_id = string!("BillingAccountId");
        item.billing_account_name = string!("BillingAccountName");
        item.sub_account_id = string!("SubAccountId");
        item.sub_account_name = string!("SubAccountName");
        item.provider_name = string!("ProviderName");
        item.service_provider_name = string!("ServiceProviderName");
        item.host_provider_name = string!("HostProviderName");
        if self.provider_from_service_provider && item.service_provider_name.is_some() {
            // 1.4 removed ProviderName; ServiceProviderName is its successor (same definition).
            notes.note("ProviderName from ServiceProviderName (FOCUS 1.4)");
            item.provider_name = item.service_provider_name;
        }
        item.publisher_name = string!("PublisherName");
        item.invoice_issuer_name = string!("InvoiceIssuerName");
        item.invoice_id = string!("InvoiceId");
        item.charge_category = string!("ChargeCategory");
        item.charge_class = string!("ChargeClass");
        item.charge_frequency = string!("ChargeFrequency");
        item.charge_description = string!("ChargeDescription");
        item.pricing_category = string!("PricingCategory");
        item.pricing_unit = string!("PricingUnit");
        item.consumed_unit = string!("ConsumedUnit");
        item.service_name = string!("ServiceName");
        item.service_category = string!("ServiceCategory");
        item.region_id = string!("RegionId");
        item.region_name = string!("RegionName");
        item.availability_zone = string!("AvailabilityZone");
        item.resource_id = string!("ResourceId");
        item.resource_name = string!("ResourceName");
        item.resource_type = string!("ResourceType");
        item.sku_id = string!("SkuId");
        item.sku_price_id = string!("SkuPriceId");
        item.commitment_discount_id = string!("CommitmentDiscountId");
        item.commitment_discount_name = string!("CommitmentDiscountName");
        item.commitment_discount_type = string!("CommitmentDiscountType");
        item.commitment_discount_category = string!("CommitmentDiscountCategory");
        item.commitment_discount_status = string!("CommitmentDiscountStatus");
        item.capacity_reservation_id = string!("CapacityReservationId");
        item.capacity_reservation_status = string!("CapacityReservationStatus");
        item.commitment_discount_quantity = quantity(row, present("CommitmentDiscountQuantity", notes), notes)?;
        item.commitment_discount_unit = string!("CommitmentDiscountUnit");
        item.service_subcategory = string!("ServiceSubcategory");
        item.sku_meter = string!("SkuMeter");
        item.sku_price_details = string!("SkuPriceDetails");
        item.billing_account_type = string!("BillingAccountType");
        item.sub_account_type = string!("SubAccountType");
        item.pricing_currency = string!("PricingCurrency");
        item.pricing_currency_contracted_unit_price = number!("PricingCurrencyContractedUnitPrice");
        item.pricing_currency_effective_cost = number!("PricingCurrencyEffectiveCost");
        item.pricing_currency_list_unit_price = number!("PricingCurrencyListUnitPrice");
        item.allocated_method_id = string!("AllocatedMethodId");
        item.allocated_method_details = string!("AllocatedMethodDetails");
        item.allocated_resource_id = string!("AllocatedResourceId");
        item.allocated_resource_name = string!("AllocatedResourceName");
        item.allocated_tags = string!("AllocatedTags");
        item.contract_applied = string!("ContractApplied");
        item.commitment_program_eligibility_details = string!("CommitmentProgramEligibilityDetails");
        item.invoice_detail_id = string!("InvoiceDetailId");
        // A provider's own `x_` columns that mean what tally's do (AWS's FOCUS export).
        item.x_service_code = string!("x_ServiceCode");
        item.x_usage_type = string!("x_UsageType");
        item.x_operation = string!("x_Operation");
        item.x_line_item_type = string!("x_LineItemType");
        item.x_resource_group = string!("x_ResourceGroup");

        if let Some(json) = cell(row, self.tags.as_ref(), notes) {
            let column = self.tags.as_ref().expect("cell() found a tags cell");
            for (key, value) in super::json_tags(json).map_err(|e| RowError::new(&column.name, e))? {
                item.tags.push((Cow::Owned(key), Cow::Owned(value)));
            }
        }
        Ok(())
    }

    fn cost_column(&self) -> &Column {
        &self.cost
    }

    fn currency_column(&self) -> Option<&Column> {
        self.col("BillingCurrency")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Header {
        Header::new(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn tolerates_the_real_sample_quirks() {
        let h = header(&[
            "BilledCost",
            "EffectiveCost",
            "BillingCurrency",
            "BillingPeriodStart",
            "ChargePeriodStart",
            "ResourceId",
            "Id",
            "Tags",
        ]);
        let m = FocusMapper::new(&h, None).unwrap();
        assert_eq!(m.extra_columns, vec!["Id"]);
        assert_eq!(m.version, "1.0");
        let row = StringRecord::from(vec![
            "0.00000080000",
            "NULL",
            "USD",
            "2024-09-01 00:00:00",
            "2024-09-18 22:00:00",
            "null",
            "11472",
            r#"{"env": "dev", "n": 3}"#,
        ]);
        let mut item = LineItem::default();
        let mut notes = Normalisations::default();
        m.map(&row, &mut ParseCache::default(), &mut item, &mut notes).unwrap();
        assert_eq!(item.billed_cost, Some(80_000_000_000_000));
        assert_eq!(item.effective_cost, None);
        assert_eq!(item.resource_id, None);
        let tags: Vec<_> = item.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(tags, vec![("env", "dev"), ("n", "3")]);
        assert_eq!(notes.summary(), "literal NULL read as empty: 2, timestamp not ISO 8601 with T and Z: 2");
    }

    #[test]
    fn version_from_columns() {
        assert_eq!(version(&header(&["BilledCost", "SkuMeter"])), "1.1");
        assert_eq!(version(&header(&["BilledCost", "SkuMeter", "InvoiceId"])), "1.2");
    }

    #[test]
    fn missing_currency_needs_a_fallback() {
        let h = header(&["BilledCost", "BillingPeriodStart", "ChargePeriodStart"]);
        assert_eq!(FocusMapper::new(&h, None).err().unwrap(), vec!["BillingCurrency (or pass --currency)"]);
        assert!(FocusMapper::new(&h, Some("USD".into())).is_ok());
    }
}
