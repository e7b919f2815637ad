//! `tally budget status` and `tally budget backtest`.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use tally::budget::{self, Status};
use tally::calendar::Month;
use tally::lake::Lake;
use tally::money::div_round;
use tally::output::{self, OutputFormat};

use crate::commands::{LakeArg, MappingsArg};

pub const AFTER_HELP: &str = "\
Budgets live in the mappings folder: budgets.toml (per team or org node, a monthly amount with
from/until months or per-month amounts, currency, cost column, tolerance) and approvals.toml
(approved variances with approver, reason and expiry). See README, Budgets.";

pub const STATUS_HELP: &str = "\
Per budget: actual to date, budget, forecast for month end (actual plus each remaining day
projected from the last 28 days of recurring spend by day of week; purchases, tax and credits
count when they land), variance % of forecast to budget, and status:
  on track        actual and forecast within budget + tolerance
  at risk         the forecast goes over budget + tolerance, the actual not yet
  over tolerance  the actual is over budget + tolerance (a breach)
  approved        over budget + tolerance, but within an approval that holds on the as-of date
A node's spend is its teams' spend on the days they sit under it (as-was: a team that moves on
the 15th counts for the old parent before, the new one from then on).
The last status of each month is kept in the lake's `budgets` table (tally sql).

Exit codes: 0 ok, 1 error (file:line for budget and approval files), 2 usage error,
4 with --fail-on-breach: at least one budget is over tolerance.

Examples:
  tally budget status --lake lake --mappings mappings
  tally budget status --lake lake --mappings mappings --month 2026-08 --as-of 2026-08-14
  tally budget status --lake lake --mappings mappings --format csv --fail-on-breach";

#[derive(Args)]
pub struct BudgetArgs {
    #[command(subcommand)]
    command: BudgetCommand,
}

#[derive(Subcommand)]
enum BudgetCommand {
    /// Actual, forecast and status of every budget in a month
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Forecast error (MAPE) on the lake's complete months at 7, 14 and 21 days of data
    Backtest(BacktestArgs),
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// The month [default: the latest attributed billing period]
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    month: Option<Month>,
    /// See only charges through this day, and check approvals' expiry on it [default: today, UTC]
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    as_of: Option<NaiveDate>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Exit 4 when any budget is over tolerance (for CI gates)
    #[arg(long)]
    fail_on_breach: bool,
}

#[derive(Args)]
struct BacktestArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// Days of data the forecast is made with
    #[arg(long, value_delimiter = ',', default_value = "7,14,21")]
    days: Vec<u32>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn parse_month(text: &str) -> Result<Month, String> {
    Month::parse(text).ok_or_else(|| format!("{text:?} is not a month like 2026-08"))
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date like 2026-08-14"))
}

pub async fn run(args: BudgetArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BudgetCommand::Status(args) => status(args).await,
        BudgetCommand::Backtest(args) => backtest(args).await,
    }
}

async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    // It keeps the month's status in the lake's budgets table.
    let _lock = crate::commands::lock_lake(lake.root(), "tally budget status", false)?;
    let mappings = crate::commands::load_mappings(&args.mappings.mappings)?;
    let loaded = budget::load(&lake, &mappings).await?;
    let as_of = args.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let rows = budget::status(&loaded, args.month, as_of).await?;
    budget::save(&lake, &rows)?;
    let mut out = std::io::stdout().lock();
    if args.format == OutputFormat::Table
        && let Some(first) = rows.first()
    {
        let data = match first.data_end {
            Some(day) => format!("data runs to {day} ({} of {} days)", first.days_of_data, first.month.days()),
            None => "no data for the month yet".to_string(),
        };
        println!("budgets for {} as of {as_of}: {data}", first.month);
    }
    let batch = budget::to_batch(&rows, args.format != OutputFormat::Table);
    output::write(&mut out, &batch.schema(), std::slice::from_ref(&batch), args.format)?;
    let breaches = rows.iter().filter(|r| r.status == Status::OverTolerance).count();
    Ok(if args.fail_on_breach && breaches > 0 {
        eprintln!("{breaches} budget(s) over tolerance");
        crate::commands::Exit::BudgetBreach.into()
    } else {
        ExitCode::SUCCESS
    })
}

async fn backtest(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Decimal128Array, StringArray, UInt32Array, UInt64Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    let lake = Lake::new(&args.lake.lake);
    let mappings = crate::commands::load_mappings(&args.mappings.mappings)?;
    let loaded = budget::load(&lake, &mappings).await?;
    let results = budget::backtest(&loaded, &args.days).await?;
    if results.is_empty() {
        anyhow::bail!("the lake has no complete attributed month to backtest on");
    }
    // (month, days, teams, team MAPE, total APE), then the mean over months per cut-off day.
    let mut rows: Vec<(String, u32, u64, i128, i128)> =
        results.iter().map(|r| (r.month.to_string(), r.day, r.teams as u64, r.mape, r.total_ape)).collect();
    for &day in &args.days {
        let at: Vec<_> = results.iter().filter(|r| r.day == day).collect();
        if at.is_empty() {
            continue;
        }
        let n = at.len() as i128;
        let mean = |f: fn(&budget::BacktestRow) -> i128| div_round(at.iter().map(|r| f(r)).sum(), n);
        let teams = at.iter().map(|r| r.teams as u64).sum();
        rows.push(("mean".to_string(), day, teams, mean(|r| r.mape), mean(|r| r.total_ape)));
    }
    let pct = |values: Vec<i128>| {
        Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, 2).expect("valid decimal")) as ArrayRef
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("month", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.clone())))),
        ("days_of_data", Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.1)))),
        ("teams", Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2)))),
        ("team_mape_pct", pct(rows.iter().map(|r| r.3).collect())),
        ("total_ape_pct", pct(rows.iter().map(|r| r.4).collect())),
    ];
    let schema =
        Schema::new(columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), false)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect())?;
    output::write(&mut std::io::stdout().lock(), &batch.schema(), std::slice::from_ref(&batch), args.format)?;
    Ok(ExitCode::SUCCESS)
}
