//! Sums are checked, never wrapped: an amount no real bill has stops the run
//! with the file, period or query named, instead of printing a wrong total
//! next to "ok".

use super::{assert_unchanged, committed_files, cur_file, cur_row, write};
use crate::{Lake, tally};

/// 9 * 10^17: one row fits a Decimal(38, 20) (18 integer digits); two do not
/// fit its 128 bits (1.8 * 10^38 > 1.7 * 10^38 at 20 places).
const HUGE: &str = "900000000000000000";

#[test]
fn a_file_whose_costs_overflow_is_refused_naming_file_column_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let ok = cur_file(dir.path(), "ok.csv", &[cur_row("li-0", "2026-08", 1, "1", "web")]);
    let lake = Lake::new();
    lake.ingest_ok(&[&ok], &[]);
    let before = committed_files(&lake);
    let rows: Vec<String> = (1..=5).map(|d| cur_row(&format!("li-{d}"), "2026-09", d, HUGE, "web")).collect();
    let file = cur_file(dir.path(), "huge.csv", &rows);
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: column lineItem/UnblendedCost, by row 2: the amounts add up to more than a decimal \
             of 38 digits holds"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("ok"), "{}", run.stdout);
    assert_unchanged(&lake, &before);
}

#[test]
fn a_period_whose_total_overflows_is_refused_by_attribution_and_sql_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Two payers, so two units, each within range; together the month is not.
    let a = cur_file(dir.path(), "a.csv", &[cur_row("li-a", "2026-09", 1, HUGE, "web")]);
    let b_row = cur_row("li-b", "2026-09", 2, HUGE, "web").replace("111111111111", "333333333333");
    let b = cur_file(dir.path(), "b.csv", &[b_row]);
    let lake = Lake::new();
    lake.ingest_ok(&[&a, &b], &[]);
    let mappings = dir.path().join("mappings");
    write(&mappings, "org.toml", "[nodes]\nacme = {}\n\n[teams.web]\nparent = \"acme\"\n");
    write(&mappings, "rules.toml", "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n");
    let before = committed_files(&lake);
    let run = tally(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("billing period 2026-09: summing the period's total: the amounts add up to more than"),
        "{}",
        run.stderr
    );
    assert_unchanged(&lake, &before);
    assert!(!lake.path.join("attributed").exists());

    let sum = tally(&["sql", "--lake", lake.arg(), r#"SELECT sum("BilledCost") FROM line_items"#]);
    assert_eq!(sum.code, 1, "{}", sum.stdout);
    assert!(sum.stderr.contains("sum(line_items.BilledCost) overflowed"), "{}", sum.stderr);
    let grouped = tally(&[
        "sql",
        "--lake",
        lake.arg(),
        r#"SELECT billing_period, sum("BilledCost") + sum("EffectiveCost") FROM line_items GROUP BY 1"#,
    ]);
    assert_eq!(grouped.code, 1, "{}", grouped.stdout);
    assert!(grouped.stderr.contains("overflowed"), "{}", grouped.stderr);
    // Each row alone is a valid amount and reads back exactly.
    assert_eq!(
        lake.rows(r#"SELECT CAST("BilledCost" AS VARCHAR) FROM line_items ORDER BY 1"#),
        vec!["900000000000000000.00000000000000000000"; 2]
    );
}

#[test]
fn a_report_whose_sum_over_months_overflows_names_its_query() {
    let dir = tempfile::tempdir().unwrap();
    // One line item per month: each month, and each attribution, is within range; a
    // quarter holding both is not.
    let rows = [cur_row("li-8", "2026-08", 1, HUGE, "web"), cur_row("li-9", "2026-09", 1, HUGE, "web")];
    let lake = Lake::new();
    let files: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| cur_file(dir.path(), &format!("m{i}.csv"), std::slice::from_ref(r)))
        .collect();
    lake.ingest_ok(&[&files[0], &files[1]], &[]);
    let mappings = dir.path().join("mappings");
    write(&mappings, "org.toml", "[nodes]\nacme = {}\n\n[teams.web]\nparent = \"acme\"\n");
    write(&mappings, "rules.toml", "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n");
    let m = mappings.to_str().unwrap();
    crate::tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", m]);
    let out = dir.path().join("reports");
    let run = tally(&["report", "quarterly", "--lake", lake.arg(), "--mappings", m, "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("queries/report_"), "{}", run.stderr);
    assert!(
        run.stderr.contains("overflowed: the amounts add up to more than a decimal of 38 digits holds"),
        "{}",
        run.stderr
    );
}
