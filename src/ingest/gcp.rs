//! Google Cloud billing export (standard and detailed), as files: CSV with
//! flattened columns (`service.description`, or `service_description` when a
//! query renamed them), newline-delimited JSON or Parquet with nested records.
//!
//! Costs, following FOCUS:
//! - BilledCost of a row is `cost`, the charge before credits;
//! - every credit in `credits` becomes its own line item with ChargeCategory
//!   Credit and BilledCost = the credit's amount, so BilledCost adds up to the
//!   invoice (`cost` + credits) and each credit stays visible and attributable;
//! - EffectiveCost of a row is `cost` plus its committed-use, sustained-use and
//!   negotiated-discount credits (the price actually paid for that usage); those
//!   credits' own rows then carry EffectiveCost 0, so EffectiveCost adds up to the
//!   same total. Other credits (promotions, free tier, reseller margin, ...) keep
//!   EffectiveCost = amount on their own row.

use std::borrow::Cow;
use std::collections::HashMap;

use csv::StringRecord;

use super::literal::{self, Pairs, Value};
use super::mapper::{Column, Header, Mapper, Normalisations, ParseCache, RowError, decimal, quantity, text};
use super::service_category;
use crate::calendar::Month;
use crate::money;
use crate::schema::LineItem;

const PROVIDER: &str = "Google Cloud";

pub struct GcpMapper {
    columns: HashMap<&'static str, Column>,
    currency_fallback: Option<String>,
    cost: Column,
}

/// Columns read, by their dotted export names; a name with `_` for `.` is
/// accepted too.
const WANTED: &[&str] = &[
    "billing_account_id",
    "service.id",
    "service.description",
    "sku.id",
    "sku.description",
    "usage_start_time",
    "usage_end_time",
    "project.id",
    "project.name",
    "project.labels",
    "labels",
    "location.location",
    "location.region",
    "location.zone",
    "cost",
    "cost_at_list",
    "currency",
    "usage.amount",
    "usage.unit",
    "usage.amount_in_pricing_units",
    "usage.pricing_unit",
    "credits",
    "invoice.month",
    "cost_type",
    "resource.name",
    "resource.global_name",
    "seller_name",
];

const REQUIRED: &[&str] = &["billing_account_id", "cost", "usage_start_time"];

fn find(header: &Header, name: &str) -> Option<Column> {
    header.find(name).or_else(|| header.find(&name.replace('.', "_")))
}

/// A GCP billing export header: a cost, a billing account, usage times and a service.
pub fn detect(header: &Header) -> bool {
    REQUIRED.iter().all(|c| find(header, c).is_some())
        && (find(header, "service.description").is_some() || find(header, "service.id").is_some())
}

impl GcpMapper {
    pub fn new(header: &Header, currency_fallback: Option<String>) -> Result<Self, Vec<String>> {
        let columns: HashMap<_, _> = WANTED.iter().filter_map(|&name| Some((name, find(header, name)?))).collect();
        let mut missing: Vec<String> =
            REQUIRED.iter().filter(|c| !columns.contains_key(*c)).map(|c| c.to_string()).collect();
        if !columns.contains_key("currency") && currency_fallback.is_none() {
            missing.push("currency (or pass --currency)".to_string());
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let cost = columns["cost"].clone();
        Ok(GcpMapper { columns, currency_fallback, cost })
    }

    fn col(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    fn credits<'a>(&self, row: &'a StringRecord) -> Result<Vec<Credit<'a>>, RowError> {
        match text(row, self.col("credits")) {
            None => Ok(Vec::new()),
            Some(cell) => parse_credits(cell).map_err(|e| RowError::new(&self.columns["credits"].name, e)),
        }
    }
}

/// One entry of `credits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit<'a> {
    pub amount: i128,
    /// `type`, e.g. `PROMOTION`, `COMMITTED_USAGE_DISCOUNT`; absent before mid-2020.
    pub kind: Option<&'a str>,
    pub name: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub id: Option<&'a str>,
}

