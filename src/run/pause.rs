//! A test hook for crash safety: a run that waits, at a named point, to be killed.

use std::path::Path;

use crate::lake::Lake;

/// For tests of crash safety: `TALLY_RUN_PAUSE=<point>` makes the run write
/// `<lake>/_run/paused-<point>` there and wait (to be killed). Points:
/// `locked`, `ingested`, `attributed`.
pub(super) fn at_lake(lake: &Lake, point: &str) {
    at(lake.root(), point)
}

pub(super) fn at(root: &Path, point: &str) {
    if std::env::var("TALLY_RUN_PAUSE").ok().as_deref() != Some(point) {
        return;
    }
    let marker = Lake::new(root).run_dir().join(format!("paused-{point}"));
    let _ = std::fs::write(&marker, std::process::id().to_string());
    std::thread::sleep(std::time::Duration::from_secs(120));
    let _ = std::fs::remove_file(&marker);
}
