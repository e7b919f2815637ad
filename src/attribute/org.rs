//! The org hierarchy with effective dates: where a team sits on a given day.
//!
//! Team and node ids may hold only ASCII letters, digits, `_`, `.` and `-` ([`valid_id`]):
//! `org_path` joins them with `/` (and SQL splits it again), so a `/` in an id would
//! make two paths read the same.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::mappings::{MappingError, Mappings, Move};

/// The owner of spend that no rule claims.
pub const UNALLOCATED: &str = "unallocated";

#[derive(Debug)]
struct Node {
    parent: Option<String>,
    /// Sorted by date.
    moves: Vec<Move>,
}

#[derive(Debug)]
pub struct Org {
    nodes: BTreeMap<String, Node>,
    teams: BTreeMap<String, ()>,
    /// Lowercased team id or alias -> team id.
    by_alias: HashMap<String, String>,
}

impl Org {
    pub fn compile(mappings: &Mappings) -> Result<Org, MappingError> {
        let file = "org.toml";
        let mut nodes = BTreeMap::new();
        let mut teams = BTreeMap::new();
        let mut by_alias = HashMap::new();
        let nodes_moves = mappings.org.nodes.iter().map(|(id, spec)| ("nodes", id, &spec.moves));
        for (section, id, moves) in nodes_moves.chain(mappings.org.teams.iter().map(|(id, t)| ("teams", id, &t.moves)))
        {
            let kind = if section == "teams" { "team" } else { "node" };
            if !valid_id(id) {
                return Err(mappings.error_at(
                    file,
                    &[section, id],
                    None,
                    format!(
                        "{kind} id `{id}`: ids may hold only letters, digits, `_`, `.` and `-` \
                         (org paths join them with `/`)"
                    ),
                ));
            }
            let mut on: HashMap<NaiveDate, &Move> = HashMap::new();
            for (i, m) in moves.iter().enumerate() {
                if let Some(first) = on.insert(m.from, m) {
                    return Err(mappings.error_at(
                        file,
                        &[section, id, "moves"],
                        Some(i),
                        format!(
                            "{kind} `{id}` moves twice on {} (under `{}` and under `{}`): one move per date",
                            m.from, first.parent, m.parent
                        ),
                    ));
                }
            }
        }
        for (id, spec) in &mappings.org.nodes {
            nodes.insert(id.clone(), Node { parent: spec.parent.clone(), moves: sorted(&spec.moves) });
        }
        for (id, spec) in &mappings.org.teams {
            if id == UNALLOCATED {
                return Err(mappings.error(file, id, format!("`{UNALLOCATED}` is reserved for spend no rule claims")));
            }
            if nodes.contains_key(id) {
                return Err(mappings.error(file, id, format!("`{id}` is both a team and an org node")));
            }
            nodes.insert(id.clone(), Node { parent: spec.parent.clone(), moves: sorted(&spec.moves) });
            teams.insert(id.clone(), ());
            for alias in std::iter::once(id).chain(&spec.aliases) {
                if let Some(other) = by_alias.insert(alias.to_lowercase(), id.clone())
                    && other != *id
                {
                    return Err(mappings.error(
                        file,
                        alias,
                        format!("alias `{alias}` names both teams `{other}` and `{id}`"),
                    ));
                }
            }
        }
        let org = Org { nodes, teams, by_alias };
        for (id, node) in &org.nodes {
            for parent in node.parent.iter().chain(node.moves.iter().map(|m| &m.parent)) {
                if !org.nodes.contains_key(parent) {
                    return Err(mappings.error(
                        file,
                        id,
                        format!("`{id}` has parent `{parent}`, which is not defined"),
                    ));
                }
                if org.teams.contains_key(parent) {
                    return Err(mappings.error(file, id, format!("`{id}` has parent `{parent}`, which is a team")));
                }
            }
        }
        // A cycle would make paths infinite. Parents change only on move dates, and a cycle
        // that appears on one has a member that moves then: checking every node as the org
        // starts and on each of its own move dates finds every cycle, the earliest first.
        let mut checks: Vec<(NaiveDate, &str)> = org.nodes.keys().map(|id| (NaiveDate::MIN, id.as_str())).collect();
        checks.extend(org.nodes.iter().flat_map(|(id, n)| n.moves.iter().map(move |m| (m.from, id.as_str()))));
        checks.sort();
        for (date, id) in checks {
            if let Err(cycle) = org.try_path(id, date) {
                return Err(org.cycle_error(mappings, cycle, date));
            }
        }
        Ok(org)
    }

