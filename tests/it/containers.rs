//! Shared Kubernetes clusters from the bill itself: AWS split cost allocation data (legacy CUR
//! and CUR 2.0, `fixtures/make_split_cost_fixtures.py`, built from AWS's documentation), rules on
//! clusters, namespaces, workloads and labels, and each idle policy. Every figure is re-derived
//! from the CUR file by `split_cost_check.py` (Python decimal, DuckDB), not by tally.

use std::path::Path;

use crate::{Lake, tally};

/// Teams of the split cost allocation fixtures' cluster (`emit_sql.rs` uses them too).
pub const ORG: &str = r#"
[nodes.acme]
[teams.payments]
parent = "acme"
[teams.search]
parent = "acme"
[teams.platform]
parent = "acme"
[teams.ml]
parent = "acme"
[teams.k8s]
parent = "acme"
"#;

const RULES: &str = r#"
[[rule]]
id = "payments-namespace"
precedence = 10
namespaces = ["payments"]
team = "payments"

[[rule]]
id = "search-label"
precedence = 20
k8s_labels = { app = "search" }
team = "search"

[[rule]]
id = "system-namespaces"
precedence = 30
namespace_glob = "kube-*"
team = "platform"

[[rule]]
id = "trainer"
precedence = 35
workloads = ["trainer"]
team = "ml"

[[rule]]
id = "team-tag"
precedence = 40
team_from_tag = "team"

[[rule]]
id = "cluster"
precedence = 50
clusters = ["acme-eks"]
team = "k8s"
"#;

const LEGACY: &str = "aws-cur/split-cost-allocation-2026-08.csv";
const CUR2: &str = "aws-cur2/split-cost-allocation-2026-08.parquet";

fn clusters_toml(policy: &str) -> String {
    format!("[[cluster]]\nname = \"acme-eks\"\nidle = \"{policy}\"\nowner = \"k8s\"\nidle_alert = \"20%\"\n")
}

/// The fixture ingested, and the mappings with `policy` for the cluster's idle capacity.
fn setup(source: &str, policy: &str) -> (Lake, tempfile::TempDir) {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture(source)], &[]);
    let dir = tempfile::tempdir().unwrap();
    let clusters = clusters_toml(policy);
    crate::support::write_mappings(
        &dir.path().join("mappings"),
        &[("org.toml", ORG), ("rules.toml", RULES), ("clusters.toml", &clusters)],
    );
    (lake, dir)
}

fn attribute(lake: &Lake, dir: &Path) -> crate::Run {
    let mappings = dir.join("mappings");
    tally(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()])
}

/// `tally report weekly` into `<dir>/reports`, which it returns.
fn weekly(lake: &Lake, mappings: &Path, dir: &Path) -> std::path::PathBuf {
    let out = dir.join("reports");
    let args = ["report", "weekly", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), "--out"];
    crate::tally_ok(&[&args[..], &[out.to_str().unwrap()]].concat());
    out
}

fn check(lake: &Lake, policy: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/split_cost_check.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([&crate::fixture(LEGACY), lake.arg(), policy, "k8s"])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.trim().to_string()
}

#[test]
fn pods_split_their_node_by_the_bill_and_each_idle_policy_owns_the_rest() {
    // The m5.xlarge hour: three pods' used parts, and idle per policy; the GPU node: the
    // trainer's GPU, vCPU and memory, and the idle half of its vCPU and memory.
    for (policy, shares) in [("proportional", 8), ("owner", 6), ("unallocated", 6)] {
        let (lake, dir) = setup(LEGACY, policy);
        let run = attribute(&lake, dir.path());
        assert_eq!(run.code, 0, "{policy}: {}{}", run.stdout, run.stderr);
        assert_eq!(check(&lake, policy), format!("ok {shares} shares"), "{policy}");
    }
}

