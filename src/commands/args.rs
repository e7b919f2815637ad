//! Arguments every command takes the same way.

use std::path::PathBuf;

use clap::Args;

/// The lake folder, taken the same way by every command.
#[derive(Args, Debug, Clone)]
pub struct LakeArg {
    /// Lake folder (Parquet tables: line_items, ingests, quarantine, attributed)
    #[arg(long, env = "TALLY_LAKE", value_name = "DIR")]
    pub lake: PathBuf,
}

/// The ownership mappings folder, taken the same way by every command.
#[derive(Args, Debug, Clone)]
pub struct MappingsArg {
    /// Mappings folder (org.toml, rules.toml, pools.toml, currency.toml), usually kept in git
    #[arg(long, env = "TALLY_MAPPINGS", value_name = "DIR")]
    pub mappings: PathBuf,
}
