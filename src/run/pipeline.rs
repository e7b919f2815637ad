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

use std::time::Instant;

use super::remote::{RemoteError, RemoteLake};
use super::summary::Summary;
use super::{attribute_step, ingest_step, pause};
use crate::attribute::Compiled;
use crate::lake::Lake;
use crate::lake::lock;

pub use super::plan::{Plan, RunError};

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
    pause::at(remote.cache(), "pushing");
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
    lake.clear_stale_staging()
        .map_err(|e| RunError::failed(anyhow::anyhow!("{}: {e}", lake.staging_root().display())))?;
    pause::at_lake(lake, "locked");
    // Mappings first: a broken mappings commit should stop the run before it writes anything.
    // Loaded once: attribution and every derived step read these same mappings.
    let compiled =
        Compiled::load(&plan.mappings).map_err(|e| RunError::failed(anyhow::Error::new(e).context("mappings")))?;
    summary.mappings_version = Some(compiled.version.clone());

    let t = Instant::now();
    ingest_step::ingest_step(lake, plan, summary).await?;
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
    pause::at_lake(lake, "ingested");

    let t = Instant::now();
    attribute_step::attribute_step(lake, &compiled, plan.progress, summary).await?;
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
    super::derived::run(lake, &compiled.ownership, &plan.derived, derived)
        .await
        .map_err(|e| RunError::failed(e.context("after attribution")))?;
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
