//! The `attributed` table: every line item, or each split share of it, with
//! its owner. One file per billing period, replaced whole:
//! `attributed/billing_period=2026-08/part-0.parquet`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::background::Background;
use super::{Lake, writer_properties};
use crate::money::{PRECISION, RATE_SCALE, SCALE};

/// Where an attributed text column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Copied from the line item's column of the same name.
    LineItem,
    /// Written by attribution (owner, rule, pool, mappings version, the provider folder).
    Attribution,
}

/// The text columns of `attributed`, in file order: the one list the schema, [`Row`]
/// and every writer follow. The table ends with `ChargePeriodStart`, `x_SourceRow`
/// and the money columns `share`, `BilledCost`, `EffectiveCost`, then the conversion into the
/// reporting currency: `x_ExchangeRate`, `x_ExchangeRateDate`, `x_ReportingBilledCost`,
/// `x_ReportingEffectiveCost` (null without currency.toml; see [`SCHEMA`]).
pub const TEXT_COLUMNS: &[(&str, Origin)] = &[
    ("provider", Origin::Attribution),
    ("BillingCurrency", Origin::LineItem),
    ("ChargeCategory", Origin::LineItem),
    ("BillingAccountId", Origin::LineItem),
    ("SubAccountId", Origin::LineItem),
    ("ServiceName", Origin::LineItem),
    ("x_ServiceCode", Origin::LineItem),
    ("RegionId", Origin::LineItem),
    ("ResourceId", Origin::LineItem),
    ("x_ResourceGroup", Origin::LineItem),
    ("x_SourceFile", Origin::LineItem),
    ("x_SourceLineItemId", Origin::LineItem),
    ("team", Origin::Attribution),
    ("org_path", Origin::Attribution),
    ("org_path_current", Origin::Attribution),
    ("rule_id", Origin::Attribution),
    ("method", Origin::Attribution),
    ("pool", Origin::Attribution),
    ("split", Origin::Attribution),
    ("unallocated_reason", Origin::Attribution),
    ("mappings_version", Origin::Attribution),
    // The reporting currency (currency.toml) and how its rate was chosen; null without one.
    ("x_ReportingCurrency", Origin::Attribution),
    ("x_ExchangeRatePolicy", Origin::Attribution),
    // A container's cluster, namespace and workload: the line's own, or for a node's share
    // split by its pods (AWS split cost allocation data), the pods'.
    ("x_Cluster", Origin::LineItem),
    ("x_Namespace", Origin::LineItem),
    ("x_Workload", Origin::LineItem),
];

const TEXT_COUNT: usize = TEXT_COLUMNS.len();

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = TEXT_COLUMNS.iter().map(|(n, _)| Field::new(*n, DataType::Utf8, true)).collect();
    fields.push(Field::new("ChargePeriodStart", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true));
    fields.push(Field::new("x_SourceRow", DataType::UInt64, true));
    for money in ["share", "BilledCost", "EffectiveCost"] {
        fields.push(Field::new(money, DataType::Decimal128(PRECISION, SCALE), false));
    }
    fields.push(Field::new("x_ExchangeRate", DataType::Decimal128(PRECISION, RATE_SCALE), true));
    fields.push(Field::new("x_ExchangeRateDate", DataType::Date32, true));
    for money in ["x_ReportingBilledCost", "x_ReportingEffectiveCost"] {
        fields.push(Field::new(money, DataType::Decimal128(PRECISION, SCALE), true));
    }
    Arc::new(Schema::new(fields))
});

/// One output row. Text fields in [`TEXT_COLUMNS`] order.
#[derive(Debug, Default, Clone)]
pub struct Row<'a> {
    pub text: [Option<&'a str>; TEXT_COUNT],
    pub charge_period_start: Option<i64>,
    pub source_row: Option<u64>,
    pub share: i128,
    pub billed: i128,
    pub effective: i128,
    /// The rate into the reporting currency ([`crate::money::RATE_SCALE`]) and its day
    /// (days since 1970-01-01), and the billed and effective cost converted.
    pub rate: Option<i128>,
    pub rate_date: Option<i32>,
    pub reporting: Option<[i128; 2]>,
}

