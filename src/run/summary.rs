//! What a run did: a one-screen text for people and the same as JSON
//! (`tally run --json`) for machines. Money is a decimal string, exact.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::lake::lock::Holder;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub tally_version: String,
    pub config: Option<String>,
    pub lake: String,
    pub mappings: String,
    pub mappings_version: Option<String>,
    /// `ok`, `nothing new`, `quarantined` or `failed`.
    pub status: String,
    pub exit_code: u8,
    pub error: Option<String>,
    /// A run that was killed holding the lock, whose lock this run took over.
    pub recovered_lock: Option<Holder>,
    /// A lake in S3: what was pulled before the run and pushed after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<super::remote::RemoteStep>,
    pub ingest: IngestStep,
    pub attribute: AttributeStep,
    /// Budgets, findings, the weekly report and nudges (absent when the run stopped before them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<super::derived::DerivedStep>,
    pub duration_ms: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct IngestStep {
    /// Whether ingest ran at all (it is skipped when no source changed).
    pub ran: bool,
    pub run_id: Option<String>,
    /// Local files found under the sources, and how many were already in the lake unchanged.
    pub local_files: u64,
    pub local_unchanged: u64,
    /// Files read by this run (local and downloaded).
    pub files_read: u64,
    pub rows_read: u64,
    pub rows_landed: u64,
    pub rows_quarantined: u64,
    /// Rows of billing periods before `since`, left out.
    pub rows_skipped: u64,
    /// Per currency: source cost read and cost landed (+ quarantined, + left out by `since`), which reconcile.
    pub cost: BTreeMap<String, Reconciled>,
    /// Every file balanced: rows and cost in = landed + quarantined + left out by `since`.
    pub reconciled: bool,
    /// Line-item files (provider, billing period, account) written.
    pub units_written: u64,
    /// Each unit an ingest pass committed: what the lake held before, and holds now.
    pub units: Vec<UnitSummary>,
    pub s3_deliveries_read: u64,
    pub s3_deliveries_skipped: u64,
    pub duration_ms: u64,
    /// Per currency: source, landed, quarantined, left out by `since`, summed over the run's ingest passes.
    #[serde(skip)]
    pub sums: BTreeMap<String, [i128; 4]>,
    #[serde(skip)]
    pub unbalanced_files: u64,
}

