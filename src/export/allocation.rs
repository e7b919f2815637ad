//! `tally export focus --attributed`: each line item as one row per share of its owner, in
//! FOCUS 1.3's split-cost-allocation columns (for 1.2, the same columns with an `x_` prefix).
//!
//! FOCUS (Data Generator-Calculated Split Cost Allocation Handling): an allocated charge keeps
//! its origin charge's dimensions and unit prices, and its summable metrics (every `...Cost`
//! and `...Quantity` column) add back to the origin's exactly. tally's shares already add up:
//! BilledCost and EffectiveCost are the `attributed` table's own amounts; every other summable
//! metric is split by the shares' ratios with largest remainder ([`money::split`]).
//!
//! | Column | Value |
//! |---|---|
//! | AllocatedMethodId | `rule/<rule id>` (rules.toml), `pool/<pool>` (pools.toml; `platform > ops` when a pool feeds another), `unallocated` |
//! | AllocatedMethodDetails | `{"Elements":[{"AllocatedRatio":<share>}], "x_Method", "x_Rule", "x_Pool", "x_Split", "x_UnallocatedReason", "x_MappingsVersion"}`; the ratios of a line add up to 1 exactly |
//! | AllocatedResourceId, AllocatedResourceName | the team; null for the unallocated share (the spec's "unallocated portion") |
//! | AllocatedTags | `{"tally/team", "tally/org-path", "tally/org-path-current"}`; null when unallocated |
//!
//! A source file's own allocation (a FOCUS 1.3 provider split) moves into the details as
//! `x_SourceAllocation`, so nothing it said is lost.

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, RecordBatch, StringArray, StringBuilder, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Schema, UInt64Type};
use serde_json::{Map, Value};

use super::focus::{ExportError, Version};
use crate::lake::Lake;
use crate::lake::attributed::{Reader, Share, owner_index};
use crate::money;

/// FOCUS 1.3's split-cost-allocation columns, in the order they are filled.
const COLUMNS: [&str; 5] =
    ["AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags"];

const TEAM: usize = owner_index("team");
const ORG_PATH: usize = owner_index("org_path");
const ORG_PATH_CURRENT: usize = owner_index("org_path_current");
const RULE: usize = owner_index("rule_id");
const METHOD: usize = owner_index("method");
const POOL: usize = owner_index("pool");
const SPLIT: usize = owner_index("split");
const REASON: usize = owner_index("unallocated_reason");
const VERSION: usize = owner_index("mappings_version");
const REPORTING: usize = owner_index("x_ReportingCurrency");

/// The conversion into the reporting currency (currency.toml), after the allocation columns;
/// null on rows attributed without one.
const CONVERSION: [&str; 4] =
    ["x_ReportingCurrency", "x_ExchangeRate", "x_ReportingBilledCost", "x_ReportingEffectiveCost"];

/// An owner's columns, written once per period: only the ratio changes from row to row.
struct OwnerText {
    method_id: String,
    reporting: Option<String>,
    team: Option<String>,
    tags: Option<String>,
    /// The details object after `Elements`: `,"x_Method":...}`.
    details_tail: String,
}

impl OwnerText {
    fn of(owner: &crate::lake::attributed::Owner) -> OwnerText {
        let get = |i: usize| owner[i].as_deref();
        let method = get(METHOD).unwrap_or("unallocated");
        let method_id = match method {
            "direct" => format!("rule/{}", get(RULE).unwrap_or("?")),
            "shared" => format!("pool/{}", get(POOL).unwrap_or("?")),
            other => other.to_string(),
        };
        let team = (method != "unallocated").then(|| get(TEAM).map(str::to_string)).flatten();
        let tags = team.as_ref().map(|team| {
            let mut tags = Map::new();
            tags.insert("tally/team".into(), Value::String(team.clone()));
            for (key, at) in [("tally/org-path", ORG_PATH), ("tally/org-path-current", ORG_PATH_CURRENT)] {
                if let Some(path) = get(at) {
                    tags.insert(key.into(), Value::String(path.into()));
                }
            }
            Value::Object(tags).to_string()
        });
        let mut details = Map::new();
        for (key, at) in [
            ("x_Method", METHOD),
            ("x_Rule", RULE),
            ("x_Pool", POOL),
            ("x_Split", SPLIT),
            ("x_UnallocatedReason", REASON),
            ("x_MappingsVersion", VERSION),
        ] {
            if let Some(value) = get(at) {
                details.insert(key.into(), Value::String(value.into()));
            }
        }
        let object = Value::Object(details).to_string();
        let details_tail = if object == "{}" { "}".to_string() } else { format!(",{}", &object[1..]) };
        OwnerText { method_id, reporting: get(REPORTING).map(str::to_string), team, tags, details_tail }
    }
}

