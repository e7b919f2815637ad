//! `tally findings` on the demo company: every planted case is found, the
//! anomaly detector is backtested against the planted spikes, and the table
//! is the same bytes on a re-run. The truths below are the generator's plan,
//! restated here (not read from tally): src/demo/generate/plan/planted.rs.

use std::path::Path;

use crate::{Lake, tally, tally_ok};

/// Planted spikes: (team, first day, days). NAT gateway bytes of these teams jump from
/// these days (2026-08-01 + day 40, 55, 63, 78, 85) by x30, x60, x15, x40, x25.
const SPIKES: [(&str, &str, u32); 5] = [
    ("orders", "2026-09-10", 4),
    ("data-platform", "2026-09-25", 3),
    ("checkout", "2026-10-03", 5),
    ("notifications", "2026-10-18", 3),
    ("catalog", "2026-10-25", 4),
];

/// The generator's deliberate level shifts on the first day of the last month
/// (fraud launches GPU trainers; observability's traffic steps up x2.2): detections
/// of these teams from 2026-10-01 on are true changes, not false alarms.
const SHIFTS: [&str; 2] = ["fraud", "observability"];

fn demo(dir: &Path) -> (Lake, String) {
    let out = dir.join("demo");
    tally_ok(&["-q", "demo", "--out", out.to_str().unwrap(), "--rows", "30000", "--months", "3"]);
    let mappings = out.join("mappings");
    for name in ["findings.toml", "initiatives.toml"] {
        std::fs::copy(crate::fixture(&format!("demo-mappings/{name}")), mappings.join(name)).unwrap();
    }
    (Lake { path: out.join("lake"), ..Lake::new() }, mappings.to_str().unwrap().to_string())
}

#[test]
fn demo_planted_cases_are_found_and_the_table_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, mappings) = demo(dir.path());
    let run = tally_ok(&["findings", "--lake", lake.arg(), "--mappings", &mappings]);
    assert!(run.stdout.contains("finding(s):"), "{}", run.stdout);

    // Anomalies: every planted spike, on its first day (or the next), and a precision we report.
    let anomalies = lake.rows(
        "SELECT team, \"ServiceName\", CAST(start_date AS VARCHAR) FROM findings WHERE kind = 'anomaly' ORDER BY 1, 3",
    );
    let parsed: Vec<(String, String, chrono::NaiveDate)> = anomalies
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.splitn(3, ',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap())
        })
        .collect();
    // A detection matches a spike of its team and service that is under way on its first day (or starts the next).
    let matches = |(team, start, days): &(&str, &str, u32), a: &(String, String, chrono::NaiveDate)| {
        let start: chrono::NaiveDate = start.parse().unwrap();
        let offset = (a.2 - start).num_days();
        a.0 == *team && a.1 == "Amazon Elastic Compute Cloud" && (-1..i64::from(*days)).contains(&offset)
    };
    let found = SPIKES.iter().filter(|s| parsed.iter().any(|a| matches(s, a))).count();
    let shift_day: chrono::NaiveDate = "2026-10-01".parse().unwrap();
    let true_positive = parsed
        .iter()
        .filter(|a| SPIKES.iter().any(|s| matches(s, a)) || (SHIFTS.contains(&a.0.as_str()) && a.2 >= shift_day))
        .count();
    eprintln!(
        "anomaly backtest: recall {found}/{} planted spikes, precision {true_positive}/{} detections; all: {anomalies:?}",
        SPIKES.len(),
        parsed.len()
    );
    assert_eq!(found, SPIKES.len(), "planted spikes missed: {anomalies:?}");
    assert_eq!(true_positive, parsed.len(), "false alarms: {anomalies:?}");

    // Idle: the planted idle load balancer, idle NAT gateway, unattached volume and old
    // snapshot; not the busy load balancer nor the week-old snapshot.
    let idle = lake.rows("SELECT subkind, team FROM findings WHERE kind = 'idle' ORDER BY 1, 2");
    for expected in
        ["load_balancer,growth-web", "nat_gateway,networking", "unattached_volume,search", "old_snapshot,data-ingest"]
    {
        assert!(idle.iter().any(|r| r == expected), "{expected} not in {idle:?}");
    }
    assert!(!idle.iter().any(|r| r == "load_balancer,checkout"), "busy load balancer reported idle: {idle:?}");
    assert_eq!(idle.iter().filter(|r| r.starts_with("old_snapshot")).count(), 1, "{idle:?}");

    // Orphans: the untagged bucket named after ledger's service, in a shared account.
    let orphan = lake.rows(
        "SELECT team, \"SubAccountId\" FROM findings WHERE kind = 'orphan' AND \"ResourceId\" LIKE 'acme-ledger-core-%'",
    );
    assert_eq!(orphan, vec!["ledger,729104638251"]);

    // Storage tiering: the cold Standard bucket of analytics, priced at the archive bucket's classes.
    let tiering = lake.rows(
        "SELECT team, subkind, monthly_savings > 0 FROM findings WHERE kind = 'storage_tiering' AND team = 'analytics'",
    );
    assert_eq!(tiering, vec!["analytics,GlacierInstantRetrievalStorage,true"]);

    // Commitments: each payer bought one reserved instance too many, so some RI is under-used.
    let unused = lake.value(
        "SELECT count(*) FROM findings WHERE kind = 'commitment' AND subkind = 'utilization' AND \"ResourceId\" LIKE '%:ri:%'",
    );
    assert!(unused.parse::<u32>().unwrap() >= 2, "{unused}");

    // Realized savings: the search cluster retired on 10 October shows; debug logs did not go away.
    let realized = lake.rows("SELECT team, status FROM findings WHERE kind = 'realized_savings' ORDER BY 1");
    assert_eq!(realized, vec!["observability,not_realized", "search,verified"]);

    // Ranked by savings per dev-day, ids unique, and the same bytes on a re-run.
    assert_eq!(lake.value("SELECT count(*) = count(DISTINCT finding_id) FROM findings"), "true");
    assert_eq!(lake.value("SELECT min(rank) FROM findings"), "1");
    let file = lake.path.join("findings/findings.parquet");
    let first = std::fs::read(&file).unwrap();
    tally_ok(&["findings", "--lake", lake.arg(), "--mappings", &mappings, "--format", "csv"]);
    assert!(std::fs::read(&file).unwrap() == first, "findings differ between runs");
}

#[test]
fn bad_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).unwrap();
    for name in ["org.toml", "rules.toml"] {
        std::fs::copy(crate::fixture(&format!("demo-mappings/{name}")), mappings.join(name)).unwrap();
    }
    std::fs::write(mappings.join("findings.toml"), "[effort]\nanomaly = \"1\"\nfixing = \"2\"\n").unwrap();
    let lake = Lake::new();
    let run = tally(&["findings", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("findings.toml:3"), "{}", run.stderr);
    std::fs::write(mappings.join("findings.toml"), "").unwrap();
    std::fs::write(
        mappings.join("initiatives.toml"),
        "[[initiative]]\nteam = \"nobody\"\ntitle = \"x\"\nshipped = 2026-10-01\nexpected_monthly_savings = \"1\"\n",
    )
    .unwrap();
    let run = tally(&["findings", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("initiatives.toml:2"), "{}", run.stderr);
}
