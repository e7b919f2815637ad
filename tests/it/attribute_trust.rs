//! The commands that make attribution trustworthy and changeable, on the
//! hand-built month of `attribute.rs`: `explain`, `check`, `diff`, and
//! period locks with restatements. Split figures were worked out with
//! Python's `fractions` (largest remainder at 20 decimal places).

use std::path::Path;

use crate::attribute::{POOLS, RULES, attribute, setup, write_mappings};
use crate::tally;

fn explain(lake: &crate::Lake, mappings: &Path, id: &str) -> crate::Run {
    tally(&["explain", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap(), id])
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle present") + 1
}

#[test]
fn explain_shows_winner_losers_and_dates() {
    let (lake, dir) = setup();
    let run = explain(&lake, &dir.path().join("mappings"), "res-666");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Two line items: the 14th (before the handover on the 15th) and the 20th.
    let text = run.stdout;
    assert!(text.contains("  charged   2026-08-20, billing period 2026-08\n"), "{text}");
    assert!(
        text.contains(
            "    skips acct-666-before (precedence 5) not in effect on 2026-08-20 (until 2026-08-15)\n          when accounts 666; until 2026-08-15\n    WINS  acct-666 (precedence 10) -> team gamma\n          when accounts 666\n"
        ),
        "{text}"
    );
    assert!(text.contains("  owner: gamma (acme/ops-org/gamma), direct\n"), "{text}");
    assert!(
        text.contains(
            "    WINS  acct-666-before (precedence 5) -> team beta\n          when accounts 666; until 2026-08-15\n    loses acct-666 (precedence 10) -> team gamma\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  acct-666-before wins: lower precedence first, ties by id; 1 other rule(s) lost\n"),
        "{text}"
    );
    assert!(text.contains("  owner: beta (acme/eng/beta), direct\n"), "{text}");
    assert!(
        text.contains("    skips team-tag (precedence 100) no team tag\n          when tag team names a team\n"),
        "{text}"
    );
}

#[test]
fn explain_shows_how_nested_pools_split() {
    let (lake, dir) = setup();
    let run = explain(&lake, &dir.path().join("mappings"), "res-555");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = "\
  owner: shared through pool platform
    pool platform splits by fixed weights: gamma 1, pool:ops 1
    pool ops splits evenly: alpha 1, beta 1, gamma 1
    ┌───────┬────────────────┬────────────────┬────────────────────────┬─────────────────────┬─────────────────────┐
    │ team  │ org path       │ via            │ share                  │ BilledCost          │ EffectiveCost       │
    ├───────┼────────────────┼────────────────┼────────────────────────┼─────────────────────┼─────────────────────┤
    │ gamma │ acme/eng/gamma │ platform       │ 0.5                    │ 2                   │ 2                   │
    │ alpha │ acme/eng/alpha │ platform > ops │ 0.16666666666666666667 │ 0.66666666666666666667 │ 0.66666666666666666667 │
";
    // The table widths depend on the widest cell; compare the figures row by row instead of the frame.
    let rows: Vec<Vec<String>> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('│'))
        .map(|l| l.split('│').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["team", "org path", "via", "share", "BilledCost", "EffectiveCost"],
            vec!["gamma", "acme/eng/gamma", "platform", "0.5", "2", "2"],
            vec![
                "alpha",
                "acme/eng/alpha",
                "platform > ops",
                "0.16666666666666666667",
                "0.66666666666666666667",
                "0.66666666666666666667"
            ],
            vec![
                "beta",
                "acme/eng/beta",
                "platform > ops",
                "0.16666666666666666667",
                "0.66666666666666666667",
                "0.66666666666666666667"
            ],
            vec![
                "gamma",
                "acme/eng/gamma",
                "platform > ops",
                "0.16666666666666666666",
                "0.66666666666666666666",
                "0.66666666666666666666"
            ],
        ],
        "{}",
        run.stdout
    );
    let head: String = expected.lines().take(3).map(|l| format!("{l}\n")).collect();
    assert!(run.stdout.contains(&head), "{}", run.stdout);
    assert!(run.stdout.contains("    WINS  platform (precedence 20) -> pool platform\n          when accounts 555\n"));
}

