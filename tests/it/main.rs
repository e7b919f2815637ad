//! Integration tests: the real `tally` binary on real files. Expected figures
//! were computed independently (Python's `decimal` module and DuckDB over the
//! same files), never by tally itself.

mod attribute;
mod attribute_props;
mod attribute_trust;
mod budget;
mod containers;
mod currency;
mod demo;
mod emit_sql;
mod export_attributed;
mod export_focus;
mod findings;
mod hostile;
mod ingest_aws;
mod ingest_azure;
mod ingest_errors;
mod ingest_focus;
mod ingest_gcp;
mod ingest_s3;
mod ingest_since;
mod lake_guarantees;
mod layers;
mod nudge;
mod providers;
mod report;
mod rounding;
mod run;
mod sql;
mod support;
mod team_pages;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The public samples shipped beside the repository (as in CI).
pub fn shared(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/public").join(relative);
    assert!(path.exists(), "missing public sample {} (is ../shared beside the repo?)", path.display());
    path.display().to_string()
}

pub fn fixture(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative).display().to_string()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Copies the folder `from` into `to`, recursively.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn tally(args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TALLY_LAKE")
        .env_remove("TALLY_MAPPINGS")
        .env_remove("TALLY_CONFIG")
        .output()
        .expect("tally runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs tally and insists on success, showing its output otherwise.
pub fn tally_ok(args: &[&str]) -> Run {
    let run = tally(args);
    assert_eq!(run.code, 0, "tally {args:?} failed\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    run
}

pub struct Lake {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Default for Lake {
    fn default() -> Self {
        Lake::new()
    }
}

impl Lake {
    pub fn new() -> Lake {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake");
        Lake { _dir: dir, path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Query result as CSV lines without the header.
    pub fn rows(&self, query: &str) -> Vec<String> {
        let run = tally_ok(&["sql", "--lake", self.arg(), "--format", "csv", query]);
        run.stdout.lines().skip(1).map(str::to_string).collect()
    }

    /// A single value.
    pub fn value(&self, query: &str) -> String {
        let rows = self.rows(query);
        assert_eq!(rows.len(), 1, "{query} gave {rows:?}");
        rows[0].clone()
    }

    pub fn ingest(&self, paths: &[&str], extra: &[&str]) -> Run {
        let mut args = vec!["ingest"];
        args.extend_from_slice(paths);
        args.extend_from_slice(&["--lake", self.arg()]);
        args.extend_from_slice(extra);
        tally(&args)
    }

    pub fn ingest_ok(&self, paths: &[&str], extra: &[&str]) -> Run {
        let run = self.ingest(paths, extra);
        assert_eq!(run.code, 0, "ingest {paths:?} failed\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        run
    }

    /// Rows, BilledCost and EffectiveCost over all line items.
    pub fn totals(&self) -> String {
        self.value(
            r#"SELECT count(*), coalesce(sum("BilledCost"), 0), coalesce(sum("EffectiveCost"), 0) FROM line_items"#,
        )
    }

    /// Every file under the lake's line_items, with its bytes.
    pub fn data_files(&self) -> Vec<(String, Vec<u8>)> {
        support::files_under(&self.path, &self.path.join("line_items"))
    }
}
