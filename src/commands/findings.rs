//! `tally findings` (being built; see its issue).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct FindingsArgs {}

pub async fn run(_args: FindingsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tally findings is not built yet")
}
