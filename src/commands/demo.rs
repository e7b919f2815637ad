//! `tally demo`: a synthetic company's AWS CUR files, ingested into a lake and
//! attributed to its teams by the mappings in `fixtures/demo-mappings` (built
//! into the binary), with a summary. Deterministic: the same seed gives the
//! same bytes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tally::attribute;
use tally::demo::generate::{DemoConfig, generate_cur};
use tally::ingest;
use tally::lake::Lake;
use tally::output::{self, OutputFormat};

use crate::commands;

#[derive(Args)]
pub struct DemoArgs {
    /// Output folder: CUR files go to DIR/cur, business volume to DIR/metrics.csv, the lake to
    /// DIR/lake, mappings to DIR/mappings, the weekly and unit-economics reports to DIR/reports
    #[arg(long, value_name = "DIR", default_value = "tally-demo")]
    out: PathBuf,
    /// Approximate number of line items to generate
    #[arg(long, default_value_t = DemoConfig::default().target_rows)]
    rows: u64,
    /// Seed of the generator: the same seed writes the same files
    #[arg(long, default_value_t = DemoConfig::default().seed)]
    seed: u64,
    /// Number of billing months, ending with the most recent one
    #[arg(long, default_value_t = DemoConfig::default().months)]
    months: u32,
    /// Split each month's report into files of at most this many rows
    #[arg(long, default_value_t = DemoConfig::default().rows_per_file)]
    rows_per_file: u64,
    /// Only write the CUR files (e.g. for benchmarks), do not ingest them
    #[arg(long)]
    no_ingest: bool,
    /// Pods on each node of the shared EKS cluster per day, each billed as a vCPU and a memory
    /// row of split cost allocation data (16: a cluster-heavy bill, about 30% of its line items
    /// pod rows at 1M line items; bench/attribution.py --pods-per-node)
    #[arg(long, value_name = "N", default_value_t = DemoConfig::default().pods_per_node)]
    pods_per_node: u64,
}

/// The demo company's ownership mappings, written to DIR/mappings.
const MAPPINGS: [(&str, &str); 11] = [
    ("org.toml", include_str!("../../fixtures/demo-mappings/org.toml")),
    ("rules.toml", include_str!("../../fixtures/demo-mappings/rules.toml")),
    ("pools.toml", include_str!("../../fixtures/demo-mappings/pools.toml")),
    ("budgets.toml", include_str!("../../fixtures/demo-mappings/budgets.toml")),
    ("approvals.toml", include_str!("../../fixtures/demo-mappings/approvals.toml")),
    ("findings.toml", include_str!("../../fixtures/demo-mappings/findings.toml")),
    ("initiatives.toml", include_str!("../../fixtures/demo-mappings/initiatives.toml")),
    ("chat.toml", include_str!("../../fixtures/demo-mappings/chat.toml")),
    ("currency.toml", include_str!("../../fixtures/demo-mappings/currency.toml")),
    ("clusters.toml", include_str!("../../fixtures/demo-mappings/clusters.toml")),
    ("telemetry/eks-cpu-hours.csv", include_str!("../../fixtures/demo-mappings/telemetry/eks-cpu-hours.csv")),
];

const SUMMARY_SQL: &str = include_str!("../../queries/demo_summary.sql");

