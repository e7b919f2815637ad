//! `tally attribute --emit-sql`: the SQL it writes, run on DuckDB (PyPI) with the emitted
//! folder as working directory, gives the `attributed` rows `tally attribute` writes, line by
//! line and share by share, every column to the last decimal.

use std::path::Path;

use crate::support::{August, Charge, ORG, write_mappings};
use crate::{Lake, tally_ok};

/// Runs `attribute.sql` in `dir` on DuckDB; the Python error text when it fails.
pub fn run_emitted(dir: &Path) -> Result<(), String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import duckdb; duckdb.connect().execute(open('attribute.sql').read())"])
        .current_dir(dir)
        .output()
        .expect("python3 runs (with duckdb from PyPI: .ci/run installs it)");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// The rows in one of two attributed tables and not the other (as many times as they
/// differ), both ways, at most a few each: empty when the tables are the same multiset.
pub fn differences(tally: &Path, emitted: &Path) -> String {
    const SCRIPT: &str = r#"
import sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
# As text: Spark writes x_SourceRow (UINT64 in the lake) as DECIMAL(20,0); values must match.
def table(root):
    return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{root}/billing_period=*/*.parquet', hive_partitioning = true, hive_types = {{'billing_period': VARCHAR}}))"
a, b = table(sys.argv[1]), table(sys.argv[2])
counts = con.execute(f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b})").fetchone()
out = []
for name, x, y in (("only tally", a, b), ("only SQL", b, a)):
    rows = con.execute(f"SELECT * FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y}) LIMIT 5").fetchall()
    for r in rows:
        out.append(f"{name}: {r}")
if out:
    out.insert(0, f"rows: tally {counts[0]}, SQL {counts[1]}")
print("\n".join(out))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT, tally.to_str().unwrap(), emitted.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "comparing failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs `attribute.sql` in `dir` on Spark in local mode (`spark_run.py`, pyspark from PyPI).
pub fn run_emitted_on_spark(dir: &Path) -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/spark_run.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 runs (with pyspark from PyPI: .ci/run installs it for its Spark step)");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// Attributes `lake` by `mappings` with tally and with the emitted SQL; asserts both tables
/// are the same and returns tally's row count.
pub fn assert_sql_agrees(lake: &Lake, mappings: &Path, extra: &[&str]) -> usize {
    assert_dialect_agrees(lake, mappings, extra, "duckdb")
}

/// [`assert_sql_agrees`] in `dialect` (`duckdb`, `spark`).
pub fn assert_dialect_agrees(lake: &Lake, mappings: &Path, extra: &[&str], dialect: &str) -> usize {
    let mappings = mappings.to_str().unwrap();
    let mut args = vec!["attribute", "--lake", lake.arg(), "--mappings", mappings, "-q"];
    args.extend_from_slice(extra);
    tally_ok(&args);
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("sql");
    let mut args = vec!["attribute", "--lake", lake.arg(), "--mappings", mappings, "--emit-sql"];
    args.extend([sql.to_str().unwrap(), "--dialect", dialect]);
    args.extend_from_slice(extra);
    let emitted = tally_ok(&args);
    assert!(emitted.stdout.contains("attribute.sql"), "{}", emitted.stdout);
    let ran = if dialect == "spark" { run_emitted_on_spark(&sql) } else { run_emitted(&sql) };
    ran.unwrap_or_else(|e| panic!("the emitted SQL failed on {dialect}:\n{e}"));
    let diff = differences(&lake.path.join("attributed"), &sql.join("attributed"));
    assert!(diff.is_empty(), "the emitted SQL disagrees with tally attribute:\n{diff}");
    lake.value("SELECT count(*) FROM attributed").parse().unwrap()
}

/// Every rule condition kind, tag aliases and case folding, effective dates, tag-named teams
/// (through aliases, and values naming nobody), and pools of every split kind: even, weights
/// feeding a pool, proportional (scoped, across an org move), telemetry by day and by month,
/// and pools that cannot split.
const RULES: &str = r#"
[tag_aliases]
team = ["Team", "owner"]
env = ["Environment"]

[[rule]]
id = "acct-alpha"
precedence = 10
accounts = ["111"]
team = "alpha"

[[rule]]
id = "prod-api"
precedence = 5
tags = { env = "prod", app = ["api", "gateway"] }
team = "beta"

[[rule]]
id = "until-mid"
precedence = 6
accounts = ["222"]
until = 2026-08-10
team = "gamma"

[[rule]]
id = "from-mid"
precedence = 6
accounts = ["222"]
from = 2026-08-10
pool = "platform"

[[rule]]
id = "svc"
precedence = 20
services = ["Amazon S3", "AmazonCloudWatch"]
pool = "observability"

[[rule]]
id = "tax"
precedence = 1
charge_categories = ["Tax"]
pool = "overhead"

[[rule]]
id = "prefix"
precedence = 30
resource_prefix = "arn:aws:rds:"
team = "gamma"

[[rule]]
id = "glob"
precedence = 31
resource_glob = "i-0[ab]*"
pool = "compute"

[[rule]]
id = "regex"
precedence = 32
resource_regex = "^vol-[0-9]+x$"
team = "beta"

[[rule]]
id = "ns"
precedence = 33
namespaces = ["payments"]
clusters = ["Prod-EKS"]
team = "alpha"

[[rule]]
id = "ns-glob"
precedence = 34
namespace_glob = "ml-*"
pool = "overhead"

[[rule]]
id = "ns-regex"
precedence = 35
namespace_regex = "^batch-[0-9]+$"
workloads = ["nightly"]
team = "gamma"

[[rule]]
id = "label"
precedence = 36
k8s_labels = { app = "search" }
team = "beta"

[[rule]]
id = "billing"
precedence = 40
billing_accounts = ["other-payer"]
team = "alpha"

[[rule]]
id = "owner-tag"
precedence = 50
team_from_tag = "team"

[[rule]]
id = "catch-all-333"
precedence = 90
accounts = ["333"]
pool = "ghost"
"#;

const POOLS: &str = r#"
[[pool]]
id = "platform"
split = "proportional"
scope = "eng"

[[pool]]
id = "observability"
split = "weights"
weights = { alpha = 3, beta = 5, "pool:platform" = 2 }

[[pool]]
id = "overhead"
split = "even"
to = ["alpha", "beta", "gamma"]

[[pool]]
id = "compute"
split = "telemetry"
telemetry = "telemetry.csv"

[[pool]]
id = "ghost"
split = "proportional"
to = ["delta"]
"#;

const ORG_WITH_DELTA: &str = "\n[teams.delta]\nparent = \"ops-org\"\n";

/// CPU-hours by day (the 3rd and 4th) and for the month, for the `compute` pool.
const TELEMETRY: &str = "date,team,units\n2026-08-03,alpha,1\n2026-08-03,beta,2\n2026-08-03,gamma,4\n\
2026-08-04,alpha,0\n2026-08-04,beta,0\n";

fn month() -> August {
    let mut august = August::default();
    let charges: &[(&str, u32, &str, &str, &str, &str, &str)] = &[
        // account, day, category, billed, service, resource, tags
        ("111", 1, "Usage", "10.00", "Amazon EC2", "i-1", "{}"),
        ("999", 2, "Usage", "7.00", "Amazon EC2", "i-2", r#"{"Environment":" PROD ","app":"API"}"#),
        ("999", 2, "Usage", "7.00", "Amazon EC2", "i-2", r#"{"env":"prod","app":"batch"}"#),
        ("222", 3, "Usage", "100.00000000000000000001", "Amazon EC2", "i-3", "{}"),
        ("222", 12, "Usage", "33.33", "Amazon EC2", "i-3", "{}"),
        ("222", 20, "Usage", "-12.01", "Amazon EC2", "i-3", "{}"),
        ("999", 5, "Usage", "0.00000000000000000002", "Amazon S3", "bucket", "{}"),
        ("999", 6, "Usage", "1000000000000.99999999999999999999", "AmazonCloudWatch", "logs", "{}"),
        ("999", 7, "Tax", "1.00", "Tax", "", "{}"),
        ("999", 8, "Tax", "0.00000000000000000001", "Tax", "", "{}"),
        ("999", 9, "Usage", "4.5", "Amazon RDS", "arn:aws:rds:us-east-1:1:db:orders", "{}"),
        ("999", 3, "Usage", "7.7", "Amazon EC2", "i-0a77", "{}"),
        ("999", 4, "Usage", "7.7", "Amazon EC2", "i-0b77", "{}"),
        ("999", 5, "Usage", "7.7", "Amazon EC2", "i-0b78", "{}"),
        ("999", 9, "Usage", "2.2", "Amazon EBS", "vol-123x", "{}"),
        ("999", 9, "Usage", "2.2", "Amazon EBS", "vol-123y", "{}"),
        ("999", 10, "Usage", "3.1", "Amazon EC2", "i-9", r#"{"owner":"Beta-SVC"}"#),
        ("999", 10, "Usage", "3.1", "Amazon EC2", "i-9", r#"{"Team":"nobody"}"#),
        ("999", 11, "Usage", "3.1", "Amazon EC2", "i-9", r#"{"team":"  ","owner":"gamma"}"#),
        ("999", 11, "Usage", "5.0", "Amazon EC2", "i-10", "{}"),
        ("333", 16, "Usage", "8.0", "Amazon EC2", "i-11", "{}"),
        ("111", 16, "Credit", "-2.5", "Amazon EC2", "i-1", "{}"),
        // Containers, named by their tags (no split rows): cluster and namespace, a namespace
        // glob, a regex with a workload, a GKE label.
        (
            "999",
            17,
            "Usage",
            "1.25",
            "Amazon EC2",
            "pod-1",
            r#"{"aws:eks:cluster-name":"prod-eks","aws:eks:namespace":"Payments"}"#,
        ),
        ("999", 17, "Usage", "1.25", "Amazon EC2", "pod-2", r#"{"k8s-namespace":"ml-train"}"#),
        (
            "999",
            17,
            "Usage",
            "1.25",
            "Amazon EC2",
            "pod-3",
            r#"{"aws:eks:namespace":"batch-7","aws:eks:workload-name":"Nightly"}"#,
        ),
        ("999", 17, "Usage", "1.25", "Amazon EC2", "pod-4", r#"{"k8s-label/app":"search"}"#),
    ];
    for (account, day, category, billed, service, resource, tags) in charges {
        august.push(Charge { account, day: *day, category, billed, effective: billed, service, resource, tags });
    }
    august
}

fn setup() -> (Lake, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("august.csv");
    month().write(&csv);
    let mappings = dir.path().join("mappings");
    let org = format!("{ORG}{ORG_WITH_DELTA}");
    write_mappings(
        &mappings,
        &[("org.toml", &org), ("rules.toml", RULES), ("pools.toml", POOLS), ("telemetry.csv", TELEMETRY)],
    );
    let lake = Lake::new();
    lake.ingest_ok(&[csv.to_str().unwrap()], &["-q"]);
    (lake, dir)
}

#[test]
fn the_emitted_sql_attributes_every_rule_and_pool_kind_as_tally_does() {
    let (lake, dir) = setup();
    let rows = assert_sql_agrees(&lake, &dir.path().join("mappings"), &[]);
    // Every kind of outcome is in the table (counted by hand from the charges above): 11 lines
    // direct; the two Tax lines and the ml-train pod over 3 teams (even); the 222 lines of the 12th (3 teams under
    // eng) and 20th (2: gamma has moved to ops-org); 2 weights lines to alpha, beta and
    // platform's 3 (the 2e-20 line's billed part to platform is 0, its share is not); the
    // telemetry lines of the 3rd (its day) and 5th (the month's units); 6 unallocated.
    let outcomes =
        lake.rows("SELECT method, coalesce(split, '-'), count(*) FROM attributed GROUP BY 1, 2 ORDER BY 1, 2");
    assert_eq!(
        outcomes,
        [
            "direct,-,11",
            "shared,even,9",
            "shared,proportional,5",
            "shared,telemetry,6",
            "shared,weights,4",
            "shared,weights > proportional,6",
            "unallocated,-,6",
        ],
        "{rows} rows"
    );
    let reasons =
        lake.rows("SELECT DISTINCT unallocated_reason FROM attributed WHERE method = 'unallocated' ORDER BY 1");
    assert_eq!(
        reasons,
        [
            "no team tag and no rule for account 999",
            "pool compute: all weights are zero",
            "pool ghost: no team has direct spend to split by",
            "unknown team tag value `nobody`",
        ]
    );
}

#[test]
fn the_emitted_sql_agrees_for_one_period_of_several() {
    let (lake, dir) = setup();
    // A second month, so --period picks one.
    let september = dir.path().join("september.csv");
    let text = std::fs::read_to_string(dir.path().join("august.csv"))
        .unwrap()
        .replace("2026-08", "2026-09")
        .replace("2026-09-01T00:00:00Z,2026-09-01", "2026-09-01T00:00:00Z,2026-10-01");
    std::fs::write(&september, text).unwrap();
    lake.ingest_ok(&[september.to_str().unwrap()], &["-q"]);
    assert_sql_agrees(&lake, &dir.path().join("mappings"), &["--period", "2026-09"]);
    // September has no telemetry at all: the compute pool cannot split its lines.
    let reasons = lake.rows(
        "SELECT DISTINCT unallocated_reason FROM attributed WHERE billing_period = '2026-09' \
         AND unallocated_reason LIKE 'pool compute%' ORDER BY 1",
    );
    assert_eq!(
        reasons,
        [
            "pool compute: no telemetry for 2026-09-03 or its month",
            "pool compute: no telemetry for 2026-09-04 or its month",
            "pool compute: no telemetry for 2026-09-05 or its month",
        ]
    );
}

#[test]
fn the_emitted_sql_converts_into_the_reporting_currency_as_tally_does() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("mappings");
    // Reporting in euros from a USD bill: the ECB quotes USD per EUR, so each month's rate is
    // the inverse of its last quote (month-end) or of its quotes' average.
    for policy in ["month-end", "monthly-average"] {
        write_mappings(
            &mappings,
            &[
                ("currency.toml", &format!("reporting = \"EUR\"\nrates = \"rates.csv\"\npolicy = \"{policy}\"\n")),
                ("rates.csv", "Date,USD,\n2026-08-31,1.1793,\n2026-08-28,1.1801,\n2026-08-03,1.0711,\n"),
            ],
        );
        assert_sql_agrees(&lake, &mappings, &[]);
        let converted = lake.value(
            "SELECT count(*) FROM attributed WHERE \"x_ReportingCurrency\" = 'EUR' AND \"x_ReportingEffectiveCost\" IS NOT NULL",
        );
        assert_eq!(converted, lake.value("SELECT count(*) FROM attributed"), "{policy}: every row converted");
    }
}

/// The split cost allocation fixtures' cluster (see `containers.rs`), with a pod namespace
/// sent to a pool and no catch-all, so node parts go direct, through a pool, and unallocated.
const K8S_RULES: &str = r#"
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
pool = "cluster-services"

[[rule]]
id = "trainer"
precedence = 35
workloads = ["trainer"]
team = "ml"
"#;

const K8S_POOLS: &str = r#"
[[pool]]
id = "cluster-services"
split = "weights"
weights = { platform = 2, k8s = 1 }
"#;

#[test]
fn the_emitted_sql_splits_nodes_by_their_pods_under_each_idle_policy_as_tally_does() {
    for source in ["aws-cur/split-cost-allocation-2026-08.csv", "aws-cur2/split-cost-allocation-2026-08.parquet"] {
        let lake = Lake::new();
        lake.ingest_ok(&[&crate::fixture(source)], &["-q"]);
        for policy in ["proportional", "owner", "unallocated"] {
            let dir = tempfile::tempdir().unwrap();
            let mappings = dir.path().join("mappings");
            let clusters = format!("[[cluster]]\nname = \"acme-eks\"\nidle = \"{policy}\"\nowner = \"k8s\"\n");
            write_mappings(
                &mappings,
                &[
                    ("org.toml", crate::containers::ORG),
                    ("rules.toml", K8S_RULES),
                    ("pools.toml", K8S_POOLS),
                    ("clusters.toml", &clusters),
                ],
            );
            assert_sql_agrees(&lake, &mappings, &[]);
            // The split is really there: node shares by pod namespace, idle by the policy.
            let kinds = lake.rows("SELECT DISTINCT coalesce(split, '-') FROM attributed ORDER BY 1");
            assert!(kinds.iter().any(|k| k == "kubernetes"), "{source} {policy}: {kinds:?}");
            assert!(kinds.iter().any(|k| k == "kubernetes > weights"), "{source} {policy}: {kinds:?}");
            assert!(kinds.iter().any(|k| k.starts_with("kubernetes > idle")), "{source} {policy}: {kinds:?}");
        }
    }
}

#[test]
fn the_demo_company_attributes_the_same_in_sql() {
    // Three months, a reorg, pools of every kind, a shared EKS cluster billed with split rows,
    // the payments family billed in euros and reported in dollars.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    tally_ok(&["demo", "--out", out.to_str().unwrap(), "--rows", "20000", "-q"]);
    let lake = Lake { path: out.join("lake"), ..Lake::new() };
    let rows = assert_sql_agrees(&lake, &out.join("mappings"), &[]);
    assert!(rows > 20000, "{rows}");
}

#[test]
fn public_exports_of_every_provider_attribute_the_same_in_sql() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::shared("aws-cur/focus-converters-cur-2023-11.csv")], &["-q"]);
    lake.ingest_ok(&[&crate::shared("azure/EA_ActualCost_Small.csv")], &["--format", "azure-actual", "-q"]);
    lake.ingest_ok(&[&crate::shared("gcp/2024-03-01_5.csv")], &["-q"]);
    lake.ingest_ok(&[&crate::shared("focus/focus-sample-data-1.0.csv")], &["--format", "focus", "-q"]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    let rules = r#"
[[rule]]
id = "compute"
precedence = 10
services = ["Amazon Elastic Compute Cloud", "AmazonEC2", "Virtual Machines", "Compute Engine"]
team = "alpha"

[[rule]]
id = "storage"
precedence = 20
resource_regex = "(?i)(bucket|storage|disk|s3)"
team = "beta"

[[rule]]
id = "taxes"
precedence = 5
charge_categories = ["Tax"]
pool = "overhead"

[[rule]]
id = "owner"
precedence = 30
team_from_tag = "team"

[[rule]]
id = "rest"
precedence = 99
everything = true
pool = "everyone"
"#;
    let pools = r#"
[[pool]]
id = "overhead"
split = "even"
to = ["alpha", "beta", "gamma"]

[[pool]]
id = "everyone"
split = "proportional"
"#;
    write_mappings(&mappings, &[("org.toml", ORG), ("rules.toml", rules), ("pools.toml", pools)]);
    let rows = assert_sql_agrees(&lake, &mappings, &[]);
    let providers = lake.value("SELECT count(DISTINCT provider) FROM attributed");
    assert_eq!(providers, "4", "{rows} rows");
}

/// The GKE cost allocation fixture (see `containers.rs`): namespace rows by the rules, one
/// namespace through a pool, idle rows (`kube:unallocated`) by each policy.
const GKE_RULES: &str = r#"
[[rule]]
id = "checkout-namespace"
precedence = 10
namespaces = ["checkout"]
team = "alpha"

[[rule]]
id = "search-label"
precedence = 20
k8s_labels = { app = "search" }
pool = "search-pool"

[[rule]]
id = "system"
precedence = 30
namespace_glob = "kube-*"
team = "gamma"

[[rule]]
id = "cluster"
precedence = 50
clusters = ["shop-gke"]
team = "beta"
"#;

#[test]
fn gke_idle_rows_go_by_each_policy_in_the_emitted_sql_as_in_tally() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture("gcp/gke-cost-allocation-2026-08.json")], &["-q"]);
    for policy in ["proportional", "owner", "unallocated"] {
        let dir = tempfile::tempdir().unwrap();
        let mappings = dir.path().join("mappings");
        let clusters = format!("[[cluster]]\nname = \"shop-gke\"\nidle = \"{policy}\"\nowner = \"gamma\"\n");
        let pools = "[[pool]]\nid = \"search-pool\"\nsplit = \"weights\"\nweights = { alpha = 1, beta = 2 }\n";
        write_mappings(
            &mappings,
            &[("org.toml", ORG), ("rules.toml", GKE_RULES), ("pools.toml", pools), ("clusters.toml", &clusters)],
        );
        assert_sql_agrees(&lake, &mappings, &[]);
        let idle = lake.value("SELECT count(*) FROM attributed WHERE split LIKE 'kubernetes > idle%'");
        assert_ne!(idle, "0", "{policy}: idle rows split by the policy");
    }
}

// Spark in local mode takes about a minute a case (a job per statement): these run as their
// own step of .ci/run (`cargo test --test it -- --ignored spark_`).

#[test]
#[ignore = "Spark: .ci/run runs these as their own step"]
fn spark_attributes_every_rule_and_pool_kind_as_tally_does() {
    let (lake, dir) = setup();
    assert_dialect_agrees(&lake, &dir.path().join("mappings"), &[], "spark");
}

#[test]
#[ignore = "Spark: .ci/run runs these as their own step"]
fn spark_attributes_the_demo_company_as_tally_does() {
    // The shared EKS cluster's node lines split by their pods, the euro-billed family
    // converted into dollars, pools of every kind.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    tally_ok(&["demo", "--out", out.to_str().unwrap(), "--rows", "3000", "--months", "1", "-q"]);
    let lake = Lake { path: out.join("lake"), ..Lake::new() };
    assert_dialect_agrees(&lake, &out.join("mappings"), &[], "spark");
}

#[test]
#[ignore = "Spark: .ci/run runs these as their own step"]
fn spark_spreads_gke_idle_rows_as_tally_does() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture("gcp/gke-cost-allocation-2026-08.json")], &["-q"]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    let pools = "[[pool]]\nid = \"search-pool\"\nsplit = \"weights\"\nweights = { alpha = 1, beta = 2 }\n";
    let clusters = "[[cluster]]\nname = \"shop-gke\"\nidle = \"proportional\"\n";
    write_mappings(
        &mappings,
        &[("org.toml", ORG), ("rules.toml", GKE_RULES), ("pools.toml", pools), ("clusters.toml", clusters)],
    );
    assert_dialect_agrees(&lake, &mappings, &[], "spark");
}

#[test]
fn running_the_emitted_sql_again_replaces_its_output() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("mappings");
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), "-q"]);
    let sql = dir.path().join("sql");
    let args = ["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), "--emit-sql"];
    tally_ok(&[&args[..], &[sql.to_str().unwrap(), "-q"]].concat());
    for _ in 0..2 {
        run_emitted(&sql).unwrap();
    }
    let diff = differences(&lake.path.join("attributed"), &sql.join("attributed"));
    assert!(diff.is_empty(), "a second run must replace the first, not add to it:\n{diff}");
}