#[test]
fn the_cluster_costs_once_and_rules_read_its_dimensions() {
    let (lake, dir) = setup(LEGACY, "unallocated");
    // Ingest: pod rows carry no cost of their own, the node lines all of it. Their split and
    // unused costs, summed by Python's decimal from the CSV's text, come to 1.1979999999999999986:
    // the nodes' 0.192 + 1.006 as AWS's doubles print it, which is why tally splits the node
    // line's own exact cost by them rather than adding them up.
    assert_eq!(
        lake.rows(
            r#"SELECT "x_Cluster", coalesce("x_Namespace", '-'), coalesce("x_Workload", '-'), count(*),
                      sum("EffectiveCost"), sum("x_SplitCost") + sum("x_SplitUnusedCost")
               FROM line_items WHERE "x_SplitParentResourceId" IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"#
        ),
        vec![
            "acme-eks,kube-system,coredns,2,0,0.0242637362637362636",
            "acme-eks,ml,trainer,3,0,1.006",
            "acme-eks,payments,payments-api,2,0,0.097054945054945054",
            "acme-eks,search,search-indexer,2,0,0.070681318681318681",
        ]
    );
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    // The hour the node ran no pods keeps its own owner (its team tag); the control plane goes
    // by `clusters`; a bucket by its tag.
    assert_eq!(
        lake.rows(
            r#"SELECT "x_SourceRow", team, rule_id, method, coalesce("x_Cluster", '-'), "EffectiveCost"
               FROM attributed WHERE "x_SourceRow" IN (12, 13, 14) ORDER BY 1"#
        ),
        vec![
            "12,platform,team-tag,direct,acme-eks,0.192",
            "13,k8s,cluster,direct,acme-eks,0.1",
            "14,search,team-tag,direct,-,0.0345"
        ]
    );
    // Idle capacity, per cluster: the m5's unused vCPU and memory (0.018 + 0.009) and the GPU
    // node's (0.0755 + 0.025), unallocated with their reason: 0.1275 in exact arithmetic, and
    // 0.1274999999999999988 as the largest-remainder split over the bill's doubles gives it (the
    // same split in Python, split_cost_check.py's `split`, over the CSV's text).
    assert_eq!(
        lake.rows(
            r#"SELECT unallocated_reason, sum("EffectiveCost") FROM attributed
               WHERE pool = 'cluster:acme-eks > idle' GROUP BY 1"#
        ),
        vec!["idle capacity of cluster acme-eks,0.1274999999999999988"]
    );
}

#[test]
fn explain_shows_a_node_split_by_its_pods_and_the_hour_it_ran_none() {
    let (lake, dir) = setup(LEGACY, "owner");
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    let mappings = dir.path().join("mappings");
    let run = crate::tally_ok(&["explain", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), "i-0a1"]);
    let (pods_hour, empty_hour) = run.stdout.split_once("line item li-split-012").expect("both hours");
    assert!(pods_hour.contains("owner: split by the pods that ran on it in cluster acme-eks"), "{}", run.stdout);
    assert!(pods_hour.contains("idle capacity by the cluster's policy: owner (clusters.toml)"), "{}", run.stdout);
    // The same shares as the lake's, row by row.
    let shares = lake.rows(
        r#"SELECT team, coalesce("x_Namespace", ''), pool, "EffectiveCost" FROM attributed WHERE "x_SourceRow" = 1"#,
    );
    for share in &shares {
        let cells: Vec<&str> = share.split(',').collect();
        let shown = pods_hour.lines().find(|l| l.contains(&format!("│ {} ", cells[0]))).unwrap_or_default();
        assert!(shown.contains(cells[1]) && shown.contains(cells[2]) && shown.contains(cells[3]), "{share}: {shown}");
    }
    assert_eq!(shares.len(), 4, "{shares:?}");
    assert!(empty_hour.contains("owner: platform (acme/platform), direct"), "{}", run.stdout);
}

