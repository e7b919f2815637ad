//! `tally run`'s attribute step: the periods whose line items, mappings or
//! attributed file changed since the state file last saw them, attributed in one
//! pass; locked periods are listed, not touched.

use std::collections::BTreeSet;

use super::plan::RunError;
use super::state;
use super::summary::{LockedPeriod, PeriodDone, Summary};
use crate::attribute::{self, Compiled};
use crate::lake::{Lake, attributed, locks};
use crate::money;

pub(super) async fn attribute_step(
    lake: &Lake,
    compiled: &Compiled,
    progress: bool,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let mut state = state::load(lake);
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(String, String, String)> = Vec::new();
    for period in crate::lake::line_items::periods(lake) {
        let inputs = state::period_hash(lake, &period, &mut state, &mut seen).map_err(RunError::failed)?;
        let current = state::meta(&attributed::file(lake, &period)).ok();
        let reason = match (state.periods.get(&period), current) {
            (_, None) | (None, _) => Some("new"),
            (Some(old), _) if old.line_items != inputs => Some("line items changed"),
            (Some(old), _) if old.mappings_version != compiled.version => Some("mappings changed"),
            (Some(old), Some(now)) if old.attributed != now => Some("attributed changed outside tally run"),
            _ => None,
        };
        match reason {
            None => summary.attribute.unchanged.push(period),
            Some(reason) => match locks::get(lake, &period).map_err(|e| RunError::failed(anyhow::anyhow!(e)))? {
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
        state::save(lake, &state).map_err(RunError::failed)?;
        return Ok(());
    }
    let periods: Vec<String> = todo.iter().map(|t| t.0.clone()).collect();
    let outcomes = attribute::run(lake, compiled, &periods, progress, None).await?;
    super::pause::at_lake(lake, "attributed");
    let fmt = |v: i128| money::format(v, money::SCALE as u32);
    for ((period, reason, inputs), outcome) in todo.into_iter().zip(outcomes) {
        let attributed = state::meta(&attributed::file(lake, &period)).map_err(RunError::failed)?;
        state.periods.insert(
            period.clone(),
            state::PeriodState { line_items: inputs, mappings_version: compiled.version.clone(), attributed },
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
    state::save(lake, &state).map_err(RunError::failed)?;
    Ok(())
}
