//! `tally export focus --attributed`: every line item as one row per share of its owner, in
//! FOCUS 1.3's split-cost-allocation columns (x_-prefixed for 1.2). The export is checked by
//! `focus_allocation_check.py` (DuckDB and Python's `decimal`, against the spec's text; its
//! header lists each requirement) and, for 1.2, by the FinOps Foundation's validator.

use std::path::Path;

use crate::export_focus::{export, sums, untaken_invoice_branch, validate};
use crate::{Lake, tally, tally_ok};

/// `focus_allocation_check.py` on an attributed export, the same lake's plain export and the
/// lake; returns its summary line.
fn check(attributed: &Path, plain: &Path, lake: &Path, version: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/focus_allocation_check.py");
    let out = std::process::Command::new("python3")
        .args([script.as_path(), attributed, plain, lake, Path::new(version)])
        .output()
        .expect("python3 runs (with duckdb from PyPI: .ci/run installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "the allocation check failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.trim().to_string()
}

#[test]
fn the_demo_exports_each_share_as_a_focus_allocated_charge_that_adds_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    tally_ok(&["-q", "demo", "--rows", "3000", "--months", "2", "--out", demo.to_str().unwrap()]);
    let lake = Lake { path: demo.join("lake"), ..Lake::new() };
    let plain = dir.path().join("plain");
    export(&lake.path, &plain, &["--focus-version", "1.3"]);
    let allocated = dir.path().join("allocated");
    let run = export(&lake.path, &allocated, &["--focus-version", "1.3", "--attributed"]);
    assert!(
        run.stderr.contains("allocated row(s) in 2 period(s) (4 files: one per billing currency) as FOCUS 1.3 into"),
        "{}",
        run.stderr
    );

    let summary = check(&allocated, &plain, &lake.path, "1.3");
    // The demo splits its shared cluster, platform account and overhead over teams: more rows
    // than line items, as many as the lake's attributed rows plus the purchases' amortized rows.
    let counted = crate::support::duckdb(&format!(
        r#"WITH a AS (SELECT * FROM read_parquet('{lake}/attributed/*/*.parquet')),
                l AS (SELECT * FROM read_parquet('{lake}/line_items/**/*.parquet'))
           SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM a WHERE "ChargeCategory" = 'Purchase' AND EXISTS
               (SELECT 1 FROM l WHERE l."x_SourceFile" = a."x_SourceFile" AND l."x_SourceRow" = a."x_SourceRow"
                AND l."EffectiveCost" <> 0))"#,
        lake = lake.path.display()
    ));
    let rows: u64 = counted[0][0].parse().unwrap();
    assert!(summary.contains(&format!(" rows={rows} ")), "{summary} (expected {rows} rows)");
    let origins: u64 = summary.split("origins=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(rows > origins + 1000, "{summary}: the demo's pools split thousands of lines");

    // The same lake gives the same bytes.
    let again = dir.path().join("again");
    export(&lake.path, &again, &["--focus-version", "1.3", "--attributed"]);
    for period in ["2026-08", "2026-09"] {
        let files = |root: &Path| -> Vec<Vec<u8>> {
            crate::export_focus::period_files(root, period).iter().map(|f| std::fs::read(f).unwrap()).collect()
        };
        assert_eq!(files(&allocated).len(), 2, "{period}: one file per billing currency");
        assert!(files(&allocated) == files(&again), "{period}: same bytes");
    }

    // Round trip: the allocated charges read back by tally's FOCUS ingest keep every period's and
    // account's BilledCost, EffectiveCost and ListCost to the last digit.
    let back = Lake::new();
    let files: Vec<String> = ["2026-08", "2026-09"]
        .iter()
        .flat_map(|p| crate::export_focus::period_files(&allocated, p))
        .map(|f| f.display().to_string())
        .collect();
    back.ingest_ok(&files.iter().map(String::as_str).collect::<Vec<_>>(), &["--format", "focus"]);
    assert_eq!(sums(&back), sums(&lake));
    assert_eq!(back.value("SELECT count(*) FROM line_items"), rows.to_string());

    // FOCUS 1.2 has no allocation columns: the same values as x_ columns, and the validator's
    // 1.2 rules still pass (the untaken InvoiceId branch aside, as for every export).
    let plain_12 = dir.path().join("plain-1.2");
    export(&lake.path, &plain_12, &[]);
    let allocated_12 = dir.path().join("allocated-1.2");
    export(&lake.path, &allocated_12, &["--attributed"]);
    check(&allocated_12, &plain_12, &lake.path, "1.2");
    for august in crate::export_focus::period_files(&allocated_12, "2026-08") {
        let ((_, pass, fail), failed) = validate(&august);
        assert_eq!((fail, failed), (1, vec![untaken_invoice_branch(&august).to_string()]), "{}", august.display());
        assert!(pass > 100, "the 1.2 rules ran ({pass} passed)");
    }
}