#[test]
fn cur_2_0_parquet_splits_the_same_as_legacy_csv() {
    let columns = r#"SELECT "x_SourceRow", team, method, coalesce(pool, '-'), coalesce("x_Namespace", '-'),
                            coalesce("x_Workload", '-'), "BilledCost", "EffectiveCost", share
                     FROM attributed ORDER BY "x_SourceRow", team, pool, "x_Namespace""#;
    let (legacy, dir) = setup(LEGACY, "proportional");
    assert_eq!(attribute(&legacy, dir.path()).code, 0);
    let (cur2, dir2) = setup(CUR2, "proportional");
    let run = attribute(&cur2, dir2.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(cur2.rows(columns), legacy.rows(columns));
}

#[test]
fn a_cluster_policy_that_cannot_work_is_refused_with_its_line() {
    let (lake, dir) = setup(LEGACY, "owner");
    let mappings = dir.path().join("mappings");
    std::fs::write(mappings.join("clusters.toml"), "idle = \"owner\"\n\n[[cluster]]\nname = \"acme-eks\"\n").unwrap();
    let run = attribute(&lake, dir.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "{}:3: cluster `acme-eks`: idle = \"owner\" needs owner = \"<team>\"",
            mappings.join("clusters.toml").display()
        )),
        "{}",
        run.stderr
    );
    std::fs::write(mappings.join("clusters.toml"), "[[cluster]]\nname = \"acme-eks\"\nowner = \"k8s-team\"\n").unwrap();
    let run = attribute(&lake, dir.path());
    assert!(run.stderr.contains("cluster `acme-eks`: unknown team `k8s-team` (not in org.toml)"), "{}", run.stderr);
    std::fs::write(mappings.join("clusters.toml"), "[[cluster]]\nname = \"acme-eks\"\nidle = \"spread\"\n").unwrap();
    let run = attribute(&lake, dir.path());
    assert!(run.stderr.contains("unknown variant `spread`"), "{}", run.stderr);
}

/// The fixture's hours, and the same hours a week later (new line item ids): two weeks of a
/// cluster idling 10.6% of its nodes' cost.
fn two_weeks(dir: &Path) -> String {
    let mut reader = csv::Reader::from_path(crate::fixture(LEGACY)).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let path = dir.join("two-weeks.csv");
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(&header).unwrap();
    for shift in [false, true] {
        for row in &rows {
            let cells: Vec<String> = header
                .iter()
                .zip(row)
                .map(|(column, cell)| match (shift, column) {
                    (true, "identity/LineItemId") => cell.replace("li-split-", "li-split-w2-"),
                    (true, "identity/TimeInterval" | "lineItem/UsageStartDate" | "lineItem/UsageEndDate") => {
                        cell.replace("2026-08-01T", "2026-08-08T")
                    }
                    _ => cell.to_string(),
                })
                .collect();
            writer.write_record(&cells).unwrap();
        }
    }
    writer.flush().unwrap();
    path.display().to_string()
}

#[test]
fn a_cluster_idling_above_its_alert_both_weeks_is_a_finding_with_the_savings_of_right_sizing() {
    let lake = Lake::new();
    let dir = tempfile::tempdir().unwrap();
    lake.ingest_ok(&[&two_weeks(dir.path())], &[]);
    let clusters = "[[cluster]]\nname = \"acme-eks\"\nidle = \"owner\"\nowner = \"k8s\"\nidle_alert = \"10%\"\n";
    let mappings = dir.path().join("mappings");
    crate::support::write_mappings(&mappings, &[("org.toml", ORG), ("rules.toml", RULES), ("clusters.toml", clusters)]);
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    let run = crate::tally_ok(&[
        "findings",
        "--lake",
        lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--kind",
        "idle",
        "--format",
        "csv",
    ]);
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(run.stdout.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 1, "{}", run.stdout);
    let row = &rows[0];
    // Each week: idle 0.1274999999999999988 of the nodes' 1.198 (10.6%). Monthly (x 30/7, 20
    // places half away from zero, Python decimal): idle 0.54642857142857142343 of
    // 5.13428571428571428571; to 10%: S = (I - 0.1 T) / 0.9 = 0.03666666666666666095.
    assert_eq!(
        (row[1].as_str(), row[3].as_str(), row[8].as_str(), row[18].as_str()),
        ("idle", "k8s", "acme-eks", "cluster")
    );
    assert_eq!((row[13].as_str(), row[14].as_str()), ("5.13428571428571428571", "0.03666666666666666095"));
    assert_eq!(row[10], "Cluster acme-eks idles 10.6% of its nodes' cost: right-sizing to 10.0% saves $0.04 a month");
    assert!(
        row[11].starts_with("idle share 10.6% in the 7 days to 2026-08-08 and 10.6% the week before"),
        "{}",
        row[11]
    );

    // The weekly report's clusters table: the same week, from the lake (DuckDB).
    let out = weekly(&lake, &mappings, dir.path());
    let weekly = std::fs::read_to_string(out.join("weekly.html")).unwrap();
    assert_eq!(
        crate::support::html_table(&weekly, "weekly_cluster_idle"),
        vec![vec!["acme-eks", "$1.20", "$0.13", "10.6%", "10.6%", "k8s"]]
    );
    let exact = crate::support::duckdb(&format!(
        r#"SELECT CAST(sum("EffectiveCost") AS VARCHAR), CAST(sum(CASE WHEN pool LIKE '% > idle' THEN "EffectiveCost" END) AS VARCHAR)
           FROM read_parquet('{}/attributed/*/*.parquet') WHERE pool LIKE 'cluster:%' AND CAST("ChargePeriodStart" AS DATE) = DATE '2026-08-08'"#,
        lake.path.display()
    ));
    let csv = std::fs::read_to_string(out.join("weekly_cluster_idle.csv")).unwrap();
    assert!(
        csv.contains(&format!("acme-eks,{},{}", exact[0][0].trim_end_matches('0'), exact[0][1].trim_end_matches('0'))),
        "{csv}\n{exact:?}"
    );

    // Under the alert (10.6% < 11%): nothing.
    std::fs::write(mappings.join("clusters.toml"), clusters.replace("10%", "11%")).unwrap();
    let run = crate::tally_ok(&[
        "findings",
        "--lake",
        lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--kind",
        "idle",
        "--format",
        "csv",
    ]);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
}

