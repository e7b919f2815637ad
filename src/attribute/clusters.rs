//! Shared container clusters: a node's cost split by the pods the bill says ran on it, and the
//! node's idle (unused) capacity as a share of its own, owned by the cluster's policy.
//!
//! AWS split cost allocation data gives every pod (or ECS task) on an EC2 instance a row of
//! its own, per hour or day: no cost of its own (the instance's line keeps that, so the lake
//! holds the cluster's cost once), but `x_SplitCost`, the part of the instance it used, and
//! `x_SplitUnusedCost`, its part of what nobody used. Attribution decides each pod row by the
//! rules (namespaces, workloads, labels...), then splits the instance's line over the pods'
//! owners by those amounts, largest remainder, so the shares add back to the line exactly.
//!
//! `clusters.toml` says, per cluster, who owns the idle part:
//!
//! ```toml
//! idle = "proportional"          # default for clusters not listed below
//!
//! [[cluster]]
//! name = "acme-prod"             # aws:eks:cluster-name (x_Cluster)
//! idle = "owner"                 # proportional | owner | unallocated
//! owner = "k8s-platform"         # the team that owns the idle part (idle = "owner")
//! idle_alert = "25%"             # a finding when a week's idle share is above this
//! ```
//!
//! - `proportional`: each pod's owner also takes the idle part AWS gave that pod (in proportion
//!   to its usage), as a share of its own, so a team sees what it used and what it idled;
//! - `owner`: the whole idle part to the cluster's owning team;
//! - `unallocated`: the idle part stays unallocated, with the reason "idle capacity of cluster X".
//!
//! GKE cost allocation splits the bill itself: a node's cost arrives as one row per namespace
//! (labels `goog-k8s-cluster-name`, `k8s-namespace`, `k8s-workload-name`, `k8s-label/<key>`), and
//! what no pod requested as rows in namespace `kube:unallocated`. The rules decide the namespace
//! rows; an idle row goes by the same policy: `owner`, `unallocated`, or `proportional` (over the
//! teams of the cluster's namespace rows in the same hour, by their EffectiveCost; by the rules
//! when that hour has none). `kube:system-overhead` (what the node reserves for Kubernetes
//! itself) and GKE's other buckets go by the rules, like any line.

use std::collections::HashMap;

use serde::Deserialize;

use super::mappings::{MappingError, Mappings};
use super::org::Org;
use crate::money::Percent;

pub const FILE: &str = "clusters.toml";

/// Who owns a cluster's idle capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IdlePolicy {
    #[default]
    Proportional,
    Owner,
    Unallocated,
}

impl IdlePolicy {
    pub fn name(self) -> &'static str {
        match self {
            IdlePolicy::Proportional => "proportional",
            IdlePolicy::Owner => "owner",
            IdlePolicy::Unallocated => "unallocated",
        }
    }
}

/// `clusters.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClustersFile {
    #[serde(default)]
    pub idle: IdlePolicy,
    #[serde(default, rename = "cluster")]
    pub clusters: Vec<ClusterSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    pub idle: Option<IdlePolicy>,
    pub owner: Option<String>,
    pub idle_alert: Option<Percent>,
}

/// One cluster's policy, compiled.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub idle: IdlePolicy,
    pub owner: Option<String>,
    pub idle_alert: Option<Percent>,
}

/// Every cluster's policy (names lowercased, as x_Cluster is compared).
#[derive(Debug, Default)]
pub struct Clusters {
    default: Cluster,
    by_name: HashMap<String, Cluster>,
}

impl Clusters {
    pub fn compile(mappings: &Mappings, org: &Org) -> Result<Clusters, MappingError> {
        let Some(file) = &mappings.clusters else { return Ok(Clusters::default()) };
        let mut by_name = HashMap::new();
        for (index, spec) in file.clusters.iter().enumerate() {
            let error = |message: String| {
                mappings.error_at(FILE, &["cluster"], Some(index), format!("cluster `{}`: {message}", spec.name))
            };
            let idle = spec.idle.unwrap_or(file.idle);
            match (&spec.owner, idle) {
                (None, IdlePolicy::Owner) => {
                    return Err(error("idle = \"owner\" needs owner = \"<team>\"".to_string()));
                }
                (Some(owner), _) if !org.is_team(owner) => {
                    return Err(error(format!("unknown team `{owner}` (not in org.toml)")));
                }
                _ => {}
            }
            let cluster = Cluster { idle, owner: spec.owner.clone(), idle_alert: spec.idle_alert };
            if by_name.insert(spec.name.to_lowercase(), cluster).is_some() {
                return Err(error("listed twice".to_string()));
            }
        }
        Ok(Clusters { default: Cluster { idle: file.idle, ..Cluster::default() }, by_name })
    }

    /// The policy of clusters not listed.
    pub fn default_policy(&self) -> &Cluster {
        &self.default
    }

    /// Every listed cluster (lowercased name) with its policy, by name.
    pub fn listed(&self) -> Vec<(&str, &Cluster)> {
        let mut listed: Vec<(&str, &Cluster)> = self.by_name.iter().map(|(n, c)| (n.as_str(), c)).collect();
        listed.sort_unstable_by_key(|(name, _)| *name);
        listed
    }

