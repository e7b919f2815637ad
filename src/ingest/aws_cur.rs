//! AWS Cost and Usage Reports: legacy CUR (`lineItem/UnblendedCost` or its
//! Athena snake_case twin) and CUR 2.0 / Data Exports (fixed snake_case
//! columns with `resource_tags` and `product` as maps).
//!
//! What each line item type means (its costs, category, commitment status)
//! is in [`super::aws_line_items`]; this file finds the columns and reads the cells.

use std::borrow::Cow;

use csv::StringRecord;

use super::aws_line_items::{self as line_items, Amortization, Amortizations, LineItemType};
use super::mapper::{
    Column, Header, Mapper, Normalisations, ParseCache, RowError, decimal, quantity, snake_case, text,
};
use super::service_category;
use crate::schema::LineItem;

/// Which generation of CUR a header belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Legacy,
    Cur2,
}

pub struct AwsCurMapper {
    /// By position in `WANTED` (see `slot`): found once per file, so a row's
    /// fields are read by index, not by hashing names on every field.
    columns: Vec<Option<Column>>,
    /// Legacy CUR: one column per tag. The key is the tag name as users know
    /// it (`team`, `aws:createdBy`), computed once from the header.
    tag_columns: Vec<(Column, String)>,
    /// CUR 2.0: one map column of tags, written as JSON in CSV exports.
    tag_map: Option<Column>,
    currency_fallback: Option<String>,
    cost: Column,
}

/// Canonical (snake_case) names this mapper reads, with accepted spellings.
const WANTED: &[(&str, &[&str])] = &[
    ("cost", &["line_item_unblended_cost"]),
    ("net_cost", &["line_item_net_unblended_cost"]),
    ("type", &["line_item_line_item_type"]),
    ("usage_start", &["line_item_usage_start_date"]),
    ("usage_end", &["line_item_usage_end_date"]),
    ("period_start", &["bill_billing_period_start_date"]),
    ("period_end", &["bill_billing_period_end_date"]),
    ("currency", &["line_item_currency_code"]),
    ("payer", &["bill_payer_account_id"]),
    ("payer_name", &["bill_payer_account_name"]),
    ("account", &["line_item_usage_account_id"]),
    ("account_name", &["line_item_usage_account_name"]),
    ("invoice", &["bill_invoice_id"]),
    ("invoicing_entity", &["bill_invoicing_entity"]),
    ("billing_entity", &["bill_billing_entity"]),
    ("legal_entity", &["line_item_legal_entity"]),
    ("line_item_id", &["identity_line_item_id"]),
    ("product_code", &["line_item_product_code"]),
    ("product_name", &["product_product_name"]),
    ("usage_type", &["line_item_usage_type"]),
    ("operation", &["line_item_operation"]),
    ("description", &["line_item_line_item_description"]),
    ("az", &["line_item_availability_zone"]),
    ("region_code", &["product_region_code"]),
    ("region", &["product_region"]),
    ("location", &["product_location"]),
    ("resource", &["line_item_resource_id"]),
    ("usage_amount", &["line_item_usage_amount"]),
    ("unit", &["pricing_unit"]),
    ("term", &["pricing_term"]),
    ("sku", &["product_sku"]),
    ("rate_code", &["pricing_rate_code"]),
    ("list_cost", &["pricing_public_on_demand_cost"]),
    ("list_rate", &["pricing_public_on_demand_rate"]),
    ("ri_arn", &["reservation_reservation_a_r_n", "reservation_reservation_arn"]),
    ("ri_effective", &["reservation_effective_cost"]),
    ("ri_unused_upfront", &["reservation_unused_amortized_upfront_fee_for_billing_period"]),
    ("ri_unused_recurring", &["reservation_unused_recurring_fee"]),
    ("sp_arn", &["savings_plan_savings_plan_a_r_n", "savings_plan_savings_plan_arn"]),
    ("sp_effective", &["savings_plan_savings_plan_effective_cost"]),
    ("sp_commitment", &["savings_plan_total_commitment_to_date"]),
    ("sp_used", &["savings_plan_used_commitment"]),
    // Split cost allocation data (EKS, ECS, Batch): the pod's or task's share of its parent instance.
    ("split_parent", &["split_line_item_parent_resource_id"]),
    ("split_cost", &["split_line_item_split_cost"]),
    ("split_unused", &["split_line_item_unused_cost"]),
    ("split_net_cost", &["split_line_item_net_split_cost"]),
    ("split_net_unused", &["split_line_item_net_unused_cost"]),
    ("split_usage", &["split_line_item_split_usage"]),
];

