//! `tally nudge --dry-run|--send`, `tally nudge ack <finding-id>`, `tally nudge snooze <finding-id>`.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use tally::lake::Lake;
use tally::nudge::{self, Options};

use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
Each team gets one short message in its own chat, only when something matters: its budget at
risk or over (or back on track), this week's change and its top drivers (service, resource) when
over the thresholds, unallocated spend in accounts where most spend is the team's, the top
recommendations from the findings table with monthly savings and effort (worth it when the
savings per dev-week of effort reach the bar), verified wins, and a link to the full report.

Routing, delivery and thresholds live in <mappings>/chat.toml:
  report = \"https://finops.example.com/reports/{as_of}/teams/{team}.html\"
  secrets_file = \"/etc/tally/chat-secrets.toml\"   # key = \"https://hooks...\" lines, kept out of git
  [default]              kind = \"slack\", url_env = \"SLACK_FINOPS_URL\", channel = \"#finops\"
  [route.payments]       kind = \"teams\", url_secret = \"payments\"   # a team or any org node above teams
  [thresholds]           min_change = \"250\", min_change_pct = \"10%\", min_unallocated = \"100\",
                         min_savings = \"500\", worth_per_dev_week = \"10000\", max_items = 3
  [delivery]             timeout_seconds = 10, max_attempts = 4, backoff_ms = 1000,
                         max_wait_seconds = 60, max_messages = 50, interval_ms = 1000
A team's route is its own, else the nearest org node above it with one, else [default].
Webhook URLs are secrets: read from the environment variable or secrets-file key at send time,
never printed or logged. kind: slack (Block Kit), teams (Adaptive Card), webhook (plain JSON).

Memory: the lake's `outbox` table records every message (pending, sent, failed) and the items
it told. Re-running for the same as-of date sends nothing new; a failed message is retried, as
recorded, on the next run; an item already told is not repeated until it changes materially.
A kill between a send and its record re-sends that one message once (never drops it).

Exit codes: 0 ok, 1 error (chat.toml errors name file:line), 2 usage error,
6 --send while another tally run or nudge --send holds the lake's lock,
7 a message could not be delivered: it is kept in the outbox and retried on the next run.

Examples:
  tally nudge --dry-run --lake lake --mappings mappings              # print each payload as it would be sent
  tally nudge --dry-run --lake lake --mappings mappings --out /tmp/nudges
  SLACK_FINOPS_URL=https://hooks.slack.com/... tally nudge --send --lake lake --mappings mappings
  tally nudge ack 3f9c2a1b --lake lake -m 'migration planned for Q3'
  tally nudge snooze 3f9c2a1b --until 2026-10-01 --lake lake
  tally sql --lake lake 'SELECT as_of, team, destination, status, item_id FROM outbox ORDER BY seq'";

#[derive(Args)]
#[command(after_help = AFTER_HELP, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct NudgeArgs {
    #[command(subcommand)]
    command: Option<NudgeCommand>,
    #[command(flatten)]
    plan: PlanArgs,
}

#[derive(Args)]
struct PlanArgs {
    /// Lake folder (Parquet tables: line_items, attributed, findings, outbox)
    #[arg(long, env = "TALLY_LAKE", value_name = "DIR", required = true)]
    lake: Option<PathBuf>,
    /// Mappings folder (org.toml, rules.toml, budgets.toml, chat.toml)
    #[arg(long, env = "TALLY_MAPPINGS", value_name = "DIR", required = true)]
    mappings: Option<PathBuf>,
    /// Print each message exactly as it would be sent; send nothing, record nothing
    #[arg(long, conflicts_with = "send", required_unless_present = "send")]
    dry_run: bool,
    /// Send the messages (and retry those owed from earlier runs), recording each in the outbox
    #[arg(long)]
    send: bool,
    /// Also write each payload to DIR/<n>-<team>-<kind>.json
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The last day looked at [default: the last charge day in the lake]
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    as_of: Option<NaiveDate>,
}

#[derive(Subcommand)]
enum NudgeCommand {
    /// Acknowledge a finding: not told again until it changes materially
    Ack(AckArgs),
    /// Snooze a finding until a date
    Snooze(SnoozeArgs),
}