    /// The policy of cluster `name` (the default for one not listed).
    pub fn get(&self, name: &str) -> &Cluster {
        self.by_name.get(&name.to_lowercase()).unwrap_or(&self.default)
    }
}

/// GKE's namespace for a cluster's capacity no pod requested.
pub const IDLE_NAMESPACE: &str = "kube:unallocated";

/// A GKE allocation bucket rather than a namespace pods run in (`kube:unallocated`,
/// `kube:system-overhead`, `goog-k8s-unknown`, `goog-k8s-unsupported-sku`): never a weight.
fn is_bucket(namespace: &str) -> bool {
    namespace.starts_with("kube:") || namespace.starts_with("goog-k8s-")
}

/// Where a line ran, as far as a cluster split asks: its resource and hour (a node line's pods
/// name them as their parent), and its cluster and namespace (GKE's idle rows).
#[derive(Debug, Clone, Copy, Default)]
pub struct Site<'a> {
    pub resource: Option<&'a str>,
    /// ChargePeriodStart, micros.
    pub start: Option<i64>,
    pub cluster: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

impl<'a> Site<'a> {
    /// The cluster of a GKE idle row (namespace `kube:unallocated`).
    pub fn idle_cluster(&self) -> Option<&'a str> {
        self.namespace.filter(|ns| ns.eq_ignore_ascii_case(IDLE_NAMESPACE)).and(self.cluster)
    }
}

/// One pod owner's part of a node's line: the line key deciding its pod rows, the namespace
/// and workload it ran as, and the bill's used and unused (idle) amounts, at the money scale.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: u32,
    pub namespace: Option<Box<str>>,
    pub workload: Option<Box<str>>,
    pub used: i128,
    pub idle: i128,
}

/// A cluster as its node lines' shares name it, built once per cluster and period: its policy,
/// and the words its shares carry.
#[derive(Debug, Clone)]
pub struct ClusterLabels {
    pub name: Box<str>,
    pub policy: Cluster,
    /// `cluster:<name>` and `cluster:<name> > idle`: the pool column of its shares.
    pub pool: Vec<String>,
    pub idle_pool: Vec<String>,
    pub pool_chain: Box<str>,
    pub idle_chain: Box<str>,
    /// `idle capacity of cluster <name>`.
    pub idle_reason: Box<str>,
}

impl ClusterLabels {
    fn new(name: &str, policy: Cluster) -> ClusterLabels {
        let pool = format!("cluster:{name}");
        ClusterLabels {
            name: name.into(),
            policy,
            pool: vec![pool.clone()],
            idle_pool: vec![pool.clone(), "idle".to_string()],
            pool_chain: pool.clone().into(),
            idle_chain: format!("{pool} > idle").into(),
            idle_reason: format!("idle capacity of cluster {name}").into(),
        }
    }
}

/// The pods of one node for one charge period (or, for GKE, a cluster's namespace rows).
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// Index into [`Splits::clusters`].
    pub cluster: usize,
    pub members: Vec<Member>,
}

impl Group {
    /// Adds `used` and `idle` (each at least 0: a weight is never below nothing) to the member
    /// of line key `key` as `namespace`/`workload`; `what` names the sum in an overflow.
    fn add(
        &mut self,
        key: u32,
        namespace: Option<&str>,
        workload: Option<&str>,
        used: i128,
        idle: i128,
        what: impl Fn() -> String,
    ) -> Result<(), String> {
        let same =
            |m: &&mut Member| m.key == key && m.namespace.as_deref() == namespace && m.workload.as_deref() == workload;
        let member = match self.members.iter_mut().find(same) {
            Some(member) => member,
            None => {
                self.members.push(Member {
                    key,
                    namespace: namespace.map(Into::into),
                    workload: workload.map(Into::into),
                    used: 0,
                    idle: 0,
                });
                self.members.last_mut().expect("just pushed")
            }
        };
        let overflow = |e: crate::money::Overflow| format!("summing {}: the {e}", what());
        crate::money::add(&mut member.used, used.max(0)).map_err(overflow)?;
        crate::money::add(&mut member.idle, idle.max(0)).map_err(overflow)
    }
}

/// Every node line with pods in a period: (parent resource id, charge period start) -> group;
/// and every GKE cluster hour with an idle row: (cluster, charge period start) -> its namespace
/// rows as a group.
#[derive(Debug, Default)]
pub struct Splits {
    by_parent: HashMap<Box<str>, HashMap<i64, usize>>,
    by_cluster_hour: HashMap<(usize, i64), usize>,
    pub groups: Vec<Group>,
    pub clusters: Vec<ClusterLabels>,
    cluster_index: HashMap<Box<str>, usize>,
}

impl Splits {
    /// The index of cluster `name` in [`Splits::clusters`], added (with its policy) if new.
    fn cluster(&mut self, name: &str, policies: &Clusters) -> usize {
        if let Some(at) = self.cluster_index.get(name) {
            return *at;
        }
        self.clusters.push(ClusterLabels::new(name, policies.get(name).clone()));
        self.cluster_index.insert(name.into(), self.clusters.len() - 1);
        self.clusters.len() - 1
    }