/// Position of `key` in `WANTED`, at compile time.
const fn slot(key: &str) -> usize {
    let mut i = 0;
    while i < WANTED.len() {
        if crate::schema::same_name(WANTED[i].0, key) {
            return i;
        }
        i += 1;
    }
    panic!("not a wanted column")
}

/// The column for a `WANTED` key, if the file has it.
macro_rules! col {
    ($mapper:expr, $key:literal) => {
        $mapper.columns[const { slot($key) }].as_ref()
    };
}

const REQUIRED: &[&str] = &["cost", "type", "usage_start", "period_start"];

impl AwsCurMapper {
    pub fn new(header: &Header, currency_fallback: Option<String>) -> Result<Self, Vec<String>> {
        let snake = Header::new(header.names.iter().map(|n| snake_case(n)).collect());
        let columns: Vec<Option<Column>> = WANTED
            .iter()
            .map(|(_, spellings)| {
                let found = spellings.iter().find_map(|s| snake.find(s))?;
                Some(Column { index: found.index, name: header.names[found.index].clone() })
            })
            .collect();
        let has = |key: &str| WANTED.iter().position(|(k, _)| *k == key).is_some_and(|at| columns[at].is_some());
        let mut missing: Vec<String> =
            REQUIRED.iter().filter(|k| !has(k)).map(|k| first_spelling(k).to_string()).collect();
        if !has("currency") && currency_fallback.is_none() {
            missing.push("line_item_currency_code (or pass --currency)".to_string());
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let tag_columns = header
            .names
            .iter()
            .enumerate()
            .filter_map(|(index, name)| legacy_tag_key(name).map(|key| (Column { index, name: name.clone() }, key)))
            .collect();
        let tag_map = header.find("resource_tags");
        let cost = columns[slot("cost")].clone().expect("required");
        Ok(AwsCurMapper { columns, tag_columns, tag_map, currency_fallback, cost })
    }
}

fn first_spelling(key: &str) -> &'static str {
    WANTED.iter().find(|(k, _)| *k == key).map(|(_, s)| s[0]).unwrap_or("?")
}

/// CUR 2.0 is told apart from legacy snake_case CUR by its map columns.
pub fn generation(header: &Header) -> Generation {
    if header.has("resource_tags") || header.has("product") || header.has("cost_category") {
        Generation::Cur2
    } else {
        Generation::Legacy
    }
}

/// `resourceTags/user:team` -> `team`; `resourceTags/aws:createdBy` ->
/// `aws:createdBy`; Athena's `resource_tags_user_team` -> `team`.
pub(super) fn legacy_tag_key(column: &str) -> Option<String> {
    if let Some(key) = column.strip_prefix("resourceTags/") {
        return Some(key.strip_prefix("user:").unwrap_or(key).to_string());
    }
    let key = column.strip_prefix("resource_tags_")?;
    Some(normalise_cur2_tag_key(key))
}

/// CUR 2.0 map keys carry the tag's origin as a prefix: `user_team`, `aws_createdBy`.
fn normalise_cur2_tag_key(key: &str) -> String {
    if let Some(k) = key.strip_prefix("user_").or_else(|| key.strip_prefix("user:")) {
        k.to_string()
    } else if let Some(k) = key.strip_prefix("aws_").or_else(|| key.strip_prefix("aws:")) {
        format!("aws:{k}")
    } else {
        key.to_string()
    }
}

