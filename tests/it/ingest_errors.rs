//! What users see when input is wrong: every error names the file, and the row
//! and field where there is one. Nothing half-written reaches the lake.

use std::io::Write;

use crate::{Lake, shared, tally};

const FOCUS_HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName";

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn unknown_format_names_the_file_and_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "payroll.csv", "employee,salary\nada,100\n");
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: unknown billing format: the header has none of lineItem/UnblendedCost, \
             line_item_unblended_cost, BilledCost, GCP's cost with billing_account_id or Azure's \
             Cost/CostInBillingCurrency/PreTaxCost with SubscriptionId (first columns: employee, salary); \
             pass --format to force one"
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn forced_format_lists_the_missing_columns() {
    let lake = Lake::new();
    let file = shared("aws-cur/koku-header-only.csv");
    let run = lake.ingest(&[&file], &["--format", "focus"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: missing required focus columns: BilledCost, ChargePeriodStart, BillingPeriodStart, BillingCurrency (or pass --currency)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_format_flag_is_refused_by_the_cli() {
    let run = tally(&["ingest", "x.csv", "--lake", "lake", "--format", "azure"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "unknown format \"azure\": use auto, aws-cur, aws-cur2, focus, gcp, azure-actual or azure-amortized"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_path_and_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    let missing = dir.path().join("nope.csv").display().to_string();
    let run = lake.ingest(&[&missing], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("{missing}: no such file or folder")), "{}", run.stderr);

    write(dir.path(), "notes.md", "# not billing data\n");
    let folder = dir.path().display().to_string();
    let run = lake.ingest(&[&folder], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("{folder}: folder has no billing files")), "{}", run.stderr);

    let pattern = format!("{folder}/*.parquet");
    let run = lake.ingest(&[&pattern], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("{pattern}: glob matches no files")), "{}", run.stderr);
}

#[test]
fn empty_file_is_an_error_not_an_empty_month() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cur.csv", "");
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("error: {file}: empty file: no header line")), "{}", run.stderr);
}

#[test]
fn mixed_currencies_in_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{FOCUS_HEADER}\n\
         1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,Usage,1.00,1.00,EC2\n\
         1,EUR,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-02T00:00:00Z,2025-01-03T00:00:00Z,Usage,2.00,2.00,EC2\n"
    );
    let file = write(dir.path(), "mixed.csv", &text);
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: mixed currencies: USD from row 1, then EUR at row 2 (column BillingCurrency); split the file by currency"
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn bad_number_quarantines_its_row_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{FOCUS_HEADER}\n\
         1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,Usage,1.25,1.25,EC2\n\
         1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-02T00:00:00Z,2025-01-03T00:00:00Z,Usage,one dollar,1.00,EC2\n\
         1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-03T00:00:00Z,2025-01-04T00:00:00Z,Usage,2.50,2.50,S3\n"
    );
    let file = write(dir.path(), "focus.csv", &text);
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.contains("/focus.csv:row 2 column BilledCost: not a number: \"one dollar\""), "{}", run.stdout);
    assert!(
        run.stderr.contains("error: 1 row(s) quarantined, so nothing was committed. Fix the input, or rerun with --allow-quarantine to commit the 2 good row(s)."),
        "{}",
        run.stderr
    );
    assert_eq!(lake.totals(), "0,0,0");
    assert_eq!(
        lake.rows("SELECT source_row, \"column\", reason, raw FROM quarantine"),
        vec![
            "2,BilledCost,\"not a number: \"\"one dollar\"\"\",\"1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-02T00:00:00Z,2025-01-03T00:00:00Z,Usage,one dollar,1.00,EC2\""
        ]
    );

    lake.ingest_ok(&[&file], &["--allow-quarantine"]);
    assert_eq!(lake.totals(), "2,3.75,3.75");
}

#[test]
fn truncated_gzip_names_the_line_it_reached() {
    // A real CUR, gzipped here and cut short as an interrupted download would be.
    let csv = std::fs::read(shared("aws-cur/focus-converters-cur-2023-11.csv")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&csv).unwrap();
    let gz = encoder.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur.csv.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let file = path.display().to_string();

    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: gzip stream is truncated or corrupt: incomplete deflate stream (after row "
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn sql_without_a_lake_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("nothing-here").display().to_string();
    let run = tally(&["sql", "--lake", &lake, "SELECT 1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!("error: lake {lake} does not exist (run `tally ingest` or `tally demo` first)")),
        "{}",
        run.stderr
    );
}
