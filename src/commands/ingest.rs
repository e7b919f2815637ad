//! `tally ingest`: billing files into the lake, with a per-file reconciliation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::ingest::{self, Format, Outcome};
use tally::lake::Lake;
use tally::money;

use crate::{EXIT_QUARANTINED, LakeArg};

pub const AFTER_HELP: &str = "\
Each file's format is detected from its header unless --format is given. Files are reconciled
(rows and cost sums in = out) before anything is committed. Line items are replaced per
provider, billing period and billing account: re-ingesting a restated month replaces it.

Examples:
  tally ingest cur/ --lake lake
  tally ingest 'exports/**/*.csv.gz' --lake lake --format aws-cur
  tally ingest focus.csv --lake lake --currency USD --allow-quarantine";

#[derive(Args)]
pub struct IngestArgs {
    /// Files, folders (searched recursively) or globs
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    #[command(flatten)]
    lake: LakeArg,
    /// Billing format; auto detects it per file from the header
    #[arg(long, default_value = "auto", value_parser = FormatParser)]
    format: FormatArg,
    /// Currency to assume where a file has no currency column or an empty cell
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// Commit the good rows even when some rows are quarantined
    #[arg(long)]
    allow_quarantine: bool,
}

#[derive(Clone, Copy)]
struct FormatArg(Option<Format>);

/// `auto` or a [`Format`], listed with each format's doc comment in `--help`.
#[derive(Clone)]
struct FormatParser;

impl clap::builder::TypedValueParser for FormatParser {
    type Value = FormatArg;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<FormatArg, clap::Error> {
        parse_format(&value.to_string_lossy())
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e + "\n"))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let auto =
            clap::builder::PossibleValue::new("auto").help("Detect each file's format from its header (the default)");
        let formats =
            <Format as clap::ValueEnum>::value_variants().iter().filter_map(clap::ValueEnum::to_possible_value);
        Some(Box::new(std::iter::once(auto).chain(formats)))
    }
}

fn parse_format(text: &str) -> Result<FormatArg, String> {
    if text == "auto" {
        return Ok(FormatArg(None));
    }
    <Format as clap::ValueEnum>::from_str(text, true).map(|f| FormatArg(Some(f))).map_err(|_| {
        let names: Vec<&str> = <Format as clap::ValueEnum>::value_variants().iter().map(|f| f.name()).collect();
        let (last, rest) = names.split_last().expect("formats exist");
        format!("unknown format {text:?}: use auto, {} or {last}", rest.join(", "))
    })
}

pub async fn run(args: IngestArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let options = ingest::Options {
        format: args.format.0,
        currency: args.currency,
        allow_quarantine: args.allow_quarantine,
        progress: !quiet,
    };
    let outcome = ingest::run(&lake, &args.paths, &options).await?;
    if !quiet {
        print_outcome(&outcome, lake.root());
    }
    if !outcome.committed {
        eprintln!(
            "error: {} row(s) quarantined, so nothing was committed. Fix the input, or rerun with \
             --allow-quarantine to commit the {} good row(s). Details: tally sql --lake {} \
             \"SELECT * FROM quarantine WHERE run_id = '{}'\"",
            outcome.quarantined.len(),
            outcome.files.iter().map(|f| f.rows_landed).sum::<u64>(),
            lake.root().display(),
            outcome.run_id
        );
        return Ok(ExitCode::from(EXIT_QUARANTINED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the reconciliation table, quarantined rows and what changed in the lake.
pub fn print_outcome(outcome: &Outcome, lake_root: &std::path::Path) {
    let mut table = tabled::builder::Builder::default();
    table.push_record(["file", "format", "rows", "landed", "quarantined", "source cost", "landed cost", "check"]);
    for f in &outcome.files {
        let balanced =
            f.source_cost == f.landed_cost + f.quarantined_cost && f.rows_read == f.rows_landed + f.rows_quarantined;
        table.push_record([
            short_name(&f.source_file),
            f.format.clone(),
            f.rows_read.to_string(),
            f.rows_landed.to_string(),
            f.rows_quarantined.to_string(),
            format!("{} {}", money::format(f.source_cost, money::SCALE as u32), f.currency),
            format!("{} {}", money::format(f.landed_cost, money::SCALE as u32), f.currency),
            if balanced { "ok".to_string() } else { "MISMATCH".to_string() },
        ]);
    }
    let mut table = table.build();
    table.with(tabled::settings::Style::sharp());
    println!("{table}");
    for f in outcome.files.iter().filter(|f| f.normalised_values > 0) {
        println!("normalised in {}: {}", short_name(&f.source_file), f.normalisations);
    }
    for q in outcome.quarantined.iter().take(10) {
        println!("quarantined {}:row {} column {}: {}", short_name(&q.source_file), q.source_row, q.column, q.reason);
    }
    if outcome.quarantined.len() > 10 {
        println!("... and {} more quarantined rows", outcome.quarantined.len() - 10);
    }
    if outcome.committed {
        let rows: u64 = outcome.units.iter().map(|u| u.rows).sum();
        println!(
            "run {}: {} row(s) in {} partition file(s) under {}",
            outcome.run_id,
            rows,
            outcome.units.len(),
            lake_root.join("line_items").display()
        );
        for unit in &outcome.units {
            println!("  {} ({} rows)", unit.key.relative_path().display(), unit.rows);
        }
    }
}

/// The last two path components: enough to tell files apart in a table.
fn short_name(path: &str) -> String {
    let p = PathBuf::from(path);
    let parts: Vec<_> = p.components().rev().take(2).collect();
    parts.into_iter().rev().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}