/// A team's spend in a cluster moves by workload: its page and its nudge name the
/// cluster/namespace/workload among what moved (the week before had none of it).
#[test]
fn a_teams_cluster_spend_is_among_its_drivers_by_workload() {
    let (lake, dir) = setup(LEGACY, "proportional");
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    let mappings = dir.path().join("mappings");
    let out = weekly(&lake, &mappings, dir.path());
    let page = std::fs::read_to_string(out.join("teams/payments.html")).unwrap();
    // payments' used and idle shares of the node's hour: 0.084 + 0.0130549450549450541, by DuckDB.
    let spend = crate::support::duckdb(&format!(
        r#"SELECT CAST(round(sum("EffectiveCost"), 2) AS VARCHAR) FROM read_parquet('{}/attributed/*/*.parquet')
           WHERE team = 'payments' AND "x_Workload" = 'payments-api'"#,
        lake.path.display()
    ));
    assert_eq!(spend[0][0], "0.10");
    let drivers = crate::support::html_table(&page, "team_drivers");
    // (HTML escapes the slashes.)
    let expected = ["workload", "acme-eks&#x2f;payments&#x2f;payments-api", "$0.10", "$0.00", "+$0.10"];
    assert!(drivers.iter().any(|row| row.iter().map(String::as_str).eq(expected)), "{drivers:?}");
    // Why the node is payments': its pods' part, by the namespace rule; and their part of idle.
    let resources = crate::support::html_table(&page, "team_top_resources");
    let why: Vec<&str> = resources.iter().filter(|r| r[0] == "i-0a1").map(|r| r[3].as_str()).collect();
    assert_eq!(
        why,
        vec![
            "its pods&#x27; part of a node in cluster acme-eks; the pods are its by rule payments-namespace \
             (precedence 10) when namespaces payments",
            "its pods&#x27; part of cluster acme-eks&#x27;s idle capacity (clusters.toml); the pods are its by rule \
             payments-namespace (precedence 10) when namespaces payments",
        ],
        "{resources:?}"
    );
}

