//! `tally ingest`: billing files into the lake, with a per-file reconciliation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::ingest::{self, Format, Outcome};
use tally::lake::Lake;
use tally::money;

use crate::commands::Exit;
use crate::commands::LakeArg;

pub const AFTER_HELP: &str = "\
Each file's format is detected from its header unless --format is given. Files are reconciled
(rows and cost sums in = out) before anything is committed. Line items are replaced per
provider, billing period and billing account: re-ingesting a restated month replaces it, and
the summary shows each unit's line items and BilledCost before and after. A replacement that
drops over 10% of a unit's cost or 25% of its line items (a stray row of another month, one
part of a multi-part month) is refused unless --allow-shrink; so are line items two files
both deliver, and part of a local AWS delivery whose manifest lists more (--allow-partial).
A byte-identical copy of a file is read once. --since YYYY-MM leaves out rows of earlier
billing periods, in local files and S3 deliveries alike: they are counted (rows read = landed +
quarantined + before --since, and the cost likewise), and the lake's earlier months stay as they are.

s3://bucket/prefix reads the AWS deliveries under the prefix (legacy CUR and CUR 2.0 / Data
Exports): only the files the current manifest of each report and month lists. A delivery already
in the lake (same assembly or execution id and manifest ETag) is skipped, so a daily run is cheap.
Keys are requested exactly as the manifest writes them, a leading / included (legacy reports
created without a prefix live under /<report>/...: s3://bucket or s3://bucket/<report> finds them).
Credentials come from the environment as for the AWS CLI (keys, web identity, ECS/EKS, EC2
instance role; not ~/.aws profiles: see the README).

Examples:
  tally ingest cur/ --lake lake
  tally ingest 'exports/**/*.csv.gz' --lake lake --format aws-cur
  tally ingest focus.csv --lake lake --currency USD --allow-quarantine
  tally ingest exports/ --lake lake --since 2025-01
  tally ingest s3://acme-billing/cur/ --lake lake --since 2025-01
  tally ingest s3://billing/exports --lake lake --s3-endpoint http://127.0.0.1:9000";

#[derive(Args)]
pub struct IngestArgs {
    /// Files, folders (searched recursively) or globs
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    #[command(flatten)]
    lake: LakeArg,
    /// Billing format; auto detects it per file from the header
    #[arg(long, default_value = "auto", value_parser = FormatParser)]
    format: FormatArg,
    /// Currency to assume where a file has no currency column or an empty cell
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// Commit the good rows even when some rows are quarantined
    #[arg(long)]
    allow_quarantine: bool,
    /// Replace a month even when the new data has over 10% fewer line items, or less gross
    /// cost, than the lake holds for it (a restatement that really removes charges)
    #[arg(long)]
    allow_shrink: bool,
    /// Ingest some files of a delivery whose AWS manifest (beside them) lists more
    #[arg(long)]
    allow_partial: bool,
    /// Let another kind of export replace the one that delivered a cloud's month and
    /// billing account (say Azure's FOCUS export after its cost export): the old export's
    /// files for those months are removed. Without it such a unit is refused, naming both
    #[arg(long)]
    allow_export_switch: bool,
    /// Only billing periods from this month on: S3 deliveries of earlier months are not
    /// downloaded, and rows of earlier billing periods in any file are left out (counted
    /// in the summary; the lake's earlier months are untouched)
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    since: Option<String>,
    /// For s3:// inputs: an S3-compatible endpoint (MinIO, Ceph, R2...) instead of AWS;
    /// plain http only to loopback unless AWS_ALLOW_HTTP=true
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
}

fn parse_month(text: &str) -> Result<String, String> {
    if ingest::manifest::is_year_month(text) {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a month: use YYYY-MM, e.g. 2025-01"))
    }
}

#[derive(Clone, Copy)]
struct FormatArg(Option<Format>);

/// `auto` or a [`Format`], listed with each format's doc comment in `--help`.
#[derive(Clone)]
struct FormatParser;

impl clap::builder::TypedValueParser for FormatParser {
    type Value = FormatArg;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<FormatArg, clap::Error> {
        parse_format(&value.to_string_lossy())
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e + "\n"))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let auto =
            clap::builder::PossibleValue::new("auto").help("Detect each file's format from its header (the default)");
        let formats =
            <Format as clap::ValueEnum>::value_variants().iter().filter_map(clap::ValueEnum::to_possible_value);
        Some(Box::new(std::iter::once(auto).chain(formats)))
    }
}

