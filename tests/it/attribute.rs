//! `tally attribute` on a hand-built month: every rule kind, every pool kind,
//! a reorg, an effective-dated rule, and the unallocated reasons. Expected
//! splits were worked out with Python's `fractions` (largest remainder at 20
//! decimal places), not by tally.

use std::path::Path;

use crate::support::{August, Charge};
use crate::{Lake, tally};

/// (account, day, category, billed, effective, tags JSON)
const ROWS: [(&str, u32, &str, &str, &str, &str); 10] = [
    ("111", 3, "Usage", "10.00", "10.00", "{}"),
    ("222", 3, "Usage", "20.00", "18.00", r#"{"Team":"BETA-svc"}"#),
    ("222", 4, "Usage", "5.00", "5.00", r#"{"owner-team":"nobody"}"#),
    ("222", 4, "Usage", "7.00", "7.00", "{}"),
    ("333", 5, "Usage", "100.00", "100.00", "{}"),
    ("333", 6, "Tax", "1.00", "1.00", "{}"),
    ("444", 10, "Usage", "9.00", "9.00", "{}"),
    ("555", 12, "Usage", "4.00", "4.00", "{}"),
    ("666", 20, "Usage", "3.00", "3.00", "{}"),
    ("666", 14, "Usage", "2.00", "2.00", "{}"),
];

use crate::support::ORG;

pub const RULES: &str = r#"
[tag_aliases]
team = ["Team", "owner-team"]

[[rule]]
id = "acct-666-before"
precedence = 5
accounts = ["666"]
until = 2026-08-15
team = "beta"

[[rule]]
id = "tax"
precedence = 6
charge_categories = ["Tax"]
pool = "overhead"

[[rule]]
id = "acct-111"
precedence = 10
accounts = ["111"]
team = "alpha"

[[rule]]
id = "acct-666"
precedence = 10
accounts = ["666"]
team = "gamma"

[[rule]]
id = "shared-333"
precedence = 20
accounts = ["333"]
pool = "ops"

[[rule]]
id = "cluster"
precedence = 20
accounts = ["444"]
pool = "cluster"

[[rule]]
id = "platform"
precedence = 20
accounts = ["555"]
pool = "platform"

[[rule]]
id = "team-tag"
precedence = 100
team_from_tag = "team"
"#;

pub const POOLS: &str = r#"
[[pool]]
id = "ops"
split = "even"
to = ["alpha", "beta", "gamma"]

[[pool]]
id = "overhead"
split = "proportional"

[[pool]]
id = "cluster"
split = "telemetry"
telemetry = "telemetry/cluster.csv"

[[pool]]
id = "platform"
split = "weights"
weights = { gamma = 1, "pool:ops" = 1 }
"#;

pub fn write_mappings(dir: &Path, rules: &str, pools: &str) {
    let telemetry = "date,team,units\n2026-08-10,alpha,1\n2026-08-10,gamma,2\n";
    crate::support::write_mappings(
        dir,
        &[("org.toml", ORG), ("rules.toml", rules), ("pools.toml", pools), ("telemetry/cluster.csv", telemetry)],
    );
}

/// A lake holding the hand-built month, and a mappings folder beside it.
pub fn setup() -> (Lake, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut month = August::default();
    for (account, day, category, billed, effective, tags) in ROWS {
        let resource = format!("res-{account}");
        month.push(Charge { account, day, category, billed, effective, service: "Compute", resource: &resource, tags });
    }
    let file = dir.path().join("month.csv");
    month.write(&file);
    let lake = Lake::new();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    write_mappings(&dir.path().join("mappings"), RULES, POOLS);
    (lake, dir)
}

pub fn attribute(lake: &Lake, mappings: &Path, extra: &[&str]) -> crate::Run {
    let mut args = vec!["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()];
    args.extend_from_slice(extra);
    tally(&args)
}

#[test]
fn every_dollar_lands_with_its_rule_and_split() {
    let (lake, dir) = setup();
    let run = attribute(&lake, &dir.path().join("mappings"), &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("attributed 10 line item(s) in 1 period(s) as 18 row(s)"), "{}", run.stdout);
    assert_eq!(
        lake.rows(
            r#"SELECT "x_SourceRow", team, org_path, org_path_current, rule_id, method, pool, split, unallocated_reason, share, "BilledCost", "EffectiveCost"
               FROM attributed ORDER BY "x_SourceRow", team, pool"#
        ),
        vec![
            "1,alpha,acme/eng/alpha,acme/eng/alpha,acct-111,direct,,,,1,10,10",
            "2,beta,acme/eng/beta,acme/eng/beta,team-tag,direct,,,,1,20,18",
            "3,unallocated,unallocated,unallocated,,unallocated,,,unknown team tag value `nobody`,1,5,5",
            "4,unallocated,unallocated,unallocated,,unallocated,,,no team tag and no rule for account 222,1,7,7",
            "5,alpha,acme/eng/alpha,acme/eng/alpha,shared-333,shared,ops,even,,0.33333333333333333334,33.33333333333333333334,33.33333333333333333334",
            "5,beta,acme/eng/beta,acme/eng/beta,shared-333,shared,ops,even,,0.33333333333333333333,33.33333333333333333333,33.33333333333333333333",
            "5,gamma,acme/eng/gamma,acme/ops-org/gamma,shared-333,shared,ops,even,,0.33333333333333333333,33.33333333333333333333,33.33333333333333333333",
            // Direct EffectiveCost: alpha 10, beta 18 + 2, gamma 3.
            "6,alpha,acme/eng/alpha,acme/eng/alpha,tax,shared,overhead,proportional,,0.3030303030303030303,0.3030303030303030303,0.3030303030303030303",
            "6,beta,acme/eng/beta,acme/eng/beta,tax,shared,overhead,proportional,,0.60606060606060606061,0.60606060606060606061,0.60606060606060606061",
            "6,gamma,acme/eng/gamma,acme/ops-org/gamma,tax,shared,overhead,proportional,,0.09090909090909090909,0.09090909090909090909,0.09090909090909090909",
            "7,alpha,acme/eng/alpha,acme/eng/alpha,cluster,shared,cluster,telemetry,,0.33333333333333333333,3,3",
            "7,gamma,acme/eng/gamma,acme/ops-org/gamma,cluster,shared,cluster,telemetry,,0.66666666666666666667,6,6",
            "8,alpha,acme/eng/alpha,acme/eng/alpha,platform,shared,platform > ops,weights > even,,0.16666666666666666667,0.66666666666666666667,0.66666666666666666667",
            "8,beta,acme/eng/beta,acme/eng/beta,platform,shared,platform > ops,weights > even,,0.16666666666666666667,0.66666666666666666667,0.66666666666666666667",
            "8,gamma,acme/eng/gamma,acme/ops-org/gamma,platform,shared,platform,weights,,0.5,2,2",
            "8,gamma,acme/eng/gamma,acme/ops-org/gamma,platform,shared,platform > ops,weights > even,,0.16666666666666666666,0.66666666666666666666,0.66666666666666666666",
            "9,gamma,acme/ops-org/gamma,acme/ops-org/gamma,acct-666,direct,,,,1,3,3",
            "10,beta,acme/eng/beta,acme/eng/beta,acct-666-before,direct,,,,1,2,2",
        ]
    );
    // Billed 161 and amortized 159 in; direct 33, shared 114, unallocated 12 (7.5%), to the cent.
    assert!(
        run.stdout.contains("│ 2026-08        │ USD      │     $161.00 │        $159.00 │ $33.00 │ $114.00 │      $12.00 │             7.5 │"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "│ 2026-08        │ USD      │ no team tag and no rule for account 222 │          1 │          $7.00 │"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn rerun_gives_the_same_bytes() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("mappings");
    assert_eq!(attribute(&lake, &mappings, &["-q"]).code, 0);
    let file = lake.path.join("attributed/billing_period=2026-08/part-0.parquet");
    let first = std::fs::read(&file).unwrap();
    assert_eq!(attribute(&lake, &mappings, &["-q", "--period", "2026-08"]).code, 0);
    assert_eq!(std::fs::read(&file).unwrap(), first);
    assert!(!lake.path.join("_staging").read_dir().is_ok_and(|mut d| d.next().is_some()));
}

#[test]
fn mapping_errors_name_file_and_line() {
    let (lake, dir) = setup();
    let cases = [
        (
            RULES.replace("team = \"alpha\"", "team = \"zeta\""),
            POOLS.to_string(),
            "rules.toml:19: rule `acct-111`: unknown team `zeta` (not in org.toml)",
        ),
        (
            RULES.to_string(),
            POOLS.replace("to = [\"alpha\", \"beta\", \"gamma\"]", "to = [\"alpha\", \"pool:platform\"]"),
            "pools.toml:3: pool `ops`: pool cycle: ops -> platform -> ops",
        ),
        (
            RULES.replace("precedence = 5", "precedence = \"high\""),
            POOLS.to_string(),
            "rules.toml:7: invalid type: string \"high\", expected i64",
        ),
        (
            RULES.replace("until = 2026-08-15", "until = 2026-08-01\nfrom = 2026-08-15"),
            POOLS.to_string(),
            "rules.toml:6: rule `acct-666-before`: from 2026-08-15 is not before until 2026-08-01",
        ),
    ];
    for (rules, pools, message) in cases {
        let mappings = dir.path().join("bad");
        let _ = std::fs::remove_dir_all(&mappings);
        write_mappings(&mappings, &rules, &pools);
        let run = attribute(&lake, &mappings, &[]);
        assert_eq!(run.code, 1, "{message}");
        let expected = format!("error: {}/{message}", mappings.display());
        assert!(run.stderr.contains(&expected), "expected {expected}\ngot {}", run.stderr);
    }
}

#[test]
fn unknown_period_and_empty_lake_are_clear() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("mappings");
    let run = attribute(&lake, &mappings, &["--period", "2026-07"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: billing period 2026-07 is not in the lake (it has 2026-08)"), "{}", run.stderr);
    let run = attribute(&lake, &mappings, &["--period", "August"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("\"August\" is not a billing period like 2026-08"), "{}", run.stderr);
    let empty = Lake::new();
    let run = attribute(&empty, &mappings, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has no line items: run `tally ingest` first"), "{}", run.stderr);
}

#[test]
fn azure_resource_groups_match_case_insensitively() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::shared("azure/EA_ActualCost_Small.csv")], &["--format", "azure-actual"]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path();
    std::fs::write(mappings.join("org.toml"), "[teams.lab]\n[teams.capacity]\n").unwrap();
    std::fs::write(
        mappings.join("rules.toml"),
        r#"
[[rule]]
id = "dev-test-labs"
precedence = 1
resource_groups = ["EXAMPLE-DTL-dtlwebmysql-186455", "example-dtl-DTLWeb-128359"]
team = "lab"

[[rule]]
id = "capacity"
precedence = 2
resource_groups = ["capres_test"]
team = "capacity"
"#,
    )
    .unwrap();
    let run = attribute(&lake, mappings, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Python csv + decimal over the file's Cost column, grouped by ResourceGroup:
    // the two DTL groups 1.9584 + 0.4838709677419368, CapRes_Test 2.64, the other rows 3.462736819.
    assert_eq!(
        lake.rows(r#"SELECT team, count(*), sum("BilledCost"), min(rule_id) FROM attributed GROUP BY 1 ORDER BY 1"#),
        vec!["capacity,1,2.64,capacity", "lab,2,2.4422709677419368,dev-test-labs", "unallocated,8,3.462736819,"]
    );
    assert_eq!(lake.value(r#"SELECT "x_ResourceGroup" FROM attributed WHERE team = 'capacity'"#), "CapRes_Test");
}

#[test]
fn line_items_sharing_a_source_row_split_cleanly() {
    // GCP credits are line items of their own on their usage row's x_SourceRow: the hand-written
    // fixture month has 11 line items on 7 source rows, billed and effective 11.900004 (worked out
    // by hand in tests/it/ingest_gcp.rs). Each is split three ways.
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture("gcp/gcp-detailed-2024-05.json")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path();
    std::fs::write(mappings.join("org.toml"), "[teams.a]\n[teams.b]\n[teams.c]\n").unwrap();
    std::fs::write(
        mappings.join("rules.toml"),
        "[[rule]]\nid = \"all\"\nprecedence = 1\neverything = true\npool = \"shared\"\n",
    )
    .unwrap();
    std::fs::write(
        mappings.join("pools.toml"),
        "[[pool]]\nid = \"shared\"\nsplit = \"even\"\nto = [\"a\", \"b\", \"c\"]\n",
    )
    .unwrap();
    let run = attribute(&lake, mappings, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lake.value(r#"SELECT count(*), count(DISTINCT "x_SourceRow"), sum("BilledCost"), sum("EffectiveCost"), sum(share) FROM attributed"#),
        "33,7,11.900004,11.900004,11"
    );
}
