//! `tally run`: ingest what changed, then attribute the periods whose inputs
//! changed, under the lake's run lock.
//!
//! Skipping is decided from the lake itself plus one small state file, so a
//! run killed at any point leaves the next one enough to finish the job:
//!
//! - **Ingest.** A local file is up to date when the line items carrying its
//!   name in the lake all come from an ingest run that read exactly its
//!   current bytes (`line_items.x_IngestRunId` -> `ingests.source_sha256`).
//!   Files are re-read a whole folder at a time (a billing month's parts sit
//!   in one folder), because ingest replaces a (provider, month, account) file
//!   whole; if a replaced file also held rows of files in other folders, those
//!   folders are re-read too. `s3://` sources are always passed to ingest,
//!   which skips deliveries whose manifest is unchanged.
//! - **Attribute.** `<lake>/_run/state.json` records, per period, a hash of
//!   its line-item files' bytes, the mappings version and the attributed
//!   file it produced (size, mtime, inode). A period is attributed when any of
//!   those differ or it has no record: new, restated, re-ingested by a run
//!   that died before attributing, or attributed by hand with other mappings.
//!   Locked periods are left alone and listed.
//!
//! Every lake write goes through staging and a rename (ingest, attribute,
//! this state file), so a kill leaves old or new files, never partial ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::Sources;
use super::remote::{RemoteError, RemoteLake};
use super::summary::{LockedPeriod, PeriodDone, Reconciled, Summary};
use crate::attribute::{self, AttributeError, Compiled};
use crate::ingest::{self, IngestError};
use crate::lake::lock;
use crate::lake::{Lake, locks};
use crate::money;

/// What to run, after config and flags are merged.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Option<PathBuf>,
    pub lake: PathBuf,
    pub mappings: PathBuf,
    pub sources: Sources,
    pub progress: bool,
    /// `s3://bucket/prefix` when the lake lives in S3 and `lake` is its local copy.
    pub lake_s3: Option<String>,
    /// Budgets, findings, report and nudges after attribution.
    pub derived: super::derived::DerivedPlan,
}

/// Why a run stopped; each has its own exit code (see `commands::run`).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    LockHeld(lock::LockError),
    #[error(transparent)]
    RemoteLockHeld(RemoteError),
    #[error(
        "{rows} row(s) quarantined, so nothing was committed and nothing attributed; details: tally sql --lake {lake} \"SELECT * FROM quarantine WHERE run_id = '{run_id}'\""
    )]
    Quarantined { rows: usize, lake: String, run_id: String },
    #[error("{0}")]
    Invariant(String),
    #[error("{0}")]
    Delivery(String),
    #[error("{0:#}")]
    Other(anyhow::Error),
}

impl From<IngestError> for RunError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Reconciliation(_) => RunError::Invariant(e.to_string()),
            other => RunError::Other(anyhow::Error::new(other).context("ingest")),
        }
    }
}

impl From<AttributeError> for RunError {
    fn from(e: AttributeError) -> Self {
        match e {
            AttributeError::Invariant(_) => RunError::Invariant(e.to_string()),
            other => RunError::Other(anyhow::Error::new(other).context("attribute")),
        }
    }
}

fn other(e: impl Into<anyhow::Error>) -> RunError {
    RunError::Other(e.into())
}

/// Runs the pipeline; the summary says what happened, also when it failed.
pub async fn run(plan: &Plan) -> (Summary, Option<RunError>) {
    let started = Instant::now();
    let mut summary = Summary {
        tally_version: env!("CARGO_PKG_VERSION").to_string(),
        config: plan.config.as_ref().map(|p| p.display().to_string()),
        lake: plan.lake.display().to_string(),
        mappings: plan.mappings.display().to_string(),
        ingest: super::summary::IngestStep { reconciled: true, ..Default::default() },
        ..Summary::default()
    };
    let result = steps(plan, &mut summary).await;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let nothing = !summary.ingest.ran && summary.attribute.periods.is_empty();
    summary.status = match &result {
        Ok(()) if nothing => "nothing new".to_string(),
        Ok(()) => "ok".to_string(),
        Err(RunError::Quarantined { .. }) => "quarantined".to_string(),
        Err(_) => "failed".to_string(),
    };
    summary.error = result.as_ref().err().map(ToString::to_string);
    (summary, result.err())
}

