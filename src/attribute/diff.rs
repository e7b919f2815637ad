//! `tally diff`: what a mappings change would move. Both mappings attribute
//! the same line items in memory (nothing is written); the result is the
//! spend per team before and after, the owner changes line by line grouped
//! into moves, and coverage before and after.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::owners::{Assignment, Method, Owners};
use super::scan::{Input, read_batches};
use super::{Compiled, Coverage, WHOLE};
use crate::lake::Lake;
use crate::lake::line_items::period_files;

/// (period, currency) -> value.
type ByPeriod<T> = BTreeMap<(String, String), T>;

/// (from owner, to owner) -> (line items, `[billed, effective]`).
type Moves = BTreeMap<(String, String), (u64, [i128; 2])>;

/// Team -> `[billed, effective]`.
type TeamSums = BTreeMap<String, [i128; 2]>;

#[derive(Debug, Default)]
pub struct Diff {
    pub old_version: String,
    pub new_version: String,
    pub periods: Vec<String>,
    pub line_items: u64,
    /// Line items whose owner (team, pool or unallocated) changes.
    pub lines_moved: u64,
    /// Per (period, currency): team -> `[billed, effective]` before and after.
    pub before: ByPeriod<TeamSums>,
    pub after: ByPeriod<TeamSums>,
    /// Per (period, currency): owner changes.
    pub moves: ByPeriod<Moves>,
    pub coverage_before: ByPeriod<Coverage>,
    pub coverage_after: ByPeriod<Coverage>,
}

/// Who a line belongs to, in one word: the team, `pool:<id>` for a split,
/// or `unallocated`.
fn owner_label(owners: &[Assignment]) -> String {
    match owners {
        [one] if one.method != Method::Shared => one.team.clone(),
        _ => owners.first().and_then(|o| o.pools.first()).map_or_else(String::new, |p| format!("pool:{p}")),
    }
}

/// Attributes `periods` of the lake under both mappings and compares.
pub fn diff(lake: &Lake, old: &Compiled, new: &Compiled, periods: &[String]) -> Result<Diff, String> {
    let mut diff = Diff {
        old_version: old.version.clone(),
        new_version: new.version.clone(),
        periods: periods.to_vec(),
        ..Diff::default()
    };
    for period in periods {
        let files: Vec<_> = period_files(lake, Some(period)).into_iter().map(|(_, f)| f).collect();
        if files.is_empty() {
            return Err(format!("no line items for billing period {period} in the lake"));
        }
        let (mut old_owners, mut new_owners) = (Owners::new(old), Owners::new(new));
        old_owners.first_pass(&files)?;
        new_owners.first_pass(&files)?;
        for file in &files {
            for batch in read_batches(file)? {
                let batch = batch?;
                let input = Input::new(&batch);
                for row in 0..batch.num_rows() {
                    diff.line_items += 1;
                    let amounts = [input.billed.value(row), input.effective.value(row), WHOLE];
                    let key = (period.clone(), input.text("BillingCurrency", row).unwrap_or("").to_string());
                    let before = owners(&mut old_owners, &input, row, amounts)?;
                    let after = owners(&mut new_owners, &input, row, amounts)?;
                    for (owners, teams, coverage) in [
                        (&before, &mut diff.before, &mut diff.coverage_before),
                        (&after, &mut diff.after, &mut diff.coverage_after),
                    ] {
                        let teams = teams.entry(key.clone()).or_default();
                        for owner in owners {
                            let sums = teams.entry(owner.team.clone()).or_default();
                            sums[0] += owner.amounts[0];
                            sums[1] += owner.amounts[1];
                        }
                        let coverage = coverage.entry(key.clone()).or_default();
                        for owner in owners {
                            coverage.count(owner.method, owner.amounts).map_err(|e| format!("{period}: {e}"))?;
                        }
                    }
                    let (from, to) = (owner_label(&before), owner_label(&after));
                    if from != to {
                        diff.lines_moved += 1;
                        let entry = diff.moves.entry(key).or_default().entry((from, to)).or_default();
                        entry.0 += 1;
                        entry.1[0] += amounts[0];
                        entry.1[1] += amounts[1];
                    }
                }
            }
        }
    }
    Ok(diff)
}

/// The owners of line `row` of `input`, as attribution writes them.
fn owners(owners: &mut Owners, input: &Input, row: usize, amounts: [i128; 3]) -> Result<Vec<Assignment>, String> {
    let date = input.date(row);
    let key = owners.key(input, row, date);
    let mut out = Vec::new();
    owners.line_shares(key, input.site(row), date, amounts, |share| -> Result<(), String> {
        out.push(Assignment::from(share));
        Ok(())
    })?;
    Ok(out)
}

fn money_column(values: Vec<i128>) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values.into_iter().map(crate::money::to_cents).collect::<Vec<_>>())
            .with_precision_and_scale(38, 2)
            .expect("valid"),
    )
}

