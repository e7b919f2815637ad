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

use crate::lake::Lake;
use crate::lake::line_items::{StagedUnit, UnitKey, UnitTotals, totals};
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

/// Pairs each staged unit (with its totals as staged) with what the lake holds for it now.
pub fn changes(lake: &Lake, units: &[(StagedUnit, UnitTotals)]) -> std::io::Result<Vec<UnitChange>> {
    units
        .iter()
        .map(|(unit, after)| {
            let current = lake.root().join(unit.key.relative_path());
            let before = if current.exists() { Some(totals(&current)?) } else { None };
            Ok(UnitChange { key: unit.key.clone(), before, after: *after })
        })
        .collect()
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
}
