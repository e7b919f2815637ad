//! What each staged unit replaces, and the rule that a replacement may not
//! silently remove a unit's line items or cost.
//!
//! A unit (provider, billing period, billing account) is replaced whole, so a
//! file that carries a stray row of another month, or one part of a
//! multi-part month ingested alone, would replace everything the lake holds
//! for that unit with the little it carries. Providers deliver months
//! cumulatively (a re-delivery has at least the cost of the last one), so a
//! replacement that drops more than [`MAX_COST_DROP_PERCENT`] of a unit's gross
//! BilledCost, or more than [`MAX_LINE_DROP_PERCENT`] of its line items, is
//! refused unless the user says it is meant (`--allow-shrink`). A restatement
//! may regroup some line items (fewer, larger ones) as long as the dollars stay.
//!
//! A cloud's month and billing account is also one unit whatever export
//! delivers it (provider ids are canonical, see [`crate::provider`]), so two
//! kinds of export of the same charges (Azure's cost export and its FOCUS
//! export, say) would either sit side by side and count twice or silently
//! replace each other. A unit that two export kinds deliver is refused,
//! naming both; switching an account to another export is explicit
//! (`--allow-export-switch`) and removes the old kind's files.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::lake::Lake;
use crate::lake::line_items::{StagedUnit, UnitKey, UnitTotals, files_of_account, first_source, totals};
use crate::money;

/// The largest share of a unit's gross cost a replacement may drop without `--allow-shrink`.
pub const MAX_COST_DROP_PERCENT: u64 = 10;
/// The largest share of a unit's line items a replacement may drop without `--allow-shrink`.
pub const MAX_LINE_DROP_PERCENT: u64 = 25;

/// One unit of an ingest: what the lake held for it, and what it will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitChange {
    pub key: UnitKey,
    /// `None` for a unit the lake did not have.
    pub before: Option<UnitTotals>,
    pub after: UnitTotals,
    /// Other lake files the commit removes, with why: the same cloud, month
    /// and account in a folder of an older provider spelling, or from another
    /// export kind (`--allow-export-switch`). Their totals are in `before`.
    pub displaces: Vec<(PathBuf, String)>,
}

impl UnitChange {
    /// True when the replacement drops more than [`MAX_COST_DROP_PERCENT`] of
    /// the unit's gross BilledCost or [`MAX_LINE_DROP_PERCENT`] of its line items.
    pub fn shrinks(&self) -> bool {
        let Some(before) = self.before else { return false };
        let keep_lines = (100 - MAX_LINE_DROP_PERCENT) as u128;
        let fewer_lines = (self.after.line_items as u128) * 100 < (before.line_items as u128) * keep_lines;
        // gross * 90 could overflow i128; compare against gross - gross / 10 instead.
        let least_gross = before.gross - before.gross / (100 / MAX_COST_DROP_PERCENT) as i128;
        self.after.gross < least_gross || fewer_lines
    }

    /// `new`, `replaced`, or `unchanged` (same line items and cost).
    pub fn action(&self) -> &'static str {
        match self.before {
            None => "new",
            Some(b) if b == self.after => "unchanged",
            Some(_) => "replaced",
        }
    }

    /// `aws 2026-09 account 111111111111` (and the export, for Azure).
    pub fn unit(&self) -> String {
        let k = &self.key;
        let variant = if k.variant.is_empty() { String::new() } else { format!(" ({})", k.variant) };
        format!("{} {} account {}{variant}", k.provider, k.billing_period, k.billing_account)
    }
}

/// The kind of export an `ingests.format` value names. CUR and CUR 2.0 are one
/// kind: CUR 2.0 is its successor with the same line items.
pub fn export_kind(recorded: &str) -> Option<&'static str> {
    Some(match recorded.split([' ', '(']).next()? {
        "aws-cur" | "aws-cur2" => "AWS CUR",
        "focus" => "FOCUS",
        "gcp" => "GCP billing export",
        "azure-actual" | "azure-amortized" => "Azure cost export",
        _ => return None,
    })
}

/// A staged unit with its totals as staged and the source files its rows came from.
pub struct Staged<'a> {
    pub unit: &'a StagedUnit,
    pub after: UnitTotals,
    pub sources: &'a [String],
}

