//! Reports for finance and platform leads: weekly ops review, leaderboards,
//! spend per business volume, quarterly trends.
//!
//! The questions are SQL files in `queries/` (built into the binary, run by
//! DataFusion over the lake); this module puts their answers together in exact
//! decimals and renders them:
//!
//! - [`query`] runs a question with its parameters;
//! - [`context`] what every report needs: currency, as-of date, freshness, windows;
//! - [`weekly`], [`leaderboard`], [`unit_economics`], [`quarterly`]: one report each;
//! - [`pages`]: beside the weekly report, a page per team and org node (what nudges link to);
//! - [`table`] typed tables (exact CSV/Parquet, formatted for people), [`format`];
//! - [`chart`] inline SVG charts, [`document`] HTML and Markdown from `reports/templates/`.
//!
//! Same lake, mappings and metrics give byte-identical files: the as-of date is
//! the data's last charge day unless given, and nothing reads the clock.

pub mod billed_in;
pub mod chart;
pub mod context;
pub mod document;
pub mod leaderboard;
pub mod pages;
pub mod quarterly;
pub mod query;
pub mod table;
pub mod unit_economics;
pub mod weekly;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

pub use context::{Context, Rollup};
pub use document::{Document, Written};

use crate::attribute::Ownership;
use crate::lake::Lake;

/// The reports `tally report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Report {
    Weekly,
    Leaderboard,
    UnitEconomics,
    Quarterly,
}

impl Report {
    pub fn name(self) -> &'static str {
        match self {
            Report::Weekly => "weekly",
            Report::Leaderboard => "leaderboard",
            Report::UnitEconomics => "unit-economics",
            Report::Quarterly => "quarterly",
        }
    }
}

/// What a report is made from.
#[derive(Debug, Clone)]
pub struct Options {
    pub lake: Lake,
    /// The mappings, loaded once by the caller.
    pub mappings: Arc<Ownership>,
    /// Business metrics (CSV or Parquet): unit costs, most improved unit cost.
    pub metrics: Option<PathBuf>,
    /// The report's last day [default: the data's last charge day].
    pub as_of: Option<NaiveDate>,
    pub rollup: Rollup,
    /// The currency shown [default: the one with the most line items].
    pub currency: Option<String>,
}

impl Options {
    pub fn new(lake: &Lake, mappings: Arc<Ownership>) -> Options {
        Options { lake: lake.clone(), mappings, metrics: None, as_of: None, rollup: Rollup::AsWas, currency: None }
    }
}

/// Builds a report in memory.
pub async fn build(report: Report, options: &Options) -> anyhow::Result<Document> {
    let cx = Context::load(options).await?;
    build_in(report, &cx).await
}

/// Builds a report over an already loaded context.
pub async fn build_in(report: Report, cx: &Context) -> anyhow::Result<Document> {
    match report {
        Report::Weekly => weekly::build(cx).await,
        Report::Leaderboard => leaderboard::build(cx).await,
        Report::UnitEconomics => unit_economics::build(cx).await,
        Report::Quarterly => quarterly::build(cx).await,
    }
}

/// Builds a report and writes its HTML, Markdown, CSV and Parquet files into `out`; the
/// weekly report also writes a page per team and org node beside it ([`pages`]).
pub async fn write(report: Report, options: &Options, out: &Path) -> anyhow::Result<(Document, Written)> {
    let cx = Context::load(options).await?;
    let document = build_in(report, &cx).await?;
    let written = write_built(report, &cx, &document, out).await?;
    Ok((document, written))
}

/// Writes a report built in `cx` into `out`, with the weekly report's pages beside it.
pub async fn write_built(report: Report, cx: &Context, document: &Document, out: &Path) -> anyhow::Result<Written> {
    let mut written = document.write(out)?;
    if report == Report::Weekly {
        written.pages = pages::write(cx, out).await?;
    }
    Ok(written)
}

/// The weekly ops review, as `tally report weekly`, `tally run` and `tally demo` write it.
pub async fn write_weekly(
    lake: &Lake,
    mappings: Arc<Ownership>,
    metrics: Option<&Path>,
    out: &Path,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<Written> {
    let options = Options { metrics: metrics.map(Path::to_path_buf), as_of, ..Options::new(lake, mappings) };
    Ok(write(Report::Weekly, &options, out).await?.1)
}