async fn steps(plan: &Plan, summary: &mut Summary) -> Result<(), RunError> {
    let lake = Lake::new(&plan.lake);
    let run_lock = lock::acquire(lake.root(), "tally run").map_err(|e| match e {
        lock::LockError::Held { .. } => RunError::LockHeld(e),
        other => RunError::Other(other.into()),
    })?;
    summary.recovered_lock = run_lock.recovered.clone();
    if let Some(h) = &run_lock.recovered {
        tracing::warn!("a run that did not finish held the lock ({}); finishing its work", h.describe());
    }
    let remote = match &plan.lake_s3 {
        Some(url) => Some(pull(url, plan, summary).await?),
        None => None,
    };
    let result = local_steps(plan, &lake, summary).await;
    if let Some((remote, remote_lock)) = remote {
        // A failed run publishes nothing: the next run pulls S3's state again.
        let pushed = if result.is_ok() { push(&remote, summary).await } else { Ok(()) };
        remote_lock.release().await;
        pushed?;
    }
    drop(run_lock);
    result
}

fn remote_error(e: RemoteError) -> RunError {
    match e {
        RemoteError::Held { .. } => RunError::RemoteLockHeld(e),
        other => RunError::Other(anyhow::Error::new(other)),
    }
}

/// Takes the S3 lake's lock, finishes a killed run's push, then makes the local copy equal to S3.
async fn pull(
    url: &str,
    plan: &Plan,
    summary: &mut Summary,
) -> Result<(RemoteLake, super::remote::RemoteLock), RunError> {
    let t = Instant::now();
    let remote = RemoteLake::open(url, &plan.lake, plan.sources.s3_endpoint.clone()).await.map_err(remote_error)?;
    let remote_lock = remote.lock().await.map_err(remote_error)?;
    let step = summary.remote.get_or_insert_with(Default::default);
    step.url = url.to_string();
    step.cache = plan.lake.display().to_string();
    let pulled = async {
        if remote.push_pending() {
            tracing::warn!("the last run finished but was killed while pushing to {url}; pushing its work first");
            step.resumed_push = true;
            step.pushed = remote.push().await?;
        }
        remote.pull().await
    }
    .await;
    match pulled {
        Ok(moved) => step.pulled = moved,
        Err(e) => {
            remote_lock.release().await;
            return Err(remote_error(e));
        }
    }
    tracing::info!(
        step = "pull",
        files = step.pulled.files,
        bytes = step.pulled.bytes,
        deleted = step.pulled.deleted,
        "pull: {} file(s) from {url}",
        step.pulled.files
    );
    step.duration_ms = t.elapsed().as_millis() as u64;
    Ok((remote, remote_lock))
}

/// Publishes the finished run: the copy is marked ahead of S3 until the push ends.
async fn push(remote: &RemoteLake, summary: &mut Summary) -> Result<(), RunError> {
    let t = Instant::now();
    remote.mark_push_pending().map_err(remote_error)?;
    pause_point_at(remote.cache(), "pushing");
    let pushed = remote.push().await.map_err(remote_error)?;
    let step = summary.remote.get_or_insert_with(Default::default);
    tracing::info!(
        step = "push",
        files = pushed.files,
        bytes = pushed.bytes,
        deleted = pushed.deleted,
        "push: {} file(s) to {}",
        pushed.files,
        step.url
    );
    let resumed = std::mem::take(&mut step.pushed);
    step.pushed = super::remote::Moved {
        files: resumed.files + pushed.files,
        bytes: resumed.bytes + pushed.bytes,
        deleted: resumed.deleted + pushed.deleted,
    };
    step.duration_ms += t.elapsed().as_millis() as u64;
    Ok(())
}