/// What committing the staged units would do, or why it must not.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<UnitChange>,
    /// Units that two export kinds deliver (refused unless switching is allowed).
    pub conflicts: Vec<String>,
    /// Units that two export kinds deliver in this one run (always refused).
    pub mixed: Vec<String>,
}

/// Pairs each staged unit with what the lake holds for it now, and finds the
/// units two export kinds deliver. `formats` maps each source file of this
/// run to its recorded format.
pub fn plan(
    lake: &Lake,
    staged: &[Staged<'_>],
    formats: &HashMap<String, String>,
    allow_switch: bool,
) -> std::io::Result<Plan> {
    fn kinds_of<'s>(sources: &'s [String], formats: &HashMap<String, String>) -> BTreeMap<&'static str, &'s str> {
        let mut kinds = BTreeMap::new();
        for source in sources {
            if let Some(kind) = formats.get(source).and_then(|f| export_kind(f)) {
                kinds.entry(kind).or_insert(source.as_str());
            }
        }
        kinds
    }
    let describe = |kinds: &BTreeMap<&'static str, &str>| {
        kinds.iter().map(|(kind, file)| format!("the {kind} ({file})")).collect::<Vec<_>>().join(" and ")
    };
    let kinds: Vec<_> = staged.iter().map(|s| kinds_of(s.sources, formats)).collect();
    let mut plan = Plan::default();
    // Per cloud, month and account: the kinds this run delivers it from.
    let mut accounts: BTreeMap<(String, String, String), BTreeMap<&'static str, &str>> = BTreeMap::new();
    for (s, kinds) in staged.iter().zip(&kinds) {
        let key = &s.unit.key;
        let account = (key.provider.clone(), key.billing_period.clone(), key.billing_account.clone());
        accounts.entry(account).or_default().extend(kinds.iter().map(|(k, f)| (*k, *f)));
    }
    for ((provider, period, account), kinds) in &accounts {
        if kinds.len() > 1 {
            plan.mixed.push(format!("{provider} {period} account {account}: {} both deliver it", describe(kinds)));
        }
    }

    let mut lake_formats: Option<HashMap<(String, String), String>> = None;
    for (s, kinds) in staged.iter().zip(&kinds) {
        let key = &s.unit.key;
        let kind = (kinds.len() == 1).then(|| *kinds.keys().next().expect("one kind"));
        let mut change = UnitChange { key: key.clone(), before: None, after: s.after, displaces: Vec::new() };
        for (other, relative) in files_of_account(lake, key)? {
            let path = lake.file(&relative);
            let exact = relative == key.relative_path();
            let written_by = match first_source(&path)? {
                Some(source) => {
                    let formats = match &mut lake_formats {
                        Some(formats) => formats,
                        None => lake_formats.insert(crate::lake::log::formats(lake)?),
                    };
                    formats.get(&source).and_then(|f| export_kind(f)).map(|k| (k, source.1))
                }
                None => None,
            };
            let switch = match (kind, &written_by) {
                (Some(new), Some((old, _))) => new != *old,
                _ => false,
            };
            if switch && !allow_switch {
                let (old, old_file) = written_by.expect("a switch has an old kind");
                plan.conflicts.push(format!(
                    "{}: the lake holds it from the {old} ({old_file}, in {}), this run delivers it from {}",
                    change.unit(),
                    relative.display(),
                    describe(kinds)
                ));
                continue;
            }
            let reason = if switch {
                let (old, _) = written_by.as_ref().expect("a switch has an old kind");
                format!("the {old} of the same account and month, replaced by the {}", kind.expect("switching"))
            } else if !exact && other.variant == key.variant {
                format!("the same account and month under the older provider folder provider={}", other.provider)
            } else if !exact {
                continue; // the other export of a pair (Azure actual, amortized): replaced on its own
            } else {
                String::new()
            };
            let held = totals(&path)?;
            change.before = Some(match change.before {
                None => held,
                Some(before) => {
                    plus(before, held).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?
                }
            });
            if !exact {
                change.displaces.push((relative, reason));
            }
        }
        plan.changes.push(change);
    }
    Ok(plan)
}

