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
    /// Rows of billing periods before `since`, left out, and their source cost:
    /// rows read = landed + quarantined + skipped, and likewise the cost.
    pub rows_skipped: u64,
    pub skipped_cost: i128,
    /// The billing periods of the skipped rows, `YYYY-MM,...`.
    pub skipped_periods: String,
    /// The `--since` month this run applied (empty: none).
    pub since: String,
}

impl IngestRecord {
    /// Rows read = landed + quarantined + left out by `--since`, and the
    /// source cost = landed (as read back) + quarantined + left out.
    pub fn balances(&self) -> bool {
        let cost = self.landed_cost.checked_add(self.quarantined_cost).and_then(|c| c.checked_add(self.skipped_cost));
        cost == Some(self.source_cost) && self.rows_read == self.rows_landed + self.rows_quarantined + self.rows_skipped
    }
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
    let (mut skipped, mut skipped_cost, mut skipped_periods, mut since) =
        (UInt64Builder::new(), decimal(), StringBuilder::new(), StringBuilder::new());
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
        skipped.append_value(r.rows_skipped);
        skipped_cost.append_value(r.skipped_cost);
        skipped_periods.append_value(&r.skipped_periods);
        since.append_value(&r.since);
    }
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
        Arc::new(skipped.finish()),
        Arc::new(skipped_cost.finish()),
        Arc::new(skipped_periods.finish()),
        Arc::new(since.finish()),
    ];
    let batch = RecordBatch::try_new(ingests_schema(), columns).map_err(std::io::Error::other)?;
    // One file per attempt: the same input ingested twice is one run id, but two log entries.
    let attempt = records.first().map_or(0, |r| r.ingested_at_micros);
    let stamp = chrono::DateTime::from_timestamp_micros(attempt).unwrap_or_default().format("%Y%m%dT%H%M%S%.6fZ");
    write_parquet_atomic(&lake.table_dir("ingests").join(format!("{stamp}-{run_id}.parquet")), &[batch])
}

/// The `ingests` table. The columns after `status` came later and are
/// nullable: files written before them read as null there.
pub fn ingests_schema() -> Arc<Schema> {
    let money_type = DataType::Decimal128(money::PRECISION, money::SCALE);
    Arc::new(Schema::new(vec![
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
        Field::new("quarantined_cost", money_type.clone(), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("billing_periods", DataType::Utf8, false),
        Field::new("normalised_values", DataType::UInt64, false),
        Field::new("normalisations", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("rows_skipped", DataType::UInt64, true),
        Field::new("skipped_cost", money_type, true),
        Field::new("skipped_periods", DataType::Utf8, true),
        Field::new("since", DataType::Utf8, true),
    ]))
}

/// The format each ingest run recorded for each source file it read, by
/// `(run_id, source_file)`: what kind of export wrote a lake file.
pub fn formats(lake: &Lake) -> std::io::Result<std::collections::HashMap<(String, String), String>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut formats = std::collections::HashMap::new();
    let entries = match std::fs::read_dir(lake.table_dir("ingests")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(formats),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "parquet")
            || path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let failed = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path)?).map_err(|e| failed(&e))?;
        let indices: Vec<usize> = ["run_id", "source_file", "format"]
            .iter()
            .map(|c| builder.schema().index_of(c).map_err(|e| failed(&e)))
            .collect::<Result<_, _>>()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        for batch in builder.with_projection(mask).build().map_err(|e| failed(&e))? {
            let batch = batch.map_err(|e| failed(&e))?;
            let text = |name: &str| batch.column_by_name(name).expect("projected").as_string::<i32>().clone();
            let (runs, files, format) = (text("run_id"), text("source_file"), text("format"));
            for i in 0..batch.num_rows() {
                formats.insert((runs.value(i).to_string(), files.value(i).to_string()), format.value(i).to_string());
            }
        }
    }
    Ok(formats)
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::UInt64Type;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    #[tokio::test]
    async fn ingests_logged_before_the_since_columns_read_as_null_there() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let record = |run: &str, at: i64, skipped: u64| IngestRecord {
            run_id: run.into(),
            ingested_at_micros: at,
            source_file: format!("{run}.csv"),
            rows_read: 3,
            rows_skipped: skipped,
            since: if skipped > 0 { "2025-01".into() } else { String::new() },
            ..Default::default()
        };
        write_ingests(&lake, "old", &[record("old", 1_000_000, 0)]).unwrap();
        // Rewrite it as an older tally wrote it: without the four columns after `status`.
        let path = std::fs::read_dir(lake.table_dir("ingests")).unwrap().next().unwrap().unwrap().path();
        let file = std::fs::File::open(&path).unwrap();
        let batch = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().next().unwrap().unwrap();
        let old: Vec<usize> = (0..batch.num_columns() - 4).collect();
        write_parquet_atomic(&path, &[batch.project(&old).unwrap()]).unwrap();
        write_ingests(&lake, "new", &[record("new", 2_000_000, 2)]).unwrap();

        let ctx = lake.session().await.unwrap();
        let sql = "SELECT rows_read, coalesce(rows_skipped, 99) AS s FROM ingests ORDER BY ingested_at";
        let batches = crate::lake::sql::query(&ctx, sql).await.unwrap().collect().await.unwrap();
        let skipped: Vec<u64> = batches
            .iter()
            .flat_map(|b| {
                let column = datafusion::arrow::compute::cast(b.column(1), &DataType::UInt64).unwrap();
                column.as_primitive::<UInt64Type>().values().to_vec()
            })
            .collect();
        assert_eq!(skipped, vec![99, 2], "the old file's rows_skipped is null");
    }
}