async fn local_steps(plan: &Plan, lake: &Lake, summary: &mut Summary) -> Result<(), RunError> {
    // Staging left by a killed run is garbage (readers never look there); under the lock it is ours to clear.
    lake.clear_stale_staging().map_err(|e| other(anyhow::anyhow!("{}: {e}", lake.staging_root().display())))?;
    pause_point(lake, "locked");
    // Mappings first: a broken mappings commit should stop the run before it writes anything.
    let compiled = Compiled::load(&plan.mappings).map_err(|e| other(anyhow::Error::new(e).context("mappings")))?;
    summary.mappings_version = Some(compiled.version.clone());

    let t = Instant::now();
    ingest_step(lake, plan, summary).await?;
    summary.ingest.duration_ms = t.elapsed().as_millis() as u64;
    let i = &summary.ingest;
    tracing::info!(
        step = "ingest",
        ran = i.ran,
        files_read = i.files_read,
        rows_landed = i.rows_landed,
        rows_quarantined = i.rows_quarantined,
        s3_deliveries_skipped = i.s3_deliveries_skipped,
        duration_ms = i.duration_ms,
        "ingest: {} file(s) read, {} row(s) landed",
        i.files_read,
        i.rows_landed
    );
    pause_point(lake, "ingested");

    let t = Instant::now();
    attribute_step(lake, &compiled, plan.progress, summary).await?;
    summary.attribute.duration_ms = t.elapsed().as_millis() as u64;
    let a = &summary.attribute;
    tracing::info!(
        step = "attribute",
        periods = a.periods.len(),
        unchanged = a.unchanged.len(),
        locked = a.locked.len(),
        duration_ms = a.duration_ms,
        "attribute: {} period(s) attributed, {} unchanged",
        a.periods.len(),
        a.unchanged.len()
    );

    let t = Instant::now();
    let derived = summary.derived.get_or_insert_with(Default::default);
    super::derived::run(lake, &plan.derived, derived).await.map_err(|e| other(e.context("after attribution")))?;
    derived.duration_ms = t.elapsed().as_millis() as u64;
    tracing::info!(
        step = "derived",
        unchanged = derived.unchanged,
        findings = derived.findings.as_ref().map_or(0, |f| f.findings),
        nudges_sent = derived.nudges.as_ref().map_or(0, |n| n.sent),
        duration_ms = derived.duration_ms,
        "budgets, findings, report, nudges done"
    );
    if let Some(n) = derived.nudges.as_ref().filter(|n| n.failed > 0) {
        return Err(RunError::Delivery(format!(
            "{} nudge(s) could not be delivered; they are kept in the outbox and retried by the next run \
             (tally sql \"SELECT * FROM outbox WHERE status = 'failed'\")",
            n.failed
        )));
    }
    Ok(())
}

/// For tests of crash safety: `TALLY_RUN_PAUSE=<point>` makes the run write
/// `<lake>/_run/paused-<point>` there and wait (to be killed). Points:
/// `locked`, `ingested`, `attributed`.
fn pause_point(lake: &Lake, point: &str) {
    pause_point_at(lake.root(), point)
}

fn pause_point_at(root: &Path, point: &str) {
    if std::env::var("TALLY_RUN_PAUSE").ok().as_deref() != Some(point) {
        return;
    }
    let marker = root.join("_run").join(format!("paused-{point}"));
    let _ = std::fs::write(&marker, std::process::id().to_string());
    std::thread::sleep(std::time::Duration::from_secs(120));
    let _ = std::fs::remove_file(&marker);
}

async fn ingest_step(lake: &Lake, plan: &Plan, summary: &mut Summary) -> Result<(), RunError> {
    let (remote, local): (Vec<String>, Vec<String>) =
        plan.sources.paths.iter().cloned().partition(|p| ingest::s3::is_s3_url(p));
    if remote.is_empty() && local.is_empty() {
        return Err(RunError::Usage("no sources: set [sources] paths in tally.toml or pass --source PATH".to_string()));
    }
    let files =
        if local.is_empty() { Vec::new() } else { ingest::discover::discover(&local).map_err(RunError::Usage)? };
    let names: Vec<String> = files.iter().map(|f| name_of(f)).collect();
    let mut digests = BTreeMap::new();
    for (file, name) in files.iter().zip(&names) {
        digests
            .insert(name.clone(), sha256_file(file).map_err(|e| other(anyhow::anyhow!("{name}: cannot read: {e}")))?);
    }
    let known = ingested_files(lake).await?;
    let stale_folders: BTreeSet<PathBuf> = names
        .iter()
        .filter(|n| !known.up_to_date(n, &digests[*n], plan.sources.since.as_deref()))
        .map(|n| folder_of(n))
        .collect();
    summary.ingest.local_files = names.len() as u64;
    let mut batch_folders = stale_folders;
    let options = ingest::Options {
        format: None,
        currency: plan.sources.currency.clone(),
        allow_quarantine: plan.sources.allow_quarantine,
        allow_shrink: plan.sources.allow_shrink,
        allow_partial: plan.sources.allow_partial,
        allow_export_switch: plan.sources.allow_export_switch,
        progress: plan.progress,
        since: plan.sources.since.clone(),
        s3: ingest::s3::S3Options { endpoint: plan.sources.s3_endpoint.clone() },
    };
    let mut remote_pending = remote;
    // A replaced line-item file may have held rows of files outside the batch: re-read those too.
    for _ in 0..8 {
        let batch: Vec<String> = names.iter().filter(|n| batch_folders.contains(&folder_of(n))).cloned().collect();
        if batch.is_empty() && remote_pending.is_empty() {
            break;
        }
        let mut inputs = batch.clone();
        inputs.append(&mut remote_pending);
        let outcome = ingest::run(lake, &inputs, &options).await?;
        record_ingest(summary, &outcome)?;
        if !outcome.committed {
            return Err(RunError::Quarantined {
                rows: outcome.quarantined.len(),
                lake: lake.root().display().to_string(),
                run_id: outcome.run_id,
            });
        }
        let batch_set: BTreeSet<&String> = batch.iter().collect();
        let mut dropped = BTreeSet::new();
        for unit in &outcome.units {
            let key = (unit.key.provider.clone(), unit.key.billing_period.clone(), unit.key.billing_account.clone());
            for file in known.units.get(&key).into_iter().flatten() {
                if !batch_set.contains(file) && digests.contains_key(file) {
                    dropped.insert(folder_of(file));
                }
            }
        }
        if dropped.is_subset(&batch_folders) {
            break;
        }
        batch_folders.extend(dropped);
    }
    summary.ingest.local_unchanged = names.iter().filter(|n| !batch_folders.contains(&folder_of(n))).count() as u64;
    Ok(())
}

