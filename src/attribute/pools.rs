//! Shared cost pools: spend a rule sends to a pool is split among teams
//! (or further pools) evenly, by fixed weights, in proportion to the teams'
//! direct spend, or by usage telemetry per day.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::mappings::{MappingError, Mappings, SplitKind, TelemetryFormat};
use super::org::Org;
use crate::money;
use crate::money::split::split;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recipient {
    Team(String),
    Pool(String),
    /// No team: the part stays unallocated with this reason (an OpenCost idle allocation of a
    /// cluster whose policy is `idle = "unallocated"`).
    Unallocated(String),
}

/// A telemetry key that names no team but an unallocated part with the reason after it
/// ([`Recipient::Unallocated`]); team ids never start with a control character.
pub(super) const UNALLOCATED_KEY: &str = "\u{1}unallocated:";

impl Recipient {
    pub fn parse(text: &str) -> Recipient {
        match text.strip_prefix("pool:") {
            Some(pool) => Recipient::Pool(pool.to_string()),
            None => Recipient::Team(text.to_string()),
        }
    }
}

#[derive(Debug)]
pub struct Pool {
    pub id: String,
    pub kind: SplitKind,
    /// Fixed recipients with their weights (even: 1 each); empty for
    /// proportional without `to` and for telemetry.
    pub(super) fixed: Vec<(Recipient, i128)>,
    pub(super) scope: Option<String>,
    /// Telemetry: units per day and per month (`YYYY-MM`), by team.
    pub(super) daily: HashMap<NaiveDate, BTreeMap<String, i128>>,
    pub(super) monthly: HashMap<String, BTreeMap<String, i128>>,
    /// OpenCost telemetry as read, until [`Pools::resolve`] turns it into team units.
    opencost: Vec<super::opencost::Row>,
}

/// One piece of a split line item: who gets it, through which pools, and its
/// amounts `[billed, effective, share]` (share: fraction of the line at scale 20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub team: String,
    pub pools: Vec<String>,
    pub amounts: [i128; 3],
}

pub struct Pools {
    pools: BTreeMap<String, Pool>,
}

impl Pools {
    pub fn ids(mappings: &Mappings) -> HashSet<String> {
        mappings.pools.pools.iter().map(|p| p.id.clone()).collect()
    }

    pub fn compile(mappings: &Mappings, org: &Org) -> Result<Pools, MappingError> {
        let file = "pools.toml";
        let ids = Pools::ids(mappings);
        let mut pools = BTreeMap::new();
        for spec in &mappings.pools.pools {
            let needle = format!("\"{}\"", spec.id);
            let error = |message: String| mappings.error(file, &needle, format!("pool `{}`: {message}", spec.id));
            if pools.contains_key(&spec.id) {
                return Err(error("the id is used twice".to_string()));
            }
            let mut fixed: Vec<(Recipient, i128)> = match spec.split {
                SplitKind::Weights => {
                    if spec.weights.is_empty() || spec.weights.values().all(|w| *w == 0) {
                        return Err(error("split = \"weights\" needs weights = { team = 1, ... }".to_string()));
                    }
                    spec.weights.iter().map(|(r, w)| (Recipient::parse(r), *w as i128)).collect()
                }
                SplitKind::Even => {
                    if spec.to.is_empty() {
                        return Err(error("split = \"even\" needs to = [teams]".to_string()));
                    }
                    spec.to.iter().map(|r| (Recipient::parse(r), 1)).collect()
                }
                SplitKind::Proportional => spec.to.iter().map(|r| (Recipient::parse(r), 1)).collect(),
                SplitKind::Telemetry => Vec::new(),
            };
            fixed.sort();
            fixed.dedup_by(|a, b| a.0 == b.0);
            for (recipient, _) in &fixed {
                match recipient {
                    Recipient::Team(team) if !org.is_team(team) => {
                        return Err(error(format!("unknown team `{team}`")));
                    }
                    Recipient::Pool(pool) if !ids.contains(pool) => {
                        return Err(error(format!("unknown pool `{pool}`")));
                    }
                    _ => {}
                }
            }
            if let Some(scope) = &spec.scope
                && !org.is_node(scope)
            {
                return Err(error(format!("scope `{scope}` is not in org.toml")));
            }
            let format = spec.telemetry_format.unwrap_or(TelemetryFormat::Tally);
            let mut opencost = Vec::new();
            let (daily, monthly) = match (spec.split, &spec.telemetry) {
                (SplitKind::Telemetry, Some(path)) if format == TelemetryFormat::Opencost => {
                    opencost = super::opencost::read(&mappings.dir.join(path)).map_err(&error)?;
                    Default::default()
                }
                (SplitKind::Telemetry, Some(path)) => read_telemetry(mappings, path, org).map_err(&error)?,
                (SplitKind::Telemetry, None) => {
                    return Err(error("split = \"telemetry\" needs telemetry = \"telemetry/<file>.csv\"".to_string()));
                }
                _ => Default::default(),
            };
            pools.insert(
                spec.id.clone(),
                Pool {
                    id: spec.id.clone(),
                    kind: spec.split,
                    fixed,
                    scope: spec.scope.clone(),
                    daily,
                    monthly,
                    opencost,
                },
            );
        }
        let compiled = Pools { pools };
        // Pools feeding pools must form a DAG.
        for id in compiled.pools.keys() {
            compiled.check_cycle(id, &mut Vec::new()).map_err(|cycle| {
                mappings.error(file, &format!("\"{id}\""), format!("pool `{id}`: pool cycle: {cycle}"))
            })?;
        }
        Ok(compiled)
    }

