//! The steps of `tally run` after attribution: budgets -> findings -> weekly
//! report -> nudges. Each reads the attributed lake and the mappings, so each
//! uses the library code its own command uses.
//!
//! Budgets, findings and the report are skipped when their inputs did not
//! change since they were last written: the attributed files, every file of the
//! mappings folder and the business metrics, fingerprinted into
//! `<lake>/_run/derived.json` once all three are written (a run killed before
//! that simply writes them again, with the same bytes). Nudges always run: a
//! message owed from a failed send is retried, and the outbox keeps a same-day
//! re-run from sending anything twice.
//!
//! The as-of day is the data's last charge day, never the clock, so the same
//! inputs give byte-identical outputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::attribute::Ownership;
use crate::lake::Lake;

/// What the derived steps are asked to do (tally.toml and flags).
#[derive(Debug, Clone, Default)]
pub struct DerivedPlan {
    pub metrics: Option<PathBuf>,
    /// The weekly report goes to `<out>/<as-of>/`.
    pub reports_out: Option<PathBuf>,
    /// Send nudges (chat.toml in the mappings); otherwise they are not planned at all.
    pub send_nudges: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct DerivedStep {
    /// The data's last charge day, which every derived output is "as of".
    pub as_of: Option<NaiveDate>,
    /// Inputs unchanged since the last run wrote budgets, findings and the report.
    pub unchanged: bool,
    pub budgets: Option<BudgetsDone>,
    pub findings: Option<FindingsDone>,
    pub report: Option<String>,
    pub nudges: Option<NudgesDone>,
    pub duration_ms: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BudgetsDone {
    pub month: String,
    pub budgets: usize,
    pub at_risk: Vec<String>,
    pub over_tolerance: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct FindingsDone {
    pub findings: usize,
    /// Kind -> count.
    pub by_kind: std::collections::BTreeMap<String, usize>,
    /// Recommendations that meet the effort bar.
    pub worth_doing: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct NudgesDone {
    pub sent: usize,
    pub failed: usize,
    pub deferred: usize,
    pub quiet_teams: usize,
    pub unrouted_teams: Vec<String>,
}

/// Runs the derived steps; `Err` carries a message for the run's error.
/// `mappings` are the run's, loaded once: every step reads the same ones.
pub async fn run(
    lake: &Lake,
    mappings: &Arc<Ownership>,
    plan: &DerivedPlan,
    step: &mut DerivedStep,
) -> anyhow::Result<()> {
    if !lake.has_table(crate::lake::ATTRIBUTED) {
        return Ok(());
    }
    let ctx = lake.session().await?;
    // One as-of day for every step of the run.
    let Some(as_of) = crate::lake::attributed::last_charge_day(&ctx).await? else { return Ok(()) };
    step.as_of = Some(as_of);
    let fingerprint = fingerprint(lake, &mappings.mappings.dir, plan, as_of)?;
    let record = lake.run_dir().join("derived.json");
    let report_dir = plan.reports_out.as_ref().map(|out| out.join(as_of.to_string()));
    let previous = std::fs::read_to_string(&record).ok();
    step.unchanged =
        previous.as_deref() == Some(fingerprint.as_str()) && report_dir.as_ref().is_none_or(|d| d.exists());

    if !step.unchanged {
        if mappings.mappings.dir.join(crate::budget::file::BUDGETS_FILE).exists() {
            step.budgets = Some(budgets(lake, mappings, as_of).await?);
        }
        step.findings = Some(findings(lake, mappings, plan, as_of).await?);
        if let Some(dir) = &report_dir {
            crate::report::write_weekly(lake, mappings.clone(), plan.metrics.as_deref(), dir, Some(as_of)).await?;
            step.report = Some(dir.join("weekly.html").display().to_string());
        }
        write_atomic(&record, &fingerprint)?;
    }
    if plan.send_nudges && mappings.mappings.dir.join(crate::nudge::config::CHAT_FILE).exists() {
        let options = crate::nudge::Options { as_of: Some(as_of), send: true };
        let summary = crate::nudge::run(lake, mappings, &options).await?;
        step.nudges = Some(NudgesDone {
            sent: summary.sent,
            failed: summary.failed.len(),
            deferred: summary.deferred,
            quiet_teams: summary.quiet,
            unrouted_teams: summary.unrouted.clone(),
        });
    }
    Ok(())
}

async fn budgets(lake: &Lake, mappings: &Ownership, as_of: NaiveDate) -> anyhow::Result<BudgetsDone> {
    let loaded = crate::budget::load(lake, mappings).await?;
    let month = crate::calendar::Month::of(as_of);
    let rows = crate::budget::status(&loaded, Some(month), as_of).await?;
    crate::budget::save(lake, &rows)?;
    let owners = |status: crate::budget::Status| {
        rows.iter().filter(|r| r.status == status).map(|r| r.owner.clone()).collect::<Vec<_>>()
    };
    Ok(BudgetsDone {
        month: month.to_string(),
        budgets: rows.len(),
        at_risk: owners(crate::budget::Status::AtRisk),
        over_tolerance: owners(crate::budget::Status::OverTolerance),
    })
}

async fn findings(
    lake: &Lake,
    mappings: &Arc<Ownership>,
    plan: &DerivedPlan,
    as_of: NaiveDate,
) -> anyhow::Result<FindingsDone> {
    let found = crate::findings::compute(lake, mappings, plan.metrics.as_deref(), Some(as_of)).await?;
    crate::findings::save(lake, &found)?;
    let mut done = FindingsDone { findings: found.len(), ..Default::default() };
    for f in &found {
        *done.by_kind.entry(f.kind().name().to_string()).or_default() += 1;
        done.worth_doing += usize::from(f.meets_bar == Some(true));
    }
    Ok(done)
}

/// A hash of everything budgets, findings and the report read: the attributed
/// files (name, size, modification time), the mappings folder's files and the
/// business metrics (bytes), and the as-of day.
fn fingerprint(lake: &Lake, mappings: &Path, plan: &DerivedPlan, as_of: NaiveDate) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let mut hasher = Sha256::new();
    hasher.update(as_of.to_string());
    for path in crate::lake::attributed::files(lake) {
        let m = std::fs::metadata(&path)?;
        hasher.update(format!("{}\0{}\0{}.{}\0", path.display(), m.len(), m.mtime(), m.mtime_nsec()));
    }
    let mut inputs: Vec<PathBuf> = walkdir::WalkDir::new(mappings)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().components().any(|c| c.as_os_str() == ".git"))
        .map(|e| e.into_path())
        .collect();
    inputs.sort();
    inputs.extend(plan.metrics.clone());
    for path in inputs {
        hasher.update(path.display().to_string());
        hasher.update([0]);
        hasher.update(std::fs::read(&path)?);
        hasher.update([0]);
    }
    Ok(crate::hashing::hex(&hasher.finalize()))
}

fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file in _run"))?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