fn record_ingest(summary: &mut Summary, outcome: &ingest::Outcome) -> Result<(), RunError> {
    let step = &mut summary.ingest;
    step.s3_deliveries_read += outcome.s3_deliveries.len() as u64;
    step.s3_deliveries_skipped += outcome.s3_skipped.len() as u64;
    if outcome.files.is_empty() {
        return Ok(());
    }
    let fmt = |v: i128| money::format(v, money::SCALE as u32);
    if outcome.committed {
        step.units.extend(outcome.changes.iter().map(|c| super::summary::UnitSummary {
            unit: c.unit(),
            action: c.action().to_string(),
            line_items_before: c.before.map(|b| b.line_items),
            line_items_after: c.after.line_items,
            billed_before: c.before.map(|b| fmt(b.billed)),
            billed_after: fmt(c.after.billed),
        }));
    }
    step.ran = true;
    step.run_id = Some(outcome.run_id.clone());
    step.files_read += outcome.files.len() as u64;
    step.units_written += if outcome.committed { outcome.units.len() as u64 } else { 0 };
    for f in &outcome.files {
        step.rows_read += f.rows_read;
        step.rows_landed += f.rows_landed;
        step.rows_quarantined += f.rows_quarantined;
        step.rows_skipped += f.rows_skipped;
        let s = step.sums.entry(f.currency.clone()).or_default();
        money::add(&mut s[0], f.source_cost)
            .and_then(|()| money::add(&mut s[1], f.landed_cost))
            .and_then(|()| money::add(&mut s[2], f.quarantined_cost))
            .and_then(|()| money::add(&mut s[3], f.skipped_cost))
            .map_err(|e| other(anyhow::anyhow!("summing the run's {} cost: the {e}", f.currency)))?;
        if !f.balances() {
            step.unbalanced_files += 1;
        }
    }
    step.reconciled = step.unbalanced_files == 0;
    step.cost = step
        .sums
        .iter()
        .map(|(c, s)| {
            let reconciled =
                Reconciled { source: fmt(s[0]), landed: fmt(s[1]), quarantined: fmt(s[2]), before_since: fmt(s[3]) };
            (c.clone(), reconciled)
        })
        .collect();
    Ok(())
}

