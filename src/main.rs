//! The `tally` command line: argument parsing, logging, exit codes. Each
//! subcommand lives in `commands/`, and the work itself in the library.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::Exit;

const EXAMPLES: &str = "\
Examples:
  tally demo                                   # synthetic company -> ./tally-demo/lake
  tally ingest exports/ --lake lake            # every billing file under exports/
  tally ingest 'cur/*.csv.gz' --lake lake      # a glob (quote it)
  tally sql --lake lake 'SELECT provider, billing_period, sum(\"BilledCost\") FROM line_items GROUP BY 1, 2'
  tally attribute --lake lake --mappings mappings   # every period; --period 2026-08 for one
  tally init && tally run                      # tally.toml, then the whole pipeline (cron, CI)

Exit codes: 0 ok, 1 error, 2 usage error, 3 rows quarantined (nothing committed; see --allow-quarantine),
4 a budget over tolerance (budget status --fail-on-breach), 5 an invariant failed (tally run),
6 another command holds the lake's lock (every command that writes the lake takes it), 7 a nudge could not be delivered (kept for the next run).
tally.toml (./tally.toml or $TALLY_CONFIG) gives every command's --lake and --mappings a default.";

#[derive(Parser)]
#[command(
    name = "tally",
    version,
    about = "Cloud cost attribution: every dollar owned, reconciled to the cent",
    long_about = "tally reads cloud billing exports (AWS CUR and CUR 2.0, GCP's BigQuery billing \
                  export, Azure cost exports, FOCUS 1.0-1.4) from folders or S3 into a Parquet lake \
                  with FOCUS column names, exact decimals and per-file reconciliation; attributes \
                  every dollar to one team by mappings kept in git; and reports budgets, findings \
                  and weekly reviews, nudging teams in chat. Query the lake with SQL.",
    after_help = EXAMPLES
)]
struct Cli {
    /// Print only errors (no progress, no summaries)
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More logging: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log lines on stderr as text for people, or as one JSON object per line for log collectors
    #[arg(long, value_enum, default_value = "text", env = "TALLY_LOG_FORMAT", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read billing exports into the lake, reconciling every file
    #[command(after_help = commands::ingest::AFTER_HELP)]
    Ingest(commands::ingest::IngestArgs),
    /// Run SQL over the lake's tables
    #[command(after_help = commands::sql::AFTER_HELP)]
    Sql(commands::sql::SqlArgs),
    /// Attribute every line item to a team by the ownership mappings
    #[command(after_help = commands::attribute::AFTER_HELP)]
    Attribute(commands::attribute::AttributeArgs),
    /// Lint the ownership mappings: shadowed rules, date gaps, dead rules (for CI)
    #[command(after_help = commands::check::AFTER_HELP)]
    Check(commands::check::CheckArgs),
    /// Preview what a mappings change moves between teams (Markdown for pull requests)
    #[command(after_help = commands::diff::AFTER_HELP)]
    Diff(commands::diff::DiffArgs),
    /// Show which rule owns a line item, which rules lost, and how a pool split it
    #[command(after_help = commands::explain::AFTER_HELP)]
    Explain(commands::explain::ExplainArgs),
    /// Close billing periods: re-attributing them then needs --restate and is recorded
    #[command(after_help = commands::lock::AFTER_HELP)]
    Lock(commands::lock::LockArgs),
    /// Reopen locked billing periods
    Unlock(commands::lock::UnlockArgs),
    /// Budgets per team or org node: actual, month-end forecast, tolerance, approvals
    #[command(after_help = commands::budget::AFTER_HELP)]
    Budget(commands::budget::BudgetArgs),
    /// Efficiency findings: anomalies, orphans, commitments, storage tiering, realized savings
    Findings(commands::findings::FindingsArgs),
    /// Reports for finance and platform leads: weekly, leaderboard, unit-economics, quarterly
    Report(commands::report::ReportArgs),
    /// Tell each team in chat what matters: budget, drivers, recommendations, wins
    Nudge(commands::nudge::NudgeArgs),
    /// The whole pipeline for cron and CI: ingest what changed, attribute changed periods
    #[command(after_help = commands::run::AFTER_HELP)]
    Run(commands::run::RunArgs),
    /// Write a commented example tally.toml (config for `tally run`) here
    #[command(after_help = commands::init::AFTER_HELP)]
    Init(commands::init::InitArgs),
    /// Export the lake for other FinOps tools: `export focus` writes conformant FOCUS
    Export(commands::export::ExportArgs),
    /// Generate a synthetic company's AWS CUR files, ingest and attribute them
    Demo(commands::demo::DemoArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(quiet: bool, verbose: u8, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,tally=info",
        (false, 1) => "warn,tally=debug",
        (false, _) => "info,tally=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        // People read the message; a terminal shows when it happened.
        LogFormat::Text => builder.without_time().with_target(false).init(),
        // Machines get time, level, target and every field (step, rows, dollars, duration_ms).
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `tally sql ... | head` would fail writing; die quietly as Unix tools do.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A bug or an overflow check that fired: say so plainly, not as a Rust backtrace hint.
    std::panic::set_hook(Box::new(|info| {
        if tally::ingest::source::panic_is_guarded() {
            return; // caught and reported as an error naming the file
        }
        eprintln!(
            "error: tally stopped on an internal error ({info}). Every file in the lake is still whole \
             (each is replaced by one rename); please report this with the input that caused it"
        );
    }));
    // --lake/--mappings default to tally.toml's, below flags and env (commands::run).
    let matches = commands::run::with_config_defaults(<Cli as clap::CommandFactory>::command()).get_matches();
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.quiet, cli.verbose, cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => commands::ingest::run(args, cli.quiet).await,
            Command::Sql(args) => commands::sql::run(args).await,
            Command::Attribute(args) => commands::attribute::run(args, cli.quiet).await,
            Command::Check(args) => commands::check::run(args, cli.quiet).await,
            Command::Diff(args) => commands::diff::run(args).await,
            Command::Explain(args) => commands::explain::run(args).await,
            Command::Lock(args) => commands::lock::lock(args).await,
            Command::Unlock(args) => commands::lock::unlock(args).await,
            Command::Budget(args) => commands::budget::run(args).await,
            Command::Findings(args) => commands::findings::run(args).await,
            Command::Report(args) => commands::report::run(args).await,
            Command::Nudge(args) => commands::nudge::run(args).await,
            Command::Run(args) => commands::run::run(args, cli.quiet).await,
            Command::Init(args) => commands::init::run(args, cli.quiet).await,
            Command::Export(args) => commands::export::run(args).await,
            Command::Demo(args) => commands::demo::run(args, cli.quiet).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let locked = e
                .downcast_ref::<tally::lake::lock::LockError>()
                .is_some_and(|l| matches!(l, tally::lake::lock::LockError::Held { .. }));
            ExitCode::from(if locked { Exit::Locked } else { Exit::Error })
        }
    }
}
