//! The small tables the emitted SQL needs, derived from the compiled mappings: rules in rank
//! order, team ids and aliases, org paths by date, pools and their weights, telemetry units.
//! Written as `VALUES` lists inside the SQL, so the folder is one file any engine can run
//! (Trino and Athena cannot read a local CSV).

use std::fmt::Write;

use chrono::NaiveDate;

use crate::attribute::Compiled;
use crate::attribute::mappings::SplitKind;
use crate::attribute::pools::{Recipient, UNALLOCATED_KEY};
use crate::attribute::rules::Target;
use crate::lake::sql::string_literal;

/// A cell of a table: text or null, an integer, a date.
pub enum Cell {
    Text(Option<String>),
    Int(i128),
    Date(NaiveDate),
}

/// A table: its name, `(column, SQL type)` pairs and rows.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// `CREATE TEMP TABLE name AS SELECT * FROM (VALUES ...) t(columns)`, typed by casts
    /// (an empty table is a typed `SELECT ... WHERE false`).
    pub fn create(&self, out: &mut String) {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let typed: Vec<String> =
            self.columns.iter().map(|(name, kind)| format!("CAST({name} AS {kind}) AS {name}")).collect();
        let _ = writeln!(out, "CREATE TEMP TABLE {} AS SELECT {} FROM (", self.name, typed.join(", "));
        if self.rows.is_empty() {
            let nulls: Vec<String> = names.iter().map(|n| format!("NULL AS {n}")).collect();
            let _ = writeln!(out, "  SELECT {} WHERE false\n) t;", nulls.join(", "));
            return;
        }
        out.push_str("  VALUES\n");
        for (i, row) in self.rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Text(Some(text)) => string_literal(text),
                    Cell::Text(None) => "NULL".to_string(),
                    Cell::Int(n) => n.to_string(),
                    Cell::Date(d) => format!("DATE '{d}'"),
                })
                .collect();
            let end = if i + 1 == self.rows.len() { "" } else { "," };
            let _ = writeln!(out, "    ({}){end}", cells.join(", "));
        }
        let _ = writeln!(out, ") t({});", names.join(", "));
    }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(Some(s.into()))
}

/// The first and last dates a table's date ranges use: every charge date falls between.
pub const BEGINNING: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");
pub const END: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");

/// `[from, until)` spans between org moves, with the date to evaluate each at.
fn org_spans(compiled: &Compiled) -> Vec<(NaiveDate, NaiveDate, NaiveDate)> {
    let moves = compiled.org.move_dates();
    let mut spans = Vec::new();
    let mut from = BEGINNING;
    let mut at = NaiveDate::MIN;
    for date in moves {
        spans.push((from, date, at));
        from = date;
        at = date;
    }
    spans.push((from, END, at));
    spans
}

/// Rules by rank: id, what they decide (`team`, `pool`, `from_tag`) and the team or pool.
pub fn rules(compiled: &Compiled) -> Table {
    let rows = compiled
        .rules
        .rules
        .iter()
        .enumerate()
        .map(|(rank, rule)| {
            let (kind, target) = match &rule.target {
                Target::Team(team) => ("team", team.as_str()),
                Target::Pool(pool) => ("pool", pool.as_str()),
                Target::TeamFromTag(key) => ("from_tag", key.as_str()),
            };
            vec![Cell::Int(rank as i128), text(&rule.id), text(kind), text(target)]
        })
        .collect();
    Table {
        name: "m_rule",
        columns: &[("rank", "INTEGER"), ("id", "VARCHAR"), ("kind", "VARCHAR"), ("target", "VARCHAR")],
        rows,
    }
}

/// Lowercased team ids and aliases -> team (what a tag value naming a team is looked up in).
pub fn team_aliases(compiled: &Compiled) -> Table {
    let rows = compiled.org.aliases().into_iter().map(|(alias, team)| vec![text(alias), text(team)]).collect();
    Table { name: "m_team_alias", columns: &[("value", "VARCHAR"), ("team", "VARCHAR")], rows }
}

/// Each team's org path in each span between org moves, and its path as of today.
pub fn team_paths(compiled: &Compiled) -> Table {
    let spans = org_spans(compiled);
    let latest = compiled.org.latest_move();
    let mut rows = Vec::new();
    for team in compiled.org.teams() {
        let current = compiled.org.path(team, latest);
        for (from, until, at) in &spans {
            let path = compiled.org.path(team, *at);
            rows.push(vec![text(team), Cell::Date(*from), Cell::Date(*until), text(path), text(current.clone())]);
        }
    }
    Table {
        name: "m_team_path",
        columns: &[
            ("team", "VARCHAR"),
            ("valid_from", "DATE"),
            ("valid_until", "DATE"),
            ("path", "VARCHAR"),
            ("path_current", "VARCHAR"),
        ],
        rows,
    }
}

/// Every pool and how it splits (for the `split` column).
pub fn pools(compiled: &Compiled) -> Table {
    let rows = compiled.pools.all().map(|p| vec![text(&p.id), text(p.kind.name())]).collect();
    Table { name: "m_pool", columns: &[("pool", "VARCHAR"), ("kind", "VARCHAR")], rows }
}

fn recipient(r: &Recipient) -> (&'static str, &str) {
    match r {
        Recipient::Team(team) => ("team", team),
        Recipient::Pool(pool) => ("pool", pool),
        Recipient::Unallocated(reason) => ("unallocated", reason),
    }
}

