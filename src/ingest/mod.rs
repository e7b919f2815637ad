//! Billing files in, canonical line items out: discover the files, detect
//! each one's format, map every row, stage Parquet, reconcile what landed
//! against what was read, then commit atomically.
//!
//! Nothing reaches the lake unless every file reconciles: rows read = rows
//! landed + rows quarantined, and the source cost column's sum = BilledCost
//! read back from the staged files + the quarantined rows' cost.

pub mod aws_cur;
mod aws_line_items;
pub mod azure;
mod chunks;
pub mod discover;
mod duplicates;
pub mod focus;
mod focus_datasets;
pub mod gcp;
pub mod invoices;
pub mod literal;
pub mod manifest;
pub mod mapper;
pub mod nested;
mod parts;
mod reconcile;
pub mod replace;
pub mod s3;
mod s3_credentials;
mod s3_keys;
mod s3_select;
pub mod service_category;
pub mod source;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::lake::Lake;
use crate::lake::datasets::{StagedDataset, StagedDatasets};
use crate::lake::line_items::{StagedLineItems, StagedUnit};
use crate::lake::log::{IngestRecord, QuarantinedRow};
use mapper::{Header, Mapper, Normalisations};
use source::Rows;

/// A billing export format tally reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// AWS legacy Cost and Usage Report (`lineItem/...` or Athena snake_case columns)
    AwsCur,
    /// AWS CUR 2.0 from Data Exports (snake_case with map columns)
    AwsCur2,
    /// FinOps FOCUS 1.0, 1.1 or 1.2
    Focus,
    /// Google Cloud billing export (standard or detailed): CSV, JSON lines or Parquet
    Gcp,
    /// Azure actual cost export (EA, MCA, pay-as-you-go): the source of BilledCost
    AzureActual,
    /// Azure amortized cost export: the source of EffectiveCost
    AzureAmortized,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::AwsCur => "aws-cur",
            Format::AwsCur2 => "aws-cur2",
            Format::Focus => "focus",
            Format::Gcp => "gcp",
            Format::AzureActual => "azure-actual",
            Format::AzureAmortized => "azure-amortized",
        }
    }
}

/// Tells the format from a header, or `None` when it is none tally knows.
pub fn detect(header: &Header) -> Option<Format> {
    let snake: Vec<String> = header.names.iter().map(|n| mapper::snake_case(n)).collect();
    if snake.iter().any(|n| n == "line_item_unblended_cost") {
        return Some(match aws_cur::generation(header) {
            aws_cur::Generation::Legacy => Format::AwsCur,
            aws_cur::Generation::Cur2 => Format::AwsCur2,
        });
    }
    if focus_datasets::of(header).is_some()
        || header.has("BilledCost") && (header.has("ChargePeriodStart") || header.has("BillingPeriodStart"))
    {
        return Some(Format::Focus);
    }
    if gcp::detect(header) {
        return Some(Format::Gcp);
    }
    // Actual and amortized exports have the same columns: `ingest_file` tells them by path.
    if azure::detect(header) {
        return Some(Format::AzureActual);
    }
    None
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a format instead of detecting it per file.
    pub format: Option<Format>,
    /// Currency to assume for files or rows that carry none.
    pub currency: Option<String>,
    /// Commit the good rows even when some rows were quarantined.
    pub allow_quarantine: bool,
    /// Replace units even when the new data drops more of their cost or line
    /// items than [`replace`] allows.
    pub allow_shrink: bool,
    /// Let a cloud's month and account delivered by one kind of export be
    /// replaced by another kind's (see [`replace`]).
    pub allow_export_switch: bool,
    /// Ingest some files of a local AWS delivery whose manifest lists more.
    pub allow_partial: bool,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Only billing periods from this `YYYY-MM` on (`--since`): S3 deliveries of
    /// earlier months are not downloaded, and rows of earlier billing periods
    /// in any file are left out (counted, their units untouched).
    pub since: Option<String>,
    /// Endpoint for `s3://` inputs.
    pub s3: s3::S3Options,
}

