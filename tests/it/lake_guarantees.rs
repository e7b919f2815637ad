//! What the lake promises a scheduled job: restated months replace their
//! partition and nothing else, re-runs change no byte, a killed run leaves
//! each (provider, month, account) either as it was or as it would have become.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Lake, fixture, shared, tally_ok};

const CUR_2023_11: &str = "line_items/provider=aws/billing_period=2023-11/part-123412340534.parquet";

fn file_bytes(lake: &Lake, relative: &str) -> Vec<u8> {
    std::fs::read(lake.path.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

#[test]
fn restated_month_replaces_its_partition_only() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("aws-cur/focus-converters-cur-2023-11.csv"), &fixture("aws-cur2/cur2-2025-01.csv")], &[]);
    let november = file_bytes(&lake, CUR_2023_11);
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2023-11,1281,1.6823086974", "2025-01,8,244.5428"]
    );

    // AWS restates January: the -2.50 credit (the last row) is withdrawn.
    let original = std::fs::read_to_string(fixture("aws-cur2/cur2-2025-01.csv")).unwrap();
    let restated: Vec<&str> = original.lines().take(8).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cur2-2025-01-restated.csv");
    std::fs::write(&file, restated.join("\n") + "\n").unwrap();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);

    // 244.5428 + 2.50 billed, 30.1514 + 2.50 amortized.
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost"), sum("EffectiveCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2023-11,1281,1.6823086974,1.6823086974", "2025-01,7,247.0428,32.6514"]
    );
    assert_eq!(file_bytes(&lake, CUR_2023_11), november, "November was not part of the restatement");
    assert_eq!(
        lake.value(r#"SELECT count(DISTINCT "x_SourceFile") FROM line_items WHERE billing_period = '2025-01'"#),
        "1"
    );
}

#[test]
fn rerun_changes_no_byte_and_is_logged() {
    let inputs = [shared("aws-cur/focus-converters-cur-2023-11.csv"), fixture("focus/focus-sample-data-1.0.parquet")];
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let lake = Lake::new();
    lake.ingest_ok(&inputs, &[]);
    let first = lake.data_files();
    assert_eq!(first.len(), 5, "{:?}", first.iter().map(|f| &f.0).collect::<Vec<_>>());
    lake.ingest_ok(&inputs, &[]);
    assert_eq!(lake.data_files(), first);
    assert_eq!(lake.value("SELECT count(*), count(DISTINCT run_id) FROM ingests"), "4,1");

    // Another lake, same input: same bytes (no timestamps or random ids in data files).
    let other = Lake::new();
    other.ingest_ok(&inputs, &[]);
    assert_eq!(other.data_files(), first);
}

#[test]
fn folders_are_searched_recursively_and_globs_expand() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("2023/11")).unwrap();
    std::fs::create_dir_all(root.join("cur2/data")).unwrap();
    std::fs::copy(shared("aws-cur/focus-converters-cur-2023-11.csv"), root.join("2023/11/cur.csv")).unwrap();
    std::fs::copy(fixture("aws-cur2/cur2-2025-01.csv"), root.join("cur2/data/part-0.csv")).unwrap();
    std::fs::write(root.join("2023/11/Manifest.json"), "{}").unwrap();
    std::fs::write(root.join("README.md"), "exports\n").unwrap();
    std::fs::write(root.join(".DS_Store"), "junk").unwrap();

    let lake = Lake::new();
    let run = lake.ingest_ok(&[root.to_str().unwrap()], &[]);
    assert!(run.stdout.contains("1289 row(s) in 2 partition file(s)"), "{}", run.stdout);
    assert_eq!(lake.totals(), "1289,246.2251086974,31.8337086974");

    let globbed = Lake::new();
    let pattern = format!("{}/**/*.csv", root.display());
    globbed.ingest_ok(&[&pattern], &[]);
    assert_eq!(globbed.totals(), "1289,246.2251086974,31.8337086974");
}

/// Totals per replacement unit: (provider, month, billing account).
fn unit_totals(lake: &Lake) -> Vec<String> {
    if !lake.path.join("line_items").exists() {
        return Vec::new();
    }
    lake.rows(
        r#"SELECT provider, billing_period, "BillingAccountId", count(*), sum("BilledCost") FROM line_items
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"#,
    )
}

fn demo_cur(out: &Path, seed: &str) {
    tally_ok(&[
        "-q",
        "demo",
        "--no-ingest",
        "--rows",
        "40000",
        "--months",
        "2",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ]);
}

#[test]
fn killed_ingest_leaves_each_unit_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let (old_input, new_input) = (dir.path().join("old"), dir.path().join("new"));
    demo_cur(&old_input, "1");
    demo_cur(&new_input, "2");
    let new_cur = new_input.join("cur");

    // What the lake looks like before, and after an uninterrupted run.
    let reference = Lake::new();
    reference.ingest_ok(&[new_cur.to_str().unwrap()], &[]);
    let new_units = unit_totals(&reference);

    for delay_ms in [50, 400, 1200, 2500] {
        let lake = Lake::new();
        lake.ingest_ok(&[old_input.join("cur").to_str().unwrap()], &[]);
        let old_units = unit_totals(&lake);
        assert_eq!(old_units.len(), new_units.len());

        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            // The second demo company is a different, smaller month: a replacement meant.
            .args(["-q", "ingest", new_cur.to_str().unwrap(), "--lake", lake.arg(), "--allow-shrink"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let _ = child.wait();

        for (unit, (old, new)) in unit_totals(&lake).iter().zip(old_units.iter().zip(&new_units)) {
            assert!(unit == old || unit == new, "after a kill at {delay_ms} ms: {unit} is neither {old} nor {new}");
        }
        // The next run cleans up after the killed one and completes.
        lake.ingest_ok(&[new_cur.to_str().unwrap()], &["--allow-shrink"]);
        assert_eq!(unit_totals(&lake), new_units);
        assert!(
            !lake.path.join("_staging").exists()
                || std::fs::read_dir(lake.path.join("_staging")).unwrap().next().is_none()
        );
    }
}
