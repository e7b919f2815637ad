//! `tally run`'s ingest step: which local files changed since the lake last read
//! them (by the name ingest gives a file and the SHA-256 of its bytes), and
//! ingesting those folders, plus every `s3://` source (ingest skips unchanged
//! deliveries itself).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray};

use super::plan::{Plan, RunError};
use super::summary::{Reconciled, Summary};
use crate::ingest;
use crate::lake::Lake;
use crate::money;

pub(super) async fn ingest_step(lake: &Lake, plan: &Plan, summary: &mut Summary) -> Result<(), RunError> {
    let (remote, local): (Vec<String>, Vec<String>) =
        plan.sources.paths.iter().cloned().partition(|p| ingest::s3::is_s3_url(p));
    if remote.is_empty() && local.is_empty() {
        return Err(RunError::Usage("no sources: set [sources] paths in tally.toml or pass --source PATH".to_string()));
    }
    let files =
        if local.is_empty() { Vec::new() } else { ingest::discover::discover(&local).map_err(RunError::Usage)? };
    let names: Vec<String> = files.iter().map(|f| ingest::source_name(f)).collect();
    let mut digests = BTreeMap::new();
    for (file, name) in files.iter().zip(&names) {
        digests.insert(
            name.clone(),
            crate::hashing::sha256_file(file)
                .map_err(|e| RunError::failed(anyhow::anyhow!("{name}: cannot read: {e}")))?,
        );
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
            .map_err(|e| RunError::failed(anyhow::anyhow!("summing the run's {} cost: the {e}", f.currency)))?;
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

fn folder_of(name: &str) -> PathBuf {
    Path::new(name).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// What the lake knows about the source files it holds.
#[derive(Default)]
struct IngestedFiles {
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

impl IngestedFiles {
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

async fn ingested_files(lake: &Lake) -> Result<IngestedFiles, RunError> {
    let mut known = IngestedFiles::default();
    let ctx = lake.session().await.map_err(RunError::failed)?;
    if !ctx.table_exist(crate::lake::INGESTS).map_err(RunError::failed)? {
        return Ok(known);
    }
    // Columns come back as Utf8, Utf8View or dictionaries depending on the plan: cast to read them.
    let strings = |b: &datafusion::arrow::record_batch::RecordBatch| -> Result<Vec<_>, RunError> {
        b.columns()
            .iter()
            .map(|c| {
                datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8)
                    .map_err(RunError::failed)
            })
            .collect()
    };
    let text = |columns: &[datafusion::arrow::array::ArrayRef], i: usize, row: usize| {
        let column = columns[i].as_string::<i32>();
        if column.is_null(row) { String::new() } else { column.value(row).to_string() }
    };
    let batches = rows(
        &ctx,
        r#"SELECT DISTINCT "x_SourceFile", "x_IngestRunId", provider, billing_period, "BillingAccountId"
               FROM line_items"#,
    )
    .await?;
    for b in &batches {
        let c = strings(b)?;
        for row in 0..b.num_rows() {
            let file = text(&c, 0, row);
            known.present.entry(file.clone()).or_default().insert(text(&c, 1, row));
            known.units.entry((text(&c, 2, row), text(&c, 3, row), text(&c, 4, row))).or_default().insert(file);
        }
    }
    let batches = rows(
        &ctx,
        r#"SELECT run_id, source_file, source_sha256, rows_landed, CAST(ingested_at AS BIGINT) AS at,
                  coalesce(rows_skipped, 0) AS rows_skipped, coalesce(since, '') AS since
               FROM ingests WHERE status = 'committed'"#,
    )
    .await?;
    for b in &batches {
        let c = strings(b)?;
        let rows = b.column(3).as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
        let at = b.column(4).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        // `coalesce(.., 0)` may widen the type: cast, as for the strings.
        let skipped = datafusion::arrow::compute::cast(b.column(5), &datafusion::arrow::datatypes::DataType::UInt64)
            .map_err(RunError::failed)?;
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

/// Every row of a read-only query over the lake.
async fn rows(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, RunError> {
    let frame = crate::lake::sql::query(ctx, sql).await.map_err(RunError::failed)?;
    frame.collect().await.map_err(RunError::failed)
}
