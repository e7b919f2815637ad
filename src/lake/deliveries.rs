//! `s3_deliveries`: the AWS deliveries (one report's billing period, as one
//! manifest names it) each committing ingest run read from S3. The next run
//! skips a delivery whose assembly/execution id and manifest ETag are
//! unchanged, so a daily job downloads only what AWS rewrote.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, StringBuilder, TimestampMicrosecondBuilder, UInt64Array, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::periods::stamped_name;
use super::{Lake, write_parquet_atomic};

use super::catalogue::S3_DELIVERIES as TABLE;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub run_id: String,
    pub ingested_at_micros: i64,
    /// `s3://bucket/<prefix>/<report>`: the report (or export) folder.
    pub report: String,
    /// `aws-cur` or `aws-cur2`.
    pub layout: String,
    pub billing_period: String,
    /// The manifest's `assemblyId` or `executionId`.
    pub delivery_id: String,
    /// `s3://bucket/key` of the manifest read.
    pub manifest: String,
    pub manifest_etag: String,
    pub files: u64,
    pub bytes: u64,
    /// The `--since` month that left rows of this delivery out (empty: none
    /// were): a later run with an earlier month, or none, reads it again.
    pub since: String,
}

const STRINGS: [&str; 7] = ["run_id", "report", "layout", "billing_period", "delivery_id", "manifest", "manifest_etag"];

fn schema() -> Schema {
    let mut fields: Vec<Field> = STRINGS.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect();
    fields.insert(1, Field::new("ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false));
    fields.push(Field::new("files", DataType::UInt64, false));
    fields.push(Field::new("bytes", DataType::UInt64, false));
    // Newer than the columns above: files written before it lack it.
    fields.push(Field::new("since", DataType::Utf8, true));
    Schema::new(fields)
}

pub fn write_deliveries(lake: &Lake, run_id: &str, records: &[DeliveryRecord]) -> std::io::Result<()> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let mut strings: Vec<StringBuilder> = STRINGS.iter().map(|_| StringBuilder::new()).collect();
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut files, mut bytes, mut since) = (UInt64Builder::new(), UInt64Builder::new(), StringBuilder::new());
    for r in records {
        let values =
            [&r.run_id, &r.report, &r.layout, &r.billing_period, &r.delivery_id, &r.manifest, &r.manifest_etag];
        for (builder, value) in strings.iter_mut().zip(values) {
            builder.append_value(value);
        }
        at.append_value(r.ingested_at_micros);
        files.append_value(r.files);
        bytes.append_value(r.bytes);
        since.append_value(&r.since);
    }
    let mut columns: Vec<ArrayRef> = strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.insert(1, Arc::new(at.finish()));
    columns.push(Arc::new(files.finish()));
    columns.push(Arc::new(bytes.finish()));
    columns.push(Arc::new(since.finish()));
    let batch = RecordBatch::try_new(Arc::new(schema()), columns).map_err(std::io::Error::other)?;
    write_parquet_atomic(&lake.table_dir(TABLE).join(stamped_name(first.ingested_at_micros, run_id)), &[batch])
}

/// The latest committed delivery per (report, billing period).
pub fn latest(lake: &Lake) -> std::io::Result<HashMap<(String, String), DeliveryRecord>> {
    let mut latest: HashMap<(String, String), DeliveryRecord> = HashMap::new();
    let dir = lake.table_dir(TABLE);
    if !dir.exists() {
        return Ok(latest);
    }
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "parquet") {
            continue; // `.partial` files of an interrupted write
        }
        let context = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)
            .and_then(|b| b.build())
            .map_err(|e| context(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| context(&e))?;
            let string = |name: &str| {
                batch.column_by_name(name).map(|c| c.as_string::<i32>().clone()).ok_or_else(|| context(&name))
            };
            let count = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
                    .ok_or_else(|| context(&name))
            };
            let [run, report, layout, period, id, manifest, etag] = STRINGS.map(string);
            let (run, report, layout, period, id, manifest, etag) =
                (run?, report?, layout?, period?, id?, manifest?, etag?);
            let at = batch
                .column_by_name("ingested_at")
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>().cloned())
                .ok_or_else(|| context(&"ingested_at"))?;
            let (files, bytes) = (count("files")?, count("bytes")?);
            let since = batch.column_by_name("since").map(|c| c.as_string::<i32>().clone());
            for i in 0..batch.num_rows() {
                let record = DeliveryRecord {
                    run_id: run.value(i).to_string(),
                    ingested_at_micros: at.value(i),
                    report: report.value(i).to_string(),
                    layout: layout.value(i).to_string(),
                    billing_period: period.value(i).to_string(),
                    delivery_id: id.value(i).to_string(),
                    manifest: manifest.value(i).to_string(),
                    manifest_etag: etag.value(i).to_string(),
                    files: files.value(i),
                    bytes: bytes.value(i),
                    since: since.as_ref().filter(|s| s.is_valid(i)).map(|s| s.value(i).to_string()).unwrap_or_default(),
                };
                let key = (record.report.clone(), record.billing_period.clone());
                match latest.get(&key) {
                    Some(seen) if seen.ingested_at_micros >= record.ingested_at_micros => {}
                    _ => {
                        latest.insert(key, record);
                    }
                }
            }
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_delivery_per_report_and_period_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let record = |at: i64, period: &str, id: &str| DeliveryRecord {
            run_id: format!("run{at}"),
            ingested_at_micros: at,
            report: "s3://b/cur/daily".into(),
            layout: "aws-cur".into(),
            billing_period: period.into(),
            delivery_id: id.into(),
            manifest: "s3://b/cur/daily/20231101-20231201/daily-Manifest.json".into(),
            manifest_etag: "\"e1\"".into(),
            files: 2,
            bytes: 10,
            since: if id == "a2" { "2023-11".into() } else { String::new() },
        };
        write_deliveries(&lake, "run1", &[record(1_000_000, "2023-11", "a1"), record(1_000_000, "2023-12", "b1")])
            .unwrap();
        write_deliveries(&lake, "run2", &[record(2_000_000, "2023-11", "a2")]).unwrap();
        let latest = latest(&lake).unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!(
            latest[&("s3://b/cur/daily".to_string(), "2023-11".to_string())],
            record(2_000_000, "2023-11", "a2")
        );
        assert_eq!(latest[&("s3://b/cur/daily".to_string(), "2023-12".to_string())].delivery_id, "b1");
    }

    #[test]
    fn deliveries_recorded_before_the_since_column_read_back_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let record = DeliveryRecord {
            report: "s3://b/cur/daily".into(),
            billing_period: "2023-11".into(),
            since: "2023-11".into(),
            ..Default::default()
        };
        write_deliveries(&lake, "run1", std::slice::from_ref(&record)).unwrap();
        // Rewrite the file as an older tally wrote it: every column but `since`.
        let path = std::fs::read_dir(lake.table_dir(TABLE)).unwrap().next().unwrap().unwrap().path();
        let batch = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let old: Vec<usize> = (0..batch.num_columns() - 1).collect();
        write_parquet_atomic(&path, &[batch.project(&old).unwrap()]).unwrap();
        let read = &latest(&lake).unwrap()[&(record.report.clone(), record.billing_period.clone())];
        assert_eq!(*read, DeliveryRecord { since: String::new(), ..record });
    }
}