impl Mapper for AwsCurMapper {
    fn map<'a>(
        &'a self,
        row: &'a StringRecord,
        cache: &mut ParseCache,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        macro_rules! txt {
            ($key:literal) => {
                text(row, col!(self, $key))
            };
        }
        let line_item_type = txt!("type").unwrap_or("");
        let kind = LineItemType::parse(line_item_type);

        let unblended =
            decimal(row, col!(self, "cost"), notes)?.ok_or_else(|| RowError::new(&self.cost.name, "empty cost"))?;
        item.list_unit_price = decimal(row, col!(self, "list_rate"), notes)?;

        item.billing_period_start = cache.timestamp(row, col!(self, "period_start"), notes, None)?;
        item.billing_period_end = cache.timestamp(row, col!(self, "period_end"), notes, None)?;
        item.charge_period_start = cache.timestamp(row, col!(self, "usage_start"), notes, None)?;
        item.charge_period_end = cache.timestamp(row, col!(self, "usage_end"), notes, None)?;
        if item.billing_period_start.is_none() {
            return Err(RowError::new(
                &col!(self, "period_start").expect("required").name,
                "empty billing period start",
            ));
        }

        item.billing_currency = match txt!("currency") {
            Some(c) => Some(c),
            None => {
                notes.note("currency assumed from --currency");
                Some(self.currency_fallback.as_deref().ok_or_else(|| {
                    let name = col!(self, "currency").map_or("line_item_currency_code", |c| c.name.as_str());
                    RowError::new(name, "empty currency (pass --currency to assume one)")
                })?)
            }
        };

        let facts = line_items::Row {
            unblended,
            net_unblended: decimal(row, col!(self, "net_cost"), notes)?,
            public_on_demand: decimal(row, col!(self, "list_cost"), notes)?,
            reservation_arn: txt!("ri_arn"),
            savings_plan_arn: txt!("sp_arn"),
            product_code: txt!("product_code"),
            description: txt!("description"),
            charge_start: item.charge_period_start,
            billing_start: item.billing_period_start,
        };
        let costs = line_items::costs(kind, &facts, &mut Cells { mapper: self, row, notes })?;
        item.billed_cost = Some(costs.billed);
        item.effective_cost = Some(costs.effective);
        item.list_cost = costs.list;
        item.contracted_cost = costs.contracted;
        item.charge_category = line_items::charge_category(kind, &facts).or_else(|| {
            notes.note("unknown CUR line item type -> Adjustment");
            Some("Adjustment")
        });
        item.charge_class = line_items::charge_class(kind, &facts);
        item.charge_frequency = Some(line_items::charge_frequency(kind, &facts));
        item.charge_description = txt!("description");
        item.x_line_item_type = (!line_item_type.is_empty()).then_some(line_item_type);
        item.x_usage_type = txt!("usage_type");
        item.x_operation = txt!("operation");
        item.x_source_line_item_id = txt!("line_item_id");

        item.provider_name = Some("AWS");
        let billing_entity = txt!("billing_entity");
        item.publisher_name = match (billing_entity, txt!("legal_entity")) {
            (Some("AWS Marketplace"), Some(seller)) => Some(seller),
            _ => Some("Amazon Web Services, Inc."),
        };
        item.invoice_issuer_name = txt!("invoicing_entity").or(Some("Amazon Web Services, Inc."));
        item.invoice_id = txt!("invoice");
        item.billing_account_id = txt!("payer").or(txt!("account"));
        item.billing_account_name = txt!("payer_name");
        item.sub_account_id = txt!("account");
        item.sub_account_name = txt!("account_name");

        let product_code = txt!("product_code");
        item.service_name = txt!("product_name").or(product_code);
        item.x_service_code = product_code;
        item.service_category = Some(match product_code.and_then(service_category::aws) {
            Some(category) => category,
            None => {
                notes.note("service category unknown -> Other");
                "Other"
            }
        });
        item.sku_id = txt!("sku");
        item.sku_price_id = txt!("rate_code");

        item.availability_zone = txt!("az");
        item.region_id =
            txt!("region_code").or(txt!("region")).or_else(|| item.availability_zone.and_then(region_of_zone));
        item.region_name = txt!("location");
        item.resource_id = txt!("resource");

