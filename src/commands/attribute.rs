//! `tally attribute`: every line item of the lake to a team, by the mappings.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tally::attribute::{self, Compiled, Restate};
use tally::lake::Lake;
use tally::lake::locks;
use tally::output::{self, OutputFormat};

use crate::commands::{LakeArg, MappingsArg};

pub const AFTER_HELP: &str = "\
Writes the lake's `attributed` table: one row per line item, or per share of a split line item,
with team, org path (as of the charge date and as of today), rule id, method (direct, shared,
unallocated), pool, share and both costs. Each period is checked before it is swapped in: per
currency, attributed BilledCost and EffectiveCost equal the ingested sums exactly, and every line
item's shares add to exactly 1. Re-running replaces the periods it covers.

Locked periods (`tally lock`) are closed: naming one with --period fails, and a run over all
periods (or --since) skips them. --restate --message '<why>' re-attributes them and records, before
the swap, each team's costs before and after, who, when and why in the `restatements` table.

With currency.toml in the mappings folder (reporting currency, rates file, policy per month),
every row also carries its month's exchange rate, the rate's date and policy, and BilledCost and
EffectiveCost converted (x_ReportingCurrency, x_ExchangeRate, x_ReportingBilledCost, ...); a
missing rate stops the run before anything is written, naming every pair and month. Reports,
budgets and nudges then show the reporting currency. A locked month keeps the rates it had.

--emit-sql DIR writes the same attribution as SQL instead (DIR/attribute.sql and a README.txt):
run where the data is, it reads the lake's line items and writes attributed/ in DIR with the rows,
shares and decimals `tally attribute` writes: every rule kind, pools, Kubernetes cluster splits
and idle policies, the reporting currency. --dialect duckdb (the default) or spark (Spark 4 SQL:
Databricks, EMR, spark-sql).

Examples:
  tally attribute --lake lake --mappings mappings
  tally attribute --lake lake --mappings mappings --period 2026-08
  tally attribute --lake lake --mappings mappings --since 2026-01
  tally attribute --lake lake --mappings mappings --period 2026-08 --restate -m 'fraud moved to data, FIN-123'
  tally attribute --lake lake --mappings mappings --emit-sql attribution-sql --dialect duckdb
  tally attribute --lake lake --mappings mappings --emit-sql attribution-spark --dialect spark
  tally sql --lake lake 'SELECT team, sum(\"EffectiveCost\") FROM attributed GROUP BY 1 ORDER BY 2 DESC'";

pub const COVERAGE_SQL: &str = include_str!("../../queries/coverage.sql");
pub const REASONS_SQL: &str = include_str!("../../queries/unallocated_reasons.sql");

#[derive(Args)]
pub struct AttributeArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// Attribute only this billing period (YYYY-MM); repeatable
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period)]
    period: Vec<String>,
    /// Attribute this billing period and every later one in the lake
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_period, conflicts_with = "period")]
    since: Option<String>,
    /// Re-attribute locked periods too, recording a restatement (needs --message)
    #[arg(long, requires = "message")]
    restate: bool,
    /// Why the locked periods are restated (kept in the restatements table)
    #[arg(long, short, value_name = "TEXT")]
    message: Option<String>,
    /// Who restates [default: $TALLY_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Write the mappings as SQL into DIR instead of attributing: DIR/attribute.sql turns the
    /// lake's line items into the attributed table on another engine (see --dialect)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["restate", "message", "by"])]
    emit_sql: Option<std::path::PathBuf>,
    /// The engine the emitted SQL is for
    #[arg(long, value_enum, default_value = "duckdb", requires = "emit_sql")]
    dialect: attribute::emit::Dialect,
}

pub fn parse_period(text: &str) -> Result<String, String> {
    chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 7)
        .map(|_| text.to_string())
        .ok_or_else(|| format!("{text:?} is not a billing period like 2026-08"))
}

