//! Azure cost exports: actual and amortized, across the schema generations
//! Cost Management has written (EA `Cost`, MCA `CostInBillingCurrency`,
//! pay-as-you-go `PreTaxCost`), in PascalCase or camelCase, localized headers
//! written as `Localized (Canonical)`, `Tags` with or without outer braces.
//!
//! The two exports of a period are not the same rows (the amortized one has
//! no reservation purchases but has unused-commitment rows), so lines are not
//! matched. Each export lands as its own unit of replacement
//! (`part-<account>.actual.parquet`, `part-<account>.amortized.parquet`) and is
//! the source of one measure: actual lines carry BilledCost, amortized lines
//! EffectiveCost. A line's other measure stands in with its own cost while
//! the period has only its export, and becomes 0 once the other export is in
//! the lake ([`pair_exports`]), so a period sums to the actual total billed
//! and the amortized total effective, and an unpaired period still has both.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::StringRecord;
use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::literal::{self, Pairs, Value};
use super::mapper::{Column, Header, Mapper, Normalisations, ParseCache, RowError, decimal, quantity, text};
use super::service_category;
use crate::lake::line_items::{StagedUnit, UnitKey};
use crate::lake::{Lake, writer_properties};
use crate::schema::LineItem;

/// Lake partition for Azure line items: the canonical id of [`PROVIDER`].
pub const PROVIDER_PARTITION: &str = "azure";
const PROVIDER: &str = "Microsoft";
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Which of the two exports a file is. Their columns are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Actual,
    Amortized,
}

impl Kind {
    /// The unit variant in the lake (`part-<account>.<variant>.parquet`).
    pub fn variant(self) -> &'static str {
        match self {
            Kind::Actual => "actual",
            Kind::Amortized => "amortized",
        }
    }

    fn other(self) -> Kind {
        match self {
            Kind::Actual => Kind::Amortized,
            Kind::Amortized => Kind::Actual,
        }
    }

    /// The measure a line of the other export is the source of: it stands in
    /// on this export's lines only while the other export is absent.
    fn stand_in_column(self) -> &'static str {
        match self {
            Kind::Actual => "EffectiveCost",
            Kind::Amortized => "BilledCost",
        }
    }
}

/// The kind a path names: Cost Management calls the datasets ActualCost and
/// AmortizedCost, and people name exports and folders after them. The file
/// name decides first, then the nearest folder that says.
pub fn kind_from_path(path: &Path) -> Option<Kind> {
    path.components().rev().find_map(|c| {
        let name = c.as_os_str().to_string_lossy().to_ascii_lowercase();
        if name.contains("amortized") || name.contains("amortised") {
            Some(Kind::Amortized)
        } else if name.contains("actual") {
            Some(Kind::Actual)
        } else {
            None
        }
    })
}

/// `Ressourcengruppe (ResourceGroup)` -> `ResourceGroup`: localized exports
/// put the canonical name in parentheses.
pub fn canonical_name(name: &str) -> &str {
    let name = name.trim();
    match (name.strip_suffix(')'), name.rfind(" (")) {
        (Some(_), Some(open)) => name[open + 2..name.len() - 1].trim(),
        _ => name,
    }
}

fn canonical_header(header: &Header) -> Header {
    Header::new(header.names.iter().map(|n| canonical_name(n).to_string()).collect())
}

