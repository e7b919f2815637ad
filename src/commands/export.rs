//! `tally export focus`: the lake as a conformant FOCUS dataset for other FinOps tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tally::export::focus::{self, Format, Options, Version};
use tally::lake::Lake;

use super::attribute::{parse_period, select_periods};
use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
Writes the line items of every ingested source (AWS CUR and CUR 2.0, GCP, Azure, FOCUS) as the
FOCUS cost-and-usage dataset, one Hive partition per billing period, and the supplementary
datasets the lake holds (ingested from FOCUS 1.3 and 1.4 files) beside them:

  <out>/billing_period=2026-10/part-0.parquet
  <out>/contract_commitments/part-0.parquet     (Contract Commitment, FOCUS 1.3)
  <out>/invoice_details/part-0.parquet          (Invoice Detail, FOCUS 1.4)
  <out>/focus_billing_periods/part-0.parquet    (Billing Period, FOCUS 1.4)

Amounts stay exact decimals (Decimal128, never floating point); Tags are FOCUS key-value JSON;
tally's lineage follows as x_ columns (x_SourceFile, x_SourceRow, x_SourceLineItemId,
x_IngestRunId). Each period's file is written beside its final name and renamed, so a reader
never sees half a file. DuckDB reads the export as
  SELECT * FROM read_parquet('<out>/*/*.parquet', hive_partitioning = true)
and FinOps hubs, Power BI's FOCUS templates and other FOCUS readers take the files as they are.

With --attributed, each line item becomes one row per share of its owner (the team, or the
unallocated share with its reason), in FOCUS 1.3's split-cost-allocation columns:
AllocatedMethodId (rule/<id>, pool/<name>, unallocated), AllocatedMethodDetails (the share as
AllocatedRatio, adding up to 1 per line, and the rule, pool, split and mappings version),
AllocatedResourceId/Name (the team) and AllocatedTags (tally/team, tally/org-path); for 1.2 the
same columns prefixed x_. Every cost and quantity of a line's rows adds back to the line's
exactly; BilledCost and EffectiveCost are the attributed table's own shares.

Exit codes: 0 ok, 1 error, 2 usage error.

Examples:
  tally export focus --lake lake --out focus-export
  tally export focus --lake lake --out focus-export --period 2026-10 --format csv
  tally export focus --lake lake --out focus-export --focus-version 1.3 --since 2026-01
  tally export focus --lake lake --out focus-export --focus-version 1.3 --attributed";

#[derive(Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    what: ExportCommand,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The line items as a conformant FOCUS cost-and-usage dataset
    #[command(after_help = AFTER_HELP)]
    Focus(FocusArgs),
}

#[derive(Args)]
struct FocusArgs {
    #[command(flatten)]
    lake: LakeArg,
    /// Output folder: one billing_period=YYYY-MM folder per period
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The FOCUS version the files conform to
    #[arg(long = "focus-version", value_enum, default_value = "1.2")]
    version: Version,
    /// Export only this billing period (YYYY-MM); repeatable
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period)]
    period: Vec<String>,
    /// Export the periods from this one on (YYYY-MM)
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period, conflicts_with = "period")]
    since: Option<String>,
    /// File format
    #[arg(long, value_enum, default_value = "parquet")]
    format: Format,
    /// One row per share of each line item's owner, in FOCUS's allocation columns
    /// (AllocatedMethodId, AllocatedResourceId = the team, ...; x_-prefixed for 1.2)
    #[arg(long)]
    attributed: bool,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ExportCommand::Focus(args) = args.what;
    let lake = Lake::new(&args.lake.lake);
    let periods = select_periods(&lake, &args.period, args.since.as_deref())?;
    let options = Options {
        version: args.version,
        periods,
        format: args.format,
        out: args.out.clone(),
        attributed: args.attributed,
    };
    let written = focus::export(&lake, &options).await?;
    for w in &written {
        let what = match (w.dataset, args.attributed) {
            (true, _) => "row(s)",
            (false, true) => "allocated row(s)",
            (false, false) => "line item(s)",
        };
        eprintln!("{}: {} {what} -> {}", w.name, w.rows, w.file.display());
    }
    let periods: Vec<&tally::export::focus::Written> = written.iter().filter(|w| !w.dataset).collect();
    let datasets = written.len() - periods.len();
    let names: std::collections::BTreeSet<&str> = periods.iter().map(|w| w.name.as_str()).collect();
    eprintln!(
        "exported {} {} in {} period(s){} as FOCUS {}{} into {}",
        periods.iter().map(|w| w.rows).sum::<usize>(),
        if args.attributed { "allocated row(s)" } else { "line item(s)" },
        names.len(),
        if periods.len() > names.len() {
            format!(" ({} files: one per billing currency)", periods.len())
        } else {
            String::new()
        },
        args.version.name(),
        if datasets > 0 { format!(", and {datasets} supplementary dataset(s)") } else { String::new() },
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