/// A self-managed cluster the bill does not split: OpenCost's allocation export
/// (`fixtures/opencost/allocation-2026-08.csv`, the API's JSON flattened as OpenCost's exporters
/// write it) is the pool's telemetry; the same rules decide each namespace's team, and the idle
/// allocation goes to the cluster's owner. Expected shares: Python decimal, largest remainder
/// at 20 places over the teams in name order (the pool's order).
#[test]
fn opencost_allocations_split_a_self_managed_clusters_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = format!("{}\n", crate::support::FOCUS_HEADER);
    for day in [1, 2] {
        csv.push_str(&format!(
            "payer,acct-k8s,USD,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-0{day}T00:00:00Z,2026-08-0{}T00:00:00Z,\
             Usage,10.00,10.00,Compute,i-onprem-1,{{}}\n",
            day + 1
        ));
    }
    let file = dir.path().join("onprem.csv");
    std::fs::write(&file, csv).unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    let rules = format!(
        "{RULES}\n[[rule]]\nid = \"onprem-nodes\"\nprecedence = 5\nresource_prefix = \"i-onprem\"\npool = \"onprem\"\n"
    );
    let pools = "[[pool]]\nid = \"onprem\"\nsplit = \"telemetry\"\ntelemetry = \"opencost/allocation.csv\"\ntelemetry_format = \"opencost\"\n";
    let clusters = "[[cluster]]\nname = \"onprem-k8s\"\nidle = \"owner\"\nowner = \"k8s\"\n";
    let opencost = std::fs::read_to_string(crate::fixture("opencost/allocation-2026-08.csv")).unwrap();
    let mappings = dir.path().join("mappings");
    crate::support::write_mappings(
        &mappings,
        &[
            ("org.toml", ORG),
            ("rules.toml", &rules),
            ("pools.toml", pools),
            ("clusters.toml", clusters),
            ("opencost/allocation.csv", &opencost),
        ],
    );
    let run = attribute(&lake, dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        lake.rows(
            r#"SELECT CAST("ChargePeriodStart" AS DATE), team, pool, split, "EffectiveCost" FROM attributed ORDER BY 1, 2"#
        ),
        vec![
            // Day 1: payments 2.2, search 1.7, kube-system 0.5 (platform, by namespace_glob), idle 0.71 (k8s).
            "2026-08-01,k8s,onprem,telemetry,1.3894324853228962818",
            "2026-08-01,payments,onprem,telemetry,4.3052837573385518591",
            "2026-08-01,platform,onprem,telemetry,0.9784735812133072407",
            "2026-08-01,search,onprem,telemetry,3.3268101761252446184",
            // Day 2: payments 2.99, search 1.305, idle 0.315.
            "2026-08-02,k8s,onprem,telemetry,0.68329718004338394794",
            "2026-08-02,payments,onprem,telemetry,6.48590021691973969631",
            "2026-08-02,search,onprem,telemetry,2.83080260303687635575",
        ]
    );
    // The mappings emitted as SQL split the same on DuckDB, telemetry from OpenCost included.
    crate::emit_sql::assert_sql_agrees(&lake, &mappings, &[]);
    // The same allocations as Parquet (DuckDB's types: doubles and timestamps), the same split.
    let expected = lake.rows(r#"SELECT team, "EffectiveCost" FROM attributed ORDER BY "ChargePeriodStart", team"#);
    let parquet = mappings.join("opencost/allocation.parquet");
    crate::support::duckdb(&format!(
        "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT PARQUET)",
        mappings.join("opencost/allocation.csv").display(),
        parquet.display()
    ));
    std::fs::write(mappings.join("pools.toml"), pools.replace("allocation.csv", "allocation.parquet")).unwrap();
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    assert_eq!(
        lake.rows(r#"SELECT team, "EffectiveCost" FROM attributed ORDER BY "ChargePeriodStart", team"#),
        expected
    );

    // idle = "unallocated": the idle allocation's part of the nodes stays unallocated, named
    // (the same amounts k8s took under `owner`), the teams' parts unchanged.
    std::fs::write(mappings.join("clusters.toml"), "[[cluster]]\nname = \"onprem-k8s\"\nidle = \"unallocated\"\n")
        .unwrap();
    assert_eq!(attribute(&lake, dir.path()).code, 0);
    assert_eq!(
        lake.rows(
            r#"SELECT CAST("ChargePeriodStart" AS DATE), team, method, coalesce(unallocated_reason, '-'), "EffectiveCost"
               FROM attributed WHERE team IN ('unallocated', 'payments') ORDER BY 1, 2"#
        ),
        vec![
            "2026-08-01,payments,shared,-,4.3052837573385518591",
            "2026-08-01,unallocated,unallocated,idle capacity of cluster onprem-k8s,1.3894324853228962818",
            "2026-08-02,payments,shared,-,6.48590021691973969631",
            "2026-08-02,unallocated,unallocated,idle capacity of cluster onprem-k8s,0.68329718004338394794",
        ]
    );

    crate::emit_sql::assert_sql_agrees(&lake, &mappings, &[]);

    // A column the export must have, named.
    std::fs::write(mappings.join("pools.toml"), pools).unwrap();
    std::fs::write(mappings.join("opencost/allocation.csv"), "name,totalCost\nx,1\n").unwrap();
    let run = attribute(&lake, dir.path());
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("opencost/allocation.csv: no `window.start` column"), "{}", run.stderr);
}

