//! Property: for random line items and random mappings (rules of every
//! kind in random precedence, pools of every fixed kind feeding each
//! other), attribution succeeds and, checked here independently of tally's
//! own checks, every line's shares add to exactly 1 and its pieces to its
//! exact costs, and the totals per currency equal the generated amounts; and the mappings
//! emitted as SQL (`--emit-sql`) give the same rows on DuckDB, to the last decimal.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::{Lake, tally};

const TEAMS: [&str; 4] = ["t1", "t2", "t3", "t4"];
const ACCOUNTS: [&str; 4] = ["a1", "a2", "a3", "a4"];
const SERVICES: [&str; 3] = ["Compute", "Storage", "Network"];
const TAG_VALUES: [&str; 5] = ["t1", "T2", "team-three", "nobody", ""];

#[derive(Debug, Clone)]
struct Line {
    account: usize,
    service: usize,
    tag: usize,
    currency: usize,
    day: u32,
    category: usize,
    /// Millionths.
    billed: i64,
    effective: i64,
}

fn line() -> impl Strategy<Value = Line> {
    (
        0..4usize,
        0..3usize,
        0..5usize,
        0..2usize,
        1..29u32,
        0..3usize,
        -2_000_000_000i64..9_000_000_000,
        -1_000i64..1_000,
    )
        .prop_map(|(account, service, tag, currency, day, category, billed, skew)| Line {
            account,
            service,
            tag,
            currency,
            day,
            category,
            billed,
            effective: billed + skew * 997,
        })
}

#[derive(Debug, Clone)]
struct RuleGen {
    kind: usize,
    value: usize,
    precedence: i64,
    /// Team index, or a pool index when >= 4.
    target: usize,
    from_day: Option<u32>,
}

fn rule() -> impl Strategy<Value = RuleGen> {
    (0..5usize, 0..4usize, 0..50i64, 0..7usize, proptest::option::of(2..28u32))
        .prop_map(|(kind, value, precedence, target, from_day)| RuleGen { kind, value, precedence, target, from_day })
}

/// Pools p0 (even), p1 (weights, feeding p0) and p2 (proportional).
const POOLS: &str = r#"
[[pool]]
id = "p0"
split = "even"
to = ["t1", "t2", "t3"]

[[pool]]
id = "p1"
split = "weights"
weights = { t4 = 3, "pool:p0" = 7 }

[[pool]]
id = "p2"
split = "proportional"
"#;

fn mappings(rules: &[RuleGen]) -> String {
    let mut text = String::from("[tag_aliases]\nteam = [\"Team\", \"owner\"]\n");
    for (i, r) in rules.iter().enumerate() {
        let condition = match r.kind {
            0 => format!("accounts = [\"{}\"]", ACCOUNTS[r.value]),
            1 => format!("services = [\"{}\"]", SERVICES[r.value % 3]),
            2 => format!("tags = {{ team = [\"{}\"] }}", TAG_VALUES[r.value]),
            3 => format!("resource_regex = \"^res-a[{}-4]$\"", r.value + 1),
            _ => "charge_categories = [\"Tax\", \"Credit\"]".to_string(),
        };
        let target = match r.target {
            t @ 0..4 => format!("team = \"{}\"", TEAMS[t]),
            p => format!("pool = \"p{}\"", p - 4),
        };
        let from = r.from_day.map(|d| format!("from = 2026-03-{d:02}\n")).unwrap_or_default();
        text.push_str(&format!(
            "\n[[rule]]\nid = \"r{i}\"\nprecedence = {}\n{condition}\n{target}\n{from}",
            r.precedence
        ));
    }
    text.push_str("\n[[rule]]\nid = \"by-tag\"\nprecedence = 60\nteam_from_tag = \"team\"\n");
    text
}

fn millionths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", value.unsigned_abs() / 1_000_000, value.unsigned_abs() % 1_000_000)
}