#[derive(Debug)]
pub struct Outcome {
    pub run_id: String,
    pub files: Vec<IngestRecord>,
    pub units: Vec<StagedUnit>,
    /// Each unit's line items and BilledCost before and after (also when nothing was committed).
    pub changes: Vec<replace::UnitChange>,
    /// FOCUS supplementary dataset units written (or that would have been).
    pub datasets: Vec<StagedDataset>,
    /// Per invoice of the billing periods this run wrote: the Invoice Detail
    /// dataset's BilledCost against the line items' (after a commit).
    pub invoices: Vec<invoices::InvoiceCheck>,
    pub quarantined: Vec<QuarantinedRow>,
    /// False when rows were quarantined without `allow_quarantine`: the lake's
    /// line items are unchanged, only `ingests` and `quarantine` were written.
    pub committed: bool,
    /// Finality of each committed unit (also in the `periods` table).
    pub periods: Vec<crate::lake::periods::PeriodRecord>,
    /// S3 deliveries downloaded (also in `s3_deliveries`) and skipped.
    pub s3_deliveries: Vec<crate::lake::deliveries::DeliveryRecord>,
    pub s3_skipped: Vec<s3::Skipped>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Input(String),
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// The input is readable but committing it would lose data (see [`replace`]).
    #[error("{0}")]
    Refused(String),
    #[error("reconciliation failed, nothing committed: {0}")]
    Reconciliation(String),
    #[error("lake {path}: {source}")]
    Lake { path: String, source: std::io::Error },
}

fn file_error(file: &str, message: impl Into<String>) -> IngestError {
    IngestError::File { file: file.to_string(), message: message.into() }
}

fn lake_error(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Lake { path: path.display().to_string(), source }
}