pub async fn run(args: AttributeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    if let Some(dir) = &args.emit_sql {
        return emit_sql(&lake, &args, dir, quiet).await;
    }
    let _lock = crate::commands::lock_lake(lake.root(), "tally attribute", false)?;
    let compiled = Compiled::load(&args.mappings.mappings)?;
    let mut periods = select_periods(&lake, &args.period, args.since.as_deref())?;
    let restate = args.restate.then(|| Restate {
        by: args.by.clone().unwrap_or_else(locks::current_user),
        message: args.message.clone().unwrap_or_default(),
    });
    if args.period.is_empty() && restate.is_none() {
        // A scheduled run over "everything" leaves closed periods alone; naming one is an error instead.
        let mut skipped = Vec::new();
        for period in &periods {
            if let Some(lock) = locks::get(&lake, period).map_err(anyhow::Error::msg)? {
                skipped.push(format!("{period} ({})", lock.describe()));
            }
        }
        if !skipped.is_empty() {
            periods.retain(|p| !skipped.iter().any(|s| s.starts_with(p.as_str())));
            if !quiet {
                println!("skipping locked period(s): {}; --restate re-attributes them", skipped.join("; "));
            }
        }
        if periods.is_empty() {
            if !quiet {
                println!("nothing to attribute: every period is locked");
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    let outcomes = attribute::run(&lake, &compiled, &periods, !quiet, restate.as_ref()).await?;
    if !quiet {
        let rows: u64 = outcomes.iter().map(|o| o.rows).sum();
        let items: u64 = outcomes.iter().map(|o| o.line_items).sum();
        println!(
            "attributed {items} line item(s) in {} period(s) as {rows} row(s) with mappings {} \
             (reconciled: both costs equal the ingested sums exactly)",
            outcomes.len(),
            compiled.version
        );
        print_coverage(&lake, &periods).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--emit-sql DIR`: the mappings as SQL for another engine; the lake is only read for its
/// periods (nothing is attributed, nothing locked).
async fn emit_sql(lake: &Lake, args: &AttributeArgs, dir: &std::path::Path, quiet: bool) -> anyhow::Result<ExitCode> {
    let compiled = Compiled::load(&args.mappings.mappings)?;
    let periods = select_periods(lake, &args.period, args.since.as_deref())?;
    // With a currency.toml the SQL carries each period's rates, worked out here as attribution
    // would (a missing rate stops it now, naming every pair and month).
    let rates = attribute::period_rates(lake, &compiled, &periods).await?;
    let target = attribute::emit::Target { lake: lake.root(), periods: &periods, rates: &rates };
    let emitted = attribute::emit::emit(&compiled, &target, args.dialect, dir)?;
    if !quiet {
        let run = match args.dialect {
            attribute::emit::Dialect::Duckdb => format!("cd {} && duckdb < attribute.sql", dir.display()),
            attribute::emit::Dialect::Spark => format!("spark-sql -f {}", emitted.sql.display()),
        };
        println!(
            "wrote {} ({} rule(s), {} pool(s), mappings {}, period(s) {}) for {}; run it: {run} \
             (README.txt beside it says more)",
            emitted.sql.display(),
            emitted.rules,
            emitted.pools,
            compiled.version,
            periods.join(", "),
            args.dialect.name(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Explicit periods, or the lake's periods from `since` on (all by default).
pub fn select_periods(lake: &Lake, explicit: &[String], since: Option<&str>) -> anyhow::Result<Vec<String>> {
    let available = tally::lake::line_items::periods(lake);
    if available.is_empty() {
        anyhow::bail!("lake {} has no line items: run `tally ingest` first", lake.root().display());
    }
    if !explicit.is_empty() {
        for period in explicit {
            if !available.contains(period) {
                anyhow::bail!("billing period {period} is not in the lake (it has {})", available.join(", "));
            }
        }
        let mut periods = explicit.to_vec();
        periods.sort();
        periods.dedup();
        return Ok(periods);
    }
    Ok(available.into_iter().filter(|p| since.is_none_or(|s| p.as_str() >= s)).collect())
}

/// Coverage and the top unallocated reasons for `periods`.
pub async fn print_coverage(lake: &Lake, periods: &[String]) -> anyhow::Result<()> {
    let ctx = lake.session().await.context("opening the lake")?;
    // The report SQL runs unchanged over only these periods.
    let list: Vec<datafusion::prelude::Expr> = periods.iter().map(|p| datafusion::prelude::lit(p.as_str())).collect();
    let only =
        ctx.table("attributed").await?.filter(datafusion::prelude::col("billing_period").in_list(list, false))?;
    ctx.deregister_table("attributed")?;
    ctx.register_table("attributed", only.into_view())?;
    for (title, sql) in [("coverage", COVERAGE_SQL), ("unallocated, by reason", REASONS_SQL)] {
        let frame = tally::lake::sql::query(&ctx, sql.trim().trim_end_matches(';')).await?;
        let schema = frame.schema().as_arrow().clone();
        let batches = frame.collect().await?;
        println!("\n{title}:");
        output::write(&mut std::io::stdout().lock(), &schema, &batches, OutputFormat::Table)?;
    }
    Ok(())
}