/// The hand-built month of `attribute.rs`, whose shares `every_dollar_lands_with_its_rule_and_split`
/// lists (computed with Python's decimal): each kind of split, as FOCUS columns.
#[test]
fn every_kind_of_split_becomes_allocated_charges_with_its_ratios() {
    let (lake, dir) = crate::attribute::setup();
    let mappings = dir.path().join("mappings");
    let run = crate::attribute::attribute(&lake, &mappings, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plain = dir.path().join("plain");
    export(&lake.path, &plain, &["--focus-version", "1.3"]);
    let allocated = dir.path().join("allocated");
    export(&lake.path, &allocated, &["--focus-version", "1.3", "--attributed"]);
    assert_eq!(check(&allocated, &plain, &lake.path, "1.3"), "ok origins=10 rows=18 teams=4");

    let rows = crate::support::duckdb(&format!(
        r#"SELECT "x_SourceRow", "AllocatedMethodId", coalesce("AllocatedResourceId", '-'),
                  coalesce(json_extract_string("AllocatedMethodDetails", '$.x_Split'), '-'),
                  CAST("BilledCost" AS VARCHAR), "AllocatedMethodDetails"
           FROM read_parquet('{}/billing_period=*/*.parquet', file_row_number = true) WHERE "x_SourceRow" IN (3, 5, 8)
           ORDER BY file_row_number"#,
        allocated.display()
    ));
    let ratio =
        |row: &Vec<String>| row[5].split("\"AllocatedRatio\":").nth(1).unwrap().split('}').next().unwrap().to_string();
    let shown: Vec<String> =
        rows.iter().map(|r| format!("{} {} {} {} {} {}", r[0], r[1], r[2], r[3], r[4], ratio(r))).collect();
    assert_eq!(
        shown,
        [
            "3 unallocated - - 5.00000000000000000000 1",
            "5 pool/ops alpha even 33.33333333333333333334 0.33333333333333333334",
            "5 pool/ops beta even 33.33333333333333333333 0.33333333333333333333",
            "5 pool/ops gamma even 33.33333333333333333333 0.33333333333333333333",
            // platform's weights: gamma 1 (half), then pool ops (the other half, even over three).
            "8 pool/platform gamma weights 2.00000000000000000000 0.5",
            "8 pool/platform > ops alpha weights > even 0.66666666666666666667 0.16666666666666666667",
            "8 pool/platform > ops beta weights > even 0.66666666666666666667 0.16666666666666666667",
            "8 pool/platform > ops gamma weights > even 0.66666666666666666666 0.16666666666666666666",
        ]
    );
    let unallocated = &rows[0][5];
    assert!(unallocated.contains(r#""x_UnallocatedReason":"unknown team tag value `nobody`""#), "{unallocated}");
    let tags = crate::support::duckdb(&format!(
        r#"SELECT DISTINCT "AllocatedTags" FROM read_parquet('{}/billing_period=*/*.parquet') WHERE "AllocatedResourceId" = 'gamma' AND "x_SourceRow" = 5"#,
        allocated.display()
    ));
    assert_eq!(
        tags,
        [[r#"{"tally/org-path":"acme/eng/gamma","tally/org-path-current":"acme/ops-org/gamma","tally/team":"gamma"}"#]],
        "gamma's path on the charge's day (before its move on 15 August) and today"
    );
}

/// A FOCUS 1.3 source with the provider's own split (fixtures/focus, AllocatedMethodId
/// `k8s-cpu-request`): tally's allocation fills the columns, and the provider's moves into
/// the details as x_SourceAllocation, every key kept.
#[test]
fn a_sources_own_allocation_is_kept_in_the_details() {
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture("focus/focus-1.3-2026-05")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    crate::support::write_mappings(
        &mappings,
        &[
            ("org.toml", "[nodes]\nacme = {}\n\n[teams.web]\nparent = \"acme\"\n"),
            ("rules.toml", "[[rule]]\nid = \"team-tag\"\nprecedence = 10\nteam_from_tag = \"team\"\n"),
        ],
    );
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()]);
    let plain = dir.path().join("plain");
    export(&lake.path, &plain, &["--focus-version", "1.3"]);
    let allocated = dir.path().join("allocated");
    export(&lake.path, &allocated, &["--focus-version", "1.3", "--attributed"]);
    check(&allocated, &plain, &lake.path, "1.3");
    let rows = crate::support::duckdb(&format!(
        r#"SELECT "AllocatedMethodId", "AllocatedResourceId",
                  json_extract_string("AllocatedMethodDetails", '$.x_SourceAllocation.AllocatedMethodId'),
                  json_extract_string("AllocatedMethodDetails", '$.x_SourceAllocation.AllocatedResourceId'),
                  json_extract_string("AllocatedMethodDetails", '$.x_SourceAllocation.AllocatedTags.app')
           FROM read_parquet('{}/billing_period=*/*.parquet') WHERE "AllocatedMethodDetails" LIKE '%x_SourceAllocation%' ORDER BY 4"#,
        allocated.display()
    ));
    assert_eq!(
        rows,
        [
            ["rule/team-tag", "web", "k8s-cpu-request", "ns/checkout", "checkout"],
            ["rule/team-tag", "web", "k8s-cpu-request", "ns/search", "search"],
        ]
    );
}

/// Refused, with nothing written: a lake never attributed, and one whose line items changed
/// after attribution (the shares would no longer be the lines').
#[test]
fn an_unattributed_or_stale_lake_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[&crate::fixture("focus/focus-1.3-2026-05")], &[]);
    let out = dir.path().join("out");
    let args = |lake: &Lake| {
        vec!["export", "focus", "--lake", lake.arg(), "--out", out.to_str().unwrap(), "--attributed"]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let run = tally(&args(&lake).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("billing period 2026-05 has line items but was never attributed: run `tally attribute` first"),
        "{}",
        run.stderr
    );
    assert!(crate::support::file_names_under(&out).is_empty(), "nothing written");

    // The hand-built August, attributed; then a restatement of its billing account arrives.
    let (lake, setup) = crate::attribute::setup();
    assert_eq!(crate::attribute::attribute(&lake, &setup.path().join("mappings"), &[]).code, 0);
    let mut late = crate::support::August::default();
    late.push(crate::support::Charge {
        account: "000",
        day: 3,
        category: "Usage",
        billed: "1.00",
        effective: "1.00",
        service: "Compute",
        resource: "late",
        tags: "{}",
    });
    let file = setup.path().join("late.csv");
    late.write(&file);
    lake.ingest_ok(&[file.to_str().unwrap()], &["--allow-shrink"]);
    let run = tally(&args(&lake).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("billing period 2026-08: line item "), "{}", run.stderr);
    assert!(
        run.stderr.contains("The line items changed after `tally attribute` ran: run it again, then export"),
        "{}",
        run.stderr
    );
    assert!(
        crate::support::file_names_under(&out).is_empty(),
        "nothing written: {:?}",
        crate::support::file_names_under(&out)
    );
}
