//! A month is replaced whole, so a stray row or one part of a month must not
//! silently replace it: every ingest shows each unit's before and after, and a
//! replacement that drops line items or cost needs `--allow-shrink`.
//! Figures by hand: every row costs a whole number of dollars.

use super::{assert_unchanged, committed_files, cur_file, cur_row, write};
use crate::Lake;

/// `n` September rows of $3 (ids `sep-1`...), days 1..=n (n <= 28).
fn september(n: u32) -> Vec<String> {
    (1..=n).map(|d| cur_row(&format!("sep-{d}"), "2026-09", d, "3", "web")).collect()
}

#[test]
fn a_stray_row_of_another_month_stops_the_file_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[&cur_file(dir.path(), "sep.csv", &september(20))], &[]);
    let before = committed_files(&lake);
    let mut october: Vec<String> = (1..=5).map(|d| cur_row(&format!("oct-{d}"), "2026-10", d, "7", "web")).collect();
    october[3] = cur_row("stray", "2026-09", 4, "0.12", "web");
    let file = cur_file(dir.path(), "oct.csv", &october);
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: row 4, column bill/BillingPeriodStartDate: billing period 2026-09 differs from the \
             file's 2026-10 (row 1); AWS delivers each billing period in its own files"
        )),
        "{}",
        run.stderr
    );
    assert_unchanged(&lake, &before);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "20,60");
}

/// A row whose billing period starts on another day of the same month is a stray too, and the
/// message shows the two starts (their months alone would read "2026-10 differs from 2026-10").
#[test]
fn a_stray_start_in_the_same_month_is_shown_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut october: Vec<String> = (1..=5).map(|d| cur_row(&format!("oct-{d}"), "2026-10", d, "7", "web")).collect();
    october[2] = october[2].replacen("2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z", 1);
    let file = cur_file(dir.path(), "oct.csv", &october);
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: row 3, column bill/BillingPeriodStartDate: billing period 2026-10-15T00:00:00Z differs \
             from the file's 2026-10-01T00:00:00Z (row 1)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn one_part_of_a_month_alone_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let rows = september(20);
    let part1 = cur_file(dir.path(), "month/part-1.csv", &rows[..10]);
    let part2 = cur_file(dir.path(), "month/part-2.csv", &rows[10..]);
    let lake = Lake::new();
    let first = lake.ingest_ok(&[&part1, &part2], &[]);
    // Every ingest summary shows each unit before and after.
    assert!(first.stdout.contains("aws 2026-09 account 111111111111"), "{}", first.stdout);
    assert!(first.stdout.contains("│ new "), "{}", first.stdout);
    let before = committed_files(&lake);

    let run = lake.ingest(&[&part1], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "error: refusing to replace 1 unit(s), nothing committed: aws 2026-09 account 111111111111 would go \
             from 20 line items (BilledCost 60) to 10 (BilledCost 30). A provider, month and billing account is \
             replaced whole, and a replacement may drop at most 10% of its gross cost and 25% of its line items"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rerun with --allow-shrink"), "{}", run.stderr);
    assert_unchanged(&lake, &before);

    let allowed = lake.ingest_ok(&[&part1], &["--allow-shrink"]);
    assert!(allowed.stdout.contains("│ replaced "), "{}", allowed.stdout);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "10,30");
}

#[test]
fn a_restatement_that_zeroes_the_cost_is_refused_one_that_grows_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[&cur_file(dir.path(), "v1/sep.csv", &september(20))], &[]);
    // Same line items, every cost 0: the rows survive, the dollars vanish.
    let zeroed: Vec<String> = september(20).iter().map(|r| r.replace("USD,3,", "USD,0,")).collect();
    let before = committed_files(&lake);
    let run = lake.ingest(&[&cur_file(dir.path(), "v2/sep.csv", &zeroed)], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("from 20 line items (BilledCost 60) to 20 (BilledCost 0)"), "{}", run.stderr);
    assert_unchanged(&lake, &before);
    // A month that grows (AWS adds each day) replaces without a flag and says what changed.
    let grown = lake.ingest_ok(&[&cur_file(dir.path(), "v3/sep.csv", &september(25))], &[]);
    let line = grown.stdout.lines().find(|l| l.contains("aws 2026-09 account")).unwrap().to_string();
    let cells: Vec<&str> = line.split('│').map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cells,
        [
            "aws 2026-09 account 111111111111",
            "line_items/provider=aws/billing_period=2026-09/part-111111111111.parquet",
            "replaced",
            "20",
            "25",
            "60",
            "75"
        ],
        "{}",
        grown.stdout
    );
}

#[test]
fn a_manifest_beside_the_files_makes_every_part_required() {
    let dir = tempfile::tempdir().unwrap();
    // Legacy CUR layout (AWS CUR user guide, "Report object keys"):
    // <report>/<yyyymmdd-yyyymmdd>/<assemblyId>/<report>-<n>.csv plus <report>-Manifest.json.
    let assembly = dir.path().join("daily/20260901-20261001/5b4d2c1a");
    let rows = september(20);
    let part1 = cur_file(&assembly, "daily-1.csv", &rows[..10]);
    cur_file(&assembly, "daily-2.csv", &rows[10..]);
    let manifest = write(
        &assembly,
        "daily-Manifest.json",
        r#"{"assemblyId": "5b4d2c1a", "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
            "reportKeys": ["cur/daily/20260901-20261001/5b4d2c1a/daily-1.csv", "cur/daily/20260901-20261001/5b4d2c1a/daily-2.csv"]}"#,
    );
    let lake = Lake::new();
    let run = lake.ingest(&[&part1], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: refusing part of a delivery, nothing committed: {manifest}: this aws-cur manifest lists 2 \
             file(s) and the ingest has 1 of them (missing: {}/daily-2.csv)",
            assembly.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
    lake.ingest_ok(&[assembly.to_str().unwrap()], &[]);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "20,60");
    let other = Lake::new();
    other.ingest_ok(&[&part1], &["--allow-partial"]);
    assert_eq!(other.value(r#"SELECT count(*) FROM line_items"#), "10");
}
