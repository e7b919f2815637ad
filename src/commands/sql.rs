//! `tally sql`: DataFusion SQL over the lake's tables.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tally::lake::Lake;
use tally::output::{self, OutputFormat};

use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
Tables: line_items (FOCUS columns, partitioned by provider and billing_period), ingests (one row per
file per ingest run, with its reconciliation), quarantine (rows that could not be ingested),
attributed (each line item or split share with its team, after `tally attribute`), periods
(finality of each provider, month and billing account an ingest wrote), s3_deliveries (AWS
deliveries read from S3), restatements (re-attributions of locked periods: who, when, why, each
team's costs before and after), budgets (the last `tally budget status` per month: actual, budget,
forecast and status per team or org node).
Column names are case-sensitive: quote them, as in \"BilledCost\". Tags are a map: \"Tags\"['team'].

Examples:
  tally sql --lake lake 'SELECT billing_period, sum(\"BilledCost\") AS billed FROM line_items GROUP BY 1 ORDER BY 1'
  tally sql --lake lake --format csv 'SELECT * FROM ingests' > ingests.csv
  tally sql --lake lake 'DESCRIBE line_items'";

#[derive(Args)]
pub struct SqlArgs {
    #[command(flatten)]
    lake: LakeArg,
    /// The query, e.g. 'SELECT count(*) FROM line_items'
    query: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    if !lake.root().exists() {
        anyhow::bail!("lake {} does not exist (run `tally ingest` or `tally demo` first)", lake.root().display());
    }
    let ctx = lake.session().await.with_context(|| format!("opening lake {}", lake.root().display()))?;
    let frame = tally::lake::sql::query(&ctx, &args.query).await?;
    let schema = frame.schema().as_arrow().clone();
    let batches = frame.collect().await?;
    output::write(&mut std::io::stdout().lock(), &schema, &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}