/// Index of a text column in [`Row::text`]. A `const fn`: give it a `const` and a
/// misspelt name fails the build, not a run.
pub const fn text_index(name: &str) -> usize {
    let mut i = 0;
    while i < TEXT_COLUMNS.len() {
        if crate::schema::same_name(TEXT_COLUMNS[i].0, name) {
            return i;
        }
        i += 1;
    }
    panic!("no such attributed column")
}

/// Index of a column in [`Owner`]; a misspelt name fails the build, as [`text_index`].
pub const fn owner_index(name: &str) -> usize {
    let mut i = 0;
    while i < OWNER_COLUMNS.len() {
        if crate::schema::same_name(OWNER_COLUMNS[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("no such owner column")
}

/// The columns copied from the line item: `(name, index in Row::text)`.
pub fn copied_from_line_item() -> impl Iterator<Item = (&'static str, usize)> {
    TEXT_COLUMNS.iter().enumerate().filter(|(_, (_, origin))| *origin == Origin::LineItem).map(|(i, (n, _))| (*n, i))
}

pub struct PeriodWriter {
    pub period: String,
    staged: PathBuf,
    /// Full batches go to a thread that encodes and compresses them.
    encoder: Background<File>,
    text: Vec<StringBuilder>,
    start: TimestampMicrosecondBuilder,
    source_row: UInt64Builder,
    money: [Decimal128Builder; 3],
    rate: Decimal128Builder,
    rate_date: Date32Builder,
    reporting: [Decimal128Builder; 2],
    buffered: usize,
    pub rows: u64,
}

const BATCH_ROWS: usize = 8192;

impl PeriodWriter {
    pub fn create(staging: &Path, period: &str) -> std::io::Result<PeriodWriter> {
        let staged = staging.join(in_table(period));
        fs::create_dir_all(staged.parent().expect("has parent"))?;
        let writer = ArrowWriter::try_new(File::create(&staged)?, SCHEMA.clone(), Some(writer_properties()))
            .map_err(std::io::Error::other)?;
        let encoder = Background::spawn(
            writer,
            |writer, batch| writer.write(batch).map_err(std::io::Error::other),
            |writer| writer.into_inner().map_err(std::io::Error::other),
        );
        let decimal = || Decimal128Builder::new().with_precision_and_scale(PRECISION, SCALE).expect("valid decimal");
        Ok(PeriodWriter {
            period: period.to_string(),
            staged,
            encoder,
            text: TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
            start: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            source_row: UInt64Builder::new(),
            money: [decimal(), decimal(), decimal()],
            rate: Decimal128Builder::new().with_precision_and_scale(PRECISION, RATE_SCALE).expect("valid decimal"),
            rate_date: Date32Builder::new(),
            reporting: [decimal(), decimal()],
            buffered: 0,
            rows: 0,
        })
    }

    pub fn push(&mut self, row: &Row) -> std::io::Result<()> {
        for (builder, value) in self.text.iter_mut().zip(row.text.iter()) {
            builder.append_option(*value);
        }
        self.start.append_option(row.charge_period_start);
        self.source_row.append_option(row.source_row);
        for (builder, value) in self.money.iter_mut().zip([row.share, row.billed, row.effective]) {
            builder.append_value(value);
        }
        self.rate.append_option(row.rate);
        self.rate_date.append_option(row.rate_date);
        for (i, builder) in self.reporting.iter_mut().enumerate() {
            builder.append_option(row.reporting.map(|r| r[i]));
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = self.text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        columns.push(Arc::new(self.start.finish()));
        columns.push(Arc::new(self.source_row.finish()));
        for builder in &mut self.money {
            columns.push(Arc::new(builder.finish()));
        }
        columns.push(Arc::new(self.rate.finish()));
        columns.push(Arc::new(self.rate_date.finish()));
        for builder in &mut self.reporting {
            columns.push(Arc::new(builder.finish()));
        }
        let batch = RecordBatch::try_new(SCHEMA.clone(), columns).map_err(std::io::Error::other)?;
        self.buffered = 0;
        self.encoder.send(batch)
    }

    /// Closes the staged file; `commit` moves it into the lake.
    pub fn finish(mut self) -> std::io::Result<StagedPeriod> {
        self.flush()?;
        let file = self.encoder.join()?;
        file.sync_all()?;
        Ok(StagedPeriod { period: self.period, staged: self.staged, rows: self.rows })
    }
}

#[derive(Debug)]
pub struct StagedPeriod {
    pub period: String,
    pub staged: PathBuf,
    pub rows: u64,
}

impl StagedPeriod {
    pub fn relative_path(&self) -> PathBuf {
        relative_file(&self.period)
    }
}

/// A period's file inside the table: `billing_period=<period>/part-0.parquet`.
fn in_table(period: &str) -> PathBuf {
    PathBuf::from(format!("billing_period={period}")).join("part-0.parquet")
}

/// A period's file relative to the lake.
pub fn relative_file(period: &str) -> PathBuf {
    Path::new(super::ATTRIBUTED).join(in_table(period))
}

/// A period's file in `lake` (it may not exist yet).
pub fn file(lake: &Lake, period: &str) -> PathBuf {
    lake.file(&relative_file(period))
}

/// Every file of the table, sorted.
pub fn files(lake: &Lake) -> Vec<PathBuf> {
    super::catalogue::parquet_files(&lake.table_dir(super::ATTRIBUTED))
}

/// Moves each staged period over the lake's, one rename each.
pub fn commit(lake: &Lake, periods: &[StagedPeriod]) -> std::io::Result<()> {
    periods.iter().try_for_each(|period| super::move_into_place(lake, &period.staged, &period.relative_path()))
}

/// The data's last charge day (any charge category): the one "as of" day of budgets,
/// findings, the report and nudges when none is given, so one run's outputs agree.
/// A day with nothing but a late credit or tax line counts, as it does on the bill.
pub async fn last_charge_day(
    ctx: &datafusion::prelude::SessionContext,
) -> datafusion::error::Result<Option<chrono::NaiveDate>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Date32Type;
    let sql = r#"SELECT max(CAST("ChargePeriodStart" AS DATE)) FROM attributed"#;
    for batch in super::sql::query(ctx, sql).await?.collect().await? {
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Date32)?;
        let days = column.as_primitive::<Date32Type>();
        if batch.num_rows() > 0 && !days.is_null(0) {
            return Ok(Date32Type::to_naive_date_opt(days.value(0)));
        }
    }
    Ok(None)
}

/// The text that says who owns a share and why, in [`OWNER_COLUMNS`] order.
pub type Owner = [Option<String>; OWNER_COLUMNS.len()];

/// The columns of an [`Owner`].
pub const OWNER_COLUMNS: [&str; 10] = [
    "team",
    "org_path",
    "org_path_current",
    "rule_id",
    "method",
    "pool",
    "split",
    "unallocated_reason",
    "mappings_version",
    "x_ReportingCurrency",
];

/// One share of a line item: its owner (an index into [`Reader::owner`]), its part of the
/// whole ([`crate::money::ONE`]) and of the line's billed and effective cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub owner: u32,
    pub share: i128,
    pub billed: i128,
    pub effective: i128,
    /// The rate into the reporting currency and the converted `[billed, effective]`, where the
    /// row has them (currency.toml).
    pub rate: Option<i128>,
    pub reporting: Option<[i128; 2]>,
}

/// A period's shares in file order, read a line item at a time: attribution writes every
/// line's shares together, in the order it reads the line items (`line_items::period_files`),
/// and a line's shares add up to one exactly, so the shares of the next line are the rows up
/// to where their `share` reaches one. Owners are interned: a period has few distinct ones.
pub struct Reader {
    path: PathBuf,
    batches: datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    batch: Option<Columns>,
    at: usize,
    owners: Vec<Owner>,
    owner_ids: std::collections::HashMap<String, u32>,
    key: String,
}

/// One batch of the table, its columns typed.
struct Columns {
    rows: usize,
    /// A column a file written before it existed lacks reads as null (`None`).
    owner: Vec<Option<datafusion::arrow::array::StringArray>>,
    source_file: datafusion::arrow::array::StringArray,
    source_row: datafusion::arrow::array::UInt64Array,
    money: [datafusion::arrow::array::Decimal128Array; 3],
    /// `x_ExchangeRate`, `x_ReportingBilledCost`, `x_ReportingEffectiveCost`, where present.
    conversion: [Option<datafusion::arrow::array::Decimal128Array>; 3],
}

impl Columns {
    fn of(batch: &RecordBatch) -> Option<Columns> {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::{Decimal128Type, UInt64Type};
        let text = |name: &str| batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).cloned();
        let money =
            |name: &str| batch.column_by_name(name).and_then(|c| c.as_primitive_opt::<Decimal128Type>()).cloned();
        Some(Columns {
            rows: batch.num_rows(),
            owner: OWNER_COLUMNS.iter().map(|n| text(n)).collect(),
            source_file: text("x_SourceFile")?,
            source_row: batch.column_by_name("x_SourceRow")?.as_primitive_opt::<UInt64Type>()?.clone(),
            money: [money("share")?, money("BilledCost")?, money("EffectiveCost")?],
            conversion: ["x_ExchangeRate", "x_ReportingBilledCost", "x_ReportingEffectiveCost"].map(money),
        })
    }

    fn conversion(&self, at: usize, row: usize) -> Option<i128> {
        use datafusion::arrow::array::Array;
        self.conversion[at].as_ref().filter(|c| !c.is_null(row)).map(|c| c.value(row))
    }

    fn owner_text(column: &Option<datafusion::arrow::array::StringArray>, row: usize) -> Option<&str> {
        column.as_ref().and_then(|c| Self::text(c, row))
    }

    fn text(column: &datafusion::arrow::array::StringArray, row: usize) -> Option<&str> {
        use datafusion::arrow::array::Array;
        (!column.is_null(row)).then(|| column.value(row))
    }

    fn source(&self, row: usize) -> (Option<&str>, Option<u64>) {
        use datafusion::arrow::array::Array;
        (Self::text(&self.source_file, row), (!self.source_row.is_null(row)).then(|| self.source_row.value(row)))
    }
}

