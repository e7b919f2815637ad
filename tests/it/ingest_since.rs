//! `--since YYYY-MM` on the rows of local files: rows of earlier billing
//! periods are left out of the commit and counted, and the lake's earlier
//! months stay byte-identical. Figures are summed by hand from the rows below.

use crate::Lake;

const HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName";

/// A FOCUS row of account 111 in the billing period starting `period` (`2024-11`), charged on `day`.
fn row(period: &str, next: &str, day: &str, cost: &str, service: &str) -> String {
    format!(
        "111,USD,{period}-01T00:00:00Z,{next}-01T00:00:00Z,{day}T00:00:00Z,{day}T01:00:00Z,Usage,{cost},{cost},{service}\n"
    )
}

fn nov(day: u32, cost: &str, service: &str) -> String {
    row("2024-11", "2024-12", &format!("2024-11-{day:02}"), cost, service)
}

fn dec(day: u32, cost: &str, service: &str) -> String {
    row("2024-12", "2025-01", &format!("2024-12-{day:02}"), cost, service)
}

fn jan(day: u32, cost: &str, service: &str) -> String {
    row("2025-01", "2025-02", &format!("2025-01-{day:02}"), cost, service)
}

/// Line-item files of the lake's November and December.
fn earlier_months(lake: &Lake) -> Vec<(String, Vec<u8>)> {
    lake.data_files().into_iter().filter(|(path, _)| !path.contains("billing_period=2025-01")).collect()
}

#[test]
fn rows_of_months_before_since_are_left_out_of_a_multi_month_file() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    // The lake's November (10.25 + 4.50 = 14.75) and December (7.125).
    let old = dir.path().join("old.csv");
    std::fs::write(
        &old,
        format!("{HEADER}\n{}{}{}", nov(3, "10.25", "EC2"), nov(20, "4.50", "S3"), dec(5, "7.125", "EC2")),
    )
    .unwrap();
    lake.ingest_ok(&[old.to_str().unwrap()], &[]);
    let before = earlier_months(&lake);
    assert_eq!(before.len(), 2);

    // A later export holding three months, rows interleaved. By hand: January
    // 3.10 + 0.45 + 12.00 = 15.55 (3 rows); November 11.00 - 1.25 = 9.75 and
    // December 7.50 + 0.005 = 7.505 (2 rows each), left out: 17.255 in 4 rows;
    // all 7 rows 32.805.
    let export = dir.path().join("export.csv");
    let rows = [
        jan(2, "3.10", "EC2"),
        nov(28, "11.00", "EC2"),
        dec(9, "7.50", "EC2"),
        jan(3, "0.45", "S3"),
        nov(29, "-1.25", "EC2"),
        jan(4, "12.00", "RDS"),
        dec(10, "0.005", "S3"),
    ];
    std::fs::write(&export, format!("{HEADER}\n{}", rows.concat())).unwrap();
    let run = lake.ingest_ok(&[export.to_str().unwrap()], &["--since", "2025-01"]);
    assert!(
        run.stdout.contains(
            "export.csv (2024-11, 2024-12; source cost 17.255 USD): not committed, the lake's months before \
             2025-01 are untouched"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("skipped 4 row(s) of billing periods before 2025-01 in "), "{}", run.stdout);
    assert!(run.stdout.contains("before --since"), "the table has the column: {}", run.stdout);
    assert_eq!(
        lake.value(
            "SELECT rows_read, rows_landed, rows_quarantined, rows_skipped, source_cost, landed_cost, skipped_cost, \
             billing_periods, replace(skipped_periods, ',', ' '), since FROM ingests WHERE source_file LIKE '%export.csv'"
        ),
        "7,3,0,4,32.805,15.55,17.255,2025-01,2024-11 2024-12,2025-01"
    );
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2024-11,2,14.75", "2024-12,1,7.125", "2025-01,3,15.55"]
    );
    assert_eq!(earlier_months(&lake), before, "November and December are byte-identical");

    // --since 2024-12 takes December from the export (2 rows, 7.505) and still leaves November.
    let run = lake.ingest_ok(&[export.to_str().unwrap()], &["--since", "2024-12"]);
    assert!(run.stdout.contains("skipped 2 row(s) of billing periods before 2024-12 in "), "{}", run.stdout);
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2024-11,2,14.75", "2024-12,2,7.505", "2025-01,3,15.55"]
    );
    assert_eq!(earlier_months(&lake)[0], before[0], "November is byte-identical");
}

#[test]
fn a_file_wholly_before_since_commits_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    let file = dir.path().join("november.csv");
    // 10.25 + 4.50 = 14.75 (by hand).
    std::fs::write(&file, format!("{HEADER}\n{}{}", nov(3, "10.25", "EC2"), nov(20, "4.50", "S3"))).unwrap();
    let run = lake.ingest_ok(&[file.to_str().unwrap()], &["--since", "2025-01"]);
    assert!(run.stdout.contains("november.csv (2024-11; source cost 14.75): not committed"), "{}", run.stdout);
    assert!(!lake.path.join("line_items").exists() || lake.data_files().is_empty());
    assert_eq!(
        lake.value("SELECT rows_read, rows_landed, rows_skipped, source_cost, skipped_cost, status FROM ingests"),
        "2,0,2,14.75,14.75,committed"
    );
}
