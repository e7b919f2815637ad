//! `tally demo`: a synthetic company, ingested, reconciled and reproducible.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::{Lake, tally_ok};

/// Exact decimal text -> integer count of 1e-10 (the test's own parser).
fn ten_billionths(text: &str) -> i128 {
    let (negative, digits) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(fraction.len() <= 10, "{text}");
    let value = whole.parse::<i128>().unwrap() * 10_000_000_000 + format!("{fraction:0<10}").parse::<i128>().unwrap();
    if negative { -value } else { value }
}

fn as_decimal(value: i128) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let text = format!("{}.{:010}", value.abs() / 10_000_000_000, value.abs() % 10_000_000_000);
    format!("{sign}{}", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Every file under `dir`, relative path -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    crate::support::files_under(dir, dir).into_iter().collect()
}

/// Row count and sum of lineItem/UnblendedCost over the generated CUR files.
fn cur_totals(cur: &Path) -> (usize, i128) {
    let (mut rows, mut cost) = (0, 0);
    for (name, bytes) in files(cur) {
        assert!(name.ends_with(".csv.gz"), "{name}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let column = reader.headers().unwrap().iter().position(|h| h == "lineItem/UnblendedCost").unwrap();
        for record in reader.records() {
            rows += 1;
            cost += ten_billionths(&record.unwrap()[column]);
        }
    }
    (rows, cost)
}

#[test]
fn demo_company_is_ingested_reconciled_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = tally_ok(&["demo", "--out", out.to_str().unwrap(), "--rows", "30000", "--months", "3"]);
    assert!(run.stdout.contains("every file reconciled"), "{}", run.stdout);
    let lake = Lake { path: out.join("lake"), ..Lake::new() };

    // Everything generated landed, to the last 1e-10.
    let (rows, cost) = cur_totals(&out.join("cur"));
    assert!((29_000..=33_000).contains(&rows), "{rows} rows for --rows 30000");
    assert_eq!(
        lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#),
        format!("{rows},{}", as_decimal(cost))
    );

    // The company the issue asks for.
    assert_eq!(
        lake.value(r#"SELECT count(DISTINCT billing_period), count(DISTINCT "BillingAccountId") FROM line_items"#),
        "3,2"
    );
    let accounts: u32 = lake.value(r#"SELECT count(DISTINCT "SubAccountId") FROM line_items"#).parse().unwrap();
    assert!(accounts >= 8, "{accounts} accounts");
    let teams: u32 = lake
        .value(
            r#"SELECT count(DISTINCT lower(coalesce("Tags"['team'], "Tags"['Team'], "Tags"['owner-team']))) FROM line_items"#,
        )
        .parse()
        .unwrap();
    assert!(teams >= 20, "{teams} teams");
    let keys = lake.rows(r#"SELECT DISTINCT k FROM (SELECT unnest(map_keys("Tags")) AS k FROM line_items) WHERE lower(k) LIKE '%team%' ORDER BY k"#);
    assert_eq!(keys, vec!["Team", "owner-team", "team"]);
    let untagged = lake.value(
        r#"SELECT count(*) FROM line_items WHERE "x_LineItemType" = 'Usage' AND "ResourceId" IS NOT NULL
           AND "Tags"['team'] IS NULL AND "Tags"['Team'] IS NULL AND "Tags"['owner-team'] IS NULL"#,
    );
    assert_ne!(untagged, "0", "some resources carry no team tag");
    let types = lake.rows(r#"SELECT DISTINCT "x_LineItemType" FROM line_items ORDER BY 1"#);
    for expected in [
        "Credit",
        "DiscountedUsage",
        "RIFee",
        "Refund",
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "SavingsPlanRecurringFee",
        "Tax",
        "Usage",
    ] {
        assert!(types.iter().any(|t| t == expected), "{expected} missing from {types:?}");
    }
    let services = lake.rows(r#"SELECT DISTINCT "x_ServiceCode" FROM line_items ORDER BY 1"#);
    for expected in ["AWSDataTransfer", "AmazonEC2", "AmazonEKS", "AmazonRDS", "AmazonS3"] {
        assert!(services.iter().any(|s| s == expected), "{expected} missing from {services:?}");
    }

    // Attributed by the shipped mappings, to the last unit of 1e-20, per period.
    assert!(run.stdout.contains("attributed to teams by"), "{}", run.stdout);
    assert_eq!(
        lake.rows(r#"SELECT billing_period, sum("BilledCost") FROM attributed GROUP BY 1 ORDER BY 1"#),
        lake.rows(r#"SELECT billing_period, sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#)
    );
    let owners: u32 =
        lake.value("SELECT count(DISTINCT team) FROM attributed WHERE team <> 'unallocated'").parse().unwrap();
    assert!(owners >= 20, "{owners} teams own spend");
    // The reorg in the demo mappings: fraud joins Data on 15 October.
    assert_eq!(
        lake.rows(
            "SELECT DISTINCT org_path FROM attributed WHERE team = 'fraud' AND billing_period = '2026-10' ORDER BY 1"
        ),
        vec!["acme/priya-raman/data/fraud", "acme/sofia-alvarez/payments/fraud"]
    );
    // The shipped mappings lint clean against their own data: no dead or never-winning rules.
    let mappings = out.join("mappings");
    let check = tally_ok(&["check", "--mappings", mappings.to_str().unwrap(), "--lake", lake.arg()]);
    assert_eq!(check.stdout, "0 error(s), 0 warning(s) in 11 rule(s), 24 team(s), 3 pool(s)\n");
    // The shared EKS cluster's nodes are split by their pods (split cost allocation data in the
    // CUR), not left with the teams that tag its nodes; what the pods left idle goes to
    // k8s-platform (clusters.toml); the rest of the cluster by CPU-hours.
    assert_eq!(lake.value("SELECT count(*) > 0 FROM attributed WHERE pool = 'shared-eks'"), "true");
    assert_eq!(
        lake.rows(
            "SELECT DISTINCT CASE WHEN pool LIKE '% > idle' THEN team ELSE 'tenant' END FROM attributed
             WHERE pool LIKE 'cluster:acme-shared-eks%' ORDER BY 1"
        ),
        vec!["k8s-platform", "tenant"]
    );
    // Pods carry no cost; the nodes all of it, and every node line with pods adds back exactly.
    assert_eq!(
        lake.value(r#"SELECT sum("EffectiveCost") FROM line_items WHERE "x_SplitParentResourceId" IS NOT NULL"#),
        "0"
    );

    // Same seed, same bytes: the CUR files anywhere, and the lake on a re-run
    // (its lineage columns name the source files, so the folder must match).
    let lake_files = files(&out.join("lake/line_items"));
    tally_ok(&["-q", "demo", "--out", out.to_str().unwrap(), "--rows", "30000", "--months", "3"]);
    assert!(files(&out.join("lake/line_items")) == lake_files, "lake files differ between runs");
    let again = dir.path().join("again");
    tally_ok(&["-q", "demo", "--no-ingest", "--out", again.to_str().unwrap(), "--rows", "30000", "--months", "3"]);
    assert!(files(&out.join("cur")) == files(&again.join("cur")), "CUR files differ between runs");
    // Another seed, another company history.
    let other = dir.path().join("other");
    tally_ok(&[
        "-q",
        "demo",
        "--no-ingest",
        "--out",
        other.to_str().unwrap(),
        "--rows",
        "30000",
        "--months",
        "3",
        "--seed",
        "7",
    ]);
    assert!(files(&out.join("cur")) != files(&other.join("cur")));
}

#[test]
fn the_demo_ships_business_volume_and_its_unit_economics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = tally_ok(&["demo", "--out", out.to_str().unwrap(), "--rows", "8000", "--months", "3"]);
    assert!(run.stdout.contains("unit-economics.html"), "{}", run.stdout);
    let lake = Lake { path: out.join("lake"), ..Lake::new() };

    // October's dollars processed, summed here from the metrics file the demo wrote.
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let october: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("2026-10-") && l.contains(",payment_volume_usd,"))
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(october > 0);
    // The report's company row for October: all of October's spend over that volume.
    let report = std::fs::read_to_string(out.join("reports/unit_economics_monthly.csv")).unwrap();
    let row: Vec<&str> =
        report.lines().find(|l| l.starts_with("USD,company,payment_volume_usd,2026-10,")).unwrap().split(',').collect();
    // In the reporting currency: the payments family is billed in EUR (tests/it/currency.rs
    // re-derives each conversion).
    let spend = lake.value(
        r#"SELECT sum("x_ReportingEffectiveCost") FROM attributed WHERE CAST("ChargePeriodStart" AS DATE) >= DATE '2026-10-01'"#,
    );
    assert_eq!(row[6], spend, "spend");
    assert_eq!(row[7], october.to_string(), "volume");
    // Basis points, to the report's 10 places: spend x 10,000 / volume, rounded half away from zero.
    let (units, fraction) = spend.split_once('.').unwrap_or((&spend, ""));
    let scaled: i128 = format!("{units}{fraction:0<20}").parse().unwrap(); // spend at 20 places
    let denominator = i128::from(october) * 10i128.pow(10);
    let bps = (scaled * 10_000 + denominator / 2) / denominator; // at 10 places
    assert_eq!(row[9], as_decimal(bps), "bps");
    assert!((1..10).contains(&(bps / 10i128.pow(10))), "a payments company's few basis points: {bps}");
}