    fn check_cycle<'a>(&'a self, id: &'a str, stack: &mut Vec<&'a str>) -> Result<(), String> {
        if stack.contains(&id) {
            stack.push(id);
            return Err(stack.join(" -> "));
        }
        stack.push(id);
        for (recipient, _) in &self.pools[id].fixed {
            if let Recipient::Pool(next) = recipient {
                self.check_cycle(next, stack)?;
            }
        }
        stack.pop();
        Ok(())
    }

    /// Turns OpenCost telemetry into team units: the rules (compiled after the pools) decide
    /// each allocation's team ([`super::opencost::units`]).
    pub fn resolve(&mut self, ownership: &super::Ownership) {
        for pool in self.pools.values_mut().filter(|p| !p.opencost.is_empty()) {
            (pool.daily, pool.monthly) = super::opencost::units(&pool.opencost, ownership);
        }
    }

    /// Every pool, by id.
    pub fn all(&self) -> impl Iterator<Item = &Pool> {
        self.pools.values()
    }

    pub fn get(&self, id: &str) -> &Pool {
        &self.pools[id]
    }

    pub fn needs_direct_spend(&self) -> bool {
        self.pools.values().any(|p| p.kind == SplitKind::Proportional)
    }

    /// Splits `amounts` of a line charged on `date` through pool `id`.
    /// `direct` is each team's direct EffectiveCost in the period.
    pub fn split(
        &self,
        id: &str,
        amounts: [i128; 3],
        date: NaiveDate,
        org: &Org,
        direct: &HashMap<String, i128>,
    ) -> Result<Vec<Piece>, String> {
        let plan = self.plan(id, date, org, direct)?;
        let mut parts = Vec::new();
        plan.split(amounts, &mut parts)?;
        Ok(parts
            .into_iter()
            .map(|(leaf, amounts)| {
                let leaf = &plan.leaves[leaf];
                Piece { team: leaf.team.clone(), pools: leaf.pools.clone(), amounts }
            })
            .collect())
    }

    /// The weights of pool `id` and of every pool it feeds, for charges on
    /// `date`: what `split` needs, worked out once and reused for every line
    /// of that pool and day (attribution splits hundreds of thousands).
    pub fn plan(&self, id: &str, date: NaiveDate, org: &Org, direct: &HashMap<String, i128>) -> Result<Plan, String> {
        let mut leaves = Vec::new();
        let root = self.node(id, date, org, direct, &mut Vec::new(), &mut leaves)?;
        Ok(Plan { leaves, root })
    }

    fn node(
        &self,
        id: &str,
        date: NaiveDate,
        org: &Org,
        direct: &HashMap<String, i128>,
        chain: &mut Vec<String>,
        leaves: &mut Vec<Leaf>,
    ) -> Result<Node, String> {
        let pool = &self.pools[id];
        let weights = pool.weights(date, org, direct)?;
        chain.push(id.to_string());
        let mut node = Node { parts: Vec::with_capacity(weights.len()), weights: Vec::with_capacity(weights.len()) };
        for (recipient, weight) in weights {
            let part = match recipient {
                Recipient::Team(_) | Recipient::Unallocated(_) => {
                    let kinds: Vec<&str> = chain.iter().map(|p| self.pools[p].kind.name()).collect();
                    let (team, reason) = match recipient {
                        Recipient::Unallocated(reason) => (super::org::UNALLOCATED.to_string(), Some(reason)),
                        Recipient::Team(team) => (team, None),
                        Recipient::Pool(_) => unreachable!("matched above"),
                    };
                    leaves.push(Leaf {
                        team,
                        reason,
                        pools: chain.clone(),
                        chain: chain.join(" > "),
                        kinds: kinds.join(" > "),
                    });
                    Part::Leaf(leaves.len() - 1)
                }
                // A sub-pool that cannot split fails only the lines that reach it.
                Recipient::Pool(next) => Part::Pool(self.node(&next, date, org, direct, chain, leaves).map(Box::new)),
            };
            node.parts.push(part);
            node.weights.push(weight);
        }
        chain.pop();
        Ok(node)
    }
}