impl Reader {
    /// The period's attributed file; `None` when the period was never attributed.
    pub fn open(lake: &Lake, period: &str) -> std::io::Result<Option<Reader>> {
        use datafusion::parquet::arrow::ProjectionMask;
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let path = file(lake, period);
        let opened = match File::open(&path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let context = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
        let builder = ParquetRecordBatchReaderBuilder::try_new(opened).map_err(|e| context(&e))?;
        let wanted = OWNER_COLUMNS.iter().chain(&[
            "x_SourceFile",
            "x_SourceRow",
            "share",
            "BilledCost",
            "EffectiveCost",
            "x_ExchangeRate",
            "x_ReportingBilledCost",
            "x_ReportingEffectiveCost",
        ]);
        let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.copied());
        let batches = builder.with_projection(mask).build().map_err(|e| context(&e))?;
        Ok(Some(Reader {
            path,
            batches,
            batch: None,
            at: 0,
            owners: Vec::new(),
            owner_ids: Default::default(),
            key: String::new(),
        }))
    }

    pub fn owner(&self, id: u32) -> &Owner {
        &self.owners[id as usize]
    }

    /// Makes the current row readable, reading the next batch when one is used up; false at
    /// the end of the table.
    fn ready(&mut self) -> std::io::Result<bool> {
        while self.batch.as_ref().is_none_or(|b| self.at >= b.rows) {
            let context = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", self.path.display()));
            match self.batches.next() {
                Some(batch) => {
                    let batch = batch.map_err(|e| context(&e))?;
                    self.batch = Some(Columns::of(&batch).ok_or_else(|| context(&"not an attributed table"))?);
                    self.at = 0;
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Appends to `out` the shares of the next line item, which must be row `source_row` of
    /// `source_file`. The inner `Err` says how the table and the line items disagree.
    pub fn next_line(
        &mut self,
        source_file: Option<&str>,
        source_row: Option<u64>,
        out: &mut Vec<Share>,
    ) -> std::io::Result<Result<(), String>> {
        let mut whole = 0i128;
        loop {
            if !self.ready()? {
                return Ok(if whole == 0 { Err("the attributed table has no share for it".into()) } else { Ok(()) });
            }
            let batch = self.batch.as_ref().expect("ready");
            let row = self.at;
            let same_line = batch.source(row) == (source_file, source_row);
            let share = batch.money[0].value(row);
            // A line's shares end where they reach one (and any zero shares right after).
            if whole == crate::money::ONE && !(same_line && share == 0) {
                return Ok(Ok(()));
            }
            if !same_line {
                let (file, found) = batch.source(row);
                return Ok(Err(if whole == 0 {
                    format!(
                        "the attributed table's next share is for {} row {}",
                        file.unwrap_or("?"),
                        found.map_or("?".into(), |r| r.to_string())
                    )
                } else {
                    format!("its shares add up to {}, not 1", crate::money::format(whole, crate::money::SCALE as u32))
                }));
            }
            self.key.clear();
            for column in &batch.owner {
                self.key.push_str(Columns::owner_text(column, row).unwrap_or("\u{1}"));
                self.key.push('\0');
            }
            let owner = match self.owner_ids.get(self.key.as_str()) {
                Some(id) => *id,
                None => {
                    let id = self.owners.len() as u32;
                    let owner: Vec<Option<String>> =
                        batch.owner.iter().map(|c| Columns::owner_text(c, row).map(str::to_string)).collect();
                    self.owners.push(owner.try_into().expect("one value per owner column"));
                    self.owner_ids.insert(self.key.clone(), id);
                    id
                }
            };
            whole += share;
            let reporting = batch.conversion(1, row).zip(batch.conversion(2, row)).map(|(b, e)| [b, e]);
            out.push(Share {
                owner,
                share,
                billed: batch.money[1].value(row),
                effective: batch.money[2].value(row),
                rate: batch.conversion(0, row),
                reporting,
            });
            self.at += 1;
            if whole > crate::money::ONE {
                return Ok(Err("its shares add up to more than 1".into()));
            }
        }
    }

    /// True when every share has been read.
    pub fn at_end(&mut self) -> std::io::Result<bool> {
        Ok(!self.ready()?)
    }
}

/// The `attributed` table as its files hold it, under this name, once a session shows the
/// table in the reporting currency ([`in_reporting_currency`]).
pub const IN_BILLING_CURRENCY: &str = "attributed_in_billing_currency";

/// Makes `attributed` in `ctx` read in the reporting currency: `BillingCurrency`,
/// `BilledCost` and `EffectiveCost` are the converted ones where a row has them
/// (currency.toml), and the billing-currency values stay beside them as
/// `x_BillingCurrency`, `x_BillingBilledCost` and `x_BillingEffectiveCost`. Every report,
/// budget and nudge query then reads one currency unchanged; a row attributed before the
/// folder had a currency.toml keeps its own currency (and shows as such).
pub async fn in_reporting_currency(ctx: &datafusion::prelude::SessionContext) -> datafusion::error::Result<()> {
    let Some(table) = ctx.deregister_table(super::ATTRIBUTED)? else { return Ok(()) };
    ctx.register_table(IN_BILLING_CURRENCY, table)?;
    let sql = format!(
        r#"SELECT * EXCLUDE ("BillingCurrency", "BilledCost", "EffectiveCost"),
                  coalesce("x_ReportingCurrency", "BillingCurrency") AS "BillingCurrency",
                  coalesce("x_ReportingBilledCost", "BilledCost") AS "BilledCost",
                  coalesce("x_ReportingEffectiveCost", "EffectiveCost") AS "EffectiveCost",
                  "BillingCurrency" AS "x_BillingCurrency",
                  "BilledCost" AS "x_BillingBilledCost",
                  "EffectiveCost" AS "x_BillingEffectiveCost"
           FROM {IN_BILLING_CURRENCY}"#
    );
    let view = super::sql::query(ctx, &sql).await?.into_view();
    ctx.register_table(super::ATTRIBUTED, view)?;
    Ok(())
}
