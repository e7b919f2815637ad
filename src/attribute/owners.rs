//! From a line item to its owners: the rules' decision, then the winning rule's
//! team, the pieces of a pool split, or the unallocated owner with a reason.
//! Attribution's hot loop, `diff` and `explain` all go through [`Owners`], so
//! they cannot disagree.
//!
//! Rules look at a handful of columns (accounts, service, region, charge
//! category, resource, tags) and, through `from`/`until`, at the span of rule
//! dates the charge falls in. Hourly billing repeats the same values on many
//! lines, so the rules decide once per distinct combination (a line key) and
//! every other line with that key looks the decision up. Decisions are held as
//! ids (team, rule, pool, reason), not strings; a pool's split is worked out
//! once per pool and day.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::TimestampMicrosecondType;

use super::Compiled;
use super::clusters::{self, ClusterLabels, Group, Member, Part, Site, Splits};
use super::org::UNALLOCATED;
use super::pools::Plan;
use super::rules::{self, Decision};
use super::scan::{ClusterRows, INPUT_COLUMNS, Input, SplitInput, input_column, read_columns};

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

/// One owner of (part of) a line: what one attributed row records.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    /// The team's id in this [`Owners`] (`0` is unallocated), for per-team caches.
    pub team_id: u32,
    pub team: &'a str,
    pub rule_id: Option<&'a str>,
    pub method: Method,
    /// The pools the spend went through, outermost first, and the same joined with ` > `.
    pub pools: &'a [String],
    pub pool_chain: Option<&'a str>,
    /// How each of those pools split (`even > weights`).
    pub split: Option<&'a str>,
    pub unallocated_reason: Option<&'a str>,
    /// `[billed, effective, share]`, share at the money scale.
    pub amounts: [i128; 3],
    /// For a node's share split by its pods: their cluster, namespace and workload (`None`:
    /// the line's own).
    pub cluster: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub workload: Option<&'a str>,
}

/// A [`Share`] that owns its strings, for `diff` and `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub team: String,
    pub rule_id: Option<String>,
    pub method: Method,
    pub pools: Vec<String>,
    pub unallocated_reason: Option<String>,
    pub amounts: [i128; 3],
}

impl From<Share<'_>> for Assignment {
    fn from(share: Share<'_>) -> Assignment {
        Assignment {
            team: share.team.to_string(),
            rule_id: share.rule_id.map(str::to_string),
            method: share.method,
            pools: share.pools.to_vec(),
            unallocated_reason: share.unallocated_reason.map(str::to_string),
            amounts: share.amounts,
        }
    }
}

/// FxHash (rustc's): line keys are hashed on every line, and SipHash's
/// protection against chosen keys buys nothing on a billing export.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_i32(&mut self, n: i32) {
        self.add(n as u32 as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top: fold the low bits up.
        self.0 ^ (self.0 >> 29)
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

const WORKLOAD: usize = input_column("x_Workload");

/// The text columns a rule can look at, besides tags and date (`LineView`).
pub(super) const KEY_TEXT: [usize; 11] = [
    input_column("BillingAccountId"),
    input_column("SubAccountId"),
    input_column("ServiceName"),
    input_column("x_ServiceCode"),
    input_column("RegionId"),
    input_column("ChargeCategory"),
    input_column("ResourceId"),
    input_column("x_ResourceGroup"),
    input_column("x_Cluster"),
    input_column("x_Namespace"),
    input_column("x_Workload"),
];

/// Distinct line keys kept before the map starts over (bounds memory when
/// nearly every line is unique, e.g. a tag with a per-request value).
const KEY_LIMIT: usize = 1 << 20;

/// What the rules decided for a line key, as ids.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Team { rule: u32, team: u32 },
    Pool { rule: u32, pool: u32 },
    Unallocated { reason: u32 },
}

/// Strings by id, each stored once.
#[derive(Default)]
struct Interned {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interned {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }
}

