//! `tally init`: a commented example `tally.toml` in the current folder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::run::config::{Config, EXAMPLE, FILE_NAME};

pub const AFTER_HELP: &str = "\
Writes a commented tally.toml (lake, mappings, [sources]) for `tally run`. Edit the paths, then
`tally run`. An existing file is left alone unless --force.

Examples:
  tally init
  tally init --path /srv/finops/tally.toml";

#[derive(Args)]
pub struct InitArgs {
    /// Where to write it
    #[arg(long, value_name = "FILE", default_value = FILE_NAME)]
    path: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    force: bool,
}

pub async fn run(args: InitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    if args.path.exists() && !args.force {
        eprintln!("error: {} exists; --force overwrites it", args.path.display());
        return Ok(crate::commands::Exit::Usage.into());
    }
    // The example must stay valid: check it before writing it.
    Config::parse(EXAMPLE, FILE_NAME, std::path::Path::new("."))?;
    std::fs::write(&args.path, EXAMPLE).map_err(|e| anyhow::anyhow!("{}: {e}", args.path.display()))?;
    if !quiet {
        println!("wrote {}: set lake, mappings and [sources] paths, then `tally run`", args.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