/// Canonical names read, each with its spellings across generations (matched
/// case-insensitively, so camelCase is covered).
const WANTED: &[(&str, &[&str])] = &[
    ("cost", &["CostInBillingCurrency", "Cost", "PreTaxCost"]),
    ("currency", &["BillingCurrency", "BillingCurrencyCode", "Currency"]),
    ("date", &["Date", "UsageDateTime", "UsageDate"]),
    ("period_start", &["BillingPeriodStartDate"]),
    ("period_end", &["BillingPeriodEndDate"]),
    ("billing_account", &["BillingAccountId"]),
    ("billing_account_name", &["BillingAccountName"]),
    ("subscription", &["SubscriptionId", "SubscriptionGuid"]),
    ("subscription_name", &["SubscriptionName"]),
    ("resource_group", &["ResourceGroup", "ResourceGroupName"]),
    ("resource_id", &["ResourceId", "InstanceId", "InstanceName"]),
    ("resource_name", &["ResourceName"]),
    ("resource_type", &["ResourceType"]),
    ("location", &["ResourceLocation"]),
    ("zone", &["AvailabilityZone"]),
    ("meter_category", &["MeterCategory"]),
    ("meter_name", &["MeterName"]),
    ("meter_id", &["MeterId"]),
    ("consumed_service", &["ConsumedService"]),
    ("product", &["ProductName", "Product"]),
    ("quantity", &["Quantity", "UsageQuantity"]),
    ("unit", &["UnitOfMeasure"]),
    ("unit_price", &["UnitPrice"]),
    ("payg_price", &["PayGPrice"]),
    ("payg_cost", &["PaygCostInBillingCurrency"]),
    ("charge_type", &["ChargeType"]),
    ("frequency", &["Frequency"]),
    ("pricing_model", &["PricingModel"]),
    ("benefit_id", &["benefitId", "ReservationId"]),
    ("benefit_name", &["benefitName", "ReservationName"]),
    ("publisher", &["PublisherName"]),
    ("invoice", &["InvoiceId"]),
    ("tags", &["Tags"]),
];

fn find(header: &Header, key: &str) -> Option<Column> {
    let spellings = WANTED.iter().find(|(k, _)| *k == key).expect("a wanted key").1;
    spellings.iter().find_map(|s| header.find(s))
}

/// An Azure cost export header: a cost, a subscription and a meter or consumed service.
pub fn detect(header: &Header) -> bool {
    let canonical = canonical_header(header);
    find(&canonical, "cost").is_some()
        && find(&canonical, "subscription").is_some()
        && (canonical.has("MeterCategory") || canonical.has("ConsumedService") || canonical.has("MeterId"))
}

pub struct AzureMapper {
    kind: Kind,
    columns: HashMap<&'static str, Column>,
    currency_fallback: Option<String>,
    cost: Column,
}

impl AzureMapper {
    pub fn new(header: &Header, kind: Kind, currency_fallback: Option<String>) -> Result<Self, Vec<String>> {
        let canonical = canonical_header(header);
        // Report and reconcile under the names the file uses.
        let columns: HashMap<_, _> = WANTED
            .iter()
            .filter_map(|(key, _)| {
                let found = find(&canonical, key)?;
                Some((*key, Column { index: found.index, name: header.names[found.index].clone() }))
            })
            .collect();
        let mut missing = Vec::new();
        for (key, name) in
            [("cost", "Cost (or CostInBillingCurrency, PreTaxCost)"), ("date", "Date (or UsageDateTime)")]
        {
            if !columns.contains_key(key) {
                missing.push(name.to_string());
            }
        }
        if !columns.contains_key("currency") && currency_fallback.is_none() {
            missing.push("BillingCurrency (or pass --currency)".to_string());
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let cost = columns["cost"].clone();
        Ok(AzureMapper { kind, columns, currency_fallback, cost })
    }

    fn col(&self, key: &str) -> Option<&Column> {
        self.columns.get(key)
    }
}

/// Parses a `Tags` cell: a JSON object, or its members without the outer
/// braces (`"env": "prod","team": "web"`), as several export versions write
/// it. The flag says the braces were missing. Null values are dropped;
/// numbers and nested values keep their JSON text.
pub fn parse_tags(cell: &str) -> Result<(Pairs<'_>, bool), String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok((Vec::new(), false));
    }
    if cell.starts_with('{') {
        return Ok((tag_pairs(literal::parse(cell)?)?, false));
    }
    let wrapped = format!("{{{cell}}}");
    let owned = tag_pairs(literal::parse(&wrapped)?)?
        .into_iter()
        .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
        .collect();
    Ok((owned, true))
}

fn tag_pairs(value: Value<'_>) -> Result<Pairs<'_>, String> {
    let Value::Object(fields) = value else {
        return Err("tags are not a JSON object".to_string());
    };
    Ok(fields
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::Null => None,
            Value::Str(s) | Value::Number(s) => Some((key, s)),
            other => Some((key, Cow::Owned(other.to_json()))),
        })
        .collect())
}