fn check_case(lines: &[Line], rules: &[RuleGen]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    // One file per currency (an export never mixes them), each its own billing account.
    let header = "BillingAccountId,SubAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,ResourceId,Tags\n";
    let mut csv = [header.to_string(), header.to_string()];
    let mut expected = [[0i64; 2]; 2];
    for l in lines {
        let tag = match TAG_VALUES[l.tag] {
            "" => "{}".to_string(),
            v => format!("{{\"\"{}\"\":\"\"{v}\"\"}}", ["team", "Team", "owner"][l.day as usize % 3]),
        };
        let currency = ["USD", "EUR"][l.currency];
        csv[l.currency].push_str(&format!(
            "payer-{currency},{account},{currency},2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,2026-03-{day:02}T00:00:00Z,2026-03-{next:02}T00:00:00Z,{category},{billed},{effective},{service},res-{account},\"{tag}\"\n",
            account = ACCOUNTS[l.account],
            day = l.day,
            next = l.day + 1,
            category = ["Usage", "Tax", "Credit"][l.category],
            billed = millionths(l.billed),
            effective = millionths(l.effective),
            service = SERVICES[l.service],
        ));
        expected[l.currency][0] += l.billed;
        expected[l.currency][1] += l.effective;
    }
    let mut files = Vec::new();
    for (currency, text) in ["usd", "eur"].iter().zip(&csv) {
        if text.len() > header.len() {
            let file = dir.path().join(format!("{currency}.csv"));
            std::fs::write(&file, text).unwrap();
            files.push(file.to_str().unwrap().to_string());
        }
    }
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).unwrap();
    let org = "[nodes]\nco = {}\n[teams.t1]\nparent = \"co\"\n[teams.t2]\nparent = \"co\"\n[teams.t3]\nparent = \"co\"\naliases = [\"team-three\"]\n[teams.t4]\nparent = \"co\"\n";
    std::fs::write(mappings.join("org.toml"), org).unwrap();
    std::fs::write(mappings.join("rules.toml"), mappings_text(rules)).unwrap();
    std::fs::write(mappings.join("pools.toml"), POOLS).unwrap();

    let lake = Lake::new();
    lake.ingest_ok(&files.iter().map(String::as_str).collect::<Vec<_>>(), &["-q"]);
    let run = tally(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), "-q"]);
    prop_assert_eq!(run.code, 0, "{}\n{}", run.stderr, mappings_text(rules));

    // The same mappings emitted as SQL and run on DuckDB give the same rows, to the last decimal.
    let sql = dir.path().join("sql");
    let emitted = tally(&[
        "attribute",
        "--lake",
        lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--emit-sql",
        sql.to_str().unwrap(),
        "-q",
    ]);
    prop_assert_eq!(emitted.code, 0, "{}", emitted.stderr);
    if let Err(e) = crate::emit_sql::run_emitted(&sql) {
        return Err(TestCaseError::fail(format!("emitted SQL failed: {e}\n{}", mappings_text(rules))));
    }
    let diff = crate::emit_sql::differences(&lake.path.join("attributed"), &sql.join("attributed"));
    prop_assert!(diff.is_empty(), "emitted SQL disagrees:\n{}\n{}", diff, mappings_text(rules));

    let bad_lines = lake.value(
        r#"SELECT count(*) FROM (SELECT "x_SourceFile", "x_SourceRow" FROM attributed GROUP BY 1, 2
           HAVING sum(share) <> 1) s"#,
    );
    prop_assert_eq!(bad_lines, "0");
    let bad_pieces = lake.value(
        r#"SELECT count(*) FROM (SELECT "x_SourceFile" AS f, "x_SourceRow" AS r, sum("BilledCost") AS b, sum("EffectiveCost") AS e
           FROM attributed GROUP BY 1, 2) a JOIN line_items l ON l."x_SourceFile" = a.f AND l."x_SourceRow" = a.r
           WHERE a.b <> l."BilledCost" OR a.e <> l."EffectiveCost""#,
    );
    prop_assert_eq!(bad_pieces, "0");
    let mut want = Vec::new();
    for (currency, sums) in ["EUR", "USD"].iter().zip([expected[1], expected[0]]) {
        if lines.iter().any(|l| ["USD", "EUR"][l.currency] == *currency) {
            want.push(format!("{currency},{},{}", trim(millionths(sums[0])), trim(millionths(sums[1]))));
        }
    }
    prop_assert_eq!(
        lake.rows(
            r#"SELECT "BillingCurrency", sum("BilledCost"), sum("EffectiveCost") FROM attributed GROUP BY 1 ORDER BY 1"#
        ),
        want
    );
    Ok(())
}

fn mappings_text(rules: &[RuleGen]) -> String {
    mappings(rules)
}

/// Decimals as tally prints them: no trailing zeros.
fn trim(text: String) -> String {
    let trimmed = text.trim_end_matches('0').trim_end_matches('.').to_string();
    if trimmed == "-0" { "0".to_string() } else { trimmed }
}

#[test]
fn random_rules_and_lines_reconcile_exactly() {
    // Each case runs the real binary twice; a few dozen cases keep the suite quick.
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    let strategy = (proptest::collection::vec(line(), 1..40), proptest::collection::vec(rule(), 0..12));
    runner.run(&strategy, |(lines, rules)| check_case(&lines, &rules)).unwrap();
}