fn parse_format(text: &str) -> Result<FormatArg, String> {
    if text == "auto" {
        return Ok(FormatArg(None));
    }
    <Format as clap::ValueEnum>::from_str(text, true).map(|f| FormatArg(Some(f))).map_err(|_| {
        let names: Vec<&str> = <Format as clap::ValueEnum>::value_variants().iter().map(|f| f.name()).collect();
        let (last, rest) = names.split_last().expect("formats exist");
        format!("unknown format {text:?}: use auto, {} or {last}", rest.join(", "))
    })
}

pub async fn run(args: IngestArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let lake = Lake::new(&args.lake.lake);
    let _lock = crate::commands::lock_lake(lake.root(), "tally ingest", true)?;
    let options = ingest::Options {
        format: args.format.0,
        currency: args.currency,
        allow_quarantine: args.allow_quarantine,
        allow_shrink: args.allow_shrink,
        allow_partial: args.allow_partial,
        allow_export_switch: args.allow_export_switch,
        progress: !quiet,
        since: args.since,
        s3: ingest::s3::S3Options { endpoint: args.s3_endpoint },
    };
    let outcome = ingest::run(&lake, &args.paths, &options).await?;
    if !quiet {
        print_outcome(&outcome, lake.root());
    }
    if !outcome.committed {
        eprintln!(
            "error: {} row(s) quarantined, so nothing was committed. Fix the input, or rerun with \
             --allow-quarantine to commit the {} good row(s). Details: tally sql --lake {} \
             \"SELECT * FROM quarantine WHERE run_id = '{}'\"",
            outcome.quarantined.len(),
            outcome.files.iter().map(|f| f.rows_landed).sum::<u64>(),
            lake.root().display(),
            outcome.run_id
        );
        return Ok(Exit::Quarantined.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the reconciliation table, quarantined rows and what changed in the lake.
pub fn print_outcome(outcome: &Outcome, lake_root: &std::path::Path) {
    for s in &outcome.s3_skipped {
        println!("skipped {} {}: {}", s.report, s.billing_period, s.reason);
    }
    if outcome.files.is_empty() {
        println!("nothing new to ingest; the lake is unchanged");
        return;
    }
    for d in &outcome.s3_deliveries {
        let id = if d.layout == "aws-cur2" { "execution" } else { "assembly" };
        let (report, period) = (&d.report, &d.billing_period);
        println!("read {report} {period}: {id} {}, {} file(s), {} bytes", d.delivery_id, d.files, d.bytes);
    }
    // A column for rows left out by --since only when there are some.
    let since_column = outcome.files.iter().any(|f| f.rows_skipped > 0);
    let mut table = tabled::builder::Builder::default();
    let mut header = vec!["file", "format", "rows", "landed", "quarantined"];
    header.extend(since_column.then_some("before --since"));
    header.extend(["source cost", "landed cost", "check"]);
    table.push_record(header);
    let cost = |c: i128, currency: &str| {
        format!("{} {currency}", money::format(c, money::SCALE as u32)).trim_end().to_string()
    };
    for f in &outcome.files {
        let mut row = vec![
            short_name(&f.source_file),
            f.format.clone(),
            f.rows_read.to_string(),
            f.rows_landed.to_string(),
            f.rows_quarantined.to_string(),
        ];
        row.extend(since_column.then(|| f.rows_skipped.to_string()));
        row.extend([
            cost(f.source_cost, &f.currency),
            cost(f.landed_cost, &f.currency),
            if f.balances() { "ok".to_string() } else { "MISMATCH".to_string() },
        ]);
        table.push_record(row);
    }
    let mut table = table.build();
    table.with(tabled::settings::Style::sharp());
    println!("{table}");
    for f in outcome.files.iter().filter(|f| f.rows_skipped > 0) {
        println!(
            "skipped {} row(s) of billing periods before {} in {} ({}; source cost {}): not committed, the lake's \
             months before {} are untouched",
            f.rows_skipped,
            f.since,
            short_name(&f.source_file),
            f.skipped_periods.replace(',', ", "),
            cost(f.skipped_cost, &f.currency),
            f.since
        );
    }
    for f in outcome.files.iter().filter(|f| f.normalised_values > 0) {
        println!("normalised in {}: {}", short_name(&f.source_file), f.normalisations);
    }
    for q in outcome.quarantined.iter().take(10) {
        println!("quarantined {}:row {} column {}: {}", short_name(&q.source_file), q.source_row, q.column, q.reason);
    }
    if outcome.quarantined.len() > 10 {
        println!("... and {} more quarantined rows", outcome.quarantined.len() - 10);
    }
    print_changes(outcome);
    if outcome.committed {
        let rows: u64 = outcome.units.iter().map(|u| u.rows).sum();
        println!(
            "run {}: {} row(s) in {} partition file(s) under {}",
            outcome.run_id,
            rows,
            outcome.units.len(),
            tally::lake::Lake::new(lake_root).table_dir(tally::lake::LINE_ITEMS).display()
        );
        for d in &outcome.datasets {
            println!("{}: {} row(s) in {}", d.dataset.title, d.rows, d.relative.display());
        }
        print_invoices(outcome);
        for p in outcome.periods.iter().filter(|p| p.is_final()) {
            let restated = if p.restated_final { ", restated after it was final" } else { "" };
            println!(
                "final: {} {} account {} (invoice {}){restated}",
                p.provider,
                p.billing_period,
                p.billing_account,
                p.invoice_ids.join(", ")
            );
        }
    }
}

/// Reconciliation to the invoice, for the billing periods this run wrote.
fn print_invoices(outcome: &Outcome) {
    if outcome.invoices.is_empty() {
        return;
    }
    let cost = |c: i128| money::format(c, money::SCALE as u32);
    let mut table = tabled::builder::Builder::default();
    table.push_record([
        "invoice",
        "issuer",
        "period",
        "currency",
        "invoice BilledCost",
        "line items",
        "BilledCost",
        "difference",
        "check",
    ]);
    for i in &outcome.invoices {
        table.push_record([
            i.invoice_id.clone(),
            i.invoice_issuer.clone(),
            i.billing_period.clone(),
            i.currency.clone(),
            cost(i.invoice_billed),
            i.line_items.to_string(),
            cost(i.line_items_billed),
            cost(i.difference),
            i.status.clone(),
        ]);
    }
    let mut table = table.build();
    table.with(tabled::settings::Style::sharp());
    println!("reconciliation to the invoice (FOCUS Invoice Detail):\n{table}");
    for i in outcome.invoices.iter().filter(|i| !i.is_ok()) {
        tracing::warn!(
            "invoice {} of {} ({} {}): the line items' BilledCost {} differs from the invoice's {} by {}{}",
            i.invoice_id,
            i.invoice_issuer,
            i.billing_period,
            i.currency,
            cost(i.line_items_billed),
            cost(i.invoice_billed),
            cost(i.difference),
            if i.line_items == 0 { " (no line item names it)" } else { "" }
        );
    }
}

/// What each unit held before and holds after (or would have, when nothing
/// was committed): line items and BilledCost.
fn print_changes(outcome: &Outcome) {
    if outcome.changes.is_empty() {
        return;
    }
    let mut table = tabled::builder::Builder::default();
    table.push_record(["unit", "file", "action", "line items before", "after", "BilledCost before", "after"]);
    let cost = |c: i128| money::format(c, money::SCALE as u32);
    for c in &outcome.changes {
        let action = if outcome.committed { c.action() } else { "not committed" };
        table.push_record([
            c.unit(),
            c.key.relative_path().display().to_string(),
            action.to_string(),
            c.before.map_or("-".to_string(), |b| b.line_items.to_string()),
            c.after.line_items.to_string(),
            c.before.map_or("-".to_string(), |b| cost(b.billed)),
            cost(c.after.billed),
        ]);
    }
    let mut table = table.build();
    table.with(tabled::settings::Style::sharp());
    println!("{table}");
    for c in &outcome.changes {
        for (path, why) in &c.displaces {
            let verb = if outcome.committed { "removed" } else { "would remove" };
            println!("{}: {verb} {} ({why})", c.unit(), path.display());
        }
    }
}

/// The last two path components: enough to tell files apart in a table.
fn short_name(path: &str) -> String {
    let p = PathBuf::from(path);
    let parts: Vec<_> = p.components().rev().take(2).collect();
    parts.into_iter().rev().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}