fn text_column(values: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn schema(text: &[&str], counts: &[&str], money: &[&str]) -> SchemaRef {
    let mut fields: Vec<Field> = text.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect();
    fields.extend(counts.iter().map(|n| Field::new(*n, DataType::UInt64, false)));
    fields.extend(money.iter().map(|n| Field::new(*n, DataType::Decimal128(38, 2), false)));
    Arc::new(Schema::new(fields))
}

impl Diff {
    /// EffectiveCost that changes owner: the sum of the teams' increases.
    pub fn moved(&self) -> BTreeMap<String, i128> {
        let mut moved: BTreeMap<String, i128> = BTreeMap::new();
        for ((period, currency), after) in &self.after {
            let before = self.before.get(&(period.clone(), currency.clone()));
            let mut teams: Vec<&String> = after.keys().collect();
            teams.extend(before.into_iter().flat_map(|b| b.keys()));
            teams.sort();
            teams.dedup();
            for team in teams {
                let new = after.get(team).map_or(0, |v| v[1]);
                let old = before.and_then(|b| b.get(team)).map_or(0, |v| v[1]);
                if new > old {
                    *moved.entry(currency.clone()).or_default() += new - old;
                }
            }
        }
        moved
    }

    /// Teams whose spend changes, largest change first (amounts in cents).
    pub fn teams_table(&self) -> (SchemaRef, RecordBatch) {
        // (period, currency, team, before, after)
        type TeamRow<'a> = (&'a str, &'a str, &'a str, [i128; 2], [i128; 2]);
        let mut rows: Vec<TeamRow> = Vec::new();
        let keys: BTreeSet<&(String, String)> = self.before.keys().chain(self.after.keys()).collect();
        let empty = TeamSums::new();
        for key in keys {
            let before = self.before.get(key).unwrap_or(&empty);
            let after = self.after.get(key).unwrap_or(&empty);
            let teams: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            for team in teams {
                let (old, new) =
                    (before.get(team).copied().unwrap_or_default(), after.get(team).copied().unwrap_or_default());
                if old != new {
                    rows.push((&key.0, &key.1, team, old, new));
                }
            }
        }
        rows.sort_by(|a, b| {
            a.0.cmp(b.0).then_with(|| (b.4[1] - b.3[1]).abs().cmp(&(a.4[1] - a.3[1]).abs())).then_with(|| a.2.cmp(b.2))
        });
        let schema = schema(
            &["period", "currency", "team"],
            &[],
            &["effective_before", "effective_after", "effective_change", "billed_change"],
        );
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                text_column(rows.iter().map(|r| r.0.to_string()).collect()),
                text_column(rows.iter().map(|r| r.1.to_string()).collect()),
                text_column(rows.iter().map(|r| r.2.to_string()).collect()),
                money_column(rows.iter().map(|r| r.3[1]).collect()),
                money_column(rows.iter().map(|r| r.4[1]).collect()),
                money_column(rows.iter().map(|r| r.4[1] - r.3[1]).collect()),
                money_column(rows.iter().map(|r| r.4[0] - r.3[0]).collect()),
            ],
        )
        .expect("columns match the schema");
        (schema, batch)
    }

    /// Owner changes grouped by (from, to), largest first.
    pub fn moves_table(&self) -> (SchemaRef, RecordBatch) {
        let mut rows: Vec<(String, String, String, String, u64, [i128; 2])> = Vec::new();
        for ((period, currency), moves) in &self.moves {
            for ((from, to), (lines, amounts)) in moves {
                rows.push((period.clone(), currency.clone(), from.clone(), to.clone(), *lines, *amounts));
            }
        }
        rows.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| b.5[1].abs().cmp(&a.5[1].abs())).then_with(|| (&a.2, &a.3).cmp(&(&b.2, &b.3)))
        });
        let schema = schema(&["period", "currency", "from", "to"], &["line_items"], &["effective", "billed"]);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                text_column(rows.iter().map(|r| r.0.clone()).collect()),
                text_column(rows.iter().map(|r| r.1.clone()).collect()),
                text_column(rows.iter().map(|r| r.2.clone()).collect()),
                text_column(rows.iter().map(|r| r.3.clone()).collect()),
                Arc::new(UInt64Array::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
                money_column(rows.iter().map(|r| r.5[1]).collect()),
                money_column(rows.iter().map(|r| r.5[0]).collect()),
            ],
        )
        .expect("columns match the schema");
        (schema, batch)
    }

    /// Coverage of EffectiveCost before and after, per period and currency.
    pub fn coverage_table(&self) -> (SchemaRef, RecordBatch) {
        let schema = schema(
            &["period", "currency", "direct_pct", "shared_pct", "unallocated_pct"],
            &[],
            &["unallocated_before", "unallocated_after"],
        );
        let mut columns: [Vec<String>; 5] = Default::default();
        let mut money: [Vec<i128>; 2] = Default::default();
        for (key, after) in &self.coverage_after {
            let before = self.coverage_before.get(key).copied().unwrap_or_default();
            let total = before.direct[1] + before.shared[1] + before.unallocated[1];
            let pct = |v: i128| -> String {
                // Tenths of a percent, rounded as every figure is.
                crate::money::text::share_tenths(v, total)
                    .map_or_else(|| "-".to_string(), |tenths| crate::money::text::number(tenths, 1, 1))
            };
            let change = |b: i128, a: i128| format!("{} -> {}", pct(b), pct(a));
            columns[0].push(key.0.clone());
            columns[1].push(key.1.clone());
            columns[2].push(change(before.direct[1], after.direct[1]));
            columns[3].push(change(before.shared[1], after.shared[1]));
            columns[4].push(change(before.unallocated[1], after.unallocated[1]));
            money[0].push(before.unallocated[1]);
            money[1].push(after.unallocated[1]);
        }
        let [c0, c1, c2, c3, c4] = columns;
        let [m0, m1] = money;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                text_column(c0),
                text_column(c1),
                text_column(c2),
                text_column(c3),
                text_column(c4),
                money_column(m0),
                money_column(m1),
            ],
        )
        .expect("columns match the schema");
        (schema, batch)
    }
}
