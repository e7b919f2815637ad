//! The `attributed` table: every line item, or each split share of it, with
//! its owner. One file per billing period, replaced whole:
//! `attributed/billing_period=2026-08/part-0.parquet`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;

use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::{Lake, writer_properties};
use crate::money::{PRECISION, SCALE};

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
/// and the money columns `share`, `BilledCost`, `EffectiveCost` (see [`SCHEMA`]).
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
];

const TEXT_COUNT: usize = TEXT_COLUMNS.len();

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = TEXT_COLUMNS.iter().map(|(n, _)| Field::new(*n, DataType::Utf8, true)).collect();
    fields.push(Field::new("ChargePeriodStart", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true));
    fields.push(Field::new("x_SourceRow", DataType::UInt64, true));
    for money in ["share", "BilledCost", "EffectiveCost"] {
        fields.push(Field::new(money, DataType::Decimal128(PRECISION, SCALE), false));
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

/// The columns copied from the line item: `(name, index in Row::text)`.
pub fn copied_from_line_item() -> impl Iterator<Item = (&'static str, usize)> {
    TEXT_COLUMNS.iter().enumerate().filter(|(_, (_, origin))| *origin == Origin::LineItem).map(|(i, (n, _))| (*n, i))
}

pub struct PeriodWriter {
    pub period: String,
    staged: PathBuf,
    /// Full batches go to a thread that encodes and compresses them (about
    /// as much work as producing them), so one period keeps two cores busy.
    batches: Option<SyncSender<RecordBatch>>,
    encoder: Option<JoinHandle<std::io::Result<File>>>,
    text: Vec<StringBuilder>,
    start: TimestampMicrosecondBuilder,
    source_row: UInt64Builder,
    money: [Decimal128Builder; 3],
    buffered: usize,
    pub rows: u64,
}

const BATCH_ROWS: usize = 8192;

impl PeriodWriter {
    pub fn create(staging: &Path, period: &str) -> std::io::Result<PeriodWriter> {
        let staged = staging.join(in_table(period));
        fs::create_dir_all(staged.parent().expect("has parent"))?;
        let mut writer = ArrowWriter::try_new(File::create(&staged)?, SCHEMA.clone(), Some(writer_properties()))
            .map_err(std::io::Error::other)?;
        let (batches, received) = sync_channel::<RecordBatch>(2);
        let encoder = std::thread::spawn(move || {
            for batch in received {
                writer.write(&batch).map_err(std::io::Error::other)?;
            }
            writer.into_inner().map_err(std::io::Error::other)
        });
        let decimal = || Decimal128Builder::new().with_precision_and_scale(PRECISION, SCALE).expect("valid decimal");
        Ok(PeriodWriter {
            period: period.to_string(),
            staged,
            batches: Some(batches),
            encoder: Some(encoder),
            text: TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
            start: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            source_row: UInt64Builder::new(),
            money: [decimal(), decimal(), decimal()],
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
        let batch = RecordBatch::try_new(SCHEMA.clone(), columns).map_err(std::io::Error::other)?;
        self.buffered = 0;
        let sent = self.batches.as_ref().is_some_and(|batches| batches.send(batch).is_ok());
        if !sent {
            // The encoder stopped: its error says why.
            return Err(self.join().err().unwrap_or_else(|| std::io::Error::other("parquet encoder stopped")));
        }
        Ok(())
    }

    fn join(&mut self) -> std::io::Result<File> {
        self.batches = None;
        match self.encoder.take() {
            Some(encoder) => encoder.join().map_err(|_| std::io::Error::other("parquet encoder panicked"))?,
            None => Err(std::io::Error::other("parquet encoder already stopped")),
        }
    }

    /// Closes the staged file; `commit` moves it into the lake.
    pub fn finish(mut self) -> std::io::Result<StagedPeriod> {
        self.flush()?;
        let file = self.join()?;
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