impl Credit<'_> {
    /// Committed-use, sustained-use and negotiated discounts are part of the
    /// price of the usage they come with, so they fold into its EffectiveCost.
    /// Old exports have no `type`; their credit names say which kind it is.
    pub fn is_discount(&self) -> bool {
        match self.kind {
            Some(kind) => matches!(
                kind,
                "COMMITTED_USAGE_DISCOUNT"
                    | "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE"
                    | "SUSTAINED_USAGE_DISCOUNT"
                    | "DISCOUNT"
            ),
            None => self.name.is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                ["committed use", "committed usage", "sustained use", "sustained usage"].iter().any(|k| n.contains(k))
            }),
        }
    }
}

/// Parses a `credits` cell: a list of records with at least `amount`, written
/// as a Python literal (pandas) or JSON. Text that needed unescaping is not
/// kept (names and ids borrow from the cell).
pub fn parse_credits(cell: &str) -> Result<Vec<Credit<'_>>, String> {
    let Value::List(items) = literal::parse(cell).map_err(|e| format!("credits: {e}"))? else {
        return Err("credits: not a list".to_string());
    };
    items
        .iter()
        .map(|item| {
            let amount = item.get("amount").and_then(Value::as_text).ok_or("credits: an entry has no amount")?;
            let parsed = money::parse(amount).map_err(|e| format!("credits: amount {e}"))?;
            let text = |key| match item.get(key) {
                Some(Value::Str(Cow::Borrowed(s))) if !s.is_empty() => Some(*s),
                _ => None,
            };
            Ok(Credit {
                amount: parsed.value,
                kind: text("type"),
                name: text("name"),
                full_name: text("full_name"),
                id: text("id"),
            })
        })
        .collect()
}

/// Parses a labels cell (`project.labels`, `labels`): a list of `key`/`value`
/// records as a Python literal or JSON, or a plain JSON object. Null values
/// are dropped; empty values are kept (GCP labels may be empty).
pub fn parse_labels(cell: &str) -> Result<Pairs<'_>, String> {
    let mut labels = Vec::new();
    match literal::parse(cell)? {
        Value::List(items) => {
            for item in items {
                let key = item.get("key").and_then(Value::as_text).ok_or("a label has no key")?.clone();
                if let Some(value) = item.get("value").and_then(Value::as_text) {
                    labels.push((key, value.clone()));
                }
            }
        }
        Value::Object(fields) => {
            for (key, value) in fields {
                if let Some(value) = value.as_text() {
                    labels.push((key, value.clone()));
                }
            }
        }
        _ => return Err("labels are neither a list nor an object".to_string()),
    }
    Ok(labels)
}

/// `202011` (or `2020-11`) -> the month's bounds in UTC microseconds.
pub fn invoice_month(text: &str) -> Option<(i64, i64)> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Month::from_ym(digits[..4].parse().ok()?, digits[4..].parse().ok()?).map(Month::bounds_micros)
}

fn month_of(micros: i64) -> Option<(i64, i64)> {
    Month::of_micros(micros).map(Month::bounds_micros)
}

/// FOCUS ChargeCategory for a `cost_type`.
fn charge_category(cost_type: &str) -> Option<&'static str> {
    Some(match cost_type {
        "regular" => "Usage",
        "tax" => "Tax",
        "adjustment" | "rounding_error" => "Adjustment",
        _ => return None,
    })
}

impl Mapper for GcpMapper {
    fn map<'a>(
        &'a self,
        row: &'a StringRecord,
        cache: &mut ParseCache,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        let col = |name| self.col(name);
        let txt = |name| text(row, self.col(name));

        let cost = decimal(row, col("cost"), notes)?.ok_or_else(|| RowError::new(&self.cost.name, "empty cost"))?;
        let discounts: i128 = self.credits(row)?.iter().filter(|c| c.is_discount()).map(|c| c.amount).sum();
        item.billed_cost = Some(cost);
        item.effective_cost = Some(cost + discounts);
        item.list_cost = decimal(row, col("cost_at_list"), notes)?;