/// Pool plans per (pool id, charge date), with the ids of the plan's teams.
type Plans = HashMap<(u32, NaiveDate), Result<(Plan, Vec<u32>), String>, FxBuild>;

/// Decides lines (once per line key) and splits them into [`Share`]s, for one
/// billing period: proportional pools split by each team's direct spend in it
/// (see [`Owners::first_pass`]).
pub struct Owners<'c> {
    compiled: &'c Compiled,
    breaks: Vec<NaiveDate>,
    keys: HashMap<Box<[u8]>, u32, FxBuild>,
    decided: Vec<Owner>,
    buffer: Vec<u8>,
    scratch: rules::Scratch,
    teams: Interned,
    pools: Interned,
    reasons: Interned,
    /// Each team's direct EffectiveCost in the period.
    direct: HashMap<String, i128>,
    plans: Plans,
    pieces: Vec<(usize, [i128; 3])>,
    /// Node lines split by their pods (AWS split cost allocation data) and GKE clusters' idle
    /// rows, from the first pass.
    splits: Arc<Splits>,
}

impl<'c> Owners<'c> {
    pub fn new(compiled: &'c Compiled) -> Self {
        // Every team up front: pool plans then find their teams' ids without
        // changing the table while shares borrow from it.
        let mut teams = Interned::default();
        teams.id(UNALLOCATED);
        for team in compiled.org.teams() {
            teams.id(team);
        }
        Owners {
            compiled,
            breaks: compiled.rules.date_breaks(),
            keys: HashMap::default(),
            decided: Vec::new(),
            buffer: Vec::new(),
            scratch: rules::Scratch::default(),
            teams,
            pools: Interned::default(),
            reasons: Interned::default(),
            direct: HashMap::new(),
            plans: Plans::default(),
            pieces: Vec::new(),
            splits: Arc::default(),
        }
    }