    /// Adds one pod row of cluster `cluster` (its policy from `policies`): `used` and `idle` are
    /// its x_SplitCost and x_SplitUnusedCost.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        parent: &str,
        start: i64,
        cluster: &str,
        policies: &Clusters,
        key: u32,
        namespace: Option<&str>,
        workload: Option<&str>,
        used: i128,
        idle: i128,
    ) -> Result<(), String> {
        let next = self.groups.len();
        let index = *self.by_parent.entry(parent.into()).or_default().entry(start).or_insert(next);
        if index == next {
            let cluster = self.cluster(cluster, policies);
            self.groups.push(Group { cluster, members: Vec::new() });
        }
        self.groups[index].add(key, namespace, workload, used, idle, || format!("the split costs of {parent}"))
    }

    /// Adds one GKE row of cluster `cluster` in the hour starting `start` (micros), decided as
    /// line key `key`, with `cost` (its EffectiveCost): an idle row (`kube:unallocated`) marks
    /// the cluster as having idle rows; a namespace row is a weight for spreading them.
    #[allow(clippy::too_many_arguments)]
    pub fn add_namespace_row(
        &mut self,
        cluster: &str,
        start: i64,
        policies: &Clusters,
        key: u32,
        namespace: &str,
        workload: Option<&str>,
        cost: i128,
    ) -> Result<(), String> {
        let at = self.cluster(cluster, policies);
        if is_bucket(namespace) {
            return Ok(());
        }
        let next = self.groups.len();
        let index = *self.by_cluster_hour.entry((at, start)).or_insert(next);
        if index == next {
            self.groups.push(Group { cluster: at, members: Vec::new() });
        }
        self.groups[index]
            .add(key, Some(namespace), workload, cost, 0, || format!("the namespace costs of cluster {cluster}"))
    }

    /// The group of a node line (its ResourceId and ChargePeriodStart, micros) and its cluster.
    pub fn group_of(&self, resource: Option<&str>, start: Option<i64>) -> Option<(&Group, &ClusterLabels)> {
        let index = self.by_parent.get(resource?)?.get(&start?)?;
        let group = &self.groups[*index];
        Some((group, &self.clusters[group.cluster]))
    }

    /// For a GKE idle row: its cluster, and the cluster's namespace rows in its hour (`None`
    /// when it has none). `None` for any other line, and for a period without such rows.
    pub fn idle_of(&self, site: &Site) -> Option<(Option<&Group>, &ClusterLabels)> {
        let at = *self.cluster_index.get(site.idle_cluster()?)?;
        let group = site.start.and_then(|start| self.by_cluster_hour.get(&(at, start))).map(|i| &self.groups[*i]);
        Some((group, &self.clusters[at]))
    }
}

/// A part of a node line's split, before it is given to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// What member `i` used.
    Used(usize),
    /// Member `i`'s part of the idle capacity (proportional).
    IdleOf(usize),
    /// All the idle capacity, to the cluster's owner.
    IdleToOwner,
    /// All the idle capacity, unallocated.
    IdleUnallocated,
}

/// The parts of `group` under `policy` with their weights, in a fixed order (members as they
/// first appeared, then idle); `None` when every weight is zero (the bill split nothing).
pub fn parts(group: &Group, policy: IdlePolicy) -> Option<Vec<(Part, i128)>> {
    let mut parts: Vec<(Part, i128)> = group.members.iter().enumerate().map(|(i, m)| (Part::Used(i), m.used)).collect();
    let idle: i128 = group.members.iter().map(|m| m.idle).sum();
    match policy {
        IdlePolicy::Proportional => {
            parts.extend(group.members.iter().enumerate().map(|(i, m)| (Part::IdleOf(i), m.idle)));
        }
        IdlePolicy::Owner => parts.push((Part::IdleToOwner, idle)),
        IdlePolicy::Unallocated => parts.push((Part::IdleUnallocated, idle)),
    }
    parts.retain(|(_, weight)| *weight > 0);
    (!parts.is_empty()).then_some(parts)
}

/// The parts of a GKE idle row under `policy`: all of it to the owner or unallocated, or
/// spread over the hour's namespace rows (`group`) by their cost; `None` when `proportional`
/// has nothing to spread over (the rules decide the row).
pub fn idle_parts(group: Option<&Group>, policy: IdlePolicy) -> Option<Vec<(Part, i128)>> {
    match policy {
        IdlePolicy::Owner => Some(vec![(Part::IdleToOwner, 1)]),
        IdlePolicy::Unallocated => Some(vec![(Part::IdleUnallocated, 1)]),
        IdlePolicy::Proportional => {
            let members = group?.members.iter().enumerate();
            let parts: Vec<(Part, i128)> =
                members.map(|(i, m)| (Part::IdleOf(i), m.used)).filter(|(_, weight)| *weight > 0).collect();
            (!parts.is_empty()).then_some(parts)
        }
    }
}