    /// `org.toml:LINE: org cycle from 2026-10-15: data -> fraud-org -> data`, at the move
    /// that closes the cycle (or, one there from the start, at the `parent` of its first
    /// member by id). It says when the cycle holds with real dates, never chrono's minimum.
    fn cycle_error(&self, mappings: &Mappings, mut cycle: Vec<&str>, date: NaiveDate) -> MappingError {
        let moves_on = |id: &str| {
            let spec = mappings.org.nodes.get(id).map(|n| &n.moves).or(mappings.org.teams.get(id).map(|t| &t.moves));
            spec.and_then(|moves| moves.iter().position(|m| m.from == date))
        };
        let first = if date == NaiveDate::MIN {
            (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0)
        } else {
            cycle.iter().position(|id| moves_on(id).is_some()).unwrap_or(0)
        };
        cycle.rotate_left(first);
        // The cycle lasts until a later move of one of its members breaks it.
        let holds = |day: NaiveDate| {
            (0..cycle.len()).all(|i| self.parent_at(cycle[i], day) == Some(cycle[(i + 1) % cycle.len()]))
        };
        let mut later: Vec<NaiveDate> = cycle
            .iter()
            .filter_map(|id| self.nodes.get(*id))
            .flat_map(|n| n.moves.iter().map(|m| m.from))
            .filter(|d| *d > date)
            .collect();
        later.sort();
        let until = later.into_iter().find(|d| !holds(*d));
        let when = match (date == NaiveDate::MIN, until) {
            (true, None) => "in every period".to_string(),
            (true, Some(end)) => format!("before {end}"),
            (false, None) => format!("from {date}"),
            (false, Some(end)) => format!("from {date} until {end}"),
        };
        let message = format!("org cycle {when}: {} -> {}", cycle.join(" -> "), cycle[0]);
        let section = if self.is_team(cycle[0]) { "teams" } else { "nodes" };
        match moves_on(cycle[0]).filter(|_| date != NaiveDate::MIN) {
            Some(index) => mappings.error_at("org.toml", &[section, cycle[0], "moves"], Some(index), message),
            None => mappings.error_at("org.toml", &[section, cycle[0], "parent"], None, message),
        }
    }

    pub fn is_team(&self, id: &str) -> bool {
        self.teams.contains_key(id)
    }

    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.teams.keys().map(String::as_str)
    }

    /// The org nodes that are not teams (`acme`, `eng`...), sorted by id.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str).filter(|id| !self.is_team(id))
    }

    pub fn is_node(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    /// The team a tag value names, through ids and aliases, ignoring case.
    pub fn team_for_value(&self, value: &str) -> Option<&str> {
        self.by_alias.get(&value.to_lowercase()).map(String::as_str)
    }

    fn parent_at(&self, id: &str, date: NaiveDate) -> Option<&str> {
        let node = self.nodes.get(id)?;
        node.moves.iter().rev().find(|m| m.from <= date).map(|m| m.parent.as_str()).or(node.parent.as_deref())
    }

    /// The path of `id` on `date`, or the cycle its parents run into (each member once).
    fn try_path<'a>(&'a self, id: &'a str, date: NaiveDate) -> Result<String, Vec<&'a str>> {
        let mut chain = vec![id];
        let mut at = id;
        while let Some(parent) = self.parent_at(at, date) {
            if let Some(start) = chain.iter().position(|c| *c == parent) {
                return Err(chain.split_off(start));
            }
            chain.push(parent);
            at = parent;
        }
        chain.reverse();
        Ok(chain.join("/"))
    }

    /// `company/engineering/payments/payments-api` as of `date`.
    pub fn path(&self, team: &str, date: NaiveDate) -> String {
        if team == UNALLOCATED {
            return UNALLOCATED.to_string();
        }
        self.try_path(team, date).expect("cycles are rejected at compile time")
    }

    /// Whether `team` sits under `node` (or is it) on `date`.
    pub fn is_under(&self, team: &str, node: &str, date: NaiveDate) -> bool {
        let mut at = Some(team);
        while let Some(id) = at {
            if id == node {
                return true;
            }
            at = self.parent_at(id, date);
        }
        false
    }

    /// Every date a node moves, sorted, once each: between two of them every path is fixed.
    pub fn move_dates(&self) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = self.nodes.values().flat_map(|n| n.moves.iter().map(|m| m.from)).collect();
        dates.sort_unstable();
        dates.dedup();
        dates
    }

    /// Every lowercased team id and alias with the team it names, sorted.
    pub fn aliases(&self) -> Vec<(&str, &str)> {
        let mut aliases: Vec<(&str, &str)> = self.by_alias.iter().map(|(a, t)| (a.as_str(), t.as_str())).collect();
        aliases.sort_unstable();
        aliases
    }

    /// The last date any node moves: paths as of then are the current org ("as is").
    pub fn latest_move(&self) -> NaiveDate {
        self.nodes.values().flat_map(|n| n.moves.iter().map(|m| m.from)).max().unwrap_or(NaiveDate::MIN)
    }
}

/// Whether `id` may name a team or an org node: ASCII letters, digits, `_`, `.`, `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn sorted(moves: &[Move]) -> Vec<Move> {
    let mut moves = moves.to_vec();
    moves.sort_by_key(|m| m.from);
    moves
}
