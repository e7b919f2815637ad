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

Exit codes: 0 ok, 1 error, 2 usage error.

Examples:
  tally export focus --lake lake --out focus-export
  tally export focus --lake lake --out focus-export --period 2026-10 --format csv
  tally export focus --lake lake --out focus-export --focus-version 1.3 --since 2026-01";

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
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ExportCommand::Focus(args) = args.what;
    let lake = Lake::new(&args.lake.lake);
    let periods = select_periods(&lake, &args.period, args.since.as_deref())?;
    let options = Options { version: args.version, periods, format: args.format, out: args.out.clone() };
    let written = focus::export(&lake, &options).await?;
    for w in &written {
        let what = if w.dataset { "row(s)" } else { "line item(s)" };
        eprintln!("{}: {} {what} -> {}", w.name, w.rows, w.file.display());
    }
    let periods: Vec<&tally::export::focus::Written> = written.iter().filter(|w| !w.dataset).collect();
    let datasets = written.len() - periods.len();
    eprintln!(
        "exported {} line item(s) in {} period(s) as FOCUS {}{} into {}",
        periods.iter().map(|w| w.rows).sum::<usize>(),
        periods.len(),
        args.version.name(),
        if datasets > 0 { format!(", and {datasets} supplementary dataset(s)") } else { String::new() },
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