/// Ingests `inputs` (files, folders, globs, `s3://` prefixes) into `lake`.
pub async fn run(lake: &Lake, inputs: &[String], options: &Options) -> Result<Outcome, IngestError> {
    if let Some(code) = &options.currency
        && crate::currency::iso_4217(code) != Some(code.as_str())
    {
        return Err(IngestError::Input(format!(
            "--currency {code:?} is not an ISO 4217 code in upper case (USD, EUR, ...)"
        )));
    }
    let (remote, local): (Vec<String>, Vec<String>) = inputs.iter().cloned().partition(|i| s3::is_s3_url(i));
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if !local.is_empty() {
        let found = discover::discover(&local).map_err(IngestError::Input)?;
        let incomplete = parts::incomplete(&found);
        if !incomplete.is_empty() && !options.allow_partial {
            return Err(IngestError::Refused(format!(
                "refusing part of a delivery, nothing committed: {}. A month is replaced whole, so one part \
                 alone would replace all of it: ingest the folder (every file the manifest lists), or rerun with \
                 --allow-partial if this part is all you mean to load",
                incomplete.join("; ")
            )));
        }
        files.extend(found.into_iter().map(|f| (f.clone(), source_name(&f))));
    }
    lake.clear_stale_staging().map_err(lake_error(&lake.staging_root()))?;
    // Downloads land in staging; dropping `fetched` removes them, on every path out.
    let fetched = if remote.is_empty() {
        None
    } else {
        Some(s3::fetch(lake, &remote, &options.s3, options.since.as_deref()).await?)
    };
    files.extend(fetched.iter().flat_map(|f| f.files.iter().cloned()));
    let (s3_deliveries, s3_skipped) =
        fetched.as_ref().map(|f| (f.deliveries.clone(), f.skipped.clone())).unwrap_or_default();
    let delivery_files = fetched.as_ref().map(|f| f.delivery_files.clone()).unwrap_or_default();
    if files.is_empty() {
        // Every S3 delivery was skipped: nothing to do, nothing written.
        let (run_id, files, units, changes, quarantined, periods) =
            (String::new(), vec![], vec![], vec![], vec![], vec![]);
        return Ok(Outcome {
            run_id,
            files,
            units,
            changes,
            datasets: Vec::new(),
            invoices: Vec::new(),
            quarantined,
            committed: true,
            periods,
            s3_deliveries,
            s3_skipped,
        });
    }
    let digests = files
        .iter()
        .map(|(f, name)| digest(f).map_err(|e| file_error(name, format!("cannot read: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let run_id = run_id(&digests);
    let staging = lake.staging_dir(&run_id);
    let mut staged = StagedLineItems::new(&staging).map_err(lake_error(&staging))?;
    let mut datasets = StagedDatasets::default();

    let progress = progress_bar(options.progress, digests.iter().map(|d| d.1).sum());
    let started_at = chrono::Utc::now().timestamp_micros();
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    // Byte-identical files (same SHA-256) are read once, as the one with the
    // shortest name (then the first): copies are usually the longer names
    // ("x (1).csv.gz", "copy of x"), so the original keeps its lineage.
    let mut original_of: HashMap<&str, &str> = HashMap::new();
    for ((_, name), (sha, _)) in files.iter().zip(&digests) {
        let best = original_of.entry(sha.as_str()).or_insert(name.as_str());
        if name.len() < best.len() {
            *best = name.as_str();
        }
    }
    for ((path, name), (sha, bytes)) in files.iter().zip(&digests) {
        let mut record = IngestRecord {
            run_id: run_id.clone(),
            ingested_at_micros: started_at,
            source_file: name.clone(),
            source_sha256: sha.clone(),
            source_bytes: *bytes,
            since: options.since.clone().unwrap_or_default(),
            ..Default::default()
        };
        if let Some(original) = original_of.get(sha.as_str()).filter(|o| **o != name.as_str()) {
            tracing::warn!("{name}: the same bytes as {original}, so it is read once (as {original})");
            record.format = format!("{COPY_OF}{original}");
            progress.inc(*bytes);
            records.push(record);
            continue;
        }
        let mut staging_to = Staging { line_items: &mut staged, datasets: &mut datasets };
        let result = ingest_file(path, options, &run_id, &mut staging_to, &mut record, &mut quarantined, &progress);
        if let Err(e) = result {
            progress.finish_and_clear();
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        records.push(record);
    }
    progress.finish_and_clear();

    let units = staged.finish().map_err(lake_error(&staging))?;
    let datasets = datasets.finish(&staging).map_err(lake_error(&staging))?;
    let staged = reconcile::Staged { line_items: units, datasets };
    let outcome = reconcile::reconcile_and_commit(lake, &staging, run_id, records, staged, quarantined, options)
        .await
        .and_then(|outcome| {
            let read = ReadDeliveries { deliveries: s3_deliveries, files: delivery_files, skipped: s3_skipped };
            record_commit(lake, outcome, read, options.since.as_deref(), started_at)
        });
    let _ = std::fs::remove_dir_all(&staging);
    let mut outcome = outcome?;
    if outcome.committed {
        outcome.invoices = invoices::check(lake, &outcome.files).await?;
    }
    Ok(outcome)
}

/// Where a file's rows are staged: line items, or FOCUS supplementary datasets.
struct Staging<'a> {
    line_items: &'a mut StagedLineItems,
    datasets: &'a mut StagedDatasets,
}

/// How `ingests.format` marks a byte-identical copy of a file read in the same run.
pub const COPY_OF: &str = "copy of ";

/// The S3 deliveries a run read (each with the `s3://` names of its data
/// files) and those it skipped.
struct ReadDeliveries {
    deliveries: Vec<crate::lake::deliveries::DeliveryRecord>,
    files: Vec<Vec<String>>,
    skipped: Vec<s3::Skipped>,
}

/// After a commit: log each unit's finality and the S3 deliveries read (with
/// `since` where it left rows of theirs out), and warn about invoiced periods
/// that were restated.
fn record_commit(
    lake: &Lake,
    mut outcome: Outcome,
    read: ReadDeliveries,
    since: Option<&str>,
    at_micros: i64,
) -> Result<Outcome, IngestError> {
    let ReadDeliveries { mut deliveries, files, skipped } = read;
    outcome.s3_skipped = skipped;
    if !outcome.committed {
        return Ok(outcome);
    }
    for p in outcome.periods.iter().filter(|p| p.restated_final) {
        tracing::warn!(
            "{} {} (billing account {}) was final (invoiced) and has been restated: the new data replaced it{}",
            p.provider,
            p.billing_period,
            p.billing_account,
            if p.is_final() { format!(", invoice {}", p.invoice_ids.join(", ")) } else { String::new() }
        );
    }
    crate::lake::periods::write_periods(lake, &outcome.run_id, &outcome.periods).map_err(lake_error(lake.root()))?;
    for (d, names) in deliveries.iter_mut().zip(&files) {
        d.run_id = outcome.run_id.clone();
        d.ingested_at_micros = at_micros;
        let left_out = outcome.files.iter().any(|f| f.rows_skipped > 0 && names.contains(&f.source_file));
        d.since = since.filter(|_| left_out).unwrap_or_default().to_string();
    }
    crate::lake::deliveries::write_deliveries(lake, &outcome.run_id, &deliveries).map_err(lake_error(lake.root()))?;
    outcome.s3_deliveries = deliveries;
    Ok(outcome)
}

fn ingest_file(
    path: &Path,
    options: &Options,
    run_id: &str,
    staged: &mut Staging<'_>,
    record: &mut IngestRecord,
    quarantined: &mut Vec<QuarantinedRow>,
    progress: &ProgressBar,
) -> Result<(), IngestError> {
    let name = record.source_file.clone();
    let rows = Rows::open(path).map_err(|e| file_error(&name, e))?;
    let header = Header::new(rows.header.clone());
    let (format, how) = match options.format {
        Some(f) => (f, "given"),
        None => (
            detect(&header).ok_or_else(|| {
                let first: Vec<&str> = header.names.iter().take(6).map(String::as_str).collect();
                file_error(
                    &name,
                    format!(
                        "unknown billing format: the header has none of lineItem/UnblendedCost, \
                         line_item_unblended_cost, BilledCost, GCP's cost with billing_account_id or Azure's \
                         Cost/CostInBillingCurrency/PreTaxCost with SubscriptionId (first columns: {}); \
                         pass --format to force one",
                        first.join(", ")
                    ),
                )
            })?,
            "detected",
        ),
    };
    let (format, how) = match (format, how) {
        (Format::AzureActual, "detected") => match azure::kind_from_path(path) {
            Some(azure::Kind::Amortized) => (Format::AzureAmortized, "detected, amortized by its path"),
            Some(azure::Kind::Actual) => (Format::AzureActual, "detected, actual by its path"),
            None => (Format::AzureActual, "detected, actual: the path names no kind"),
        },
        other => other,
    };
    if let Some(problem) = repeated_column(&header, format) {
        return Err(file_error(&name, problem));
    }
    if format == Format::Focus
        && let Some(dataset) = focus_datasets::of(&header)
    {
        let version = focus_datasets::version(dataset);
        let title = dataset.title.to_ascii_lowercase();
        record.format = format!("focus {version} {title} ({}, {how})", rows.encoding.name());
        let read = focus_datasets::read(rows, &header, dataset, run_id, staged.datasets, record, quarantined)?;
        record.normalised_values = read.notes.total();
        record.normalisations = read.notes.summary();
        progress.inc(record.source_bytes);
        return Ok(());
    }
    let mut notes = Normalisations::default();
    let mapper: Box<dyn Mapper> = match format {
        Format::AwsCur | Format::AwsCur2 => Box::new(
            aws_cur::AwsCurMapper::new(&header, options.currency.clone()).map_err(|m| missing(&name, format, m))?,
        ),
        Format::Focus => {
            let m =
                focus::FocusMapper::new(&header, options.currency.clone()).map_err(|m| missing(&name, format, m))?;
            if !m.extra_columns.is_empty() {
                notes.add("non-FOCUS column ignored", m.extra_columns.len() as u64);
                tracing::info!(
                    "{name}: ignoring non-FOCUS columns without the x_ prefix: {}",
                    m.extra_columns.join(", ")
                );
            }
            Box::new(m)
        }
        Format::Gcp => {
            Box::new(gcp::GcpMapper::new(&header, options.currency.clone()).map_err(|m| missing(&name, format, m))?)
        }
        Format::AzureActual | Format::AzureAmortized => {
            let kind = if format == Format::AzureActual { azure::Kind::Actual } else { azure::Kind::Amortized };
            Box::new(
                azure::AzureMapper::new(&header, kind, options.currency.clone())
                    .map_err(|m| missing(&name, format, m))?,
            )
        }
    };
    let version = match format {
        Format::Focus => format!(" {}", focus::version(&header)),
        _ => String::new(),
    };
    record.format = format!("{}{version} ({}, {how})", format.name(), rows.encoding.name());
    tracing::debug!("{name}: {how} format {}{version}", format.name());

    let file = chunks::FileMapping {
        name: &name,
        run_id,
        mapper: mapper.as_ref(),
        header: &header.names,
        bytes: record.source_bytes,
        since: since_start(options)?,
    };
    let summary = chunks::map_file(rows, &file, staged.line_items, record, quarantined, progress)?;
    notes.merge(&summary.notes);
    record.currency = summary.currency.unwrap_or_default();
    record.billing_periods = months(&summary.periods);
    record.skipped_periods = months(&summary.skipped_periods);
    record.normalised_values = notes.total();
    record.normalisations = notes.summary();
    Ok(())
}

/// `2024-11,2024-12` for billing period starts.
fn months(periods: &BTreeSet<i64>) -> String {
    let months: BTreeSet<String> = periods.iter().map(|p| crate::calendar::year_month(*p)).collect();
    months.into_iter().collect::<Vec<_>>().join(",")
}

/// `--since` as the first instant of its month.
fn since_start(options: &Options) -> Result<Option<i64>, IngestError> {
    let Some(since) = &options.since else { return Ok(None) };
    crate::calendar::Month::parse(since)
        .map(crate::calendar::Month::start_micros)
        .map(Some)
        .ok_or_else(|| IngestError::Input(format!("--since {since:?} is not a month: use YYYY-MM, e.g. 2025-01")))
}

/// A header that names one column twice, after the format's own reading of
/// names (case, and AWS's snake_case and tag prefixes): which of the two holds
/// the cost, or the team tag, would be a guess.
fn repeated_column(header: &Header, format: Format) -> Option<String> {
    let identity = |name: &str| -> Option<String> {
        if name.is_empty() {
            return None; // unnamed columns are never read
        }
        Some(match format {
            Format::AwsCur | Format::AwsCur2 => match aws_cur::legacy_tag_key(name) {
                Some(key) => format!("the tag {key}"),
                None => mapper::snake_case(name).to_ascii_lowercase(),
            },
            _ => name.to_ascii_lowercase(),
        })
    };
    let mut first: HashMap<String, usize> = HashMap::new();
    for (i, name) in header.names.iter().enumerate() {
        let Some(id) = identity(name) else { continue };
        if let Some(&j) = first.get(&id) {
            return Some(format!(
                "the header names one column twice: column {} ({}) and column {} ({}) are both {id}; tally will not \
                 guess which one is meant, so remove or rename one",
                j + 1,
                header.names[j],
                i + 1,
                name
            ));
        }
        first.insert(id, i);
    }
    None
}

fn missing(file: &str, format: Format, columns: Vec<String>) -> IngestError {
    file_error(file, format!("missing required {} columns: {}", format.name(), columns.join(", ")))
}

/// Content identity of an input file: its SHA-256 and size.
fn digest(path: &Path) -> std::io::Result<(String, u64)> {
    crate::hashing::sha256_file_len(path)
}

/// The run id depends only on the input bytes and tally's version, so a
/// re-run over the same files writes byte-identical line items.
fn run_id(digests: &[(String, u64)]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION"));
    for (sha, _) in digests {
        hasher.update(sha.as_bytes());
    }
    crate::hashing::hex(&hasher.finalize())[..16].to_string()
}

/// How a local file is named in the lake (`x_SourceFile`, `ingests.source_file`): its
/// absolute path. `tally run` finds what it already ingested by this name.
pub fn source_name(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path)).display().to_string()
}

fn progress_bar(enabled: bool, total_bytes: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} ingesting [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Tags written as a JSON object (FOCUS `Tags`, CUR 2.0 `resource_tags` in
/// CSV). Non-string values keep their JSON text; nulls are dropped.
pub fn json_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("tags are not a JSON object: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("tags are not a JSON object".to_string());
    };
    Ok(map
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}
