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

/// A FOCUS CSV of `rows` one-cent-per-row-number charges in USD, with
/// `change(row)` replacing a row's line when it returns one.
fn focus_rows(rows: u64, change: impl Fn(u64) -> Option<String>) -> String {
    let mut text = format!("{FOCUS_HEADER}\n");
    for row in 1..=rows {
        let line = change(row).unwrap_or_else(|| {
            let cost = format!("{}.{:02}", row / 100, row % 100);
            format!(
                "1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,Usage,{cost},{cost},EC2"
            )
        });
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn mixed_currencies_deep_in_a_large_file_name_the_first_other_row() {
    // Large files are mapped in chunks on several threads: the row named is
    // still the first that differs, whether it starts a chunk or not.
    let dir = tempfile::tempdir().unwrap();
    let euro = |at: u64| {
        move |row: u64| {
            (row >= at).then(|| {
                "1,EUR,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,Usage,1.00,1.00,EC2"
                    .to_string()
            })
        }
    };
    for at in [4097, 6000, 19_999] {
        let file = write(dir.path(), &format!("mixed-{at}.csv"), &focus_rows(20_000, euro(at)));
        let lake = Lake::new();
        let run = lake.ingest(&[&file], &[]);
        assert_eq!(run.code, 1);
        assert!(
            run.stderr.contains(&format!(
                "error: {file}: mixed currencies: USD from row 1, then EUR at row {at} (column BillingCurrency); split the file by currency"
            )),
            "{}",
            run.stderr
        );
        assert!(!lake.path.join("line_items").exists());
    }
}

#[test]
fn a_large_file_lands_in_file_order_with_the_same_bytes_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 30_000u64;
    let bad = [4096u64, 4097, 12_345];
    let text = focus_rows(rows, |row| bad.contains(&row).then(|| "1,USD,too,few".to_string()));
    let file = write(dir.path(), "large.csv", &text);

    let first = Lake::new();
    first.ingest_ok(&[&file], &["--allow-quarantine"]);
    // Sum of 1..=30000 cents, less the quarantined rows' (none of their cost parses).
    let cents: u64 = (1..=rows).filter(|r| !bad.contains(r)).sum();
    assert_eq!(cents, 450_015_000 - 4096 - 4097 - 12_345);
    assert_eq!(
        first.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#),
        format!("{},{}.{:02}", rows - 3, cents / 100, cents % 100)
    );
    assert_eq!(
        first.rows("SELECT source_row, reason FROM quarantine ORDER BY source_row"),
        bad.iter().map(|r| format!("{r},\"row has 4 fields, header has 10\"")).collect::<Vec<_>>()
    );

    // Stored in the file's order, read straight from the Parquet file.
    let files = first.data_files();
    assert_eq!(files.len(), 1, "{:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(first.path.join(&files[0].0)).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut stored = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let column = batch.column_by_name("x_SourceRow").unwrap();
        let rows = column.as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>().unwrap();
        stored.extend(rows.values().iter().copied());
    }
    let expected: Vec<u64> = (1..=rows).filter(|r| !bad.contains(r)).collect();
    assert!(stored == expected, "line items are not in the file's order");

    // Threads finish chunks in any order; the lake's bytes do not depend on it.
    for _ in 0..3 {
        let again = Lake::new();
        again.ingest_ok(&[&file], &["--allow-quarantine"]);
        assert!(again.data_files() == files, "a second ingest wrote different bytes");
    }
}