#[test]
fn explain_names_unknown_tag_values_and_missing_ids() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("mappings");
    let run = explain(&lake, &mappings, "res-222");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("  tags      team=nobody (canonical)\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("    skips team-tag (precedence 100) tag team = `nobody` names no team\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  owner: unallocated: unknown team tag value `nobody`\n"), "{}", run.stdout);
    assert!(run.stdout.contains("  tags      team=beta-svc (canonical)\n"), "{}", run.stdout);

    let run = explain(&lake, &mappings, "i-nothing");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("error: no line item has x_SourceLineItemId or ResourceId `i-nothing` in the lake"),
        "{}",
        run.stderr
    );
}

fn check(mappings: &Path, extra: &[&str]) -> crate::Run {
    let mut args = vec!["check", "--mappings", mappings.to_str().unwrap()];
    args.extend_from_slice(extra);
    tally(&args)
}

#[test]
fn check_passes_clean_mappings() {
    let (lake, dir) = setup();
    let run = check(&dir.path().join("mappings"), &["--lake", lake.arg()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "0 error(s), 0 warning(s) in 8 rule(s), 3 team(s), 4 pool(s)\n");
}

#[test]
fn check_finds_shadowed_rules_gaps_ties_dead_rules_and_unused_pools() {
    let (lake, dir) = setup();
    let rules = RULES.replace(
        "id = \"acct-666\"\nprecedence = 10\naccounts = [\"666\"]",
        "id = \"acct-666\"\nprecedence = 10\naccounts = [\"666\"]\nfrom = 2026-08-20",
    ) + r#"
[[rule]]
id = "acct-111-again"
precedence = 50
accounts = ["111"]
team = "beta"

[[rule]]
id = "acct-999"
precedence = 30
accounts = ["999"]
team = "alpha"

[[rule]]
id = "beta-tag"
precedence = 100
tags = { team = ["beta-svc"] }
team = "beta"
"#;
    let pools = POOLS.to_string() + "\n[[pool]]\nid = \"spare\"\nsplit = \"even\"\nto = [\"alpha\"]\n";
    let mappings = dir.path().join("linted");
    write_mappings(&mappings, &rules, &pools);
    let at = |id: &str| line_of(&rules, &format!("id = \"{id}\""));
    let expected_static = [
        format!(
            "error[date-gap] rules.toml:{}: rules `acct-666-before` (until 2026-08-15) and `acct-666` (from 2026-08-20) \
             have the same conditions (accounts 666) but leave 2026-08-15 to 2026-08-19 uncovered: that spend would be unallocated",
            at("acct-666")
        ),
        format!(
            "error[shadowed] rules.toml:{}: rule `acct-111-again` (precedence 50) can never win: rule `acct-111` \
             (precedence 10) matches every line it matches and comes first; give it a lower precedence or remove it",
            at("acct-111-again")
        ),
        format!(
            "warning[unused-pool] pools.toml:{}: pool `spare` receives nothing: no rule targets it and no pool feeds it",
            line_of(&pools, "id = \"spare\"")
        ),
        format!(
            "warning[tie] rules.toml:{}: rules `beta-tag` and `team-tag` share precedence 100 and can match the same \
             line; `beta-tag` wins only because its id sorts first: give them distinct precedences",
            at("team-tag")
        ),
    ];
    let run = check(&mappings, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    let summary = lines.pop().unwrap();
    assert_eq!(lines, expected_static.iter().map(String::as_str).collect::<Vec<_>>(), "{}", run.stdout);
    assert_eq!(summary, "2 error(s), 2 warning(s) in 11 rule(s), 3 team(s), 5 pool(s)");

    // Replaying the month: account 999 has no spend; the shadowed rule matched line 1 but lost.
    let run = check(&mappings, &["--lake", lake.arg()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!(
            "warning[dead] rules.toml:{}: rule `acct-999` matched none of the 10 line items in 2026-08\n",
            at("acct-999")
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "warning[never-wins] rules.toml:{}: rule `acct-111-again` matched 1 line item(s) in 2026-08 but never won (beaten by `acct-111`)\n",
            at("acct-111-again")
        )),
        "{}",
        run.stdout
    );
    // team-tag's only line (beta-svc) now goes to beta-tag: team-tag never wins either.
    assert!(run.stdout.ends_with("2 error(s), 5 warning(s) in 11 rule(s), 3 team(s), 5 pool(s)\n"), "{}", run.stdout);
}

#[test]
fn check_reports_structural_errors_and_warnings_can_fail() {
    let (_lake, dir) = setup();
    let mappings = dir.path().join("broken");
    write_mappings(&mappings, &RULES.replace("team = \"alpha\"", "team = \"zeta\""), POOLS);
    let run = check(&mappings, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        format!(
            "error[invalid] {}/rules.toml:19: rule `acct-111`: unknown team `zeta` (not in org.toml)\n1 error\n",
            mappings.display()
        )
    );
    let mappings = dir.path().join("warned");
    write_mappings(
        &mappings,
        RULES,
        &(POOLS.to_string() + "\n[[pool]]\nid = \"spare\"\nsplit = \"even\"\nto = [\"alpha\"]\n"),
    );
    assert_eq!(check(&mappings, &[]).code, 0);
    assert_eq!(check(&mappings, &["--deny-warnings"]).code, 1);
}

/// The new mappings give account 111 (line 1: 10.00) to beta instead of alpha.
fn new_mappings(dir: &Path) -> std::path::PathBuf {
    let mappings = dir.join("new");
    write_mappings(
        &mappings,
        &RULES.replace("accounts = [\"111\"]\nteam = \"alpha\"", "accounts = [\"111\"]\nteam = \"beta\""),
        POOLS,
    );
    mappings
}

#[test]
fn diff_shows_moves_team_changes_and_coverage() {
    let (lake, dir) = setup();
    let old = dir.path().join("mappings");
    let new = new_mappings(dir.path());
    let args = |format: &'static str| {
        vec![
            "diff".to_string(),
            "--lake".to_string(),
            lake.arg().to_string(),
            "--mappings".to_string(),
            old.display().to_string(),
            "--mappings".to_string(),
            new.display().to_string(),
            "--format".to_string(),
            format.to_string(),
        ]
    };
    let markdown = args("markdown");
    let run = tally(&markdown.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // By hand: alpha loses line 1 (10) and its proportional share of the 1.00 tax (10/33 -> 0);
    // beta gains both (20/33 -> 30/33 of the tax). Before: alpha 10 + 100/3 + 10/33 + 3 + 2/3,
    // beta 18 + 100/3 + 20/33 + 2/3 + 2. Coverage is unchanged: direct 33, shared 114,
    // unallocated 12 of 159.
    // (Markdown cells are escaped text: `->` is written `-&gt;`.)
    let expected_tail = "\
#### coverage of EffectiveCost (%)

| period | currency | direct_pct | shared_pct | unallocated_pct | unallocated_before | unallocated_after |
|---|---|---|---|---|---:|---:|
| 2026-08 | USD | 20.8 -&gt; 20.8 | 71.7 -&gt; 71.7 | 7.5 -&gt; 7.5 | 12.00 | 12.00 |

#### teams whose spend changes

| period | currency | team | effective_before | effective_after | effective_change | billed_change |
|---|---|---|---:|---:|---:|---:|
| 2026-08 | USD | alpha | 47.30 | 37.00 | -10.30 | -10.30 |
| 2026-08 | USD | beta | 54.61 | 64.91 | 10.30 | 10.30 |

#### moves: line items whose owner changes

| period | currency | from | to | line_items | effective | billed |
|---|---|---|---|---:|---:|---:|
| 2026-08 | USD | alpha | beta | 1 | 10.00 | 10.00 |
";
    assert!(run.stdout.starts_with("### tally diff\n\nmappings "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(" over 2026-08: 1 of 10 line item(s) change owner; EffectiveCost moved between owners: $10.30\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with(expected_tail), "{}", run.stdout);

    let json = args("json");
    let run = tally(&json.iter().map(String::as_str).collect::<Vec<_>>());
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    assert_eq!(value["moves"][0]["from"], "alpha");
    assert_eq!(value["moves"][0]["effective"], serde_json::json!(10));
    assert_eq!(value["teams"].as_array().unwrap().len(), 2);

    // The same mappings on both sides move nothing.
    let same = ["diff", "--lake", lake.arg(), "--mappings", old.to_str().unwrap(), "--mappings", old.to_str().unwrap()];
    let run = tally(&same);
    assert!(run.stdout.contains(": 0 of 10 line item(s) change owner; EffectiveCost moved between owners: none\n"));
    assert!(run.stdout.contains("teams whose spend changes\n\n(none)\n"), "{}", run.stdout);

    let one = ["diff", "--lake", lake.arg(), "--mappings", old.to_str().unwrap()];
    let run = tally(&one);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("give --mappings twice: the old mappings folder, then the new one"));
}

#[test]
fn locked_periods_need_a_recorded_restatement() {
    let (lake, dir) = setup();
    let old = dir.path().join("mappings");
    let new = new_mappings(dir.path());
    assert_eq!(attribute(&lake, &old, &["-q"]).code, 0);

    let run = tally(&["lock", "--lake", lake.arg(), "2026-08", "-m", "August closed with finance", "--by", "alice"]);
    assert_eq!(run.stdout, "locked 2026-08\n");
    let run = tally(&["lock", "--lake", lake.arg(), "2026-07", "-m", "x"]);
    assert!(run.stderr.contains("billing period 2026-07 is not in the lake (it has 2026-08)"), "{}", run.stderr);

    let run = attribute(&lake, &new, &["--period", "2026-08"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: billing period 2026-08 is locked by alice at "), "{}", run.stderr);
    assert!(run.stderr.contains(
        ": August closed with finance; re-attributing it is a restatement: pass --restate --message '<why>'"
    ));
    let run = attribute(&lake, &new, &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("skipping locked period(s): 2026-08 (locked by alice at "), "{}", run.stdout);
    assert!(run.stdout.ends_with("nothing to attribute: every period is locked\n"), "{}", run.stdout);
    assert_eq!(
        lake.value("SELECT sum(\"EffectiveCost\") FROM attributed WHERE team = 'alpha'"),
        "47.30303030303030303031"
    );

    let run = attribute(&lake, &new, &["--restate"]);
    assert_eq!(run.code, 2, "--restate needs --message");
    let run = attribute(
        &lake,
        &new,
        &["--period", "2026-08", "--restate", "-m", "account 111 is beta's (FIN-7)", "--by", "bob"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lake.value("SELECT sum(\"EffectiveCost\") FROM attributed WHERE team = 'alpha'"),
        "37.00000000000000000001"
    );
    assert_eq!(
        lake.rows(
            r#"SELECT billing_period, by, message, team, "BillingCurrency", billed_before, billed_after, effective_before, effective_after
               FROM restatements ORDER BY team"#
        ),
        vec![
            // alpha: 10 + 100/3 + 10/33 + 3 + 2/3 before; beta billed counts line 2's 20 (effective 18).
            "2026-08,bob,account 111 is beta's (FIN-7),alpha,USD,47.30303030303030303031,37.00000000000000000001,47.30303030303030303031,37.00000000000000000001",
            "2026-08,bob,account 111 is beta's (FIN-7),beta,USD,56.60606060606060606061,66.90909090909090909091,54.60606060606060606061,64.90909090909090909091",
            "2026-08,bob,account 111 is beta's (FIN-7),gamma,USD,45.09090909090909090908,45.09090909090909090908,45.09090909090909090908,45.09090909090909090908",
            "2026-08,bob,account 111 is beta's (FIN-7),unallocated,USD,12,12,12,12",
        ]
    );
    assert_eq!(
        lake.value("SELECT count(DISTINCT old_mappings_version || '>' || new_mappings_version) FROM restatements"),
        "1"
    );

    let run = tally(&["unlock", "--lake", lake.arg(), "2026-08"]);
    assert!(run.stdout.starts_with("unlocked 2026-08 (was locked by alice at "), "{}", run.stdout);
    assert_eq!(attribute(&lake, &old, &["-q", "--period", "2026-08"]).code, 0);
    assert_eq!(lake.value("SELECT count(*) FROM restatements"), "4", "an unlocked period is not a restatement");
}
