//! `tally.toml`: where a project's billing exports, lake and mappings are,
//! so `tally run` (and `--lake`/`--mappings` of every command) need no flags.
//!
//! Relative paths are relative to the folder holding the file, so a cron job
//! can run from anywhere with `--config /srv/finops/tally.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default file name, looked up in the current folder.
pub const FILE_NAME: &str = "tally.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Lake folder; for a lake in S3 (`lake = "s3://bucket/prefix"`), its local copy.
    pub lake: Option<PathBuf>,
    /// `s3://bucket/prefix` when the lake lives in S3 (set from `lake`).
    #[serde(skip)]
    pub lake_s3: Option<String>,
    /// Local copy of an S3 lake [default: .tally/lake beside tally.toml].
    pub lake_cache: Option<PathBuf>,
    /// S3-compatible endpoint (MinIO, Ceph, R2) for an s3:// lake and s3:// sources.
    pub s3_endpoint: Option<String>,
    /// Mappings folder (org.toml, rules.toml, pools.toml).
    pub mappings: Option<PathBuf>,
    /// Business metrics (CSV or Parquet: date, metric, value[, team][, product]).
    pub metrics: Option<PathBuf>,
    #[serde(default)]
    pub sources: Sources,
    #[serde(default)]
    pub reports: Reports,
    #[serde(default)]
    pub nudges: Nudges,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// The weekly report goes to `<out>/<as-of day>/` after a run that changed something.
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Nudges {
    /// Send each team's message (routes in the mappings' chat.toml).
    #[serde(default)]
    pub send: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Files, folders, globs and `s3://bucket/prefix` inputs, as `tally ingest` takes them.
    #[serde(default)]
    pub paths: Vec<String>,
    /// An S3-compatible endpoint for `s3://` inputs.
    pub s3_endpoint: Option<String>,
    /// Only billing periods from this month on: earlier S3 deliveries and rows are left out.
    pub since: Option<String>,
    /// Currency for files or rows that carry none.
    pub currency: Option<String>,
    /// Commit the good rows of a file even when some rows are quarantined.
    #[serde(default)]
    pub allow_quarantine: bool,
    /// Replace a month even when the new data drops more than 10% of its line items or cost.
    #[serde(default)]
    pub allow_shrink: bool,
    /// Ingest part of a delivery whose manifest lists more files.
    #[serde(default)]
    pub allow_partial: bool,
    /// Let another kind of export replace the one that delivered a month and account.
    #[serde(default)]
    pub allow_export_switch: bool,
}

/// A config error, naming the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    /// Reads and checks `path`; relative paths in it become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: shown.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Config::parse(&text, &shown, base)
    }

    pub fn parse(text: &str, shown: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: shown.to_string(),
            line: e.span().map(|s| crate::attribute::mappings::line_at(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let line_of = |needle: &str| text.lines().position(|l| l.trim_start().starts_with(needle)).map(|i| i + 1);
        if let Some(since) = &config.sources.since
            && !crate::ingest::manifest::is_year_month(since)
        {
            return Err(ConfigError {
                file: shown.to_string(),
                line: line_of("since"),
                message: format!("since = {since:?} is not a month: use YYYY-MM, e.g. \"2025-01\""),
            });
        }
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base.join(p) };
        if let Some(url) =
            config.lake.as_ref().map(|p| p.display().to_string()).filter(|p| crate::ingest::s3::is_s3_url(p))
        {
            if let Err(message) = crate::ingest::s3::parse_url(&url) {
                return Err(ConfigError { file: shown.to_string(), line: line_of("lake"), message });
            }
            config.lake_s3 = Some(url);
            config.lake = Some(config.lake_cache.clone().unwrap_or_else(|| PathBuf::from(".tally/lake")));
        } else if config.lake_cache.is_some() {
            return Err(ConfigError {
                file: shown.to_string(),
                line: line_of("lake_cache"),
                message: "lake_cache is the local copy of a lake in S3, and `lake` is not an s3:// URL".to_string(),
            });
        }
        if config.sources.s3_endpoint.is_none() {
            config.sources.s3_endpoint = config.s3_endpoint.clone();
        }
        config.lake = config.lake.as_ref().map(resolve);
        config.mappings = config.mappings.as_ref().map(resolve);
        config.metrics = config.metrics.as_ref().map(resolve);
        config.reports.out = config.reports.out.as_ref().map(resolve);
        for p in &mut config.sources.paths {
            if !crate::ingest::s3::is_s3_url(p) && !Path::new(p).is_absolute() {
                *p = base.join(&*p).display().to_string();
            }
        }
        Ok(config)
    }
}

/// The config file to use: `explicit`, else `$TALLY_CONFIG`, else `./tally.toml` when it exists.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("TALLY_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let here = PathBuf::from(FILE_NAME);
    here.is_file().then_some(here)
}

/// The commented example `tally init` writes.
pub const EXAMPLE: &str = r#"# tally.toml: what `tally run` reads. Paths are relative to this file's folder.
# Flags override it (tally run --lake ..., --mappings ..., --source ...), and every
# command's --lake/--mappings default to it when run from this folder (or with
# TALLY_CONFIG=/path/to/tally.toml).