        item.charge_period_start = cache.timestamp(row, col("usage_start_time"), notes, None)?;
        item.charge_period_end = cache.timestamp(row, col("usage_end_time"), notes, None)?;
        let period = match txt("invoice.month") {
            Some(month) => Some(invoice_month(month).ok_or_else(|| {
                RowError::new(&self.columns["invoice.month"].name, format!("not a month (YYYYMM): {month:?}"))
            })?),
            None => {
                notes.note("billing period from usage_start_time (no invoice.month)");
                item.charge_period_start.and_then(month_of)
            }
        };
        let Some((period_start, period_end)) = period else {
            return Err(RowError::new(&self.columns["usage_start_time"].name, "empty usage start and invoice month"));
        };
        item.billing_period_start = Some(period_start);
        item.billing_period_end = Some(period_end);

        item.billing_currency = match txt("currency") {
            Some(c) => Some(c),
            None => {
                notes.note("currency assumed from --currency");
                Some(self.currency_fallback.as_deref().ok_or_else(|| {
                    let name = col("currency").map_or("currency", |c| c.name.as_str());
                    RowError::new(name, "empty currency (pass --currency to assume one)")
                })?)
            }
        };

        let cost_type = txt("cost_type");
        item.charge_category = match cost_type {
            // Exports before cost_type existed held only regular usage.
            None => Some("Usage"),
            Some(t) => charge_category(t).or_else(|| {
                notes.note("unknown GCP cost_type -> Adjustment");
                Some("Adjustment")
            }),
        };
        let usage = item.charge_category == Some("Usage");
        item.charge_frequency = Some(if usage { "Usage-Based" } else { "One-Time" });
        item.x_line_item_type = cost_type;

        item.provider_name = Some(PROVIDER);
        item.publisher_name = txt("seller_name").or(Some(PROVIDER));
        item.invoice_issuer_name = Some(PROVIDER);
        item.billing_account_id = txt("billing_account_id");
        item.sub_account_id = txt("project.id");
        item.sub_account_name = txt("project.name");

        let service = txt("service.description");
        item.service_name = service.or(txt("service.id"));
        item.x_service_code = txt("service.id");
        item.service_category = Some(match service.and_then(service_category::gcp) {
            Some(category) => category,
            None => {
                notes.note("service category unknown -> Other");
                "Other"
            }
        });
        item.sku_id = txt("sku.id");
        item.charge_description = txt("sku.description");

        item.region_id = txt("location.region").or(txt("location.location"));
        item.region_name = txt("location.location");
        item.availability_zone = txt("location.zone");
        item.resource_name = txt("resource.name");
        item.resource_id = txt("resource.global_name").or(item.resource_name);

        item.pricing_quantity = quantity(row, col("usage.amount_in_pricing_units"), notes)?;
        item.pricing_unit = txt("usage.pricing_unit");
        if usage {
            item.consumed_quantity = quantity(row, col("usage.amount"), notes)?;
            item.consumed_unit = txt("usage.unit");
            item.pricing_category = Some(if discounts != 0 { "Committed" } else { "Standard" });
        }