const GKE: &str = "gcp/gke-cost-allocation-2026-08.json";

const GKE_ORG: &str = r#"
[nodes.shop]
[teams.checkout]
parent = "shop"
[teams.search]
parent = "shop"
[teams.platform]
parent = "shop"
[teams.k8s]
parent = "shop"
"#;

const GKE_RULES: &str = r#"
[[rule]]
id = "checkout-namespace"
precedence = 10
namespaces = ["checkout"]
team = "checkout"

[[rule]]
id = "search-label"
precedence = 20
k8s_labels = { app = "search" }
team = "search"

[[rule]]
id = "system"
precedence = 30
namespace_glob = "kube-*"
team = "platform"

[[rule]]
id = "overhead"
precedence = 31
namespaces = ["kube:system-overhead"]
team = "platform"

[[rule]]
id = "team-tag"
precedence = 40
team_from_tag = "team"

[[rule]]
id = "cluster"
precedence = 50
clusters = ["shop-gke"]
team = "k8s"
"#;

/// GKE cost allocation (`fixtures/make_gke_fixtures.py`, from Google's documentation): the
/// export already bills the node per namespace; its `kube:unallocated` rows are the cluster's
/// idle capacity and go by the cluster's policy. Every share re-derived by gke_idle_check.py.
#[test]
fn gke_idle_rows_go_by_the_clusters_policy_and_the_rest_by_the_rules() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture(GKE)], &[]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/gke_idle_check.py");
    // Proportional: the 10:00 idle rows over checkout, search and kube-system by their cost, the
    // 11:00 one all to checkout (the only namespace then), the 12:00 one by the rules (none ran).
    for (policy, shares) in [("proportional", 10), ("owner", 5), ("unallocated", 5)] {
        let clusters = format!("[[cluster]]\nname = \"shop-gke\"\nidle = \"{policy}\"\nowner = \"k8s\"\n");
        crate::support::write_mappings(
            &mappings,
            &[("org.toml", GKE_ORG), ("rules.toml", GKE_RULES), ("clusters.toml", &clusters)],
        );
        let run = attribute(&lake, dir.path());
        assert_eq!(run.code, 0, "{policy}: {}{}", run.stdout, run.stderr);
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args([&crate::fixture(GKE), lake.arg(), policy, "k8s"])
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{policy}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout.trim(), format!("ok {shares} idle shares"), "{policy}");
    }

    // The clusters table (last policy: unallocated): the cluster's rows cost 3.52066 after
    // credits, its kube:unallocated rows 2.0382401 of it, 57.9% (Python decimal over the JSON).
    let out = weekly(&lake, &mappings, dir.path());
    let weekly = std::fs::read_to_string(out.join("weekly.html")).unwrap();
    assert_eq!(
        crate::support::html_table(&weekly, "weekly_cluster_idle"),
        vec![vec!["shop-gke", "$3.52", "$2.04", "57.9%", "–", "unallocated"]]
    );
    let csv = std::fs::read_to_string(out.join("weekly_cluster_idle.csv")).unwrap();
    assert!(csv.contains("shop-gke,3.52066,2.0382401,"), "{csv}");

    let run = crate::tally_ok(&[
        "explain",
        "--lake",
        lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/gke-shop-gke-pool-1-a1b2",
        "--limit",
        "20",
    ]);
    assert!(
        run.stdout.contains(
            "owner: idle capacity of cluster shop-gke (GKE cost allocation, namespace kube:unallocated): \
             the cluster's policy decides it, not the rules above: unallocated (clusters.toml)"
        ),
        "{}",
        run.stdout
    );
}