/// A pool's split worked out for one day (see `Pools::plan`).
pub struct Plan {
    /// The teams the spend can end at, with the pools it went through.
    pub leaves: Vec<Leaf>,
    root: Node,
}

pub struct Leaf {
    pub team: String,
    /// For a part left unallocated (`team` is `unallocated`): why.
    pub reason: Option<String>,
    /// Outermost first.
    pub pools: Vec<String>,
    /// `pools` joined with ` > `, and how each of them splits, joined the same way.
    pub chain: String,
    pub kinds: String,
}

struct Node {
    parts: Vec<Part>,
    weights: Vec<i128>,
}

enum Part {
    Leaf(usize),
    Pool(Result<Box<Node>, String>),
}

impl Plan {
    /// Appends `(leaf, [billed, effective, share])` for every non-zero piece
    /// of `amounts`, in recipient order, sub-pools expanded in place.
    pub fn split(&self, amounts: [i128; 3], out: &mut Vec<(usize, [i128; 3])>) -> Result<(), String> {
        split_node(&self.root, amounts, out)
    }
}

fn split_node(node: &Node, amounts: [i128; 3], out: &mut Vec<(usize, [i128; 3])>) -> Result<(), String> {
    let columns = amounts.map(|a| split(a, &node.weights));
    for (i, part) in node.parts.iter().enumerate() {
        let piece = [columns[0][i], columns[1][i], columns[2][i]];
        if piece == [0, 0, 0] {
            continue;
        }
        match part {
            Part::Leaf(leaf) => out.push((*leaf, piece)),
            Part::Pool(Ok(next)) => split_node(next, piece, out)?,
            Part::Pool(Err(reason)) => return Err(reason.clone()),
        }
    }
    Ok(())
}

impl Pool {
    /// How this pool splits a charge on `date`, in words, and each
    /// recipient's weight as text (for `explain`).
    pub fn basis(
        &self,
        date: NaiveDate,
        org: &Org,
        direct: &HashMap<String, i128>,
    ) -> Result<(String, Vec<(String, String)>), String> {
        let how = match self.kind {
            SplitKind::Even => "evenly".to_string(),
            SplitKind::Weights => "by fixed weights".to_string(),
            SplitKind::Proportional => match &self.scope {
                Some(scope) => format!("in proportion to direct EffectiveCost this period, teams under {scope}"),
                None => "in proportion to direct EffectiveCost this period".to_string(),
            },
            SplitKind::Telemetry if self.daily.contains_key(&date) => format!("by telemetry units on {date}"),
            SplitKind::Telemetry => format!("by telemetry units in {} (no figures for {date})", date.format("%Y-%m")),
        };
        let scaled = matches!(self.kind, SplitKind::Proportional | SplitKind::Telemetry);
        let weights = self
            .weights(date, org, direct)?
            .into_iter()
            .map(|(recipient, weight)| {
                let name = match recipient {
                    Recipient::Team(team) => team,
                    Recipient::Pool(pool) => format!("pool:{pool}"),
                    Recipient::Unallocated(reason) => format!("unallocated: {reason}"),
                };
                (name, if scaled { money::format(weight, money::SCALE as u32) } else { weight.to_string() })
            })
            .collect();
        Ok((how, weights))
    }

