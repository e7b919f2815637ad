//! `tally lock` / `tally unlock`: close billing periods against silent re-attribution.

use std::process::ExitCode;

use clap::Args;
use tally::lake::Lake;
use tally::lake::locks;

use super::attribute::parse_period;
use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
A locked period is closed: `tally attribute` skips it (or fails when it is named with --period)
unless --restate is given, and a restatement is recorded in the `restatements` table. Locks are
files under <lake>/locks/, one per period. Without a period, lists the locks.

Examples:
  tally lock --lake lake 2026-09 -m 'September closed with finance'
  tally lock --lake lake
  tally unlock --lake lake 2026-09";

#[derive(Args)]
pub struct LockArgs {
    #[command(flatten)]
    lake: LakeArg,
    /// Billing periods to lock (YYYY-MM); none lists the locks
    #[arg(value_parser = parse_period)]
    periods: Vec<String>,
    /// Why (shown when someone tries to re-attribute)
    #[arg(long, short, value_name = "TEXT")]
    message: Option<String>,
    /// Who locks [default: $TALLY_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
}

#[derive(Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    lake: LakeArg,
    /// Billing periods to unlock (YYYY-MM)
    #[arg(value_parser = parse_period, required = true)]
    periods: Vec<String>,
}

pub async fn lock(args: LockArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let _lock = crate::commands::lock_lake(lake.root(), "tally lock", false)?;
    if args.periods.is_empty() {
        let all = locks::all(&lake).map_err(anyhow::Error::msg)?;
        if all.is_empty() {
            println!("no locked periods");
            return Ok(ExitCode::SUCCESS);
        }
        let mut table = tabled::builder::Builder::default();
        table.push_record(["period", "locked_at", "by", "message"]);
        for l in all {
            table.push_record([l.period, l.locked_at, l.by, l.message]);
        }
        let mut table = table.build();
        table.with(tabled::settings::Style::sharp());
        println!("{table}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(message) = args.message else {
        anyhow::bail!("say why with --message (it is shown to whoever tries to re-attribute the period)");
    };
    let by = args.by.unwrap_or_else(locks::current_user);
    let available = tally::lake::line_items::periods(&lake);
    for period in &args.periods {
        if !available.contains(period) {
            anyhow::bail!("billing period {period} is not in the lake (it has {})", available.join(", "));
        }
    }
    for period in &args.periods {
        let (lock, new) = locks::lock(&lake, period, &by, &message).map_err(anyhow::Error::msg)?;
        if new {
            println!("locked {period}");
        } else {
            println!("{period} was already {}", lock.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn unlock(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let _lock = crate::commands::lock_lake(lake.root(), "tally unlock", false)?;
    for period in &args.periods {
        match locks::unlock(&lake, period).map_err(anyhow::Error::msg)? {
            Some(lock) => println!("unlocked {period} (was {})", lock.describe()),
            None => println!("{period} was not locked"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
