//! `tally run`: the whole pipeline for cron and CI, from `tally.toml`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::run::config::{self, Config};
use tally::run::pipeline::{self, Plan, RunError};

use crate::commands::Exit;

pub const AFTER_HELP: &str = "\
Reads tally.toml (--config, $TALLY_CONFIG, else ./tally.toml; `tally init` writes one), then:
  1. ingest: folders with new or changed files (a whole folder at a time), and s3:// deliveries
     whose manifest changed; unchanged inputs are not read again
  2. attribute: periods whose line items changed, new periods, and every period when the mappings
     changed; locked periods are listed, never re-attributed (use tally attribute --restate)
  3. budgets (budgets.toml), findings, and the weekly report ([reports] out), as of the data's last
     day; skipped when the attributed lake, mappings and metrics did not change
  4. nudges, when [nudges] send = true (chat.toml): owed messages retried, nothing sent twice
A lake in S3 (lake = \"s3://...\") is pulled to a local copy first and pushed after.
A second run with nothing new does nothing and says so. One run per lake: a second one exits 6.
A run killed at any point (even kill -9) leaves no partial file; the next run finishes its work
with the same bytes an uninterrupted run writes.

Exit codes:
  0  ok (also when there was nothing new)
  1  error (message names file, row and column)
  2  usage or config error (tally.toml:LINE names the line)
  3  rows quarantined: nothing committed, nothing attributed
  5  invariant failed: a file did not reconcile or attribution did not add up; nothing committed
  6  another run holds the lake's lock (a killed run's lock is recovered, not reported)
  7  a nudge could not be delivered (kept in the outbox, retried by the next run)

Examples:
  tally init && $EDITOR tally.toml
  tally run                                    # ./tally.toml
  tally run --config /srv/finops/tally.toml --json > run.json
  tally run --source exports/ --lake lake --mappings mappings   # no config file
  17 6 * * * cd /srv/finops && tally run -q   # crontab: daily, only errors";

#[derive(Args)]
pub struct RunArgs {
    /// Config file [default: $TALLY_CONFIG, else ./tally.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Lake folder, instead of tally.toml's `lake`
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,
    /// Mappings folder, instead of tally.toml's `mappings`
    #[arg(long, value_name = "DIR")]
    mappings: Option<PathBuf>,
    /// Billing sources instead of tally.toml's [sources] paths; repeatable
    #[arg(long = "source", value_name = "PATH")]
    sources: Vec<String>,
    /// Business metrics file, instead of tally.toml's `metrics`
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Folder for the weekly report, instead of tally.toml's [reports] out
    #[arg(long, value_name = "DIR")]
    reports: Option<PathBuf>,
    /// Do not write the weekly report
    #[arg(long)]
    no_report: bool,
    /// Do not send nudges even if tally.toml's [nudges] send = true
    #[arg(long)]
    no_send: bool,
    /// Print the run summary as JSON on stdout (also on failure)
    #[arg(long)]
    json: bool,
}

pub async fn run(args: RunArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let plan = match plan(&args, quiet) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(Exit::Usage.into());
        }
    };
    let (summary, error) = pipeline::run(&plan).await;
    let exit = match &error {
        None => Exit::Ok,
        Some(RunError::Usage(_)) => Exit::Usage,
        Some(RunError::Quarantined { .. }) => Exit::Quarantined,
        Some(RunError::Invariant(_)) => Exit::Invariant,
        Some(RunError::LockHeld(_) | RunError::RemoteLockHeld(_)) => Exit::Locked,
        Some(RunError::Delivery(_)) => Exit::Delivery,
        Some(RunError::Other(_)) => Exit::Error,
    };
    let summary = tally::run::summary::Summary { exit_code: exit as u8, ..summary };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !quiet {
        print!("{}", summary.human());
    }
    if let Some(e) = &error {
        eprintln!("error: {e}");
    }
    Ok(exit.into())
}

/// Config and flags merged: flags win, then tally.toml, then $TALLY_LAKE / $TALLY_MAPPINGS.
fn plan(args: &RunArgs, quiet: bool) -> Result<Plan, String> {
    let path = config::locate(args.config.as_deref());
    let config = match &path {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let missing = |what: &str, key: &str, flag: &str| match &path {
        Some(p) => format!("no {what}: set `{key}` in {} or pass {flag}", p.display()),
        None => format!("no {what}: no tally.toml here (`tally init` writes one), and no {flag}"),
    };
    let lake = args
        .lake
        .clone()
        .or(config.lake.clone())
        .or_else(|| env("TALLY_LAKE"))
        .ok_or_else(|| missing("lake", "lake = \"...\"", "--lake"))?;
    let mappings = args
        .mappings
        .clone()
        .or(config.mappings.clone())
        .or_else(|| env("TALLY_MAPPINGS"))
        .ok_or_else(|| missing("mappings", "mappings = \"...\"", "--mappings"))?;
    let derived = tally::run::derived::DerivedPlan {
        metrics: args.metrics.clone().or(config.metrics.clone()),
        reports_out: if args.no_report { None } else { args.reports.clone().or(config.reports.out.clone()) },
        send_nudges: config.nudges.send && !args.no_send,
    };
    let mut sources = config.sources;
    if !args.sources.is_empty() {
        sources.paths = args.sources.clone();
    }
    // --lake on the command line is a local folder; tally.toml's s3:// lake applies only without it.
    let lake_s3 = if args.lake.is_some() { None } else { config.lake_s3.clone() };
    Ok(Plan { config: path, lake, mappings, sources, progress: !quiet, lake_s3, derived })
}

/// Gives every command's `--lake` and `--mappings` a default from tally.toml
/// (`$TALLY_CONFIG`, else `./tally.toml`), below flags and environment
/// variables. `run` and `init` read the file themselves. A broken file is
/// reported and ignored here (`tally run` fails on it).
pub fn with_config_defaults(cli: clap::Command) -> clap::Command {
    let Some(path) = config::locate(None) else { return cli };
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: ignoring {e}");
            return cli;
        }
    };
    let leak = |p: &std::path::Path| -> &'static str { Box::leak(p.display().to_string().into_boxed_str()) };
    let defaults: Vec<(&'static str, &'static str)> =
        [("lake", config.lake.as_deref()), ("mappings", config.mappings.as_deref())]
            .into_iter()
            .filter_map(|(id, p)| p.map(|p| (id, leak(p))))
            .collect();
    apply_defaults(cli, &defaults, true)
}

fn apply_defaults(mut cmd: clap::Command, defaults: &[(&'static str, &'static str)], top: bool) -> clap::Command {
    for (id, value) in defaults {
        let single = cmd.get_arguments().any(|a| a.get_id() == *id && matches!(a.get_action(), clap::ArgAction::Set));
        if single {
            cmd = cmd.mut_arg(*id, |a| a.default_value(*value).required(false));
        }
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| !(top && (n == "run" || n == "init")))
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| apply_defaults(sub, defaults, false));
    }
    cmd
}