/// How ingest names a file: its absolute path.
fn name_of(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

fn folder_of(name: &str) -> PathBuf {
    Path::new(name).parent().map(Path::to_path_buf).unwrap_or_default()
}

pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the lake knows about the source files it holds.
#[derive(Default)]
struct Known {
    /// Source file -> ingest runs its line items in the lake came from.
    present: HashMap<String, BTreeSet<String>>,
    /// (run id, source file) -> sha256, rows landed, for committed ingests.
    committed: HashMap<(String, String), (String, u64)>,
    /// Latest committed ingest per file.
    latest: HashMap<String, LatestIngest>,
    /// (provider, billing period, account) -> source files with rows in it.
    units: HashMap<(String, String, String), BTreeSet<String>>,
}

/// A file's latest committed ingest.
#[derive(Default)]
struct LatestIngest {
    at: i64,
    sha: String,
    rows_landed: u64,
    /// Rows it left out as before `since`, and that `since` (empty: none).
    rows_skipped: u64,
    since: String,
}

impl Known {
    /// Whether the lake holds `name` as its bytes `sha` are now, read with
    /// this run's `since`: a file whose last read left rows out as before a
    /// later month than `since` (or with no `since` now) is read again.
    fn up_to_date(&self, name: &str, sha: &str, since: Option<&str>) -> bool {
        let latest = self.latest.get(name);
        let left_out_nothing_wanted =
            latest.is_none_or(|l| l.rows_skipped == 0 || since.is_some_and(|since| since >= l.since.as_str()));
        left_out_nothing_wanted
            && match self.present.get(name) {
                Some(runs) => runs
                    .iter()
                    .all(|run| self.committed.get(&(run.clone(), name.to_string())).is_some_and(|(s, _)| s == sha)),
                // A file with no rows in the lake is up to date if it was last read, committed, with no rows.
                None => latest.is_some_and(|l| l.sha == sha && l.rows_landed == 0),
            }
    }
}

async fn ingested_files(lake: &Lake) -> Result<Known, RunError> {
    let mut known = Known::default();
    let ctx = lake.session().await.map_err(other)?;
    if !ctx.table_exist("ingests").map_err(other)? {
        return Ok(known);
    }
    // Columns come back as Utf8, Utf8View or dictionaries depending on the plan: cast to read them.
    let strings = |b: &datafusion::arrow::record_batch::RecordBatch| -> Result<Vec<_>, RunError> {
        b.columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8).map_err(other))
            .collect()
    };
    let text = |columns: &[datafusion::arrow::array::ArrayRef], i: usize, row: usize| {
        let column = columns[i].as_string::<i32>();
        if column.is_null(row) { String::new() } else { column.value(row).to_string() }
    };
    let batches = crate::lake::sql::query(
        &ctx,
        r#"SELECT DISTINCT "x_SourceFile", "x_IngestRunId", provider, billing_period, "BillingAccountId"
               FROM line_items"#,
    )
    .await
    .map_err(other)?
    .collect()
    .await
    .map_err(other)?;
    for b in &batches {
        let c = strings(b)?;
        for row in 0..b.num_rows() {
            let file = text(&c, 0, row);
            known.present.entry(file.clone()).or_default().insert(text(&c, 1, row));
            known.units.entry((text(&c, 2, row), text(&c, 3, row), text(&c, 4, row))).or_default().insert(file);
        }
    }
    let batches = crate::lake::sql::query(
        &ctx,
        r#"SELECT run_id, source_file, source_sha256, rows_landed, CAST(ingested_at AS BIGINT) AS at,
                  coalesce(rows_skipped, 0) AS rows_skipped, coalesce(since, '') AS since
               FROM ingests WHERE status = 'committed'"#,
    )
    .await
    .map_err(other)?
    .collect()
    .await
    .map_err(other)?;
    for b in &batches {
        let c = strings(b)?;
        let rows = b.column(3).as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
        let at = b.column(4).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        // `coalesce(.., 0)` may widen the type: cast, as for the strings.
        let skipped = datafusion::arrow::compute::cast(b.column(5), &datafusion::arrow::datatypes::DataType::UInt64)
            .map_err(other)?;
        let skipped = skipped.as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
        for row in 0..b.num_rows() {
            let (file, sha, landed) = (text(&c, 1, row), text(&c, 2, row), rows.value(row));
            known.committed.insert((text(&c, 0, row), file.clone()), (sha.clone(), landed));
            let latest = known.latest.entry(file).or_insert(LatestIngest { at: i64::MIN, ..Default::default() });
            if at.value(row) >= latest.at {
                *latest = LatestIngest {
                    at: at.value(row),
                    sha,
                    rows_landed: landed,
                    rows_skipped: skipped.value(row),
                    since: text(&c, 6, row),
                };
            }
        }
    }
    Ok(known)
}