        let usage = quantity(row, col!(self, "usage_amount"), notes)?;
        item.pricing_quantity = usage;
        item.pricing_unit = txt!("unit");
        // The negation repeats the covered usage's quantity; counting it would count the hours twice.
        if kind.is_consumption() {
            item.consumed_quantity = usage;
            item.consumed_unit = txt!("unit");
        }
        item.pricing_category = match kind {
            LineItemType::DiscountedUsage
            | LineItemType::SavingsPlanCoveredUsage
            | LineItemType::SavingsPlanNegation => Some("Committed"),
            LineItemType::Usage if item.x_usage_type.is_some_and(|u| u.contains("SpotUsage")) => Some("Dynamic"),
            LineItemType::Usage => Some("Standard"),
            _ => None,
        };

        if let Some((id, kind_of, category)) = line_items::commitment(kind, &facts) {
            item.commitment_discount_id = Some(id);
            item.commitment_discount_type = Some(kind_of);
            item.commitment_discount_category = Some(category);
            item.commitment_discount_status = line_items::commitment_status(kind);
        }

        self.tags(row, item, notes)?;
        self.containers(row, item, notes)?;
        Ok(())
    }

    fn cost_column(&self) -> &Column {
        &self.cost
    }

    fn currency_column(&self) -> Option<&Column> {
        col!(self, "currency")
    }

    fn one_period_per_file(&self) -> Option<&Column> {
        // AWS delivers each billing period in its own files (a period folder, or a
        // BILLING_PERIOD= partition), so a row of another period is a stray.
        col!(self, "period_start")
    }
}

impl AwsCurMapper {
    fn tags<'a>(
        &'a self,
        row: &'a StringRecord,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        for (column, key) in &self.tag_columns {
            if let Some(value) = text(row, Some(column)) {
                item.tags.push((Cow::Borrowed(key.as_str()), Cow::Borrowed(value)));
            }
        }
        if let Some(column) = &self.tag_map
            && let Some(json) = text(row, Some(column))
        {
            for (key, value) in super::json_tags(json).map_err(|e| RowError::new(&column.name, e))? {
                let normalised = normalise_cur2_tag_key(&key);
                if normalised != key {
                    notes.note("CUR 2.0 tag key prefix removed");
                }
                item.tags.push((Cow::Owned(normalised), Cow::Owned(value)));
            }
        }
        Ok(())
    }
}

impl AwsCurMapper {
    /// A pod's or task's row (split cost allocation data): its cluster, namespace and pod from
    /// the resource ARN (its workload comes from the tags AWS adds, as every source's does:
    /// `schema::containers`), and its share of the parent
    /// instance. The row's own cost is 0 (the parent line carries the instance's cost), so the
    /// lake holds the cluster's cost once; attribution splits the parent by these columns.
    fn containers<'a>(
        &'a self,
        row: &'a StringRecord,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        if let Some((cluster, namespace, pod)) = item.resource_id.and_then(container_of_arn) {
            item.x_cluster = Some(cluster);
            item.x_namespace = namespace;
            item.x_pod = pod;
        }
        item.x_split_parent_resource_id = text(row, col!(self, "split_parent"));
        item.x_split_cost = decimal(row, col!(self, "split_cost"), notes)?;
        item.x_split_unused_cost = decimal(row, col!(self, "split_unused"), notes)?;
        item.x_split_net_cost = decimal(row, col!(self, "split_net_cost"), notes)?;
        item.x_split_net_unused_cost = decimal(row, col!(self, "split_net_unused"), notes)?;
        item.x_split_usage = quantity(row, col!(self, "split_usage"), notes)?;
        Ok(())
    }
}