        // Project labels first: the builder keeps the last value of a repeated
        // key, so a resource label wins over a project label of the same key.
        for name in ["project.labels", "labels"] {
            if let Some(cell) = txt(name) {
                let labels = parse_labels(cell).map_err(|e| RowError::new(&self.columns[name].name, e))?;
                item.tags.extend(labels);
            }
        }
        Ok(())
    }

    fn extra_items<'a>(
        &'a self,
        row: &'a StringRecord,
        item: &LineItem<'a>,
        extra: &mut Vec<LineItem<'a>>,
        _notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        for credit in self.credits(row)? {
            let mut line = item.clone();
            line.charge_category = Some("Credit");
            line.charge_frequency = Some("Usage-Based");
            line.billed_cost = Some(credit.amount);
            line.effective_cost = Some(if credit.is_discount() { 0 } else { credit.amount });
            line.list_cost = None;
            line.pricing_quantity = None;
            line.pricing_unit = None;
            line.consumed_quantity = None;
            line.consumed_unit = None;
            line.pricing_category = None;
            line.charge_description = credit.full_name.or(credit.name);
            line.x_line_item_type = Some(credit.kind.unwrap_or("CREDIT"));
            line.x_source_line_item_id = credit.id.or(credit.name);
            if let Some(kind @ ("COMMITTED_USAGE_DISCOUNT" | "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE")) = credit.kind {
                line.commitment_discount_id = credit.id;
                line.commitment_discount_name = credit.full_name.or(credit.name);
                line.commitment_discount_type = Some("Committed Use Discount");
                line.commitment_discount_category =
                    Some(if kind == "COMMITTED_USAGE_DISCOUNT" { "Usage" } else { "Spend" });
            }
            extra.push(line);
        }
        Ok(())
    }

    /// `cost` plus the row's credits: the row's net charge, which is what its
    /// line items' BilledCost adds up to.
    fn source_cost(&self, row: &StringRecord) -> Option<i128> {
        let cost = money::parse_lenient(row.get(self.cost.index)?).ok()?.0.value;
        let credits = self.credits(row).map(|c| c.iter().map(|c| c.amount).sum()).unwrap_or(0);
        Some(cost + credits)
    }

    fn cost_column(&self) -> &Column {
        &self.cost
    }

    fn currency_column(&self) -> Option<&Column> {
        self.col("currency")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str) -> i128 {
        money::parse(text).unwrap().value
    }

    const HEADER: &[&str] = &[
        "billing_account_id",
        "service.id",
        "service.description",
        "usage_start_time",
        "usage_end_time",
        "project.id",
        "project.labels",
        "labels",
        "cost",
        "currency",
        "credits",
        "invoice.month",
        "cost_type",
    ];

    fn mapper() -> GcpMapper {
        GcpMapper::new(&Header::new(HEADER.iter().map(|s| s.to_string()).collect()), None).unwrap()
    }

    #[test]
    fn credits_become_rows_and_discounts_fold_into_effective_cost() {
        let m = mapper();
        let row = StringRecord::from(vec![
            "0000-AAAA",
            "6F81-5844-456A",
            "Compute Engine",
            "2024-05-01 10:00:00+00:00",
            "2024-05-01 11:00:00+00:00",
            "web-prod",
            "[{'key': 'team', 'value': 'platform'}, {'key': 'env', 'value': 'prod'}]",
            "[{'key': 'team', 'value': 'checkout'}]",
            "1.5",
            "USD",
            "[{'name': 'Committed use discount: CPU', 'amount': -0.4, 'full_name': None, 'id': 'cud-1', \
             'type': 'COMMITTED_USAGE_DISCOUNT'}, {'name': 'FreeTrial', 'amount': -0.1, 'type': 'PROMOTION', 'id': 'p-1'}]",
            "202405",
            "regular",
        ]);
        let mut item = LineItem::default();
        let mut notes = Normalisations::default();
        m.map(&row, &mut ParseCache::default(), &mut item, &mut notes).unwrap();
        assert_eq!((item.billed_cost, item.effective_cost), (Some(units("1.5")), Some(units("1.1"))));
        assert_eq!(item.charge_category, Some("Usage"));
        assert_eq!(item.pricing_category, Some("Committed"));
        assert_eq!(item.service_category, Some("Compute"));
        assert_eq!(item.provider_name, Some("Google Cloud"));
        assert_eq!(crate::provider::canonical_id(item.provider_name), "gcp");
        // The resource label wins: it comes after the project label.
        let tags: Vec<_> = item.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(tags, [("team", "platform"), ("env", "prod"), ("team", "checkout")]);

        let mut extra = Vec::new();
        m.extra_items(&row, &item, &mut extra, &mut notes).unwrap();
        let credits: Vec<_> = extra
            .iter()
            .map(|l| (l.charge_category, l.billed_cost, l.effective_cost, l.x_line_item_type, l.x_source_line_item_id))
            .collect();
        assert_eq!(
            credits,
            [
                (Some("Credit"), Some(units("-0.4")), Some(0), Some("COMMITTED_USAGE_DISCOUNT"), Some("cud-1")),
                (Some("Credit"), Some(units("-0.1")), Some(units("-0.1")), Some("PROMOTION"), Some("p-1")),
            ]
        );
        assert_eq!(extra[0].commitment_discount_category, Some("Usage"));
        assert_eq!(extra[1].sub_account_id, Some("web-prod"));
        // Billed adds up to cost + credits, and so does effective.
        let billed: i128 = [&item].into_iter().chain(&extra).map(|l| l.billed_cost.unwrap()).sum();
        let effective: i128 = [&item].into_iter().chain(&extra).map(|l| l.effective_cost.unwrap()).sum();
        assert_eq!((billed, effective), (units("1.0"), units("1.0")));
        assert_eq!(m.source_cost(&row), Some(units("1.0")));
    }

    #[test]
    fn cost_types_map_to_charge_categories() {
        assert_eq!(charge_category("regular"), Some("Usage"));
        assert_eq!(charge_category("tax"), Some("Tax"));
        assert_eq!(charge_category("adjustment"), Some("Adjustment"));
        assert_eq!(charge_category("rounding_error"), Some("Adjustment"));
        assert_eq!(charge_category("surprise"), None);
    }

    #[test]
    fn bad_credits_quarantine_the_row_with_the_column_named() {
        let m = mapper();
        let mut cells = vec![""; HEADER.len()];
        cells[0] = "0000-AAAA";
        cells[3] = "2024-05-01T10:00:00Z";
        cells[8] = "1";
        cells[9] = "USD";
        cells[10] = "[{'amount': 'lots'}]";
        let row = StringRecord::from(cells);
        let err = m.map(&row, &mut ParseCache::default(), &mut LineItem::default(), &mut Normalisations::default());
        assert_eq!(err.unwrap_err(), RowError::new("credits", "credits: amount not a number: \"lots\""));
        // Its source cost is still the cost, so reconciliation balances.
        assert_eq!(m.source_cost(&row), Some(units("1")));
    }

    #[test]
    fn labels_in_every_notation() {
        let pairs = |cell| {
            parse_labels(cell).unwrap().into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect::<Vec<_>>()
        };
        let expected = vec![("goog-resource-type".to_string(), "bigquery_dataset".to_string())];
        assert_eq!(pairs("[{'key': 'goog-resource-type', 'value': 'bigquery_dataset'}]"), expected);
        assert_eq!(pairs(r#"[{"key": "goog-resource-type", "value": "bigquery_dataset"}]"#), expected);
        assert_eq!(pairs(r#"{"goog-resource-type": "bigquery_dataset"}"#), expected);
        assert_eq!(
            pairs("[{'key': 'empty', 'value': ''}, {'key': 'gone', 'value': None}]"),
            [("empty".into(), "".into())]
        );
        assert!(parse_labels("[{'value': 'x'}]").is_err());
    }

    #[test]
    fn invoice_months_and_old_credit_names() {
        let (start, end) = invoice_month("202012").unwrap();
        assert_eq!(crate::calendar::year_month(start), "2020-12");
        assert_eq!(crate::calendar::year_month(end), "2021-01");
        assert_eq!(invoice_month("2020-12"), Some((start, end)));
        assert_eq!(invoice_month("20201"), None);
        let old = parse_credits("[{'name': 'Sustained Usage Discount', 'amount': -1}]").unwrap();
        assert!(old[0].is_discount());
        assert_eq!(old[0].kind, None);
    }

    #[test]
    fn detects_dotted_and_underscored_headers() {
        let dotted = Header::new(HEADER.iter().map(|s| s.to_string()).collect());
        assert!(detect(&dotted));
        let underscored = Header::new(HEADER.iter().map(|s| s.replace('.', "_")).collect());
        assert!(detect(&underscored));
        assert!(GcpMapper::new(&underscored, None).unwrap().col("service.description").is_some());
        assert!(!detect(&Header::new(vec!["cost".into(), "billing_account_id".into()])));
    }
}