    /// Recipients and positive weights for a charge on `date`, sorted by recipient.
    fn weights(
        &self,
        date: NaiveDate,
        org: &Org,
        direct: &HashMap<String, i128>,
    ) -> Result<Vec<(Recipient, i128)>, String> {
        let weights: Vec<(Recipient, i128)> = match self.kind {
            SplitKind::Even | SplitKind::Weights => self.fixed.clone(),
            SplitKind::Proportional => {
                let teams: Vec<String> = if self.fixed.is_empty() {
                    org.teams().map(str::to_string).collect()
                } else {
                    self.fixed
                        .iter()
                        .filter_map(|(r, _)| match r {
                            Recipient::Team(t) => Some(t.clone()),
                            Recipient::Pool(_) | Recipient::Unallocated(_) => None,
                        })
                        .collect()
                };
                teams
                    .into_iter()
                    .filter(|t| self.scope.as_ref().is_none_or(|s| org.is_under(t, s, date)))
                    .map(|t| {
                        let spend = direct.get(&t).copied().unwrap_or(0).max(0);
                        (Recipient::Team(t), spend)
                    })
                    .collect()
            }
            SplitKind::Telemetry => {
                let month = date.format("%Y-%m").to_string();
                let units = self
                    .daily
                    .get(&date)
                    .or_else(|| self.monthly.get(&month))
                    .ok_or_else(|| format!("pool {}: no telemetry for {date} or its month", self.id))?;
                units
                    .iter()
                    .map(|(key, u)| match key.strip_prefix(UNALLOCATED_KEY) {
                        Some(reason) => (Recipient::Unallocated(reason.to_string()), *u),
                        None => (Recipient::Team(key.clone()), *u),
                    })
                    .collect()
            }
        };
        let weights: Vec<_> = weights.into_iter().filter(|(_, w)| *w > 0).collect();
        if weights.is_empty() {
            return Err(match self.kind {
                SplitKind::Proportional => format!("pool {}: no team has direct spend to split by", self.id),
                _ => format!("pool {}: all weights are zero", self.id),
            });
        }
        Ok(weights)
    }
}

pub(super) type Telemetry = (HashMap<NaiveDate, BTreeMap<String, i128>>, HashMap<String, BTreeMap<String, i128>>);

/// `date,team,units` (header required; units are exact decimals, e.g. CPU-hours).
fn read_telemetry(mappings: &Mappings, relative: &str, org: &Org) -> Result<Telemetry, String> {
    let path = mappings.dir.join(relative);
    let shown = path.display().to_string();
    let mut reader = csv::Reader::from_path(&path).map_err(|e| format!("telemetry {shown}: {e}"))?;
    let header = reader.headers().map_err(|e| format!("telemetry {shown}: {e}"))?.clone();
    let column = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| format!("telemetry {shown}: no `{name}` column"))
    };
    let (date_at, team_at, units_at) = (column("date")?, column("team")?, column("units")?);
    let (mut daily, mut monthly): Telemetry = Default::default();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| format!("telemetry {shown}:{line}: {e}"))?;
        let date = NaiveDate::parse_from_str(record.get(date_at).unwrap_or("").trim(), "%Y-%m-%d")
            .map_err(|e| format!("telemetry {shown}:{line}: field date: {e}"))?;
        let team = record.get(team_at).unwrap_or("").trim().to_string();
        if !org.is_team(&team) {
            return Err(format!("telemetry {shown}:{line}: field team: unknown team `{team}`"));
        }
        let units = money::parse(record.get(units_at).unwrap_or(""))
            .map_err(|e| format!("telemetry {shown}:{line}: field units: {e}"))?
            .value;
        if units < 0 {
            return Err(format!("telemetry {shown}:{line}: field units: negative"));
        }
        *daily.entry(date).or_default().entry(team.clone()).or_default() += units;
        *monthly.entry(date.format("%Y-%m").to_string()).or_default().entry(team).or_default() += units;
    }
    Ok((daily, monthly))
}