/// FOCUS ChargeCategory (and ChargeClass) for an Azure ChargeType.
fn charge_category(charge_type: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match charge_type.to_ascii_lowercase().as_str() {
        "usage" | "unusedreservation" | "unusedsavingsplan" => ("Usage", None),
        "purchase" => ("Purchase", None),
        "refund" => ("Purchase", Some("Correction")),
        "tax" => ("Tax", None),
        "credit" => ("Credit", None),
        "roundingadjustment" | "adjustment" => ("Adjustment", None),
        _ => return None,
    })
}

fn is_unused_commitment(charge_type: &str) -> bool {
    charge_type.eq_ignore_ascii_case("UnusedReservation") || charge_type.eq_ignore_ascii_case("UnusedSavingsPlan")
}

/// The first day of the month containing `micros`, and of the next month.
fn month_of(micros: i64) -> Option<(i64, i64)> {
    crate::calendar::Month::of_micros(micros).map(crate::calendar::Month::bounds_micros)
}

impl Mapper for AzureMapper {
    fn map<'a>(
        &'a self,
        row: &'a StringRecord,
        cache: &mut ParseCache,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        let col = |key| self.col(key);
        let txt = |key| text(row, self.col(key));
        let charge_type = txt("charge_type");
        if self.kind == Kind::Actual
            && let Some(t) = charge_type.filter(|t| is_unused_commitment(t))
        {
            // Only amortized exports have these rows: the file was taken for the wrong kind.
            return Err(RowError::new(
                &self.columns["charge_type"].name,
                format!("{t} rows appear only in amortized exports; pass --format azure-amortized for this file"),
            ));
        }

        let cost = decimal(row, col("cost"), notes)?.ok_or_else(|| RowError::new(&self.cost.name, "empty cost"))?;
        // The stand-in measure is zeroed by `pair_exports` once the other export is in.
        item.billed_cost = Some(cost);
        item.effective_cost = Some(cost);
        item.list_cost = decimal(row, col("payg_cost"), notes)?;
        item.lake_variant = Some(self.kind.variant());

        let date = cache.timestamp(row, col("date"), notes, None)?;
        let Some(date) = date else {
            return Err(RowError::new(&self.columns["date"].name, "empty date"));
        };
        item.charge_period_start = Some(date);
        item.charge_period_end = Some(date + DAY_MICROS);
        let period_start = cache.timestamp(row, col("period_start"), notes, None)?;
        // The export's end date is the period's last day; FOCUS ends are exclusive.
        let period_end = cache.timestamp(row, col("period_end"), notes, None)?.map(|d| d + DAY_MICROS);
        (item.billing_period_start, item.billing_period_end) = match period_start {
            Some(start) => (Some(start), period_end.or_else(|| month_of(start).map(|m| m.1))),
            None => {
                notes.note("billing period from the charge date");
                let (start, end) =
                    month_of(date).ok_or_else(|| RowError::new(&self.columns["date"].name, "date out of range"))?;
                (Some(start), Some(end))
            }
        };

        item.billing_currency = match txt("currency") {
            Some(c) => Some(c),
            None => {
                notes.note("currency assumed from --currency");
                Some(self.currency_fallback.as_deref().ok_or_else(|| {
                    let name = col("currency").map_or("BillingCurrency", |c| c.name.as_str());
                    RowError::new(name, "empty currency (pass --currency to assume one)")
                })?)
            }
        };

        let (category, class) = match charge_type {
            // Pay-as-you-go usage exports have no ChargeType: usage is all they hold.
            None => ("Usage", None),
            Some(t) => charge_category(t).unwrap_or_else(|| {
                notes.note("unknown Azure ChargeType -> Adjustment");
                ("Adjustment", None)
            }),
        };
        item.charge_category = Some(category);
        item.charge_class = class;
        item.charge_frequency = Some(match txt("frequency").map(str::to_ascii_lowercase).as_deref() {
            Some("recurring") => "Recurring",
            Some("onetime") => "One-Time",
            _ if category == "Purchase" => "One-Time",
            _ => "Usage-Based",
        });
        item.x_line_item_type = charge_type;

