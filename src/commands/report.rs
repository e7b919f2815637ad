//! `tally report` (being built; see its issue).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ReportArgs {}

pub async fn run(_args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tally report is not built yet")
}
