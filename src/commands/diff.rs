//! `tally diff`: preview what a mappings change moves, before it merges.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::attribute::{Compiled, diff};
use tally::lake::Lake;
use tally::output::{self, OutputFormat};

use super::attribute::{parse_period, select_periods};
use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
Attributes the lake's line items under both mappings, in memory (the lake is not changed), and
shows: coverage before -> after, teams whose spend changes (EffectiveCost before, after, change;
BilledCost change), and moves: line items whose owner (team, pool:<id> or unallocated) changes,
grouped by from -> to. Amounts are rounded to the cent for display; the comparison is exact.
--format markdown prints the same as Markdown for a pull-request comment.

Examples:
  git worktree add /tmp/base origin/main
  tally diff --lake lake --mappings /tmp/base/mappings --mappings mappings --since 2026-09
  tally diff --lake lake --mappings old --mappings new --period 2026-10 --format markdown > comment.md";

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    lake: LakeArg,
    /// The mappings folders to compare: give --mappings twice, OLD then NEW
    #[arg(long, value_name = "DIR", required = true, num_args = 1)]
    mappings: Vec<PathBuf>,
    /// Compare this billing period (YYYY-MM); repeatable
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period)]
    period: Vec<String>,
    /// Compare this billing period and every later one in the lake
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period, conflicts_with = "period")]
    since: Option<String>,
    /// Output format (csv is not offered: the diff is three tables)
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    format: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DiffFormat {
    Table,
    Markdown,
    Json,
}

pub async fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let [old_dir, new_dir] = args.mappings.as_slice() else {
        anyhow::bail!("give --mappings twice: the old mappings folder, then the new one");
    };
    let lake = Lake::new(&args.lake.lake);
    let old = Compiled::load(old_dir).map_err(|e| anyhow::anyhow!("old mappings: {e}"))?;
    let new = Compiled::load(new_dir).map_err(|e| anyhow::anyhow!("new mappings: {e}"))?;
    let periods = select_periods(&lake, &args.period, args.since.as_deref())?;
    let diff = diff::diff(&lake, &old, &new, &periods).map_err(anyhow::Error::msg)?;

    let moved: Vec<String> = diff.moved().iter().map(|(c, v)| tally::money::text::money(*v, c)).collect();
    let summary = format!(
        "mappings {} -> {} over {}: {} of {} line item(s) change owner; EffectiveCost moved between owners: {}",
        diff.old_version,
        diff.new_version,
        periods.join(", "),
        diff.lines_moved,
        diff.line_items,
        if moved.is_empty() { "none".to_string() } else { moved.join(", ") }
    );
    let tables = [
        ("coverage of EffectiveCost (%)", diff.coverage_table()),
        ("teams whose spend changes", diff.teams_table()),
        ("moves: line items whose owner changes", diff.moves_table()),
    ];
    let mut out = std::io::stdout().lock();
    match args.format {
        DiffFormat::Table | DiffFormat::Markdown => {
            let (format, heading) = match args.format {
                DiffFormat::Markdown => (OutputFormat::Markdown, "#### "),
                _ => (OutputFormat::Table, ""),
            };
            if args.format == DiffFormat::Markdown {
                // Pasted into a pull request: the summary is text too, like every cell.
                writeln!(out, "### tally diff\n\n{}", output::markdown_escape(&summary))?;
            } else {
                writeln!(out, "{summary}")?;
            }
            for (title, (schema, batch)) in &tables {
                writeln!(out, "\n{heading}{title}\n")?;
                if batch.num_rows() == 0 {
                    writeln!(out, "(none)")?;
                } else {
                    output::write(&mut out, schema, std::slice::from_ref(batch), format)?;
                }
            }
        }
        DiffFormat::Json => {
            let mut parts = vec![format!("\"summary\":{}", serde_json::Value::String(summary))];
            for (name, (_, (schema, batch))) in ["coverage", "teams", "moves"].iter().zip(&tables) {
                let mut buffer = Vec::new();
                output::write(&mut buffer, schema, std::slice::from_ref(batch), OutputFormat::Json)?;
                parts.push(format!("\"{name}\":{}", String::from_utf8(buffer)?.trim()));
            }
            writeln!(out, "{{{}}}", parts.join(",\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