        let pricing_model = txt("pricing_model").map(str::to_ascii_lowercase);
        item.pricing_category = match pricing_model.as_deref() {
            Some("ondemand") => Some("Standard"),
            Some("reservation" | "savingsplan") => Some("Committed"),
            Some("spot") => Some("Dynamic"),
            _ if category == "Usage" => Some("Standard"),
            _ => None,
        };
        let commitment = match pricing_model.as_deref() {
            Some("reservation") => Some(("Reservation", "Usage")),
            Some("savingsplan") => Some(("Savings Plan", "Spend")),
            _ => None,
        };
        if let Some((kind, commitment_category)) = commitment {
            item.commitment_discount_id = txt("benefit_id");
            item.commitment_discount_name = txt("benefit_name");
            item.commitment_discount_type = Some(kind);
            item.commitment_discount_category = Some(commitment_category);
            if category == "Usage" {
                let unused = charge_type.is_some_and(is_unused_commitment);
                item.commitment_discount_status = Some(if unused { "Unused" } else { "Used" });
            }
        }

        item.provider_name = Some(PROVIDER);
        item.publisher_name = txt("publisher").or(Some(PROVIDER));
        item.invoice_issuer_name = Some(PROVIDER);
        item.invoice_id = txt("invoice");
        item.sub_account_id = txt("subscription");
        item.sub_account_name = txt("subscription_name");
        item.billing_account_name = txt("billing_account_name");
        item.billing_account_id = match txt("billing_account") {
            Some(account) => Some(account),
            None => {
                // Pay-as-you-go exports are per subscription, which is then what is billed.
                notes.note("billing account taken from the subscription");
                item.sub_account_id
            }
        };
        item.x_resource_group = txt("resource_group");
        item.resource_id = txt("resource_id");
        item.resource_name = txt("resource_name");
        item.resource_type = txt("resource_type");

        let consumed_service = txt("consumed_service");
        item.x_service_code = consumed_service;
        item.service_name = txt("meter_category").or(consumed_service);
        item.service_category = Some(match consumed_service.and_then(service_category::azure) {
            Some(category) => category,
            None => {
                notes.note("service category unknown -> Other");
                "Other"
            }
        });
        item.charge_description = txt("product").or(txt("meter_name"));
        item.sku_id = txt("meter_id");
        item.region_name = txt("location");
        // Only names already in id form (`uksouth`, `EastUS`); `US East 2` is a display name.
        item.region_id = txt("location").filter(|l| !l.contains(char::is_whitespace));
        item.availability_zone = txt("zone");

        let used = quantity(row, col("quantity"), notes)?;
        item.pricing_quantity = used;
        item.pricing_unit = txt("unit");
        if category == "Usage" {
            item.consumed_quantity = used;
            item.consumed_unit = txt("unit");
        }
        item.list_unit_price = decimal(row, col("payg_price"), notes)?;
        item.contracted_unit_price = decimal(row, col("unit_price"), notes)?;

        if let Some(cell) = txt("tags") {
            let (tags, unbraced) =
                parse_tags(cell).map_err(|e| RowError::new(&self.columns["tags"].name, format!("Tags: {e}")))?;
            if unbraced {
                notes.note("Tags without outer braces");
            }
            item.tags.extend(tags);
        }
        Ok(())
    }

    fn cost_column(&self) -> &Column {
        &self.cost
    }

    fn currency_column(&self) -> Option<&Column> {
        self.col("currency")
    }
}

