//! `periods`: one row per replacement unit (provider, billing period, billing
//! account) each committing ingest run wrote, saying whether the period is
//! final and whether a final period was replaced.
//!
//! A period is final once its line items carry an invoice id (`bill/InvoiceId`
//! in CUR, `bill_invoice_id` in CUR 2.0, `InvoiceId` in FOCUS): AWS fills it
//! when the month is invoiced. AWS can still restate an invoiced month; tally
//! applies the restatement like any other and flags it here.
//!
//! Finality is read from the Parquet files themselves (the staged unit and the
//! lake file it replaces), so it holds for lakes written before this table.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::line_items::StagedUnit;
use super::{Lake, write_parquet_atomic};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodRecord {
    pub run_id: String,
    pub ingested_at_micros: i64,
    pub provider: String,
    pub billing_period: String,
    pub billing_account: String,
    /// The unit's file under the lake root (tells apart exports a provider
    /// delivers separately for one account and month).
    pub unit: String,
    pub rows: u64,
    /// Distinct non-empty invoice ids in the new data, sorted.
    pub invoice_ids: Vec<String>,
    /// The lake's file for this unit, before this run, had an invoice id.
    pub previously_final: bool,
    /// A final period was replaced by different data.
    pub restated_final: bool,
}

impl PeriodRecord {
    pub fn is_final(&self) -> bool {
        !self.invoice_ids.is_empty()
    }
}

/// Finality of each staged unit, compared with the lake file it will replace.
/// Call before the units are committed.
pub fn assess(lake: &Lake, units: &[StagedUnit], run_id: &str, at_micros: i64) -> std::io::Result<Vec<PeriodRecord>> {
    units
        .iter()
        .map(|unit| {
            let invoice_ids = invoice_ids(&unit.staged)?;
            let current = lake.root().join(unit.key.relative_path());
            let previously_final = current.exists() && !invoice_ids_of(&current)?.is_empty();
            // Re-ingesting identical input writes identical bytes: not a restatement.
            let restated_final = previously_final && !same_bytes(&current, &unit.staged)?;
            Ok(PeriodRecord {
                run_id: run_id.to_string(),
                ingested_at_micros: at_micros,
                provider: unit.key.provider.clone(),
                billing_period: unit.key.billing_period.clone(),
                billing_account: unit.key.billing_account.clone(),
                unit: unit.key.relative_path().display().to_string(),
                rows: unit.rows,
                invoice_ids: invoice_ids.into_iter().collect(),
                previously_final,
                restated_final,
            })
        })
        .collect()
}

fn invoice_ids(path: &Path) -> std::io::Result<BTreeSet<String>> {
    invoice_ids_of(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Distinct non-empty `InvoiceId` values of a line items file (none when the
/// file predates the column).
fn invoice_ids_of(path: &Path) -> std::io::Result<BTreeSet<String>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?).map_err(std::io::Error::other)?;
    let Ok(index) = builder.schema().index_of("InvoiceId") else {
        return Ok(BTreeSet::new());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let mut ids = BTreeSet::new();
    for batch in builder.with_projection(mask).build().map_err(std::io::Error::other)? {
        let batch = batch.map_err(std::io::Error::other)?;
        let column = batch.column(0).as_string::<i32>();
        ids.extend(column.iter().flatten().filter(|id| !id.is_empty()).map(str::to_string));
    }
    Ok(ids)
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    if std::fs::metadata(a)?.len() != std::fs::metadata(b)?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

pub fn write_periods(lake: &Lake, run_id: &str, records: &[PeriodRecord]) -> std::io::Result<()> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let [mut run, mut provider, mut period, mut account, mut unit, mut invoices] =
        std::array::from_fn(|_| StringBuilder::new());
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut rows = UInt64Builder::new();
    let (mut is_final, mut previously, mut restated) =
        (BooleanBuilder::new(), BooleanBuilder::new(), BooleanBuilder::new());
    for r in records {
        run.append_value(&r.run_id);
        at.append_value(r.ingested_at_micros);
        provider.append_value(&r.provider);
        period.append_value(&r.billing_period);
        account.append_value(&r.billing_account);
        unit.append_value(&r.unit);
        rows.append_value(r.rows);
        is_final.append_value(r.is_final());
        invoices.append_value(r.invoice_ids.join(","));
        previously.append_value(r.previously_final);
        restated.append_value(r.restated_final);
    }
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("provider", DataType::Utf8, false),
        Field::new("billing_period", DataType::Utf8, false),
        Field::new("billing_account", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("final", DataType::Boolean, false),
        Field::new("invoice_ids", DataType::Utf8, false),
        Field::new("previously_final", DataType::Boolean, false),
        Field::new("restated_final", DataType::Boolean, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(run.finish()),
        Arc::new(at.finish()),
        Arc::new(provider.finish()),
        Arc::new(period.finish()),
        Arc::new(account.finish()),
        Arc::new(unit.finish()),
        Arc::new(rows.finish()),
        Arc::new(is_final.finish()),
        Arc::new(invoices.finish()),
        Arc::new(previously.finish()),
        Arc::new(restated.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema), columns).map_err(std::io::Error::other)?;
    write_parquet_atomic(&lake.table_dir("periods").join(stamped_name(first.ingested_at_micros, run_id)), &[batch])
}

/// `<UTC time>-<run id>.parquet`: one file per attempt, sorted by time (as `ingests`).
pub(crate) fn stamped_name(at_micros: i64, run_id: &str) -> String {
    let stamp = chrono::DateTime::from_timestamp_micros(at_micros).unwrap_or_default().format("%Y%m%dT%H%M%S%.6fZ");
    format!("{stamp}-{run_id}.parquet")
}
