//! `tally nudge` (being built; see its issue).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct NudgeArgs {}

pub async fn run(_args: NudgeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tally nudge is not built yet")
}
