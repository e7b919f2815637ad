//! A seeded, deterministic generator of a synthetic company's AWS legacy Cost
//! and Usage Report: gzip CSV files laid out as AWS delivers them, streamed to
//! disk with flat memory whatever the row count.
//!
//! - [`company()`]: the company (teams, orgs, accounts) the bill belongs to;
//! - `plan`: its resources, sized to the requested row count;
//! - `report`: one payer's monthly report, row by row;
//! - `writer`: the CUR columns and the gzip CSV parts.
//!
//! Same config, same bytes: randomness comes from seeded ChaCha8 streams (one
//! per team for the plan, one per report for daily usage), gzip headers carry
//! no timestamp, and money is exact fixed-point, never `f64`.

mod catalog;
mod company;
mod decimal;
pub(crate) mod ids;
mod plan;
mod report;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Result, bail};

pub use company::{Account, Company, Team, company};
pub use writer::COLUMNS;

use plan::Plan;
pub use plan::PlantedAnomaly;

/// The anomalies planted in the bill `config` generates (for backtests): NAT
/// gateways whose processed bytes jump for a few days. The generator's other
/// deliberate changes happen on the first day of the last month: a launch
/// (fraud, GPU instances) and a traffic step (observability, x2.2).
pub fn planted_anomalies(config: &DemoConfig) -> Result<Vec<PlantedAnomaly>> {
    Ok(Plan::build(config)?.planted_anomalies())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    pub seed: u64,
    /// (year, month) of the first billing period.
    pub first_month: (i32, u32),
    pub months: u32,
    /// Approximate total number of line items across all files (within a few
    /// percent above ~10,000 rows; small targets are dominated by fixed lines).
    pub target_rows: u64,
    /// A payer's monthly report is split into parts of at most this many rows.
    pub rows_per_file: u64,
    /// Pods on each node of the shared EKS cluster per day (each a vCPU and a memory row of
    /// split cost allocation data).
    pub pods_per_node: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: 42,
            first_month: (2026, 8),
            months: 3,
            target_rows: 60_000,
            rows_per_file: 1_000_000,
            pods_per_node: 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    /// `2026-08`.
    pub billing_period: String,
    pub payer_account_id: String,
    pub rows: u64,
    /// Sum of lineItem/UnblendedCost over the file, as an exact decimal string (e.g. "12345.6789012345").
    pub unblended_cost_total: String,
}

/// Writes the files under `out_dir` (created if missing) and returns them in a
/// deterministic order: by payer, then billing period, then part.
///
/// Layout: `<out_dir>/<payer account id>/demo-cur/<YYYYMMDD-YYYYMMDD>/demo-cur-<NNNNN>.csv.gz`.
/// `on_rows` is called from time to time with the number of rows written since
/// the last call (for a progress bar); the calls add up to the total row count.
///
/// Reports (one per payer and month) are written in parallel; the bytes do
/// not depend on the number of threads.
pub fn generate_cur(out_dir: &Path, config: &DemoConfig, on_rows: &mut dyn FnMut(u64)) -> Result<Vec<GeneratedFile>> {
    if config.rows_per_file == 0 {
        bail!("rows_per_file must be at least 1");
    }
    if !(1..=200).contains(&config.pods_per_node) {
        bail!("pods_per_node must be between 1 and 200, got {}", config.pods_per_node);
    }
    let plan = Plan::build(config)?;
    std::fs::create_dir_all(out_dir)?;
    let jobs: Vec<(usize, usize)> =
        (0..plan.payers.len()).flat_map(|payer| (0..plan.months.len()).map(move |month| (payer, month))).collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());

    enum Message {
        Rows(u64),
        Done(usize, Result<Vec<GeneratedFile>>),
    }
    let (sender, receiver) = mpsc::channel();
    let next_job = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<Option<Result<Vec<GeneratedFile>>>> = jobs.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (sender, plan, jobs, next_job, failed) = (sender.clone(), &plan, &jobs, &next_job, &failed);
            scope.spawn(move || {
                while !failed.load(Ordering::Relaxed) {
                    let job = next_job.fetch_add(1, Ordering::Relaxed);
                    let Some(&(payer, month)) = jobs.get(job) else {
                        break;
                    };
                    let mut progress = |rows| {
                        let _ = sender.send(Message::Rows(rows));
                    };
                    let result = report::write_report(
                        plan,
                        &plan.payers[payer],
                        &plan.months[month],
                        out_dir,
                        config.rows_per_file,
                        &mut progress,
                    );
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let _ = sender.send(Message::Done(job, result));
                }
            });
        }
        drop(sender);
        // The caller's callback is not `Send`: progress is relayed here.
        for message in receiver {
            match message {
                Message::Rows(rows) => on_rows(rows),
                Message::Done(job, result) => results[job] = Some(result),
            }
        }
    });

    let mut files = Vec::new();
    let mut skipped = false;
    for result in results {
        match result {
            Some(Ok(parts)) => files.extend(parts),
            Some(Err(error)) => return Err(error),
            None => skipped = true,
        }
    }
    if skipped {
        bail!("some reports were not written");
    }
    Ok(files)
}
