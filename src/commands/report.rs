//! `tally report weekly|leaderboard|unit-economics|quarterly`.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use tally::lake::Lake;
use tally::output::OutputFormat;
use tally::report::{self, Options, Report, Rollup};

use crate::commands::{LakeArg, MappingsArg};

pub const AFTER_HELP: &str = "\
Each report is written into --out as a self-contained HTML file (charts are inline SVG: no
network needed to open it), a Markdown summary for docs and chat, and every table as CSV and
Parquet with exact amounts. The same tables are printed here (--format).

The report runs to the as-of date: by default the last charge day in the lake, so re-running on
the same lake and mappings writes the same bytes. \"This week\" is the 7 days ending on it; month
over month compares month to date with the same days of the month before (all of it, said
so, when it is shorter). Amounts are amortized
cost (EffectiveCost) in one currency (--currency; the others are named in the report's notes),
shared and unallocated spend included.

  weekly          total and change WoW/MoM, by org and team, top movers with their drivers
                  (service, account, region, resource), the teams carrying 80% of spend,
                  coverage and why spend is unallocated, budget status; beside it a page per
                  team (teams/<team>.html, what nudges link to: 13-week trend, budget
                  burn-down, drivers, unallocated spend in its accounts, findings, wins, top
                  resources and the rule that owns each), per org node (orgs/<node>.html)
                  and an index (teams/index.html)
  leaderboard     biggest spenders, fastest growers, most improved unit cost (--metrics),
                  verified savings (the findings table), best tag coverage, badges for wins
  unit-economics  cost per unit and spend per volume in basis points, per week, month and
                  quarter, company-wide and per team with a team metric (needs --metrics)
  quarterly       monthly spend per org, unit cost per month (--metrics), commitment coverage

A metrics file is CSV or Parquet with columns date, metric, value[, team][, product].

Exit codes: 0 ok, 1 error (the message names the file, row and field), 2 usage error.

Examples:
  tally report weekly --lake lake --mappings mappings --out reports/2026-10-31
  tally report leaderboard --lake lake --mappings mappings --metrics metrics.csv --out reports/2026-10
  tally report unit-economics --lake lake --mappings mappings --metrics metrics.csv --as-of 2026-09-30
  tally report quarterly --lake lake --mappings mappings --rollup as-is --format markdown";

#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct ReportArgs {
    #[command(subcommand)]
    report: ReportCommand,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Weekly ops review: spend and its change, by org and team, top movers, Pareto, coverage, budgets
    #[command(after_help = AFTER_HELP)]
    Weekly(CommonArgs),
    /// Leaderboards fair to growing teams, with badges for wins
    #[command(after_help = AFTER_HELP)]
    Leaderboard(CommonArgs),
    /// Spend per business volume: cost per unit and basis points per week, month, quarter
    #[command(after_help = AFTER_HELP)]
    UnitEconomics(CommonArgs),
    /// Quarterly trends for QBRs: monthly spend per org, unit cost, commitment coverage
    #[command(after_help = AFTER_HELP)]
    Quarterly(CommonArgs),
}

#[derive(Args)]
struct CommonArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// Output folder for the HTML, Markdown, CSV and Parquet files [default: reports/<as-of date>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Business metrics (CSV or Parquet: date, metric, value[, team][, product])
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Last day of the report [default: the last charge day in the lake]
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    as_of: Option<NaiveDate>,
    /// Roll teams up to the org they were in on the charge date (as-was) or are in now (as-is)
    #[arg(long, value_enum, default_value_t = Rollup::AsWas)]
    rollup: Rollup,
    /// Currency to report [default: the one with the most line items]
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// How the tables are printed here: table, csv, json or markdown (the files are written either way)
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date like 2026-10-31"))
}

pub async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let (report, args) = match args.report {
        ReportCommand::Weekly(a) => (Report::Weekly, a),
        ReportCommand::Leaderboard(a) => (Report::Leaderboard, a),
        ReportCommand::UnitEconomics(a) => (Report::UnitEconomics, a),
        ReportCommand::Quarterly(a) => (Report::Quarterly, a),
    };
    if report == Report::UnitEconomics && args.metrics.is_none() {
        eprintln!(
            "error: unit-economics needs business volume: --metrics FILE (CSV or Parquet: date, metric, value[, team][, product])"
        );
        return Ok(crate::commands::Exit::Usage.into());
    }
    let options = Options {
        lake: Lake::new(&args.lake.lake),
        mappings: crate::commands::load_mappings(&args.mappings.mappings)?,
        metrics: args.metrics.clone(),
        as_of: args.as_of,
        rollup: args.rollup,
        currency: args.currency.clone(),
    };
    let cx = report::Context::load(&options).await?;
    let document = report::build_in(report, &cx).await?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(document.as_of.to_string()));
    let written = report::write_built(report, &cx, &document, &out).await?;
    let mut stdout = std::io::stdout().lock();
    use std::io::Write;
    match args.format {
        OutputFormat::Table => write!(stdout, "{}", document.terminal())?,
        OutputFormat::Markdown => write!(stdout, "{}", document.markdown()?)?,
        format => {
            for table in document.tables() {
                let batch = table.to_batch();
                if format == OutputFormat::Csv {
                    writeln!(stdout, "# {}", table.file)?;
                }
                tally::output::write(&mut stdout, &batch.schema(), std::slice::from_ref(&batch), format)?;
            }
        }
    }
    eprintln!(
        "wrote {} and {} table file(s) into {}; open {} in a browser",
        written.markdown.display(),
        written.tables.len(),
        out.display(),
        written.html.display()
    );
    if !written.pages.is_empty() {
        eprintln!(
            "wrote {} page(s) beside it, one per team and org node: {} lists them (a nudge links to teams/<team>.html)",
            written.pages.len(),
            out.join(report::pages::TEAMS_DIR).join("index.html").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
