//! The org hierarchy with effective dates: where a team sits on a given day.

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
        // A cycle would make paths infinite: check every node on every move date.
        for (id, node) in &org.nodes {
            let mut dates: Vec<NaiveDate> = node.moves.iter().map(|m| m.from).collect();
            dates.push(NaiveDate::MIN);
            for date in dates {
                org.try_path(id, date).map_err(|cycle| mappings.error(file, id, cycle))?;
            }
        }
        Ok(org)
    }

    pub fn is_team(&self, id: &str) -> bool {
        self.teams.contains_key(id)
    }

    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.teams.keys().map(String::as_str)
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

    fn try_path(&self, id: &str, date: NaiveDate) -> Result<String, String> {
        let mut chain = vec![id];
        let mut at = id;
        while let Some(parent) = self.parent_at(at, date) {
            if chain.contains(&parent) {
                return Err(format!("org cycle on {date}: {} -> {parent}", chain.join(" -> ")));
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

    /// The last date any node moves: paths as of then are the current org ("as is").
    pub fn latest_move(&self) -> NaiveDate {
        self.nodes.values().flat_map(|n| n.moves.iter().map(|m| m.from)).max().unwrap_or(NaiveDate::MIN)
    }
}

fn sorted(moves: &[Move]) -> Vec<Move> {
    let mut moves = moves.to_vec();
    moves.sort_by_key(|m| m.from);
    moves
}