/// Expands a period's exported batches into their shares, reading `attributed` alongside.
pub(super) struct Allocation {
    period: String,
    version: Version,
    reader: Reader,
    owners: Vec<OwnerText>,
    /// Shares of the period's purchases with an amortized row, in line order: the amortized
    /// rows (a second query) follow the line items and take their shares from here.
    purchases: VecDeque<(Option<String>, Option<u64>, Vec<Share>)>,
    shares: Vec<Share>,
}

/// The line-item columns a batch must hold to be expanded.
struct Lines<'b> {
    file: StringArray,
    row: ArrayRef,
    category: StringArray,
    billed: &'b Decimal128Array,
    effective: &'b Decimal128Array,
}

fn never_attributed(period: &str) -> ExportError {
    ExportError::Input(format!(
        "billing period {period} has line items but was never attributed: run `tally attribute` first, or \
         export without --attributed"
    ))
}

impl Allocation {
    /// Errs on the first of `periods` never attributed, before anything is written.
    pub(super) fn check_attributed(lake: &Lake, periods: &[String]) -> Result<(), ExportError> {
        match periods.iter().find(|p| !crate::lake::attributed::file(lake, p).exists()) {
            Some(period) => Err(never_attributed(period)),
            None => Ok(()),
        }
    }

    pub(super) fn open(lake: &Lake, period: &str, version: Version) -> Result<Allocation, ExportError> {
        let path = crate::lake::attributed::file(lake, period);
        let reader = Reader::open(lake, period)
            .map_err(|source| ExportError::Io { path: path.display().to_string(), source })?
            .ok_or_else(|| never_attributed(period))?;
        Ok(Allocation {
            period: period.to_string(),
            version,
            reader,
            owners: Vec::new(),
            purchases: VecDeque::new(),
            shares: Vec::new(),
        })
    }

    fn stale(&self, file: Option<&str>, row: Option<u64>, why: &str) -> ExportError {
        ExportError::Input(format!(
            "billing period {}: line item {} row {}: {why}. The line items changed after `tally attribute` \
             ran: run it again, then export",
            self.period,
            file.unwrap_or("?"),
            row.map_or("?".into(), |r| r.to_string())
        ))
    }

