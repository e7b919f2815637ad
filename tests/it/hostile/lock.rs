//! Every command that writes the lake takes its lock; a second writer exits 6
//! naming the holder, and changes nothing.

use super::{assert_unchanged, committed_files, cur_file, cur_row, write};
use crate::{Lake, tally};

#[test]
fn writers_wait_for_the_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=2).map(|d| cur_row(&format!("li-{d}"), "2026-09", d, "1", "web")).collect();
    let file = cur_file(dir.path(), "cur.csv", &rows);
    let lake = Lake::new();
    lake.ingest_ok(&[&file], &[]);
    let mappings = dir.path().join("mappings");
    write(&mappings, "org.toml", "[nodes]\nacme = {}\n\n[teams.web]\nparent = \"acme\"\n");
    write(&mappings, "rules.toml", "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n");
    let m = mappings.display().to_string();

    // This test process holds the lock, as a running `tally run` would.
    let held = tally::lake::lock::acquire(&lake.path, "tally run").unwrap();
    let before = committed_files(&lake);
    let commands: Vec<Vec<&str>> = vec![
        vec!["ingest", &file, "--lake", lake.arg()],
        vec!["attribute", "--lake", lake.arg(), "--mappings", &m],
        vec!["lock", "--lake", lake.arg(), "2026-09", "-m", "closed"],
        vec!["unlock", "--lake", lake.arg(), "2026-09"],
        vec!["findings", "--lake", lake.arg(), "--mappings", &m],
        vec!["budget", "status", "--lake", lake.arg(), "--mappings", &m],
        vec!["nudge", "--send", "--lake", lake.arg(), "--mappings", &m],
        vec!["nudge", "ack", "abc", "--lake", lake.arg(), "-m", "x"],
    ];
    for args in &commands {
        let run = tally(args);
        assert_eq!(run.code, 6, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "another tally command holds the lake's lock {}/_run/lock (tally run, pid {} on ",
                lake.path.display(),
                std::process::id()
            )),
            "{args:?}: {}",
            run.stderr
        );
        assert_unchanged(&lake, &before);
    }
    // Readers need no lock.
    crate::tally_ok(&["sql", "--lake", lake.arg(), "SELECT count(*) FROM line_items"]);
    drop(held);
    crate::tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", &m]);
}