    /// The columns [`Owners::first_pass`] reads: what decides a line, and its EffectiveCost.
    pub fn first_pass_columns() -> Vec<&'static str> {
        let mut columns: Vec<&str> = KEY_TEXT.iter().map(|c| INPUT_COLUMNS[*c]).collect();
        columns.extend(["Tags", "ChargePeriodStart", "BilledCost", "EffectiveCost", "x_SourceRow"]);
        columns
    }

    /// When a proportional pool needs it (each team's direct EffectiveCost in the period), or
    /// the period has pod rows (AWS split cost allocation data: which node lines their pods
    /// split) or GKE idle rows (the cluster's namespace rows they spread over), decides every
    /// line of the period's `files` once; returns each line's key, in file order, so a second
    /// pass decides nothing. `None` when none of that is needed.
    pub fn first_pass(&mut self, files: &[PathBuf]) -> Result<Option<Vec<u32>>, String> {
        let proportional = self.compiled.pools.needs_direct_spend();
        let mut rows = ClusterRows::default();
        for file in files {
            rows = rows.or(ClusterRows::of(file)?);
        }
        if !proportional && !rows.any() {
            return Ok(None);
        }
        let mut columns = Owners::first_pass_columns();
        if rows.pods {
            columns.extend(SplitInput::COLUMNS);
        }
        let mut keys = Vec::new();
        let mut spend: Vec<Option<i128>> = Vec::new();
        let mut splits = Splits::default();
        let policies = &self.compiled.ownership.clusters;
        // A node line its pods split, or a GKE idle row its cluster's policy owns, is not its
        // own rule's team's direct spend. Node lines are known before the pass (pod rows may
        // come after their node); both are summed aside in case the cluster split nothing
        // after all (then the line does go to its own owner).
        let parents = if rows.pods { pod_parents(files)? } else { HashMap::new() };
        let mut held_back: Vec<(Held, i64, u32, i128)> = Vec::new();
        for file in files {
            for batch in read_columns(file, &columns)? {
                let batch = batch?;
                let input = Input::new(&batch);
                let pods = SplitInput::new(&batch);
                for row in 0..batch.num_rows() {
                    let key = self.key(&input, row, input.date(row));
                    keys.push(key);
                    let start = input.start_micros(row).unwrap_or(0);
                    if let Owner::Team { team, .. } = self.decided[key as usize] {
                        let effective = input.effective.value(row);
                        let site = input.site(row);
                        match (site.resource, site.idle_cluster()) {
                            (Some(node), _) if parents.get(node).is_some_and(|hours| hours.contains(&start)) => {
                                held_back.push((Held::Node(node.into()), start, team, effective));
                            }
                            (_, Some(cluster)) if rows.gke_idle => {
                                held_back.push((Held::Idle(cluster.into()), start, team, effective));
                            }
                            _ => add_spend(&mut spend, team, effective)?,
                        }
                    }
                    if let Some(pods) = &pods
                        && let Some(parent) = pods.parent(row)
                    {
                        let view = input.line_view(row, &self.compiled.rules);
                        let cluster = view.cluster();
                        splits.add(
                            parent,
                            start,
                            cluster.as_deref().unwrap_or("(unnamed)"),
                            policies,
                            key,
                            view.namespace().as_deref(),
                            view.workload().as_deref(),
                            pods.used(row),
                            pods.idle(row),
                        )?;
                    } else if rows.gke_idle
                        && let Site { cluster: Some(cluster), namespace: Some(namespace), .. } = input.site(row)
                    {
                        let workload = input.text_at(WORKLOAD, row);
                        let cost = input.effective.value(row);
                        splits.add_namespace_row(cluster, start, policies, key, namespace, workload, cost)?;
                    }
                }
            }
        }
        for (held, start, team, effective) in held_back {
            let site = match &held {
                Held::Node(node) => Site { resource: Some(node), start: Some(start), ..Site::default() },
                Held::Idle(cluster) => Site {
                    start: Some(start),
                    cluster: Some(cluster),
                    namespace: Some(clusters::IDLE_NAMESPACE),
                    ..Site::default()
                },
            };
            if cluster_split(&splits, &site).is_none() {
                add_spend(&mut spend, team, effective)?;
            }
        }
        self.direct = spend
            .iter()
            .enumerate()
            .filter_map(|(team, sum)| sum.map(|sum| (self.teams.names[team].clone(), sum)))
            .collect();
        self.plans.clear();
        self.splits = Arc::new(splits);
        Ok(Some(keys))
    }

    /// The key of line `row`, charged on `date`, deciding it if new.
    pub fn key(&mut self, input: &Input, row: usize, date: NaiveDate) -> u32 {
        let buffer = &mut self.buffer;
        buffer.clear();
        // Which span between rule dates the charge falls in, then each field
        // length-prefixed (absent and empty differ), then the tags.
        let span = self.breaks.partition_point(|b| *b <= date) as u32;
        buffer.extend_from_slice(&span.to_le_bytes());
        let mut push = |text: Option<&str>| match text {
            Some(text) => {
                buffer.extend_from_slice(&(text.len() as u32).to_le_bytes());
                buffer.extend_from_slice(text.as_bytes());
            }
            // A length no string in a batch can have.
            None => buffer.extend_from_slice(&u32::MAX.to_le_bytes()),
        };
        for column in KEY_TEXT {
            push(input.text_at(column, row));
        }
        // Only tags a rule reads: a tag with a value per request must not
        // make every line a key of its own.
        for (key, value) in input.tag_entries(row).filter(|(key, _)| self.compiled.rules.reads_tag(key)) {
            push(Some(key));
            push(Some(value));
        }
        if let Some(id) = self.keys.get(&self.buffer[..]) {
            return *id;
        }
        let (rules, org) = (&self.compiled.rules, &self.compiled.org);
        let view = input.line_view(row, rules);
        let decision = rules.decide(&view, org, &mut self.scratch);
        let owner = self.owner_of(&decision);
        if self.keys.len() >= KEY_LIMIT {
            self.keys.clear();
        }
        let id = self.decided.len() as u32;
        self.decided.push(owner);
        self.keys.insert(self.buffer.as_slice().into(), id);
        id
    }

    /// A decision as ids.
    pub fn owner_of(&mut self, decision: &Decision) -> Owner {
        match decision {
            Decision::Team { rule, team } => Owner::Team { rule: *rule as u32, team: self.teams.id(team) },
            Decision::Pool { rule, pool } => Owner::Pool { rule: *rule as u32, pool: self.pools.id(pool) },
            Decision::Unallocated { reason } => Owner::Unallocated { reason: self.reasons.id(reason) },
        }
    }

    /// Each team's direct EffectiveCost in the period (after [`Owners::first_pass`]).
    pub fn direct(&self) -> &HashMap<String, i128> {
        &self.direct
    }

    /// What line key `key` was decided as.
    pub fn decided(&self, key: u32) -> Owner {
        self.decided[key as usize]
    }

    /// The shares of a line with `amounts` charged on `date` owned by `owner`: calls `each`
    /// once per share, in order (pool pieces in recipient order). They add back to `amounts`.
    pub fn shares<E>(
        &mut self,
        owner: Owner,
        date: NaiveDate,
        amounts: [i128; 3],
        mut each: impl FnMut(Share<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Owners { compiled, teams, pools, reasons, direct, plans, pieces, .. } = self;
        let rule_id = |rule: u32| compiled.rules.rules[rule as usize].id.as_str();
        let unallocated = |rule_id, pools, reason| Share {
            team_id: 0,
            team: UNALLOCATED,
            rule_id,
            method: Method::Unallocated,
            pools,
            pool_chain: pools.first().map(String::as_str),
            split: None,
            unallocated_reason: Some(reason),
            amounts,
            cluster: None,
            namespace: None,
            workload: None,
        };
        match owner {
            Owner::Team { rule, team } => each(Share {
                team_id: team,
                team: &teams.names[team as usize],
                rule_id: Some(rule_id(rule)),
                method: Method::Direct,
                pools: &[],
                pool_chain: None,
                split: None,
                unallocated_reason: None,
                amounts,
                cluster: None,
                namespace: None,
                workload: None,
            }),
            Owner::Unallocated { reason } => each(unallocated(None, &[], &reasons.names[reason as usize])),
            Owner::Pool { rule, pool } => {
                let pool_id = &pools.names[pool as usize];
                let plan = plans.entry((pool, date)).or_insert_with(|| {
                    let plan = compiled.pools.plan(pool_id, date, &compiled.org, direct)?;
                    let ids = plan.leaves.iter().map(|leaf| teams.ids[&leaf.team]).collect();
                    Ok((plan, ids))
                });
                pieces.clear();
                let split = match plan {
                    Ok((plan, ids)) => plan.split(amounts, pieces).map(|()| (plan, ids)),
                    Err(reason) => Err(reason.clone()),
                };
                match split {
                    Ok((plan, ids)) => {
                        for (leaf, part) in pieces.iter() {
                            let leaf_info = &plan.leaves[*leaf];
                            let reason = leaf_info.reason.as_deref();
                            each(Share {
                                team_id: ids[*leaf],
                                team: &leaf_info.team,
                                rule_id: Some(rule_id(rule)),
                                method: if reason.is_some() { Method::Unallocated } else { Method::Shared },
                                pools: &leaf_info.pools,
                                pool_chain: Some(&leaf_info.chain),
                                split: Some(&leaf_info.kinds),
                                unallocated_reason: reason,
                                amounts: *part,
                                cluster: None,
                                namespace: None,
                                workload: None,
                            })?;
                        }
                        Ok(())
                    }
                    Err(reason) => each(unallocated(Some(rule_id(rule)), std::slice::from_ref(pool_id), &reason)),
                }
            }
        }
    }

    /// The shares of a line decided as `key`, with `amounts`, charged on `date`, that ran at
    /// `site`: a node line its pods split (its ResourceId and ChargePeriodStart are their
    /// parent's) goes to the pods' owners and the cluster's idle policy, a GKE idle row by the
    /// policy; any other line to its own owner. The one path attribution, `diff` and `explain`
    /// all take.
    pub fn line_shares<E>(
        &mut self,
        key: u32,
        site: Site<'_>,
        date: NaiveDate,
        amounts: [i128; 3],
        each: impl FnMut(Share<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let splits = Arc::clone(&self.splits);
        if let Some((group, cluster, parts)) = cluster_split(&splits, &site) {
            return self.cluster_shares(group, cluster, &parts, date, amounts, each);
        }
        let owner = self.decided(key);
        self.shares(owner, date, amounts, each)
    }

    /// How a line at `site` is split as part of a cluster (see [`Owners::line_shares`]), after
    /// [`Owners::first_pass`]: its cluster, and whether it is a GKE idle row (else a node line
    /// its pods split); `None` for any other line.
    pub fn cluster_split(&self, site: &Site) -> Option<(String, bool)> {
        let (_, cluster, parts) = cluster_split(&self.splits, site)?;
        let idle = parts.iter().all(|(part, _)| !matches!(part, Part::Used(_)));
        Some((cluster.name.to_string(), idle && self.splits.group_of(site.resource, site.start).is_none()))
    }

    /// A node line split over `parts` of its pods' `group` (largest remainder per amount), each
    /// part given to its owner ([`Owners::shares`]: a pod's pool splits further) and marked with
    /// the cluster (`pool` = `cluster:<name>`, idle parts `cluster:<name> > idle`).
    fn cluster_shares<E>(
        &mut self,
        group: &Group,
        cluster: &ClusterLabels,
        parts: &[(Part, i128)],
        date: NaiveDate,
        amounts: [i128; 3],
        mut each: impl FnMut(Share<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let weights: Vec<i128> = parts.iter().map(|(_, weight)| *weight).collect();
        let columns = amounts.map(|amount| crate::money::split::split(amount, &weights));
        for (i, (part, _)) in parts.iter().enumerate() {
            let piece = [columns[0][i], columns[1][i], columns[2][i]];
            if piece == [0, 0, 0] {
                continue;
            }
            match part {
                Part::Used(m) | Part::IdleOf(m) => {
                    let member = &group.members[*m];
                    let idle = matches!(part, Part::IdleOf(_));
                    let owner = self.decided(member.key);
                    self.shares(owner, date, piece, |share| decorated(share, cluster, member, idle, &mut each))?;
                }
                Part::IdleToOwner => {
                    let owner =
                        cluster.policy.owner.as_deref().expect("checked when compiled: idle = owner has an owner");
                    let team_id = self.teams.ids[owner];
                    each(idle_share(cluster, team_id, owner, Method::Shared, None, piece))?;
                }
                Part::IdleUnallocated => {
                    each(idle_share(cluster, 0, UNALLOCATED, Method::Unallocated, Some(&cluster.idle_reason), piece))?;
                }
            }
        }
        Ok(())
    }

    /// The owners of a line the rules decided as `decision` ([`Owners::shares`], owned).
    pub fn assign(&mut self, decision: &Decision, date: NaiveDate, amounts: [i128; 3]) -> Vec<Assignment> {
        let owner = self.owner_of(decision);
        let mut out = Vec::new();
        let _ = self.shares(owner, date, amounts, |share| -> Result<(), ()> {
            out.push(Assignment::from(share));
            Ok(())
        });
        out
    }
}

/// A line the first pass holds back from its team's direct spend until the cluster splits are
/// known: a node line (its ResourceId), or a GKE idle row (its cluster).
enum Held {
    Node(Box<str>),
    Idle(Box<str>),
}

/// Adds `effective` to team `team`'s direct spend.
fn add_spend(spend: &mut Vec<Option<i128>>, team: u32, effective: i128) -> Result<(), String> {
    if spend.len() <= team as usize {
        spend.resize(team as usize + 1, None);
    }
    crate::money::add(spend[team as usize].get_or_insert(0), effective)
        .map_err(|e| format!("summing direct EffectiveCost of a team: the {e}"))
}

/// Every (parent resource, charge period start) pod rows name in `files`: the node lines
/// their pods split.
fn pod_parents(files: &[PathBuf]) -> Result<HashMap<Box<str>, HashSet<i64>>, String> {
    let mut parents: HashMap<Box<str>, HashSet<i64>> = HashMap::new();
    for file in files {
        for batch in read_columns(file, &["x_SplitParentResourceId", "ChargePeriodStart"])? {
            let batch = batch?;
            let Some(pods) = SplitInput::new(&batch) else { continue };
            let starts = batch
                .column_by_name("ChargePeriodStart")
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
            for row in 0..batch.num_rows() {
                if let Some(parent) = pods.parent(row) {
                    let start = starts.filter(|s| !s.is_null(row)).map_or(0, |s| s.value(row));
                    parents.entry(parent.into()).or_default().insert(start);
                }
            }
        }
    }
    Ok(parents)
}

/// A line's group, its cluster, and the weighted parts it splits into.
type ClusterSplit<'s> = (&'s Group, &'s ClusterLabels, Vec<(Part, i128)>);

/// No pods: a GKE idle row whose hour has no namespace rows.
static NO_MEMBERS: Group = Group { cluster: 0, members: Vec::new() };

/// The group, cluster and parts a line at `site` splits into: a node line by its pods, a GKE
/// idle row by its cluster's policy; `None` for any other line (or when the bill split nothing).
fn cluster_split<'s>(splits: &'s Splits, site: &Site) -> Option<ClusterSplit<'s>> {
    if let Some((group, cluster)) = splits.group_of(site.resource, site.start)
        && let Some(parts) = clusters::parts(group, cluster.policy.idle)
    {
        return Some((group, cluster, parts));
    }
    let (group, cluster) = splits.idle_of(site)?;
    let parts = clusters::idle_parts(group, cluster.policy.idle)?;
    Some((group.unwrap_or(&NO_MEMBERS), cluster, parts))
}