    /// `batch` (line items, or with `amortized` their purchases' amortized rows) with each
    /// row repeated once per share and the allocation columns filled.
    pub(super) fn expand(&mut self, batch: &RecordBatch, amortized: bool) -> Result<RecordBatch, ExportError> {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| ExportError::Input(format!("export batch lacks {name}")))
        };
        let text = |name: &str| -> Result<StringArray, ExportError> {
            Ok(datafusion::arrow::compute::cast(column(name)?, &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let decimal = |name: &str| -> Result<&Decimal128Array, ExportError> {
            column(name)?
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| ExportError::Input(format!("export column {name} is not a decimal")))
        };
        let lines = Lines {
            file: text("x_SourceFile")?,
            row: datafusion::arrow::compute::cast(column("x_SourceRow")?, &DataType::UInt64)?,
            category: text("ChargeCategory")?,
            billed: decimal("BilledCost")?,
            effective: decimal("EffectiveCost")?,
        };
        let rows = lines.row.as_primitive::<UInt64Type>();

        // Each output row: the line it repeats and its share.
        let mut repeat: Vec<u32> = Vec::with_capacity(batch.num_rows());
        let mut shares: Vec<Share> = Vec::with_capacity(batch.num_rows());
        let mut bounds: Vec<usize> = Vec::with_capacity(batch.num_rows() + 1);
        bounds.push(0);
        for line in 0..batch.num_rows() {
            let file = (!lines.file.is_null(line)).then(|| lines.file.value(line));
            let row = (!rows.is_null(line)).then(|| rows.value(line));
            self.shares.clear();
            if amortized {
                let Some((f, r, stashed)) = self.purchases.pop_front() else {
                    return Err(self.stale(file, row, "a purchase the line items did not have"));
                };
                if (f.as_deref(), r) != (file, row) {
                    return Err(self.stale(file, row, "its purchase is not where the line items had it"));
                }
                self.shares = stashed;
                let effective: i128 = self.shares.iter().map(|s| s.effective).sum();
                if effective != lines.effective.value(line) {
                    return Err(self.stale(file, row, "its shares' EffectiveCost is not the line's"));
                }
            } else {
                let mut found = std::mem::take(&mut self.shares);
                let read = self.reader.next_line(file, row, &mut found);
                let read = read.map_err(|source| ExportError::Io { path: self.period.clone(), source })?;
                self.shares = found;
                if let Err(why) = read {
                    return Err(self.stale(file, row, &why));
                }
                let billed: i128 = self.shares.iter().map(|s| s.billed).sum();
                let effective: i128 = self.shares.iter().map(|s| s.effective).sum();
                if billed != lines.billed.value(line) {
                    return Err(self.stale(file, row, "its shares' BilledCost is not the line's"));
                }
                let purchase = !lines.category.is_null(line) && lines.category.value(line) == "Purchase";
                // The export moves a purchase's EffectiveCost to its amortized row ([`super::focus`]).
                if purchase && effective != 0 {
                    self.purchases.push_back((file.map(str::to_string), row, self.shares.clone()));
                } else if effective != lines.effective.value(line) {
                    return Err(self.stale(file, row, "its shares' EffectiveCost is not the line's"));
                }
            }
            for share in &self.shares {
                repeat.push(line as u32);
                shares.push(*share);
            }
            bounds.push(shares.len());
        }

        let indices = UInt32Array::from(repeat);
        let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(fields.len() + COLUMNS.len());
        for (field, array) in fields.iter().zip(batch.columns()) {
            let summable = field.name().ends_with("Cost") || field.name().ends_with("Quantity");
            arrays.push(match array.as_primitive_opt::<Decimal128Type>() {
                Some(values) if summable => Arc::new(split_column(field.name(), values, &shares, &bounds)?),
                _ => datafusion::arrow::compute::take(array.as_ref(), &indices, None)?,
            });
        }
        let source = self.source_allocations(batch, &indices)?;
        for (name, values) in COLUMNS.iter().zip(self.allocation_columns(&shares, source.as_ref())) {
            let name = match self.version {
                Version::V1_3 => name.to_string(),
                Version::V1_2 => format!("x_{name}"),
            };
            match fields.iter().position(|f| *f.name() == name) {
                Some(at) => {
                    fields[at] = Arc::new(Field::new(name, DataType::Utf8, true));
                    arrays[at] = Arc::new(values);
                }
                None => {
                    fields.push(Arc::new(Field::new(name, DataType::Utf8, true)));
                    arrays.push(Arc::new(values));
                }
            }
        }
        let amount = |name: &str| {
            fields
                .iter()
                .position(|f| f.name() == name)
                .and_then(|at| arrays[at].as_primitive_opt::<Decimal128Type>().cloned())
        };
        let (billed, effective) = (amount("BilledCost"), amount("EffectiveCost"));
        let conversion = self.conversion_columns(&shares, billed.as_ref(), effective.as_ref())?;
        for (name, values) in CONVERSION.iter().zip(conversion) {
            fields.push(Arc::new(Field::new(*name, values.data_type().clone(), true)));
            arrays.push(values);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// Each row's reporting currency, rate and converted costs: the attributed table's own
    /// where the row's cost is the share's, else the row's cost converted at the share's rate
    /// (a purchase's EffectiveCost moved to its amortized row, a zero).
    fn conversion_columns(
        &self,
        shares: &[Share],
        billed: Option<&Decimal128Array>,
        effective: Option<&Decimal128Array>,
    ) -> Result<[ArrayRef; 4], ExportError> {
        let mut currency = StringBuilder::with_capacity(shares.len(), shares.len() * 3);
        let (mut rates, mut converted) = (Vec::with_capacity(shares.len()), [Vec::new(), Vec::new()]);
        for (row, share) in shares.iter().enumerate() {
            currency.append_option(self.owners[share.owner as usize].reporting.as_deref());
            rates.push(share.rate);
            for (i, (column, own)) in [(billed, share.billed), (effective, share.effective)].into_iter().enumerate() {
                let value = column.filter(|c| !c.is_null(row)).map(|c| c.value(row));
                let out = match (share.rate, share.reporting, value) {
                    (Some(_), Some(reporting), Some(v)) if v == own => Some(reporting[i]),
                    (Some(rate), _, Some(v)) => {
                        Some(money::convert(v, rate).map_err(|e| ExportError::Input(e.to_string()))?)
                    }
                    _ => None,
                };
                converted[i].push(out);
            }
        }
        let decimal = |values: Vec<Option<i128>>, scale: i8| -> Result<ArrayRef, ExportError> {
            Ok(Arc::new(Decimal128Array::from(values).with_precision_and_scale(money::PRECISION, scale)?))
        };
        let [b, e] = converted;
        Ok([
            Arc::new(currency.finish()),
            decimal(rates, money::RATE_SCALE)?,
            decimal(b, money::SCALE)?,
            decimal(e, money::SCALE)?,
        ])
    }

    /// The source's own allocation columns of each output row (FOCUS 1.3 and later sources),
    /// as a JSON object; `None` when the export carries none of them.
    fn source_allocations(
        &self,
        batch: &RecordBatch,
        indices: &UInt32Array,
    ) -> Result<Option<Vec<Option<String>>>, ExportError> {
        let present: Vec<(&str, StringArray)> = COLUMNS
            .iter()
            .filter_map(|name| batch.column_by_name(name).map(|c| (*name, c)))
            .map(|(name, c)| {
                let taken = datafusion::arrow::compute::take(c.as_ref(), indices, None)?;
                Ok((name, datafusion::arrow::compute::cast(&taken, &DataType::Utf8)?.as_string::<i32>().clone()))
            })
            .collect::<Result<_, ExportError>>()?;
        if present.iter().all(|(_, c)| c.null_count() == c.len()) {
            return Ok(None);
        }
        let rows = (0..indices.len())
            .map(|row| {
                let object: Map<String, Value> = present
                    .iter()
                    .filter(|(_, c)| !c.is_null(row))
                    .map(|(name, c)| {
                        let text = c.value(row);
                        // JSON columns stay JSON; anything else (or JSON that does not parse) as text.
                        let value = match *name {
                            "AllocatedMethodDetails" | "AllocatedTags" => {
                                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))
                            }
                            _ => Value::String(text.into()),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                (!object.is_empty()).then(|| Value::Object(object).to_string())
            })
            .collect();
        Ok(Some(rows))
    }

    fn allocation_columns(&mut self, shares: &[Share], source: Option<&Vec<Option<String>>>) -> [StringArray; 5] {
        let mut builders: [StringBuilder; 5] =
            std::array::from_fn(|_| StringBuilder::with_capacity(shares.len(), shares.len() * 24));
        let mut details = String::new();
        for (row, share) in shares.iter().enumerate() {
            while self.owners.len() <= share.owner as usize {
                let next = self.owners.len() as u32;
                self.owners.push(OwnerText::of(self.reader.owner(next)));
            }
            let owner = &self.owners[share.owner as usize];
            details.clear();
            details.push_str("{\"Elements\":[{\"AllocatedRatio\":");
            details.push_str(&money::format(share.share, money::SCALE as u32));
            details.push_str("}]");
            if let Some(Some(from_source)) = source.map(|s| &s[row]) {
                details.push_str(",\"x_SourceAllocation\":");
                details.push_str(from_source);
            }
            details.push_str(&owner.details_tail);
            builders[0].append_value(&owner.method_id);
            builders[1].append_value(&details);
            builders[2].append_option(owner.team.as_deref());
            builders[3].append_option(owner.team.as_deref());
            builders[4].append_option(owner.tags.as_deref());
        }
        builders.map(|mut b| b.finish())
    }
}

/// A summable metric per share: the attributed amounts where they are the line's own
/// (BilledCost, EffectiveCost), else the line's value split by the shares' ratios; nulls stay null.
fn split_column(
    name: &str,
    values: &Decimal128Array,
    shares: &[Share],
    bounds: &[usize],
) -> Result<Decimal128Array, ExportError> {
    let mut out: Vec<Option<i128>> = Vec::with_capacity(shares.len());
    let mut weights: Vec<i128> = Vec::new();
    for (line, window) in bounds.windows(2).enumerate() {
        let line_shares = &shares[window[0]..window[1]];
        if values.is_null(line) {
            out.extend(line_shares.iter().map(|_| None));
            continue;
        }
        let value = values.value(line);
        let own: Option<fn(&Share) -> i128> = match name {
            "BilledCost" => Some(|s| s.billed),
            "EffectiveCost" => Some(|s| s.effective),
            _ => None,
        };
        if let Some(own) = own.filter(|own| line_shares.iter().map(own).sum::<i128>() == value) {
            out.extend(line_shares.iter().map(|s| Some(own(s))));
        } else if line_shares.len() == 1 {
            out.push(Some(value));
        } else {
            weights.clear();
            weights.extend(line_shares.iter().map(|s| s.share));
            out.extend(money::split::split(value, &weights).into_iter().map(Some));
        }
    }
    Ok(Decimal128Array::from(out).with_precision_and_scale(values.precision(), values.scale())?)
}

impl Allocation {
    /// Errs when the attributed table holds shares the line items did not read (a line
    /// removed since attribution).
    pub(super) fn check_all_read(&mut self) -> Result<(), ExportError> {
        let at_end = self.reader.at_end().map_err(|source| ExportError::Io { path: self.period.clone(), source })?;
        if !at_end || !self.purchases.is_empty() {
            return Err(ExportError::Input(format!(
                "billing period {}: the attributed table has shares of line items the lake no longer holds: run \
                 `tally attribute` again, then export",
                self.period
            )));
        }
        Ok(())
    }
}