/// One unit of the lake as an ingest pass replaced it.
#[derive(Debug, Default, Serialize, Clone)]
pub struct UnitSummary {
    pub unit: String,
    /// `new`, `replaced` or `unchanged`.
    pub action: String,
    pub line_items_before: Option<u64>,
    pub line_items_after: u64,
    pub billed_before: Option<String>,
    pub billed_after: String,
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct Reconciled {
    pub source: String,
    pub landed: String,
    pub quarantined: String,
    /// Rows of billing periods before `since`, left out.
    pub before_since: String,
}

#[derive(Debug, Default, Serialize)]
pub struct AttributeStep {
    pub periods: Vec<PeriodDone>,
    /// Periods whose line items and mappings are unchanged since they were attributed.
    pub unchanged: Vec<String>,
    /// Periods that would be re-attributed but are locked (`tally attribute --restate`).
    pub locked: Vec<LockedPeriod>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct PeriodDone {
    pub period: String,
    /// Why it was attributed: `new`, `line items changed`, `mappings changed`, `attributed changed outside tally run`.
    pub reason: String,
    pub line_items: u64,
    pub rows: u64,
    /// Per currency, exact: billed and effective cost, and the effective cost left unallocated.
    pub billed: BTreeMap<String, String>,
    pub effective: BTreeMap<String, String>,
    pub unallocated_effective: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct LockedPeriod {
    pub period: String,
    pub reason: String,
    pub lock: String,
}

impl Summary {
    /// The one-screen text.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let i = &self.ingest;
        if let Some(h) = &self.recovered_lock {
            let _ = writeln!(out, "recovered the lock of a run that did not finish ({})", h.describe());
        }
        if let Some(r) = &self.remote {
            let _ = writeln!(
                out,
                "lake {}: pulled {} file(s) ({} bytes, {} deleted locally){}, pushed {} file(s) ({} bytes, {} deleted)",
                r.url,
                r.pulled.files,
                r.pulled.bytes,
                r.pulled.deleted,
                if r.resumed_push { " after finishing the last run's push" } else { "" },
                r.pushed.files,
                r.pushed.bytes,
                r.pushed.deleted
            );
        }
        if i.ran {
            let _ = writeln!(
                out,
                "ingest: {} file(s) read, {} row(s) landed, {} quarantined, {} line-item file(s) written{}",
                i.files_read,
                i.rows_landed,
                i.rows_quarantined,
                i.units_written,
                i.run_id.as_ref().map(|r| format!(" (run {r})")).unwrap_or_default()
            );
            for u in i.units.iter().filter(|u| u.action == "replaced") {
                let _ = writeln!(
                    out,
                    "  replaced {}: {} -> {} line items, BilledCost {} -> {}",
                    u.unit,
                    u.line_items_before.unwrap_or(0),
                    u.line_items_after,
                    u.billed_before.as_deref().unwrap_or("0"),
                    u.billed_after
                );
            }
            for (currency, c) in &i.cost {
                let _ = writeln!(
                    out,
                    "  {currency}: source {} = landed {} + quarantined {}{}{}",
                    c.source,
                    c.landed,
                    c.quarantined,
                    if i.rows_skipped > 0 { format!(" + before since {}", c.before_since) } else { String::new() },
                    if i.reconciled { " (reconciled)" } else { " (MISMATCH)" }
                );
            }
        } else if self.error.is_some() {
            // The run stopped before ingest committed: "nothing new" would hide that.
            let _ = writeln!(out, "ingest: nothing committed (the run stopped, see below)");
        } else {
            let _ = writeln!(out, "ingest: nothing new ({} local file(s) unchanged)", i.local_unchanged);
        }
        if i.s3_deliveries_read + i.s3_deliveries_skipped > 0 {
            let _ = writeln!(
                out,
                "  s3: {} delivery(ies) read, {} unchanged and skipped",
                i.s3_deliveries_read, i.s3_deliveries_skipped
            );
        }
        let a = &self.attribute;
        if a.periods.is_empty() && self.error.is_some() {
            let _ = writeln!(out, "attribute: nothing committed (the run stopped, see below)");
        } else if a.periods.is_empty() {
            let _ = writeln!(out, "attribute: nothing to do ({} period(s) unchanged)", a.unchanged.len());
        } else {
            let _ = writeln!(
                out,
                "attribute: {} period(s) with mappings {}, reconciled exactly; {} unchanged",
                a.periods.len(),
                self.mappings_version.as_deref().unwrap_or("?"),
                a.unchanged.len()
            );
            for p in &a.periods {
                let money = |m: &BTreeMap<String, String>| {
                    m.iter().map(|(c, v)| format!("{v} {c}")).collect::<Vec<_>>().join(", ")
                };
                let _ = writeln!(
                    out,
                    "  {}: {} line item(s), effective {} (unallocated {}) [{}]",
                    p.period,
                    p.line_items,
                    money(&p.effective),
                    money(&p.unallocated_effective),
                    p.reason
                );
            }
        }
        for l in &a.locked {
            let _ = writeln!(
                out,
                "  {} not re-attributed: {} but it is {}; `tally attribute --period {} --restate -m ...` restates it",
                l.period, l.reason, l.lock, l.period
            );
        }
        if let Some(d) = &self.derived {
            derived_lines(&mut out, d);
        }
        let _ = write!(out, "{} in {:.1}s", self.status, self.duration_ms as f64 / 1000.0);
        if let Some(e) = &self.error {
            let _ = write!(out, ": {e}");
        }
        out.push('\n');
        out
    }
}

fn derived_lines(out: &mut String, d: &super::derived::DerivedStep) {
    let Some(as_of) = d.as_of else { return };
    if d.unchanged {
        let _ = writeln!(out, "budgets, findings, report: unchanged since the last run (as of {as_of})");
    }
    if let Some(b) = &d.budgets {
        let _ = write!(out, "budgets {} (as of {as_of}): {} budget(s)", b.month, b.budgets);
        if !b.over_tolerance.is_empty() {
            let _ = write!(out, ", over tolerance: {}", b.over_tolerance.join(", "));
        }
        if !b.at_risk.is_empty() {
            let _ = write!(out, ", at risk: {}", b.at_risk.join(", "));
        }
        out.push('\n');
    }
    if let Some(f) = &d.findings {
        let kinds: Vec<String> = f.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(
            out,
            "findings: {} ({}); {} recommendation(s) worth a dev-week per $10K/month",
            f.findings,
            kinds.join(", "),
            f.worth_doing
        );
    }
    if let Some(r) = &d.report {
        let _ = writeln!(out, "report: {r}");
    }
    if let Some(n) = &d.nudges {
        let _ = write!(out, "nudges: {} sent, {} failed, {} quiet team(s)", n.sent, n.failed, n.quiet_teams);
        if n.deferred > 0 {
            let _ = write!(out, ", {} left for the next run by the rate limit", n.deferred);
        }
        if !n.unrouted_teams.is_empty() {
            let _ = write!(out, ", no chat route for: {}", n.unrouted_teams.join(", "));
        }
        out.push('\n');
    }
}
