//! One id per cloud whatever the export kind (`provider=azure` for Azure's
//! cost export and its FOCUS export), and a cloud's month and billing account
//! delivered by two kinds of export refused rather than counted twice.
//! Figures: the Azure EA sample's 11 rows sum to 8.5450077867419368 (Python
//! `decimal` over its Cost column); the FOCUS rows below cost whole dollars.

use crate::hostile::{assert_unchanged, committed_files, cur_file, cur_row, write};
use crate::{Lake, shared};

const FOCUS_HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,\
ChargePeriodEnd,BilledCost,EffectiveCost,ChargeCategory,ProviderName,ServiceName";

/// A FOCUS 1.0 file of `rows` line items of $2 each for `provider`'s account `account` in `month`.
fn focus_file(dir: &std::path::Path, name: &str, provider: &str, account: &str, month: &str, rows: u32) -> String {
    let (y, m): (i32, u32) = (month[..4].parse().unwrap(), month[5..].parse().unwrap());
    let next = if m == 12 { format!("{}-01", y + 1) } else { format!("{y}-{:02}", m + 1) };
    let lines: Vec<String> = (1..=rows)
        .map(|d| {
            format!(
                "{account},USD,{month}-01T00:00:00Z,{next}-01T00:00:00Z,{month}-{d:02}T00:00:00Z,\
                 {month}-{d:02}T01:00:00Z,2,2,Usage,{provider},Compute"
            )
        })
        .collect();
    write(dir, name, &format!("{FOCUS_HEADER}\n{}\n", lines.join("\n")))
}

#[test]
fn every_export_kind_of_a_cloud_lands_under_one_provider_id() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    lake.ingest_ok(
        &[
            &focus_file(dir.path(), "google.csv", "Google Cloud", "01A2B3-C4D5E6-F7G8H9", "2024-03", 2),
            &focus_file(dir.path(), "azure.csv", "Microsoft Azure", "acct-9", "2024-03", 3),
            &focus_file(dir.path(), "oracle.csv", "Oracle Cloud Infrastructure", "ocid1.tenancy", "2024-03", 1),
            &focus_file(dir.path(), "other.csv", "Datadog Inc.", "dd-1", "2024-03", 1),
        ],
        &[],
    );
    assert_eq!(
        lake.rows(
            r#"SELECT provider, "ProviderName", count(*), sum("BilledCost") FROM line_items GROUP BY 1, 2 ORDER BY 1"#
        ),
        vec![
            "azure,Microsoft Azure,3,6",
            "datadog-inc,Datadog Inc.,1,2",
            "gcp,Google Cloud,2,4",
            "oci,Oracle Cloud Infrastructure,1,2"
        ]
    );
    // The native GCP export lands beside its FOCUS rows.
    let native = Lake::new();
    native.ingest_ok(&[&shared("gcp/2024-03-01_5.csv")], &[]);
    assert_eq!(native.rows("SELECT DISTINCT provider FROM line_items"), vec!["gcp"]);
}

#[test]
fn a_month_another_export_kind_delivered_is_refused_naming_both_unless_switching() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    let native = shared("azure/EA_ActualCost_Small.csv");
    lake.ingest_ok(&[&native], &[]);
    assert_eq!(lake.totals(), "11,8.5450077867419368,8.5450077867419368");
    let before = committed_files(&lake);

    let focus = focus_file(dir.path(), "azure-focus.csv", "Microsoft", "8611537", "2023-09", 11);
    let run = lake.ingest(&[&focus], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "refusing units that another kind of export already delivered, nothing committed: azure 2023-09 account \
             8611537: the lake holds it from the Azure cost export ({native}, in \
             line_items/provider=azure/billing_period=2023-09/part-8611537.actual.parquet), this run delivers it \
             from the FOCUS ({focus})"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rerun with --allow-export-switch"), "{}", run.stderr);
    assert_unchanged(&lake, &before);

    let run = lake.ingest_ok(&[&focus], &["--allow-export-switch"]);
    assert!(
        run.stdout.contains(
            "azure 2023-09 account 8611537: removed line_items/provider=azure/billing_period=2023-09/\
             part-8611537.actual.parquet (the Azure cost export of the same account and month, replaced by the FOCUS)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(lake.totals(), "11,22,22");
    assert_eq!(
        lake.data_files().into_iter().map(|(name, _)| name).collect::<Vec<_>>(),
        vec!["line_items/provider=azure/billing_period=2023-09/part-8611537.parquet"]
    );
}

#[test]
fn two_export_kinds_of_one_month_in_one_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    let cur = cur_file(dir.path(), "cur.csv", &[cur_row("a", "2026-09", 1, "3", "web")]);
    let focus = focus_file(dir.path(), "focus.csv", "AWS", "111111111111", "2026-09", 1);
    let run = lake.ingest(&[&cur, &focus], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "refusing units that two kinds of export deliver in one run, nothing committed: aws 2026-09 account \
             111111111111: the AWS CUR ({cur}) and the FOCUS ({focus}) both deliver it"
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn a_lake_of_older_provider_folders_is_moved_not_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    let focus = focus_file(dir.path(), "azure.csv", "Microsoft", "acct-1", "2024-05", 3);
    lake.ingest_ok(&[&focus], &[]);
    // A lake written before provider ids were canonical: FOCUS "Microsoft" sat under provider=microsoft.
    let items = lake.path.join("line_items");
    std::fs::rename(items.join("provider=azure"), items.join("provider=microsoft")).unwrap();
    assert_eq!(lake.rows("SELECT DISTINCT provider FROM line_items"), vec!["microsoft"]);

    let run = lake.ingest_ok(&[&focus], &[]);
    assert!(
        run.stdout.contains(
            "azure 2024-05 account acct-1: removed line_items/provider=microsoft/billing_period=2024-05/\
             part-acct-1.parquet (the same account and month under the older provider folder provider=microsoft)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(lake.totals(), "3,6,6");
    assert_eq!(lake.rows("SELECT DISTINCT provider FROM line_items"), vec!["azure"]);
}
