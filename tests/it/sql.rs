//! `tally sql`: the lake's tables, in the three output formats.

use crate::{Lake, fixture, tally};

fn cur2_lake() -> Lake {
    let lake = Lake::new();
    lake.ingest_ok(&[&fixture("aws-cur2/cur2-2025-01.csv")], &[]);
    lake
}

const BY_TYPE: &str = r#"SELECT "x_LineItemType" AS line_item_type, sum("BilledCost") AS billed FROM line_items
    WHERE "x_LineItemType" IN ('Tax', 'Credit') GROUP BY 1 ORDER BY 1"#;

#[test]
fn csv_has_a_header_and_exact_decimals() {
    let lake = cur2_lake();
    let run = tally(&["sql", "--lake", lake.arg(), "--format", "csv", BY_TYPE]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "line_item_type,billed\nCredit,-2.5\nTax,1.23\n");
}

#[test]
fn json_is_an_array_of_objects_with_exact_numbers() {
    let lake = cur2_lake();
    let run = tally(&["sql", "--lake", lake.arg(), "--format", "json", BY_TYPE]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "[\n{\"line_item_type\":\"Credit\",\"billed\":-2.5},\n{\"line_item_type\":\"Tax\",\"billed\":1.23}\n]\n"
    );
    let parsed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
}

#[test]
fn table_is_the_default() {
    let lake = cur2_lake();
    let run = tally(&["sql", "--lake", lake.arg(), BY_TYPE]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "┌────────────────┬────────┐\n\
         │ line_item_type │ billed │\n\
         ├────────────────┼────────┤\n\
         │ Credit         │  -2.50 │\n\
         │ Tax            │   1.23 │\n\
         └────────────────┴────────┘\n\
         (2 rows)\n"
    );
    // Money to the cent for people (no currency column here); table-exact keeps every digit.
    let exact = tally(&["sql", "--lake", lake.arg(), "--format", "table-exact", BY_TYPE]);
    assert!(exact.stdout.contains("│ Credit         │   -2.5 │"), "{}", exact.stdout);
}

#[test]
fn empty_result_still_has_its_header() {
    let lake = cur2_lake();
    let run =
        tally(&["sql", "--lake", lake.arg(), "--format", "csv", r#"SELECT "ServiceName" FROM line_items WHERE false"#]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "ServiceName\n");
}

#[test]
fn tags_are_a_map_and_print_as_json() {
    let lake = cur2_lake();
    assert_eq!(
        lake.value(r#"SELECT "Tags" FROM line_items WHERE "x_SourceLineItemId" = 'li-0002'"#),
        r#""{""aws:createdBy"":""IAMUser:ci"",""team"":""ledger""}""#
    );
}

#[test]
fn ingests_table_records_each_file() {
    let lake = cur2_lake();
    let file = fixture("aws-cur2/cur2-2025-01.csv");
    assert_eq!(
        lake.value(
            "SELECT source_file, format, rows_read, rows_landed, currency, billing_periods, status FROM ingests"
        ),
        format!("{file},\"aws-cur2 (csv, detected)\",8,8,USD,2025-01,committed")
    );
}

#[test]
fn lake_schema_is_described() {
    let lake = cur2_lake();
    let columns = lake.rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'line_items' AND column_name IN ('BilledCost', 'ChargePeriodStart', 'billing_period') ORDER BY 1");
    assert_eq!(
        columns,
        vec![
            "BilledCost,\"Decimal128(38, 20)\"",
            "ChargePeriodStart,\"Timestamp(µs, \"\"UTC\"\")\"",
            "billing_period,Utf8"
        ]
    );
}

#[test]
fn bad_query_is_a_clear_error() {
    let lake = cur2_lake();
    let run = tally(&["sql", "--lake", lake.arg(), "SELECT nope FROM line_items"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

#[test]
fn datafusion_settings_come_from_the_environment() {
    let lake = cur2_lake();
    let setting =
        "SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.execution.target_partitions'";
    let partitions = |env: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tally"));
        command.args(["sql", "--lake", lake.arg(), "--format", "csv", setting]);
        command.env_remove("DATAFUSION_EXECUTION_TARGET_PARTITIONS");
        if let Some(value) = env {
            command.env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    // Four scan partitions per core unless the user says otherwise.
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(partitions(None), format!("value\n{}\n", 4 * cores));
    assert_eq!(partitions(Some("3")), "value\n3\n");
}