/// `<lake>/_run/state.json`: what each period was last attributed from.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Line-item file (relative to the lake) -> its content hash, keyed by
    /// its metadata so unchanged files are not re-read.
    files: BTreeMap<String, FileHash>,
    periods: BTreeMap<String, PeriodState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileMeta {
    len: u64,
    mtime_ns: i64,
    ino: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileHash {
    meta: FileMeta,
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PeriodState {
    line_items: String,
    mappings_version: String,
    attributed: FileMeta,
}

fn meta(path: &Path) -> std::io::Result<FileMeta> {
    let m = std::fs::metadata(path)?;
    Ok(FileMeta { len: m.len(), mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(), ino: m.ino() })
}

fn state_path(lake: &Lake) -> PathBuf {
    lake.root().join("_run").join("state.json")
}

fn load_state(lake: &Lake) -> State {
    // An unreadable state only costs a full re-attribution.
    std::fs::read_to_string(state_path(lake)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save_state(lake: &Lake, state: &State) -> std::io::Result<()> {
    let path = state_path(lake);
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, serde_json::to_string_pretty(state).expect("serialisable") + "\n")?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// Hash of a period's line-item files: relative paths and bytes.
fn period_hash(lake: &Lake, period: &str, state: &mut State, seen: &mut BTreeSet<String>) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    for (_, file) in crate::lake::line_items::period_files(lake, Some(period)) {
        let rel = file.strip_prefix(lake.root()).unwrap_or(&file).display().to_string();
        let m = meta(&file)?;
        let sha = match state.files.get(&rel) {
            Some(h) if h.meta == m => h.sha256.clone(),
            _ => sha256_file(&file)?,
        };
        state.files.insert(rel.clone(), FileHash { meta: m, sha256: sha.clone() });
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(sha.as_bytes());
        hasher.update([0]);
        seen.insert(rel);
    }
    Ok(hex(&hasher.finalize()))
}

fn attributed_file(lake: &Lake, period: &str) -> PathBuf {
    crate::lake::attributed::file(lake, period)
}

async fn attribute_step(
    lake: &Lake,
    compiled: &Compiled,
    progress: bool,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let mut state = load_state(lake);
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(String, String, String)> = Vec::new();
    for period in crate::lake::line_items::periods(lake) {
        let inputs = period_hash(lake, &period, &mut state, &mut seen).map_err(other)?;
        let current = meta(&attributed_file(lake, &period)).ok();
        let reason = match (state.periods.get(&period), current) {
            (_, None) | (None, _) => Some("new"),
            (Some(old), _) if old.line_items != inputs => Some("line items changed"),
            (Some(old), _) if old.mappings_version != compiled.version => Some("mappings changed"),
            (Some(old), Some(now)) if old.attributed != now => Some("attributed changed outside tally run"),
            _ => None,
        };
        match reason {
            None => summary.attribute.unchanged.push(period),
            Some(reason) => match locks::get(lake, &period).map_err(|e| other(anyhow::anyhow!(e)))? {
                Some(lock) => summary.attribute.locked.push(LockedPeriod {
                    period,
                    reason: reason.to_string(),
                    lock: lock.describe(),
                }),
                None => todo.push((period, reason.to_string(), inputs)),
            },
        }
    }
    state.files.retain(|rel, _| seen.contains(rel));
    if todo.is_empty() {
        save_state(lake, &state).map_err(other)?;
        return Ok(());
    }
    let periods: Vec<String> = todo.iter().map(|t| t.0.clone()).collect();
    let outcomes = attribute::run(lake, compiled, &periods, progress, None).await?;
    pause_point(lake, "attributed");
    let fmt = |v: i128| money::format(v, money::SCALE as u32);
    for ((period, reason, inputs), outcome) in todo.into_iter().zip(outcomes) {
        let attributed = meta(&attributed_file(lake, &period)).map_err(other)?;
        state.periods.insert(
            period.clone(),
            PeriodState { line_items: inputs, mappings_version: compiled.version.clone(), attributed },
        );
        summary.attribute.periods.push(PeriodDone {
            period,
            reason,
            line_items: outcome.line_items,
            rows: outcome.rows,
            billed: outcome.totals.iter().map(|(c, t)| (c.clone(), fmt(t[0]))).collect(),
            effective: outcome.totals.iter().map(|(c, t)| (c.clone(), fmt(t[1]))).collect(),
            unallocated_effective: outcome.coverage.iter().map(|(c, v)| (c.clone(), fmt(v.unallocated[1]))).collect(),
        });
    }
    save_state(lake, &state).map_err(other)?;
    Ok(())
}