/// Combines the two exports of a period. For every staged Azure unit whose
/// other export is staged too or already in the lake, the stand-in measure
/// (EffectiveCost on actual lines, BilledCost on amortized lines) becomes 0,
/// in the staged file and, when it was not re-ingested, in the lake's copy of
/// the other export (rewritten into staging and committed with this run).
/// Runs after reconciliation, which checks each file against its stand-in
/// BilledCost (= its own cost); the measure each export is the source of is
/// never touched here.
pub fn pair_exports(lake: &Lake, staging: &Path, units: &mut Vec<StagedUnit>) -> std::io::Result<()> {
    let kind_of = |key: &UnitKey| match (key.provider.as_str(), key.variant.as_str()) {
        (PROVIDER_PARTITION, "actual") => Some(Kind::Actual),
        (PROVIDER_PARTITION, "amortized") => Some(Kind::Amortized),
        _ => None,
    };
    let staged: HashSet<UnitKey> = units.iter().map(|u| u.key.clone()).collect();
    let mut added = Vec::new();
    for unit in units.iter() {
        let Some(kind) = kind_of(&unit.key) else { continue };
        let other = UnitKey { variant: kind.other().variant().to_string(), ..unit.key.clone() };
        let other_in_lake = other.file_in(lake);
        if !staged.contains(&other) && !other_in_lake.exists() {
            continue;
        }
        zero_column(&unit.staged, &unit.staged, kind.stand_in_column())?;
        if !staged.contains(&other) {
            let target = staging.join(other.relative_path());
            if let Some(rows) = zero_column(&other_in_lake, &target, kind.other().stand_in_column())? {
                added.push(StagedUnit { key: other, staged: target, rows });
            }
        }
    }
    units.extend(added);
    units.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(())
}