fn plus(a: UnitTotals, b: UnitTotals) -> Result<UnitTotals, money::Overflow> {
    let mut sum = a;
    sum.line_items += b.line_items;
    money::add(&mut sum.billed, b.billed)?;
    money::add(&mut sum.gross, b.gross)?;
    Ok(sum)
}

/// The refusal of units two export kinds deliver; `None` when there are none.
pub fn export_refusal(plan: &Plan) -> Option<String> {
    if !plan.mixed.is_empty() {
        return Some(format!(
            "refusing units that two kinds of export deliver in one run, nothing committed: {}. They carry the same \
             charges and would be counted twice: ingest one kind of export per cloud, month and billing account",
            plan.mixed.join("; ")
        ));
    }
    if !plan.conflicts.is_empty() {
        return Some(format!(
            "refusing units that another kind of export already delivered, nothing committed: {}. Both carry the \
             same charges, so keeping both would count them twice: ingest one kind of export per cloud and billing \
             account. To move these accounts to the new export (the old export's files for these months are \
             removed), rerun with --allow-export-switch",
            plan.conflicts.join("; ")
        ));
    }
    None
}

/// The refusal, naming every unit that would shrink with its before and after;
/// `None` when no unit shrinks.
pub fn refusal(changes: &[UnitChange]) -> Option<String> {
    let shrinking: Vec<String> = changes
        .iter()
        .filter(|c| c.shrinks())
        .map(|c| {
            let before = c.before.expect("a shrinking unit had data");
            format!(
                "{} would go from {} line items (BilledCost {}) to {} (BilledCost {})",
                c.unit(),
                before.line_items,
                money::format(before.billed, money::SCALE as u32),
                c.after.line_items,
                money::format(c.after.billed, money::SCALE as u32),
            )
        })
        .collect();
    if shrinking.is_empty() {
        return None;
    }
    Some(format!(
        "refusing to replace {} unit(s), nothing committed: {}. A provider, month and billing account is replaced \
         whole, and a replacement may drop at most {MAX_COST_DROP_PERCENT}% of its gross cost and \
         {MAX_LINE_DROP_PERCENT}% of its line items: \
         ingest every file of the month together (a stray row of another month, or one part of a multi-part \
         month, would otherwise replace all of it). If the new data is complete (a restatement that really \
         removes charges), rerun with --allow-shrink",
        shrinking.len(),
        shrinking.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: Option<(u64, i128)>, after: (u64, i128)) -> UnitChange {
        let t = |(line_items, gross): (u64, i128)| UnitTotals { line_items, billed: gross, gross };
        UnitChange {
            key: UnitKey {
                provider: "aws".into(),
                billing_period: "2026-09".into(),
                billing_account: "1".into(),
                variant: String::new(),
            },
            before: before.map(t),
            after: t(after),
            displaces: Vec::new(),
        }
    }

    #[test]
    fn growing_and_new_units_are_fine_shrinking_ones_are_not() {
        assert!(!change(None, (1, 1)).shrinks());
        assert!(!change(Some((1339, 458_859)), (1400, 470_000)).shrinks());
        assert!(!change(Some((100, 1000)), (75, 900)).shrinks(), "exactly the limits is allowed");
        assert!(change(Some((100, 1000)), (74, 1000)).shrinks());
        assert!(!change(Some((8, 24454)), (7, 24704)).shrinks(), "fewer, larger line items: the dollars stay");
        assert!(change(Some((100, 1000)), (100, 899)).shrinks());
        assert!(change(Some((1339, 458_859)), (1, 12)).shrinks());
        assert!(!change(Some((0, 0)), (0, 0)).shrinks());
        let max = change(Some((1, i128::MAX)), (1, i128::MAX));
        assert!(!max.shrinks(), "no overflow at the top of the range");
    }

    #[test]
    fn export_kinds_from_recorded_formats() {
        assert_eq!(export_kind("aws-cur (utf-8, detected)"), Some("AWS CUR"));
        assert_eq!(export_kind("aws-cur2 (parquet, detected)"), Some("AWS CUR"));
        assert_eq!(export_kind("focus 1.2 (utf-8, detected)"), Some("FOCUS"));
        assert_eq!(export_kind("azure-amortized (utf-8, detected)"), Some("Azure cost export"));
        assert_eq!(export_kind("copy of a.csv"), None);
    }
}
