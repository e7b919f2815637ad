//! The lake's own record of what happened: `ingests` (one row per file per
//! run, with its reconciliation) and `quarantine` (rows that did not land,
//! with file, row, column and reason). Both are plain Parquet tables that
//! `tally sql` can query. `ingests` keeps every attempt; `quarantine` keeps
//! the latest for each run id (the same input quarantines the same rows).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Lake, write_parquet_atomic};
use crate::money;

/// One file's outcome in one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestRecord {
    pub run_id: String,
    pub ingested_at_micros: i64,
    pub source_file: String,
    pub source_sha256: String,
    pub source_bytes: u64,
    pub format: String,
    pub rows_read: u64,
    pub rows_landed: u64,
    /// Line items written for the landed rows: more than rows where a row
    /// yields several (GCP credits). Checked, not stored.
    pub lines_landed: u64,
    pub rows_quarantined: u64,
    /// Sum of the source cost column over all rows read (cells that parse).
    pub source_cost: i128,
    /// Sum of BilledCost read back from the written lake files.
    pub landed_cost: i128,
    /// Sum of the source cost column over quarantined rows.
    pub quarantined_cost: i128,
    pub currency: String,
    pub billing_periods: String,
    pub normalised_values: u64,
    pub normalisations: String,
    pub status: String,
}

/// A row that could not be ingested.
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    pub source_file: String,
    pub source_row: u64,
    pub column: String,
    pub reason: String,
    pub raw: String,
}

pub fn write_ingests(lake: &Lake, run_id: &str, records: &[IngestRecord]) -> std::io::Result<()> {
    let decimal = || {
        Decimal128Builder::new().with_precision_and_scale(money::PRECISION, money::SCALE).expect("valid decimal type")
    };
    let (mut run, mut file, mut sha, mut format, mut currency, mut periods, mut notes, mut status) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut bytes, mut read, mut landed, mut quarantined, mut normalised) =
        (UInt64Builder::new(), UInt64Builder::new(), UInt64Builder::new(), UInt64Builder::new(), UInt64Builder::new());
    let (mut source_cost, mut landed_cost, mut quarantined_cost) = (decimal(), decimal(), decimal());
    for r in records {
        run.append_value(&r.run_id);
        at.append_value(r.ingested_at_micros);
        file.append_value(&r.source_file);
        sha.append_value(&r.source_sha256);
        bytes.append_value(r.source_bytes);
        format.append_value(&r.format);
        read.append_value(r.rows_read);
        landed.append_value(r.rows_landed);
        quarantined.append_value(r.rows_quarantined);
        source_cost.append_value(r.source_cost);
        landed_cost.append_value(r.landed_cost);
        quarantined_cost.append_value(r.quarantined_cost);
        currency.append_value(&r.currency);
        periods.append_value(&r.billing_periods);
        normalised.append_value(r.normalised_values);
        notes.append_value(&r.normalisations);
        status.append_value(&r.status);
    }
    let money_type = DataType::Decimal128(money::PRECISION, money::SCALE);
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_sha256", DataType::Utf8, false),
        Field::new("source_bytes", DataType::UInt64, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("rows_read", DataType::UInt64, false),
        Field::new("rows_landed", DataType::UInt64, false),
        Field::new("rows_quarantined", DataType::UInt64, false),
        Field::new("source_cost", money_type.clone(), false),
        Field::new("landed_cost", money_type.clone(), false),
        Field::new("quarantined_cost", money_type, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("billing_periods", DataType::Utf8, false),
        Field::new("normalised_values", DataType::UInt64, false),
        Field::new("normalisations", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(run.finish()),
        Arc::new(at.finish()),
        Arc::new(file.finish()),
        Arc::new(sha.finish()),
        Arc::new(bytes.finish()),
        Arc::new(format.finish()),
        Arc::new(read.finish()),
        Arc::new(landed.finish()),
        Arc::new(quarantined.finish()),
        Arc::new(source_cost.finish()),
        Arc::new(landed_cost.finish()),
        Arc::new(quarantined_cost.finish()),
        Arc::new(currency.finish()),
        Arc::new(periods.finish()),
        Arc::new(normalised.finish()),
        Arc::new(notes.finish()),
        Arc::new(status.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema), columns).map_err(std::io::Error::other)?;
    // One file per attempt: the same input ingested twice is one run id, but two log entries.
    let attempt = records.first().map_or(0, |r| r.ingested_at_micros);
    let stamp = chrono::DateTime::from_timestamp_micros(attempt).unwrap_or_default().format("%Y%m%dT%H%M%S%.6fZ");
    write_parquet_atomic(&lake.table_dir("ingests").join(format!("{stamp}-{run_id}.parquet")), &[batch])
}

pub fn write_quarantine(lake: &Lake, run_id: &str, rows: &[QuarantinedRow]) -> std::io::Result<()> {
    let (mut run, mut file, mut column, mut reason, mut raw) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut row_number = UInt64Builder::new();
    for r in rows {
        run.append_value(run_id);
        file.append_value(&r.source_file);
        row_number.append_value(r.source_row);
        column.append_value(&r.column);
        reason.append_value(&r.reason);
        raw.append_value(&r.raw);
    }
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::UInt64, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(run.finish()),
        Arc::new(file.finish()),
        Arc::new(row_number.finish()),
        Arc::new(column.finish()),
        Arc::new(reason.finish()),
        Arc::new(raw.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema), columns).map_err(std::io::Error::other)?;
    write_parquet_atomic(&lake.table_dir("quarantine").join(format!("{run_id}.parquet")), &[batch])
}