/// A GKE idle row its cluster's policy owns is not its rule's team's direct spend: with
/// `idle = "owner"`, k8s (whose `cluster` rule would take the idle rows) weighs nothing in a
/// proportional pool; checkout 1.0455967, platform 0.1146 and search 0.3222232 do (their
/// namespace rows' EffectiveCost, Python decimal over the JSON).
#[test]
fn a_gke_idle_row_the_policy_owns_is_no_teams_direct_spend() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture(GKE)], &[]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    let rules = format!(
        "{GKE_RULES}\n[[rule]]\nid = \"storage\"\nprecedence = 1\nservices = [\"Cloud Storage\"]\npool = \"shared\"\n"
    );
    crate::support::write_mappings(
        &mappings,
        &[
            ("org.toml", GKE_ORG),
            ("rules.toml", &rules),
            ("pools.toml", "[[pool]]\nid = \"shared\"\nsplit = \"proportional\"\n"),
            ("clusters.toml", "[[cluster]]\nname = \"shop-gke\"\nidle = \"owner\"\nowner = \"k8s\"\n"),
        ],
    );
    let run = attribute(&lake, dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        lake.rows(r#"SELECT team, "EffectiveCost" FROM attributed WHERE "x_SourceRow" = 12 ORDER BY team"#),
        vec!["checkout,0.02348752206442992299", "platform,0.00257429086050450348", "search,0.00723818707506557353"]
    );
}

/// A node line its pods split is not its own rule's team's direct spend: a proportional pool
/// (the control plane's) weighs platform by the node's hour without pods only (0.192, row 12),
/// not the hour its pods took (row 1), and not k8s by the GPU node its trainer took (row 8).
#[test]
fn a_node_line_its_pods_split_is_no_teams_direct_spend_for_proportional_pools() {
    let (lake, dir) = setup(LEGACY, "owner");
    let mappings = dir.path().join("mappings");
    let rules = format!(
        "{RULES}\n[[rule]]\nid = \"control-plane\"\nprecedence = 1\n\
         resource_prefix = \"arn:aws:eks:us-east-1:444455556666:cluster/\"\npool = \"control-plane\"\n"
    );
    std::fs::write(mappings.join("rules.toml"), rules).unwrap();
    std::fs::write(mappings.join("pools.toml"), "[[pool]]\nid = \"control-plane\"\nsplit = \"proportional\"\n")
        .unwrap();
    let run = attribute(&lake, dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Direct spend: platform 0.192, search 0.0345 (the bucket, row 14); 0.1 split by them,
    // largest remainder at 20 places (Python decimal).
    assert_eq!(
        lake.rows(r#"SELECT team, "EffectiveCost" FROM attributed WHERE "x_SourceRow" = 13 ORDER BY team"#),
        vec!["platform,0.08476821192052980132", "search,0.01523178807947019868"]
    );
}

/// `tally check` over the lake: a clusters.toml policy for a cluster no line item names (a
/// typo) is a warning with its line, and the clusters the lake does have.
#[test]
fn check_warns_of_a_cluster_policy_for_a_cluster_the_bill_does_not_have() {
    let (lake, dir) = setup(LEGACY, "owner");
    let mappings = dir.path().join("mappings");
    let clusters = format!("{}\n[[cluster]]\nname = \"acme-eksx\"\nidle = \"unallocated\"\n", clusters_toml("owner"));
    std::fs::write(mappings.join("clusters.toml"), clusters).unwrap();
    let run = tally(&["check", "--mappings", mappings.to_str().unwrap(), "--lake", lake.arg()]);
    assert_eq!(run.code, 0, "warnings only: {}{}", run.stdout, run.stderr);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(
            "warning[unknown-cluster] clusters.toml:8: cluster `acme-eksx` names no cluster of the 14 line items in \
             2026-08 (theirs: acme-eks): its policy does nothing"
        ),
        "{out}"
    );
    assert!(!out.contains("cluster `acme-eks` names"), "{out}");
}