/// `arn:aws:eks:<region>:<account>:pod/<cluster>/<namespace>/<pod>/<uid>` -> (cluster,
/// namespace, pod); `arn:aws:ecs:<region>:<account>:task/<cluster>/<task>` -> (cluster, -, task);
/// `arn:aws:eks:<region>:<account>:cluster/<cluster>` -> (cluster, -, -).
fn container_of_arn(arn: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    fn nonempty(s: Option<&str>) -> Option<&str> {
        s.filter(|s| !s.is_empty())
    }
    // `arn:aws:eks:<region>:<account>:<resource>`: the resource is the sixth field.
    let resource = arn.splitn(6, ':').nth(5)?;
    if !arn.starts_with("arn:aws") {
        return None;
    }
    if let Some(path) = resource.strip_prefix("pod/") {
        let mut parts = path.split('/');
        let cluster = nonempty(parts.next())?;
        Some((cluster, nonempty(parts.next()), nonempty(parts.next())))
    } else if let Some(name) = resource.strip_prefix("cluster/") {
        // The cluster itself (the EKS control plane, an ECS cluster).
        Some((nonempty(name.split('/').next())?, None, None))
    } else if let Some(path) = resource.strip_prefix("task/") {
        let mut parts = path.split('/');
        let cluster = nonempty(parts.next())?;
        Some((cluster, None, nonempty(parts.next())))
    } else {
        None
    }
}

/// A row's amortization cells, read on demand.
struct Cells<'m, 'r> {
    mapper: &'m AwsCurMapper,
    row: &'r StringRecord,
    notes: &'r mut Normalisations,
}

impl<'m> Cells<'m, '_> {
    fn key(which: Amortization) -> &'static str {
        match which {
            Amortization::ReservationEffectiveCost => "ri_effective",
            Amortization::ReservationUnusedAmortizedUpfront => "ri_unused_upfront",
            Amortization::ReservationUnusedRecurring => "ri_unused_recurring",
            Amortization::SavingsPlanEffectiveCost => "sp_effective",
            Amortization::SavingsPlanTotalCommitment => "sp_commitment",
            Amortization::SavingsPlanUsedCommitment => "sp_used",
        }
    }

    fn column(&self, which: Amortization) -> Option<&'m Column> {
        let (key, mapper) = (Self::key(which), self.mapper);
        WANTED.iter().position(|(k, _)| *k == key).and_then(|at| mapper.columns[at].as_ref())
    }
}

impl Amortizations for Cells<'_, '_> {
    fn amount(&mut self, which: Amortization) -> Result<i128, RowError> {
        match decimal(self.row, self.column(which), self.notes)? {
            Some(v) => Ok(v),
            None => {
                self.notes.note("amortization column empty -> 0");
                Ok(0)
            }
        }
    }

    fn name(&self, which: Amortization) -> String {
        self.column(which).map_or_else(|| first_spelling(Self::key(which)).to_string(), |c| c.name.clone())
    }
}