/// Even and weights pools: their recipients in tally's order (`idx`, the tie-break of the
/// largest remainder) and weights.
pub fn fixed_weights(compiled: &Compiled) -> Table {
    let mut rows = Vec::new();
    for pool in compiled.pools.all().filter(|p| matches!(p.kind, SplitKind::Even | SplitKind::Weights)) {
        for (idx, (to, weight)) in pool.fixed.iter().enumerate() {
            let (kind, name) = recipient(to);
            rows.push(vec![text(&pool.id), Cell::Int(idx as i128), text(kind), text(name), Cell::Int(*weight)]);
        }
    }
    Table {
        name: "m_pool_fixed",
        columns: &[
            ("pool", "VARCHAR"),
            ("idx", "INTEGER"),
            ("rkind", "VARCHAR"),
            ("recipient", "VARCHAR"),
            ("weight", "HUGEINT"),
        ],
        rows,
    }
}

/// Proportional pools: the teams each may split over in each span between org moves (its
/// `to`, else every team; within its `scope` on that date), in tally's order.
pub fn proportional_candidates(compiled: &Compiled) -> Table {
    let spans = org_spans(compiled);
    let mut rows = Vec::new();
    for pool in compiled.pools.all().filter(|p| p.kind == SplitKind::Proportional) {
        let teams: Vec<&str> = if pool.fixed.is_empty() {
            compiled.org.teams().collect()
        } else {
            pool.fixed
                .iter()
                .filter_map(|(r, _)| match r {
                    Recipient::Team(t) => Some(t.as_str()),
                    Recipient::Pool(_) | Recipient::Unallocated(_) => None,
                })
                .collect()
        };
        for (from, until, at) in &spans {
            for (idx, team) in teams.iter().enumerate() {
                if pool.scope.as_ref().is_none_or(|scope| compiled.org.is_under(team, scope, *at)) {
                    rows.push(vec![
                        text(&pool.id),
                        Cell::Date(*from),
                        Cell::Date(*until),
                        Cell::Int(idx as i128),
                        text(*team),
                    ]);
                }
            }
        }
    }
    Table {
        name: "m_pool_candidate",
        columns: &[
            ("pool", "VARCHAR"),
            ("valid_from", "DATE"),
            ("valid_until", "DATE"),
            ("idx", "INTEGER"),
            ("team", "VARCHAR"),
        ],
        rows,
    }
}

/// Telemetry pools' units per day and per month (`day` null), by recipient in tally's order:
/// a team, or an unallocated part (OpenCost idle) with its reason.
pub fn telemetry_units(compiled: &Compiled) -> Table {
    let mut rows = Vec::new();
    let mut push =
        |pool: &str, day: Option<NaiveDate>, month: String, units: &std::collections::BTreeMap<String, i128>| {
            for (idx, (key, units)) in units.iter().enumerate() {
                let (kind, name) = match key.strip_prefix(UNALLOCATED_KEY) {
                    Some(reason) => ("unallocated", reason),
                    None => ("team", key.as_str()),
                };
                rows.push(vec![
                    text(pool),
                    day.map_or(Cell::Text(None), Cell::Date),
                    text(month.clone()),
                    Cell::Int(idx as i128),
                    text(kind),
                    text(name),
                    Cell::Int(*units),
                ]);
            }
        };
    for pool in compiled.pools.all().filter(|p| p.kind == SplitKind::Telemetry) {
        let mut days: Vec<_> = pool.daily.iter().collect();
        days.sort_by_key(|(day, _)| **day);
        for (day, units) in days {
            push(&pool.id, Some(*day), day.format("%Y-%m").to_string(), units);
        }
        let mut months: Vec<_> = pool.monthly.iter().collect();
        months.sort_by_key(|(month, _)| month.as_str());
        for (month, units) in months {
            push(&pool.id, None, month.clone(), units);
        }
    }
    Table {
        name: "m_pool_units",
        columns: &[
            ("pool", "VARCHAR"),
            ("day", "DATE"),
            ("month", "VARCHAR"),
            ("idx", "INTEGER"),
            ("rkind", "VARCHAR"),
            ("recipient", "VARCHAR"),
            ("units", "HUGEINT"),
        ],
        rows,
    }
}

/// Container clusters' idle policies (clusters.toml): each listed cluster by lowercased name,
/// and the default (`name` null) for the rest.
pub fn clusters(compiled: &Compiled) -> Table {
    let policies = &compiled.clusters;
    let row = |name: Option<&str>, cluster: &crate::attribute::clusters::Cluster| {
        vec![Cell::Text(name.map(str::to_string)), text(cluster.idle.name()), Cell::Text(cluster.owner.clone())]
    };
    let mut rows = vec![row(None, policies.default_policy())];
    rows.extend(policies.listed().into_iter().map(|(name, cluster)| row(Some(name), cluster)));
    Table { name: "m_cluster", columns: &[("name", "VARCHAR"), ("idle", "VARCHAR"), ("owner", "VARCHAR")], rows }
}

/// Each period's exchange rate into the reporting currency per billing currency (currency.toml,
/// worked out by tally from the rates file for the lake's currencies when emitted), at 12
/// decimals as integer units, with its day and policy.
pub fn rates(rates: &std::collections::BTreeMap<String, crate::attribute::Rates>) -> Table {
    let mut rows = Vec::new();
    for (period, by_currency) in rates {
        for (currency, rate) in by_currency {
            rows.push(vec![
                text(period),
                text(currency),
                Cell::Int(rate.rate),
                rate.date.map_or(Cell::Text(None), Cell::Date),
                text(rate.policy),
            ]);
        }
    }
    Table {
        name: "m_rate",
        columns: &[
            ("billing_period", "VARCHAR"),
            ("currency", "VARCHAR"),
            ("rate", "HUGEINT"),
            ("rate_date", "DATE"),
            ("policy", "VARCHAR"),
        ],
        rows,
    }
}
