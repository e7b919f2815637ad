//! `tally findings`: anomalies, orphans, idle resources, commitments, storage
//! tiering and realized savings, written to the lake's `findings` table.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::findings::{self, Kind};
use tally::lake::Lake;
use tally::output::{self, OutputFormat};

use crate::commands::{LakeArg, MappingsArg};

pub const AFTER_HELP: &str = "\
Reads the attributed lake (run tally attribute first) and the mappings folder, and replaces the
lake's `findings` table (tally sql) with every finding, one row per finding with a `kind`:
  anomaly           a team's daily usage spend on a service above its expected level (median of
                    the same weekday over the last 28 days, robust noise), with the resources driving it
  orphan            a resource with spend that no rule owns, with its likely owner (naming, account)
  idle              cost with no usage signal: load balancers and NAT gateways without traffic,
                    volumes in an availability zone where the account runs no instance, snapshots
                    older than 60 days: brown out, then release
  commitment        Reserved Instance / Savings Plan coverage of eligible on-demand spend per account
                    (savings from raising it, with assumptions) and unused commitment
  storage_tiering   object storage in the hottest class with few requests, priced in the colder
                    classes at the data's own unit prices
  realized_savings  each initiative of initiatives.toml measured before vs after it shipped (per
                    unit of a business metric with --metrics), with a 95% band: verified,
                    not_realized or too_early
Recommendations are ranked by monthly savings per dev-day of effort (effort per kind in
findings.toml); `meets_bar` marks those at or above 1 dev-week per $10K/month.
Monthly means the 30 days ending on the as-of day (--as-of; the data's last charge day by default). Same lake, same
mappings: same findings, same ids, same bytes.

Exit codes: 0 ok, 1 error (file:line for findings.toml and initiatives.toml), 2 usage error.

Examples:
  tally findings --lake lake --mappings mappings
  tally findings --lake lake --mappings mappings --kind idle --kind orphan --format csv
  tally findings --lake lake --mappings mappings --metrics metrics.csv --format json
  tally sql --lake lake 'SELECT kind, count(*), sum(monthly_savings) FROM findings GROUP BY 1'";

#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct FindingsArgs {
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    mappings: MappingsArg,
    /// Business metrics (CSV or Parquet: date, metric, value[, team][, product]) that realized
    /// savings are normalised by when an initiative names a metric
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// The day findings are as of: their 30-day window ends here [default: the data's last
    /// charge day, as budgets, reports and nudges use]
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<chrono::NaiveDate>,
    /// Show only these kinds (the table always keeps every finding)
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    kind: Vec<Kind>,
    /// Show at most this many findings
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Output format (csv and json show every column)
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        format!("{text:?} is not a kind: anomaly, orphan, idle, commitment, storage_tiering, realized_savings")
    })
}

pub async fn run(args: FindingsArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let _lock = crate::commands::lock_lake(lake.root(), "tally findings", false)?;
    let mappings = crate::commands::load_mappings(&args.mappings.mappings)?;
    let all = findings::compute(&lake, &mappings, args.metrics.as_deref(), args.as_of).await?;
    findings::save(&lake, &all)?;
    let mut shown: Vec<&findings::Finding> =
        all.iter().filter(|f| args.kind.is_empty() || args.kind.contains(&f.kind())).collect();
    // People see the ranked recommendations first, then the rest by size.
    shown.sort_by(|a, b| {
        (a.rank.unwrap_or(u32::MAX), std::cmp::Reverse(a.monthly_savings), &a.finding_id).cmp(&(
            b.rank.unwrap_or(u32::MAX),
            std::cmp::Reverse(b.monthly_savings),
            &b.finding_id,
        ))
    });
    shown.truncate(args.limit);
    let owned: Vec<findings::Finding> = shown.into_iter().cloned().collect();
    let batch = findings::to_batch(&owned);
    let mut out = std::io::stdout().lock();
    if args.format == OutputFormat::Table || args.format == OutputFormat::Markdown {
        let counts: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{} {}", all.iter().filter(|f| f.kind() == *k).count(), k.name()))
            .collect();
        println!("{} finding(s): {} (in the lake's findings table)", all.len(), counts.join(", "));
        let keep = [
            "rank",
            "kind",
            "team",
            "title",
            "currency",
            "monthly_cost",
            "monthly_savings",
            "effort_dev_days",
            "status",
        ];
        let indices: Vec<usize> = keep.iter().map(|c| batch.schema().index_of(c).expect("column")).collect();
        let narrow = batch.project(&indices)?;
        let rounded = round_effort(&narrow)?;
        output::write(&mut out, &rounded.schema(), std::slice::from_ref(&rounded), args.format)?;
    } else {
        output::write(&mut out, &batch.schema(), std::slice::from_ref(&batch), args.format)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Effort to hundredths of a day for the terminal (the table keeps every digit; money the
/// terminal shows to the cent itself).
fn round_effort(
    batch: &datafusion::arrow::record_batch::RecordBatch,
) -> anyhow::Result<datafusion::arrow::record_batch::RecordBatch> {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
    use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Schema};

    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if let DataType::Decimal128(_, scale) = column.data_type()
            && field.name() == "effort_dev_days"
        {
            let factor = 10i128.pow(*scale as u32 - 2);
            let values = column.as_primitive::<Decimal128Type>();
            let rounded: Decimal128Array = (0..values.len())
                .map(|i| (!values.is_null(i)).then(|| tally::money::div_round(values.value(i), factor)))
                .collect();
            let rounded = rounded.with_precision_and_scale(38, 2)?;
            fields.push(Field::new(field.name(), rounded.data_type().clone(), true));
            columns.push(Arc::new(rounded));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(datafusion::arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
