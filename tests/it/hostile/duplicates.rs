//! The same line item in two files lands once or not at all: byte-identical
//! copies are read once, and line items two files both deliver are refused
//! with both files and rows named.

use std::io::Write;

use super::{assert_unchanged, committed_files, cur_file, cur_row, write};
use crate::Lake;

fn gzip(path: &str, text: &[u8]) -> String {
    let out = format!("{path}.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&out).unwrap(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    gz.finish().unwrap();
    out
}

#[test]
fn a_csv_and_its_gzip_are_the_same_line_items_and_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=5).map(|d| cur_row(&format!("li-{d}"), "2026-09", d, "2", "web")).collect();
    let csv = cur_file(dir.path(), "f.csv", &rows);
    let gz = gzip(&csv, &std::fs::read(&csv).unwrap());
    let lake = Lake::new();
    let run = lake.ingest(&[dir.path().to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: refusing line items that two files deliver, nothing committed: {gz} row 1 is the same line \
             item as {csv} row 1 (identity/LineItemId and identity/TimeInterval are equal); 5 line item(s) of \
             that unit repeat another file's"
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn byte_identical_files_are_read_once_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=5).map(|d| cur_row(&format!("li-{d}"), "2026-09", d, "2", "web")).collect();
    let original = cur_file(dir.path(), "a/cur.csv", &rows);
    let copy = write(dir.path(), "b/copy-of-cur.csv", &std::fs::read_to_string(&original).unwrap());
    let lake = Lake::new();
    // The same file under two spellings is one file (read once, silently, by its first
    // spelling in sorted order); a copy elsewhere is read once, and said so.
    let dotted = format!("{}/a/../a/cur.csv", dir.path().display());
    let run = lake.ingest_ok(&[&original, &dotted, &copy], &[]);
    assert_eq!(run.stderr.matches("the same bytes as").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{copy}: the same bytes as {dotted}, so it is read once")), "{}", run.stderr);
    assert!(run.stdout.contains("copy of "), "{}", run.stdout);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "5,10");
    assert_eq!(
        lake.rows("SELECT format FROM ingests WHERE format LIKE 'copy of %'"),
        vec![format!("copy of {dotted}")]
    );
}

#[test]
fn formats_without_a_line_item_id_compare_whole_line_items() {
    // FOCUS 1.2 has no line-item id column: two month-to-date exports that overlap.
    let header = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,\
ChargeCategory,BilledCost,EffectiveCost,ServiceName,ProviderName";
    let day = |d: u32| {
        format!(
            "acct,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-{d:02}T00:00:00Z,2026-09-{:02}T00:00:00Z,\
             Usage,4,4,Compute,Acme Cloud",
            d + 1
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let to_day = |n: u32| format!("{header}\n{}\n", (1..=n).map(day).collect::<Vec<_>>().join("\n"));
    let first = write(dir.path(), "exports/mtd-0905.csv", &to_day(5));
    let second = write(dir.path(), "exports/mtd-0907.csv", &to_day(7));
    let lake = Lake::new();
    lake.ingest_ok(&[&first], &[]);
    let before = committed_files(&lake);
    let run = lake.ingest(&[&first, &second], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{second} row 1 is the same line item as {first} row 1 (every column is equal); 5 line item(s) of that \
             unit repeat another file's"
        )),
        "{}",
        run.stderr
    );
    assert_unchanged(&lake, &before);
    // The later export alone is the month to date.
    lake.ingest_ok(&[&second], &[]);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "7,28");
}
