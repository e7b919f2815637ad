//! `tally explain`: which rule owns a line item, which lost, how it split.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use tally::attribute::{Compiled, explain};
use tally::lake::Lake;

use super::attribute::parse_period;
use crate::commands::{LakeArg, MappingsArg};

pub const AFTER_HELP: &str = "\
Finds the line items whose x_SourceLineItemId or ResourceId is ID and shows, for each: what the
rules see (accounts, service, region, canonical tags), every rule whose conditions hold, by
precedence (WINS, loses, or skips when not in effect on the charge date or the tag names no team),
the owner with its org path, and for pooled spend how each pool split it and the resulting shares.
It evaluates the mappings you give, so it also previews a mappings change on one line.

Examples:
  tally explain --lake lake --mappings mappings i-0a1b2c3d4e5f
  tally explain --lake lake --mappings mappings --period 2026-10 'arn:aws:eks:us-east-1:111:cluster/main'";

#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// A line item id (x_SourceLineItemId) or a resource id (ResourceId)
    id: String,
    /// Look only in this billing period (YYYY-MM); repeatable
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period)]
    period: Vec<String>,
    /// Explain at most this many line items
    #[arg(long, default_value_t = 5)]
    limit: usize,
}

pub async fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let compiled = Compiled::load(&args.mappings.mappings)?;
    let text = explain::explain(&lake, &compiled, &args.id, &args.period, args.limit).map_err(anyhow::Error::msg)?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