/// Writes `from` to `to` with `column` set to 0 where it is not null. Returns
/// the rows written, or `None` (nothing written) when the column already was 0.
fn zero_column(from: &Path, to: &Path, column: &str) -> std::io::Result<Option<u64>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(from)?)
        .and_then(|b| b.build())
        .map_err(std::io::Error::other)?;
    let batches = reader.collect::<Result<Vec<RecordBatch>, _>>().map_err(std::io::Error::other)?;
    let already_zero = batches.iter().all(|b| {
        b.column_by_name(column).is_none_or(|c| c.as_primitive::<Decimal128Type>().iter().all(|v| v.unwrap_or(0) == 0))
    });
    if already_zero {
        return Ok(None);
    }
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => return Ok(None),
    };
    let tmp: PathBuf = to.with_extension("parquet.partial");
    fs::create_dir_all(to.parent().expect("a unit path has a parent"))?;
    let mut writer = ArrowWriter::try_new(File::create(&tmp)?, schema.clone(), Some(writer_properties()))
        .map_err(std::io::Error::other)?;
    let mut rows = 0u64;
    for batch in &batches {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if let Ok(i) = schema.index_of(column) {
            let old = columns[i].as_primitive::<Decimal128Type>();
            let zeros: Decimal128Array = old.iter().map(|v| v.map(|_| 0)).collect();
            let zeros = zeros.with_precision_and_scale(old.precision(), old.scale()).map_err(std::io::Error::other)?;
            columns[i] = Arc::new(zeros);
        }
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).map_err(std::io::Error::other)?)
            .map_err(std::io::Error::other)?;
        rows += batch.num_rows() as u64;
    }
    writer.into_inner().map_err(std::io::Error::other)?.sync_all()?;
    fs::rename(&tmp, to)?;
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Header {
        Header::new(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_partition_is_the_providers_canonical_id() {
        assert_eq!(crate::provider::canonical_id(Some(PROVIDER)), PROVIDER_PARTITION);
    }

    fn pairs(cell: &str) -> (Vec<(String, String)>, bool) {
        let (tags, unbraced) = parse_tags(cell).unwrap();
        (tags.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(), unbraced)
    }

    #[test]
    fn tags_with_and_without_braces() {
        let expected = vec![("env".to_string(), "prod".to_string()), ("n".to_string(), "3".to_string())];
        assert_eq!(pairs(r#"{"env": "prod", "n": 3, "gone": null}"#), (expected.clone(), false));
        assert_eq!(pairs(r#""env": "prod","n": 3"#), (expected, true));
        assert_eq!(pairs(""), (vec![], false));
        assert_eq!(pairs(r#"{"nested": {"a": 1}}"#).0, vec![("nested".to_string(), r#"{"a":1}"#.to_string())]);
        assert!(parse_tags(r#""env": prod"#).unwrap_err().starts_with("unknown word"));
    }

    #[test]
    fn dates_as_exports_write_them() {
        let at = |s: &str| crate::timestamp::parse(s).unwrap().micros;
        // EA M/D/YYYY with and without leading zeros, ISO dates, and a time.
        assert_eq!(at("09/01/2023"), at("2023-09-01"));
        assert_eq!(at("9/2/2023"), at("2023-09-02"));
        assert_eq!(at("2019-07-29 00:00:00"), at("2019-07-29"));
        assert_eq!(at("3/1/21"), at("2021-03-01"));
        let (start, end) = month_of(at("9/2/2023")).unwrap();
        assert_eq!((start, end), (at("2023-09-01"), at("2023-10-01")));
        assert_eq!(month_of(at("12/31/2023")).unwrap().1, at("2024-01-01"));
    }

    #[test]
    fn localized_and_camel_case_headers() {
        assert_eq!(canonical_name("Ressourcengruppe (ResourceGroup)"), "ResourceGroup");
        assert_eq!(canonical_name("ServiceName"), "ServiceName");
        assert_eq!(canonical_name("Maßeinheit (UnitOfMeasure)"), "UnitOfMeasure");
        let german = header(&[
            "Abonnement-GUID (SubscriptionGuid)",
            "PreTaxCost (PreTaxCost)",
            "UsageDateTime (UsageDateTime)",
            "Kategorie der Verbrauchseinheit (MeterCategory)",
            "Currency",
        ]);
        assert!(detect(&german));
        let m = AzureMapper::new(&german, Kind::Actual, None).unwrap();
        assert_eq!(m.cost_column().name, "PreTaxCost (PreTaxCost)");
        let camel = header(&["subscriptionGuid", "preTaxCost", "usageDateTime", "meterCategory", "currency"]);
        assert!(detect(&camel));
        assert!(!detect(&header(&["BilledCost", "SubAccountId"])));
    }

    #[test]
    fn kind_from_the_path() {
        assert_eq!(kind_from_path(Path::new("x/EA_AmortizedCost_Small.csv")), Some(Kind::Amortized));
        assert_eq!(kind_from_path(Path::new("exports/actualcost/2023/part_0.csv")), Some(Kind::Actual));
        assert_eq!(kind_from_path(Path::new("amortized/daily-actual.csv")), Some(Kind::Actual));
        assert_eq!(kind_from_path(Path::new("exports/costs.csv")), None);
    }

    #[test]
    fn charge_types() {
        assert_eq!(charge_category("Usage"), Some(("Usage", None)));
        assert_eq!(charge_category("UnusedReservation"), Some(("Usage", None)));
        assert_eq!(charge_category("Refund"), Some(("Purchase", Some("Correction"))));
        assert_eq!(charge_category("RoundingAdjustment"), Some(("Adjustment", None)));
        assert_eq!(charge_category("Mystery"), None);
    }

    #[test]
    fn unused_commitment_rows_refuse_the_actual_kind() {
        let h = header(&["SubscriptionId", "Cost", "Date", "BillingCurrency", "ChargeType", "MeterCategory"]);
        let row = StringRecord::from(vec!["s", "1", "9/1/2023", "USD", "UnusedReservation", "VM"]);
        let actual = AzureMapper::new(&h, Kind::Actual, None).unwrap();
        let err =
            actual.map(&row, &mut ParseCache::default(), &mut LineItem::default(), &mut Normalisations::default());
        assert_eq!(err.unwrap_err().column, "ChargeType");
        let amortized = AzureMapper::new(&h, Kind::Amortized, None).unwrap();
        let mut item = LineItem::default();
        let mut notes = Normalisations::default();
        amortized.map(&row, &mut ParseCache::default(), &mut item, &mut notes).unwrap();
        assert_eq!(
            (item.lake_variant, item.billing_account_id, item.charge_category),
            (Some("amortized"), Some("s"), Some("Usage"))
        );
        assert_eq!(
            notes.summary(),
            "billing account taken from the subscription: 1, billing period from the charge date: 1, service category unknown -> Other: 1"
        );
    }
}
