//! One line item to its owners: the winning rule's team, the pieces of a
//! pool split, or the unallocated owner with a reason. Attribution, `diff`
//! and `explain` all go through here, so they cannot disagree.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::Compiled;
use super::org::UNALLOCATED;
use super::rules::{Decision, Scratch};
use super::scan::{Input, read_batches};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Direct,
    Shared,
    Unallocated,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Direct => "direct",
            Method::Shared => "shared",
            Method::Unallocated => "unallocated",
        }
    }
}

/// An owner of (part of) a line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment<'c> {
    pub team: String,
    pub rule_id: Option<&'c str>,
    pub method: Method,
    /// The pools the spend went through, outermost first.
    pub pools: Vec<String>,
    /// How each of those pools split (`even`, `weights`, ...).
    pub split_kinds: Vec<&'static str>,
    pub unallocated_reason: Option<String>,
    /// `[billed, effective, share]`, share at the money scale.
    pub amounts: [i128; 3],
}

/// The owners of a line with `amounts` charged on `date`, given the rules'
/// `decision`. `direct` is each team's direct EffectiveCost in the period
/// (only proportional pools read it).
pub fn assign<'c>(
    compiled: &'c Compiled,
    decision: &Decision,
    date: NaiveDate,
    amounts: [i128; 3],
    direct: &HashMap<String, i128>,
) -> Vec<Assignment<'c>> {
    let (rules, pools, org) = (&compiled.rules, &compiled.pools, &compiled.org);
    let unallocated = |rule_id, pools: Vec<String>, reason: String| Assignment {
        team: UNALLOCATED.to_string(),
        rule_id,
        method: Method::Unallocated,
        pools,
        split_kinds: Vec::new(),
        unallocated_reason: Some(reason),
        amounts,
    };
    match decision {
        Decision::Team { rule, team } => vec![Assignment {
            team: team.clone(),
            rule_id: Some(rules.rules[*rule].id.as_str()),
            method: Method::Direct,
            pools: Vec::new(),
            split_kinds: Vec::new(),
            unallocated_reason: None,
            amounts,
        }],
        Decision::Pool { rule, pool } => {
            let rule_id = Some(rules.rules[*rule].id.as_str());
            match pools.split(pool, amounts, date, org, direct) {
                Ok(pieces) => pieces
                    .into_iter()
                    .map(|piece| Assignment {
                        team: piece.team,
                        rule_id,
                        method: Method::Shared,
                        split_kinds: piece.pools.iter().map(|id| pools.get(id).kind.name()).collect(),
                        pools: piece.pools,
                        unallocated_reason: None,
                        amounts: piece.amounts,
                    })
                    .collect(),
                Err(reason) => vec![unallocated(rule_id, vec![pool.clone()], reason)],
            }
        }
        Decision::Unallocated { reason } => vec![unallocated(None, Vec::new(), reason.clone())],
    }
}

/// Each team's direct EffectiveCost over `files` (one period): what
/// proportional pools split by. Empty when no pool needs it.
pub fn direct_spend(files: &[PathBuf], compiled: &Compiled) -> Result<HashMap<String, i128>, String> {
    let mut direct: HashMap<String, i128> = HashMap::new();
    if !compiled.pools.needs_direct_spend() {
        return Ok(direct);
    }
    let mut scratch = Scratch::default();
    for file in files {
        for batch in read_batches(file)? {
            let batch = batch?;
            let input = Input::new(&batch);
            for row in 0..batch.num_rows() {
                let view = input.line_view(row, &compiled.rules);
                if let Decision::Team { team, .. } = compiled.rules.decide(&view, &compiled.org, &mut scratch) {
                    crate::money::add(direct.entry(team).or_default(), input.effective.value(row))
                        .map_err(|e| format!("summing each team's direct EffectiveCost: the {e}"))?;
                }
            }
        }
    }
    Ok(direct)
}