/// The idle part of a node line as one share: to the cluster's owner, or unallocated.
fn idle_share<'g>(
    group: &'g ClusterLabels,
    team_id: u32,
    team: &'g str,
    method: Method,
    reason: Option<&'g str>,
    amounts: [i128; 3],
) -> Share<'g> {
    Share {
        team_id,
        team,
        rule_id: None,
        method,
        pools: &group.idle_pool,
        pool_chain: Some(&group.idle_chain),
        split: Some("kubernetes > idle"),
        unallocated_reason: reason,
        amounts,
        cluster: Some(&group.name),
        namespace: None,
        workload: None,
    }
}

/// A pod owner's share of a node line, marked as the cluster's: method `shared` (a node split
/// by its pods), pool `cluster:<name>` before the pod's own pools, split `kubernetes`, and
/// the pod's namespace and workload.
fn decorated<E>(
    share: Share<'_>,
    group: &ClusterLabels,
    member: &Member,
    idle: bool,
    each: &mut impl FnMut(Share<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let (base, kind) =
        if idle { (&*group.idle_chain, "kubernetes > idle") } else { (&*group.pool_chain, "kubernetes") };
    let chain = share.pool_chain.map(|inner| format!("{base} > {inner}"));
    let split = share.split.map(|inner| format!("{kind} > {inner}"));
    each(Share {
        method: if share.method == Method::Direct { Method::Shared } else { share.method },
        pools: if share.pools.is_empty() { if idle { &group.idle_pool } else { &group.pool } } else { share.pools },
        pool_chain: Some(chain.as_deref().unwrap_or(base)),
        split: Some(split.as_deref().unwrap_or(kind)),
        cluster: Some(&group.name),
        namespace: member.namespace.as_deref(),
        workload: member.workload.as_deref(),
        ..share
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Decimal128Array, MapBuilder, StringArray, StringBuilder, TimestampMicrosecondArray, UInt64Array,
    };
    use datafusion::arrow::record_batch::RecordBatch;

    use super::*;
    use crate::attribute::WHOLE;

    /// A test line: resource, tags, charge day of August 2026.
    type TestLine<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], u32);

    fn batch(rows: &[TestLine]) -> RecordBatch {
        let text = |value: Option<&str>| Arc::new(StringArray::from(vec![value; rows.len()])) as ArrayRef;
        let mut tags = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for (_, row_tags, _) in rows {
            for (key, value) in *row_tags {
                tags.keys().append_value(key);
                tags.values().append_value(value);
            }
            tags.append(true).unwrap();
        }
        let micros = |day: u32| {
            NaiveDate::from_ymd_opt(2026, 8, day).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros()
        };
        let money = || Arc::new(Decimal128Array::from(vec![WHOLE; rows.len()])) as ArrayRef;
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("SubAccountId", text(Some("111"))),
            ("ResourceId", Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()))),
            ("Tags", Arc::new(tags.finish())),
            (
                "ChargePeriodStart",
                Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| micros(r.2)))),
            ),
            ("BilledCost", money()),
            ("EffectiveCost", money()),
            ("x_SourceRow", Arc::new(UInt64Array::from_iter_values(0..rows.len() as u64))),
        ];
        columns.push(("BillingCurrency", text(Some("USD"))));
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn lines_share_a_key_only_when_every_rule_must_decide_them_alike() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("org.toml"), "[teams.a]\n[teams.b]\n").unwrap();
        std::fs::write(
            dir.path().join("rules.toml"),
            "[[rule]]\nid = \"late\"\nprecedence = 1\naccounts = [\"111\"]\nfrom = 2026-08-15\nteam = \"b\"\n\n\
             [[rule]]\nid = \"tag\"\nprecedence = 2\nteam_from_tag = \"team\"\n\n\
             [[rule]]\nid = \"empty\"\nprecedence = 3\nresource_prefix = \"\"\nteam = \"a\"\n",
        )
        .unwrap();
        let compiled = Compiled::load(dir.path()).unwrap();
        let mut decider = Owners::new(&compiled);
        let batch = batch(&[
            (Some("i-1"), &[("team", "a")], 1),
            (Some("i-1"), &[("team", "a")], 14), // same span of rule dates: same key
            (Some("i-1"), &[("team", "a")], 15), // `late` now in effect
            (Some("i-1"), &[("team", "b")], 1),  // another tag value
            (Some(""), &[], 1),                  // empty resource: `empty` matches
            (None, &[], 1),                      // no resource: nothing matches
            (Some("i-1"), &[("request", "r-1"), ("team", "a")], 1), // a tag no rule reads
            (Some("i-1"), &[("request", "r-2"), ("team", "a")], 2),
        ]);
        let input = Input::new(&batch);
        let keys: Vec<u32> = (0..batch.num_rows()).map(|row| decider.key(&input, row, input.date(row))).collect();
        assert_eq!(keys, [0, 0, 1, 2, 3, 4, 0, 0]);
        let owners: Vec<String> = keys
            .iter()
            .map(|k| match decider.decided(*k) {
                Owner::Team { rule, team } => {
                    format!("{}:{}", compiled.rules.rules[rule as usize].id, decider.teams.names[team as usize])
                }
                Owner::Pool { .. } => "pool".to_string(),
                Owner::Unallocated { .. } => "unallocated".to_string(),
            })
            .collect();
        assert_eq!(owners, ["tag:a", "tag:a", "late:b", "tag:b", "empty:a", "unallocated", "tag:a", "tag:a"]);
    }
}