/// `us-east-1a` -> `us-east-1`; local zones (`us-west-2-lax-1a`) keep their region prefix.
fn region_of_zone(zone: &str) -> Option<&str> {
    let mut parts = zone.splitn(4, '-');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = c.trim_end_matches(|ch: char| ch.is_ascii_alphabetic());
    if digits.is_empty() {
        return None;
    }
    Some(&zone[..a.len() + b.len() + digits.len() + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(names: &[&str]) -> AwsCurMapper {
        AwsCurMapper::new(&Header::new(names.iter().map(|s| s.to_string()).collect()), None).unwrap()
    }

    const LEGACY: &[&str] = &[
        "lineItem/LineItemType",
        "lineItem/UnblendedCost",
        "lineItem/UsageStartDate",
        "bill/BillingPeriodStartDate",
        "lineItem/CurrencyCode",
        "savingsPlan/SavingsPlanEffectiveCost",
        "savingsPlan/TotalCommitmentToDate",
        "savingsPlan/UsedCommitment",
        "reservation/EffectiveCost",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "reservation/UnusedRecurringFee",
        "lineItem/ProductCode",
        "resourceTags/user:team",
        "resourceTags/aws:createdBy",
    ];

    fn map_row(m: &AwsCurMapper, cells: &[&str]) -> (i128, i128, String, Vec<(String, String)>) {
        let row = StringRecord::from(cells.to_vec());
        let mut item = LineItem::default();
        let mut notes = Normalisations::default();
        m.map(&row, &mut ParseCache::default(), &mut item, &mut notes).unwrap();
        let tags = item.tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        (item.billed_cost.unwrap(), item.effective_cost.unwrap(), item.charge_category.unwrap().to_string(), tags)
    }

    fn units(text: &str) -> i128 {
        crate::money::parse(text).unwrap().value
    }

    #[test]
    fn effective_cost_follows_line_item_type() {
        let m = mapper(LEGACY);
        fn row<'a>(t: &'a str, cost: &'a str) -> Vec<&'a str> {
            vec![
                t,
                cost,
                "2023-11-01T00:00:00Z",
                "2023-11-01T00:00:00Z",
                "USD",
                "0.7",
                "10",
                "8",
                "0.4",
                "1.5",
                "2.25",
                "AmazonEC2",
                "",
                "",
            ]
        }
        let cases = [
            ("Usage", "1.25", "1.25", "Usage"),
            ("SavingsPlanCoveredUsage", "1", "0.7", "Usage"),
            ("SavingsPlanNegation", "-1", "0", "Usage"),
            ("SavingsPlanRecurringFee", "10", "2", "Purchase"),
            ("SavingsPlanUpfrontFee", "100", "0", "Purchase"),
            ("DiscountedUsage", "0", "0.4", "Usage"),
            ("RIFee", "5", "3.75", "Purchase"),
            ("Tax", "0.5", "0.5", "Tax"),
            // Was Credit: FOCUS counts a refund in the category of what it gives back
            // (Usage here: no reservation or Savings Plan on the row).
            ("Refund", "-2", "-2", "Usage"),
            ("Credit", "-3", "-3", "Credit"),
            // No reservation ARN column: a fee no commitment amortizes keeps its cost.
            ("Fee", "4", "4", "Purchase"),
        ];
        for (t, cost, effective, category) in cases {
            let (billed, eff, cat, _) = map_row(&m, &row(t, cost));
            assert_eq!((billed, eff, cat.as_str()), (units(cost), units(effective), category), "{t}");
        }
    }

    #[test]
    fn tags_from_legacy_columns() {
        let m = mapper(LEGACY);
        let cells = [
            "Usage",
            "1",
            "2023-11-01T00:00:00Z",
            "2023-11-01T00:00:00Z",
            "USD",
            "",
            "",
            "",
            "",
            "",
            "",
            "AmazonEC2",
            "payments",
            "alice",
        ];
        let (_, _, _, tags) = map_row(&m, &cells);
        assert_eq!(tags, vec![("team".into(), "payments".into()), ("aws:createdBy".into(), "alice".into())]);
    }

    #[test]
    fn cur2_map_tags_lose_their_origin_prefix() {
        let m = mapper(&[
            "line_item_line_item_type",
            "line_item_unblended_cost",
            "line_item_usage_start_date",
            "bill_billing_period_start_date",
            "line_item_currency_code",
            "resource_tags",
        ]);
        let cells = [
            "Usage",
            "1",
            "2023-11-01T00:00:00Z",
            "2023-11-01T00:00:00Z",
            "USD",
            r#"{"user_team":"ledger","aws_createdBy":"bob"}"#,
        ];
        let (_, _, _, tags) = map_row(&m, &cells);
        assert_eq!(tags, vec![("aws:createdBy".into(), "bob".into()), ("team".into(), "ledger".into())]);
    }

    #[test]
    fn missing_required_columns_are_listed() {
        let err = AwsCurMapper::new(&Header::new(vec!["lineItem/UnblendedCost".into()]), None).err().unwrap();
        assert_eq!(
            err,
            vec![
                "line_item_line_item_type",
                "line_item_usage_start_date",
                "bill_billing_period_start_date",
                "line_item_currency_code (or pass --currency)"
            ]
        );
    }

    #[test]
    fn region_from_availability_zone() {
        assert_eq!(region_of_zone("us-east-1a"), Some("us-east-1"));
        assert_eq!(region_of_zone("us-west-2-lax-1a"), Some("us-west-2"));
        assert_eq!(region_of_zone("eu"), None);
    }
}