# The Parquet lake: a local folder (line_items, attributed, ... tables).
lake = "lake"
# Or in S3: tally runs on a local copy (lake_cache), pulled before and pushed after each run;
# one run at a time across machines (a lock object in S3). Other commands (tally sql, report)
# read the local copy.
# lake = "s3://acme-finops/tally-lake"
# lake_cache = ".tally/lake"

# An S3-compatible endpoint (MinIO, Ceph, R2) for an s3:// lake and s3:// sources.
# s3_endpoint = "http://127.0.0.1:9000"

# Ownership mappings (org.toml, rules.toml, pools.toml), usually a git checkout.
mappings = "mappings"

[sources]
# Billing exports, as `tally ingest` takes them: files, folders (recursive), quoted
# globs, and s3://bucket/prefix for AWS CUR / CUR 2.0 deliveries. A run re-reads only
# folders with new or changed files, and S3 deliveries whose manifest changed.
paths = ["exports/"]
# paths = ["exports/", "s3://acme-billing/cur/"]

# Only billing periods from this month on: earlier S3 deliveries are not downloaded,
# and rows of earlier billing periods in any source are left out (the lake keeps its own).
# since = "2025-01"

# For s3:// sources: an S3-compatible endpoint (MinIO, Ceph, R2) instead of AWS.
# s3_endpoint = "http://127.0.0.1:9000"

# Currency for files or rows that carry none.
# currency = "USD"

# Commit a file's good rows even when some rows are quarantined (default: commit
# nothing and exit 3).
# allow_quarantine = false

# Replace a month even when the new data has over 10% fewer line items or less gross
# cost than the lake holds for it (default: refuse, naming the month; a restatement that
# really removes charges needs this once).
# allow_shrink = false

# Ingest some files of a delivery whose AWS manifest lists more (default: refuse).
# allow_partial = false

# Let another kind of export (say Azure's FOCUS export) replace the one that delivered
# a cloud's month and billing account (its cost export), removing the old files
# (default: refuse, naming both; set it for the one run that switches).
# allow_export_switch = false

# Business volume for unit economics and realized savings: CSV or Parquet with
# date, metric, value and optionally team, product.
# metrics = "metrics.csv"

[reports]
# After each run that changed something: budgets (budgets.toml), findings, and the weekly
# ops review in <out>/<as-of day>/ (HTML, Markdown, CSV and Parquet of every table).
out = "reports"

[nudges]
# Send each team's message to its chat (routes and thresholds in the mappings' chat.toml).
# Off by default: preview them with `tally nudge --dry-run` first.
send = false
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_resolves_paths_from_its_folder() {
        let c = Config::parse(EXAMPLE, "tally.toml", Path::new("/srv/finops")).unwrap();
        assert_eq!(c.lake, Some(PathBuf::from("/srv/finops/lake")));
        assert_eq!(c.mappings, Some(PathBuf::from("/srv/finops/mappings")));
        assert_eq!(c.sources.paths, vec!["/srv/finops/exports/".to_string()]);
        assert_eq!(c.reports.out, Some(PathBuf::from("/srv/finops/reports")));
        assert!(!c.nudges.send);
    }

    #[test]
    fn s3_paths_and_absolute_paths_are_kept() {
        let text = "lake = \"/data/lake\"\n[sources]\npaths = [\"s3://b/cur/\", \"/x/y\"]\nsince = \"2025-01\"\n";
        let c = Config::parse(text, "t.toml", Path::new("base")).unwrap();
        assert_eq!(c.lake, Some(PathBuf::from("/data/lake")));
        assert_eq!(c.sources.paths, vec!["s3://b/cur/".to_string(), "/x/y".to_string()]);
    }

    #[test]
    fn an_s3_lake_runs_on_a_local_copy() {
        let text = "lake = \"s3://finops/lake/\"\ns3_endpoint = \"http://127.0.0.1:9000\"\n";
        let c = Config::parse(text, "t.toml", Path::new("/srv")).unwrap();
        assert_eq!(c.lake_s3.as_deref(), Some("s3://finops/lake/"));
        assert_eq!(c.lake, Some(PathBuf::from("/srv/.tally/lake")));
        assert_eq!(c.sources.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let c =
            Config::parse("lake = \"s3://finops\"\nlake_cache = \"/tmp/copy\"\n", "t.toml", Path::new("/srv")).unwrap();
        assert_eq!(c.lake, Some(PathBuf::from("/tmp/copy")));
        let e = Config::parse("lake = \"lake\"\nlake_cache = \"c\"\n", "t.toml", Path::new(".")).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Config::parse("lake = \"s3:///x\"\n", "t.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().starts_with("t.toml:1: no bucket name"), "{e}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Config::parse("lake = \"l\"\n\n[sources]\npath = [\"x\"]\n", "t.toml", Path::new(".")).unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("t.toml:4: unknown field `path`"), "{e}");
        let e = Config::parse("[report]\nout = \"r\"\n", "t.toml", Path::new(".")).unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        let e = Config::parse("[sources]\npaths = [\"s3://b/\"]\nsince = \"2025\"\n", "t.toml", Path::new("."))
            .unwrap_err();
        assert_eq!((e.line, e.message.contains("YYYY-MM")), (Some(3), true), "{e}");
    }
}
