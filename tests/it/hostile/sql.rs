//! `tally sql` reads; it never writes the lake or anything else on disk.

use super::{assert_unchanged, committed_files, cur_file, cur_row};
use crate::{Lake, tally};

fn lake_with_a_month() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=3).map(|d| cur_row(&format!("li-{d}"), "2026-09", d, "10.5", "web")).collect();
    let file = cur_file(dir.path(), "cur.csv", &rows);
    let lake = Lake::new();
    lake.ingest_ok(&[&file], &[]);
    (dir, lake)
}

#[test]
fn every_kind_of_write_is_refused_and_changes_nothing() {
    let (dir, lake) = lake_with_a_month();
    let committed = lake
        .data_files()
        .into_iter()
        .map(|(rel, _)| lake.path.join(rel).display().to_string())
        .next()
        .expect("a line_items file");
    let outside = dir.path().join("made/by/sql.csv");
    let before = committed_files(&lake);
    for (sql, what) in [
        ("INSERT INTO line_items SELECT * FROM line_items", "Insert Into (DML)"),
        ("DELETE FROM line_items", "Delete (DML)"),
        ("UPDATE line_items SET \"BilledCost\" = 0", "Update (DML)"),
        (&format!("COPY (SELECT * FROM line_items) TO '{committed}'") as &str, "COPY ... TO"),
        (&format!("COPY (SELECT 1) TO '{}'", outside.display()), "COPY ... TO"),
        ("CREATE TABLE t AS SELECT * FROM line_items", "CreateMemoryTable (DDL)"),
        (
            &format!("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{}'", outside.display()),
            "CreateExternalTable (DDL)",
        ),
        ("CREATE VIEW v AS SELECT 1", "CreateView (DDL)"),
        ("DROP TABLE line_items", "DropTable (DDL)"),
        ("SET datafusion.execution.target_partitions = 1", "SetVariable (a statement)"),
        ("EXPLAIN ANALYZE INSERT INTO line_items SELECT * FROM line_items", "Insert Into (DML)"),
    ] {
        let run = tally(&["sql", "--lake", lake.arg(), sql]);
        assert_eq!(run.code, 1, "{sql}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(what), "{sql}: {}", run.stderr);
        assert!(run.stderr.contains("is refused: SQL over the lake is read-only"), "{sql}: {}", run.stderr);
        assert_unchanged(&lake, &before);
    }
    assert!(!dir.path().join("made").exists(), "COPY created folders outside the lake");
    // Reading still works, and the month is whole: 3 rows of 10.5.
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "3,31.5");
    assert!(!lake.rows("SHOW TABLES").is_empty());
    assert!(!lake.rows("DESCRIBE line_items").is_empty());
}
