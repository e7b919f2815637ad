//! Files that are empty, cut short, badly quoted or typed wrong: each stops
//! with the file named (or quarantines the row, naming it), and nothing is
//! committed.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::{assert_unchanged, committed_files, write};
use crate::Lake;

const HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,\
ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,ProviderName";
const ROW: &str = "acct,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,1,1,Compute,Acme";

/// A lake holding one good month, to show refusals leave it alone.
fn lake_with_a_month(dir: &std::path::Path) -> Lake {
    let lake = Lake::new();
    lake.ingest_ok(&[&write(dir, "good/ok.csv", &format!("{HEADER}\n{ROW}\n"))], &[]);
    lake
}

#[test]
fn empty_and_truncated_files_of_every_encoding_stop_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_with_a_month(dir.path());
    let before = committed_files(&lake);
    let text = format!("{HEADER}\n{ROW}\n{ROW}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    // A line items file tally wrote: valid Parquet with FOCUS columns.
    let parquet = std::fs::read(lake.path.join(&lake.data_files()[0].0)).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", vec![], "empty file: no header line"),
        ("empty.csv.gz", vec![], "empty file: no header line"),
        ("empty.parquet", vec![], "empty file: no header line"),
        ("empty.json", vec![], "empty file: no header line"),
        ("cut.csv.gz", gz[..gz.len() / 2].to_vec(), "gzip stream is truncated or corrupt"),
        ("cut.parquet", parquet[..parquet.len() / 2].to_vec(), "not a readable Parquet file"),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join("bad").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let file = path.display().to_string();
        let run = lake.ingest(&[&file], &[]);
        assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(&format!("error: {file}: {message}")), "{name}: {}", run.stderr);
        assert_unchanged(&lake, &before);
        std::fs::remove_file(&path).unwrap();
    }
    // JSON lines cut mid-line: the last line is not JSON and is quarantined, the rest wait.
    let json = std::fs::read(crate::fixture("gcp/gcp-detailed-2024-05.json")).unwrap();
    let file = dir.path().join("bad/cut.json");
    std::fs::write(&file, &json[..3000]).unwrap();
    let run = lake.ingest(&[file.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("bad/cut.json:row 3 column (whole row): not JSON: expected ',' or '}' at character 573"),
        "{}",
        run.stdout
    );
    assert_eq!(lake.data_files().len(), 1, "no line item committed");
}

#[test]
fn quoting_and_huge_fields() {
    let dir = tempfile::tempdir().unwrap();
    // An unbalanced quote swallows the rest of the file into one field: that row has too
    // few fields and is quarantined, never glued to the next one.
    let unbalanced = ROW.replace(",Compute,", ",\"Comp,");
    let file = write(dir.path(), "quotes.csv", &format!("{HEADER}\n{ROW}\n{unbalanced}\n{ROW}\n"));
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("quotes.csv:row 2 column (whole row): row has 10 fields, header has 11"),
        "{}",
        run.stdout
    );
    // Quoted commas and newlines inside a field are data, and a 5 MB field is kept whole.
    let big = "x".repeat(5_000_000);
    let rows = [ROW.replace(",Compute,", ",\"Com,\npute\","), ROW.replace(",Compute,", &format!(",{big},"))];
    let file = write(dir.path(), "fields.csv", &format!("{HEADER}\n{}\n", rows.join("\n")));
    let lake = Lake::new();
    lake.ingest_ok(&[&file], &[]);
    assert_eq!(
        lake.rows(r#"SELECT length("ServiceName") FROM line_items ORDER BY 1"#),
        vec!["9".to_string(), "5000000".to_string()]
    );
}

#[test]
fn parquet_with_the_wrong_types_quarantines_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let names = HEADER.split(',').collect::<Vec<_>>();
    let values = ROW.split(',').collect::<Vec<_>>();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (name, value) in names.iter().zip(&values) {
        if *name == "BilledCost" {
            // A boolean where money should be.
            fields.push(Field::new(*name, DataType::Boolean, true));
            columns.push(Arc::new(BooleanArray::from(vec![true])));
        } else {
            fields.push(Field::new(*name, DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(vec![*value])));
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let path = dir.path().join("typed.parquet");
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let lake = Lake::new();
    let run = lake.ingest(&[path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("typed.parquet:row 1 column BilledCost: not a number: \"true\""), "{}", run.stdout);
    assert!(lake.data_files().is_empty());
}