#[derive(Args)]
struct AckArgs {
    /// The finding's id (findings table, finding_id)
    finding_id: String,
    #[command(flatten)]
    lake: LakeArg,
    /// Why (kept in the outbox)
    #[arg(short, long, default_value = "")]
    message: String,
}

#[derive(Args)]
struct SnoozeArgs {
    /// The finding's id (findings table, finding_id)
    finding_id: String,
    #[command(flatten)]
    lake: LakeArg,
    /// Quiet until this day; told again from it on
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    until: NaiveDate,
    /// Why (kept in the outbox)
    #[arg(short, long, default_value = "")]
    message: String,
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date like 2026-08-14"))
}

pub async fn run(args: NudgeArgs) -> anyhow::Result<ExitCode> {
    match (args.command, args.plan) {
        (Some(NudgeCommand::Ack(a)), _) => {
            let _lock = crate::commands::lock_lake(&a.lake.lake, "tally nudge ack", false)?;
            let value = nudge::ack(&Lake::new(&a.lake.lake), &a.finding_id, None, &a.message).await?;
            println!("acknowledged {}{}", a.finding_id, told_again(value));
            Ok(ExitCode::SUCCESS)
        }
        (Some(NudgeCommand::Snooze(s)), _) => {
            let _lock = crate::commands::lock_lake(&s.lake.lake, "tally nudge snooze", false)?;
            nudge::ack(&Lake::new(&s.lake.lake), &s.finding_id, Some(s.until), &s.message).await?;
            println!("snoozed {} until {}", s.finding_id, s.until);
            Ok(ExitCode::SUCCESS)
        }
        (None, plan) => nudges(plan).await,
    }
}

fn told_again(value: Option<(i128, String)>) -> String {
    match value {
        Some((v, currency)) => format!(
            " (monthly savings {}): told again if they change by 20% and the min_savings threshold",
            tally::money::text::money(v, &currency)
        ),
        None => ": told again if it changes materially".to_string(),
    }
}

async fn nudges(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (Some(lake), Some(mappings)) = (&args.lake, &args.mappings) else {
        anyhow::bail!("give --lake and --mappings (see tally nudge --help)");
    };
    let lake = Lake::new(lake);
    // Sending writes the outbox: one writer per lake.
    let _lock = if args.send { crate::commands::lock_lake(lake.root(), "tally nudge --send", false)? } else { None };
    let options = Options { as_of: args.as_of, send: args.send };
    let mappings = crate::commands::load_mappings(mappings)?;
    let summary = nudge::run(&lake, &mappings, &options).await?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        for (i, planned) in summary.planned.iter().enumerate() {
            let path = dir.join(planned.file_name(i));
            std::fs::write(&path, &planned.envelope.payload).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
    }
    let as_of = summary.as_of.map(|d| d.to_string()).unwrap_or_default();
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        use std::io::Write;
        for planned in &summary.planned {
            let e = &planned.envelope;
            writeln!(
                out,
                "# {} -> {}{}",
                e.team,
                nudge::describe(e.kind, &e.channel, &e.secret),
                if planned.retry {
                    format!(" (owed from {}, {} attempt(s): {})", e.as_of, e.attempts, e.last_error)
                } else {
                    String::new()
                }
            )?;
            out.write_all(&e.payload)?;
        }
    }
    let verb = if args.send { "sent" } else { "would send" };
    let count = if args.send { summary.sent } else { summary.planned.len() };
    let mut line = format!("nudges as of {as_of}: {verb} {count}");
    if summary.quiet > 0 {
        line.push_str(&format!(", {} team(s) with nothing that matters", summary.quiet));
    }
    if !summary.already_told.is_empty() {
        line.push_str(&format!(", {} already told for this day", summary.already_told.len()));
    }
    if summary.deferred > 0 {
        line.push_str(&format!(", {} left for the next run (max_messages)", summary.deferred));
    }
    eprintln!("{line}");
    if !summary.unrouted.is_empty() {
        eprintln!(
            "no route in chat.toml for: {} (add [route.<team or org node>] or [default])",
            summary.unrouted.join(", ")
        );
    }
    for failure in &summary.failed {
        eprintln!(
            "not delivered to {} for {}: {} (kept for the next run)",
            failure.destination, failure.team, failure.error
        );
    }
    Ok(if summary.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(crate::commands::Exit::Delivery) })
}