pub async fn run(args: DemoArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let config = DemoConfig {
        seed: args.seed,
        months: args.months,
        target_rows: args.rows,
        rows_per_file: args.rows_per_file,
        pods_per_node: args.pods_per_node,
        ..DemoConfig::default()
    };
    let cur_dir = args.out.join("cur");
    if cur_dir.exists() {
        // Old parts of a bigger run would otherwise be ingested too.
        std::fs::remove_dir_all(&cur_dir).with_context(|| format!("clearing {}", cur_dir.display()))?;
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(config.target_rows), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} generating [{bar:30}] {human_pos}/{human_len} rows ({per_sec})")
            .expect("valid template"),
    );
    let files = generate_cur(&cur_dir, &config, &mut |n| bar.inc(n)).context("generating demo CUR files")?;
    bar.finish_and_clear();
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    // The company's business volume, so unit economics work out of the box.
    let metrics = args.out.join("metrics.csv");
    std::fs::write(&metrics, tally::demo::metrics::csv(&config))
        .with_context(|| format!("writing {}", metrics.display()))?;
    if !quiet {
        println!("wrote {} CUR file(s), {} line items, under {}", files.len(), rows, cur_dir.display());
        println!("wrote the business volume (payments processed, per-team units) to {}", metrics.display());
    }
    if args.no_ingest {
        return Ok(ExitCode::SUCCESS);
    }

    let lake = Lake::new(args.out.join("lake"));
    let _lock = crate::commands::lock_lake(lake.root(), "tally demo", true)?;
    let options = ingest::Options { progress: !quiet, ..Default::default() };
    let outcome = ingest::run(&lake, &[cur_dir.display().to_string()], &options).await?;
    anyhow::ensure!(outcome.committed, "demo data was quarantined: this is a bug in the generator");
    if !quiet {
        let frame = tally::lake::sql::query(&lake.session().await?, SUMMARY_SQL).await?;
        let schema = frame.schema().as_arrow().clone();
        let batches = frame.collect().await?;
        println!("\nlake {} (every file reconciled: rows and cost in = out)", lake.root().display());
        output::write(&mut std::io::stdout().lock(), &schema, &batches, OutputFormat::Table)?;
    }

    let mappings_dir = args.out.join("mappings");
    for (name, text) in MAPPINGS {
        let path = mappings_dir.join(name);
        std::fs::create_dir_all(path.parent().expect("has parent"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // The exchange rates of exactly the demo's months (currency.toml reads them).
    let rates = mappings_dir.join(tally::demo::rates::FILE);
    std::fs::create_dir_all(rates.parent().expect("has parent"))?;
    std::fs::write(&rates, tally::demo::rates::csv(&config)).with_context(|| format!("writing {}", rates.display()))?;
    let compiled = attribute::Compiled::load(&mappings_dir)?;
    let periods = tally::lake::line_items::periods(&lake);
    attribute::run(&lake, &compiled, &periods, !quiet, None).await?;
    if !quiet {
        println!("\nattributed to teams by {} (reconciled to the ingested totals exactly)", mappings_dir.display());
        commands::attribute::print_coverage(&lake, &periods).await?;
        println!(
            "\nexplore it: tally sql --lake {} 'SELECT team, sum(\"x_ReportingEffectiveCost\") AS usd FROM attributed GROUP BY 1 ORDER BY 2 DESC'",
            lake.root().display()
        );
    }
    // The weekly ops review of the last week of data, as `tally report weekly` writes it.
    let report_dir = args.out.join("reports");
    let written = tally::report::write_weekly(&lake, compiled.ownership.clone(), Some(&metrics), &report_dir, None)
        .await
        .context("writing the weekly report")?;
    let unit_options = tally::report::Options {
        metrics: Some(metrics.clone()),
        ..tally::report::Options::new(&lake, compiled.ownership.clone())
    };
    let (_, unit) = tally::report::write(tally::report::Report::UnitEconomics, &unit_options, &report_dir)
        .await
        .context("writing the unit-economics report")?;
    if !quiet {
        println!(
            "\nweekly ops review: open {} in a browser (no network needed); Markdown summary {}, every table as CSV and Parquet beside them",
            written.html.display(),
            written.markdown.display()
        );
        println!(
            "a page per team and org node (what each team's nudge links to): {}",
            report_dir.join(tally::report::pages::TEAMS_DIR).join("index.html").display()
        );
        println!("unit economics (spend per payment, per dollar processed in basis points): {}", unit.html.display());
    }
    Ok(ExitCode::SUCCESS)
}
