//! Ownership rules compiled to hash lookups. A line item's candidate rules
//! come from indexes on account, tag value, service and tag key; only rules
//! with nothing to index on (regex, glob, prefix, region, catch-all) are
//! scanned, and only those that could still beat the best indexed match.
//!
//! Order: `precedence` ascending, then rule id. The first rule whose every
//! condition holds on the charge date wins.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use regex::{Regex, RegexSet, SetMatches};

use super::org::Org;

mod compile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Team(String),
    Pool(String),
    /// The value of this canonical tag key names the team.
    TeamFromTag(String),
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub precedence: i64,
    pub target: Target,
    pub(super) accounts: HashSet<String>,
    pub(super) billing_accounts: HashSet<String>,
    pub(super) services: HashSet<String>,
    pub(super) regions: HashSet<String>,
    pub(super) charge_categories: HashSet<String>,
    /// Canonical key -> accepted lowercased values.
    pub(super) tags: Vec<(String, HashSet<String>)>,
    pub(super) resource_prefix: Option<String>,
    pub(super) resource_glob: Option<glob::Pattern>,
    /// Lowercased.
    pub(super) resource_groups: HashSet<String>,
    pub(super) resource_regex: Option<Regex>,
    /// Containers, lowercased: a line matches when its cluster, namespace or workload is one
    /// of these ([`LineView::cluster`]).
    pub(super) clusters: HashSet<String>,
    pub(super) namespaces: HashSet<String>,
    pub(super) namespace_glob: Option<glob::Pattern>,
    pub(super) namespace_regex: Option<Regex>,
    pub(super) workloads: HashSet<String>,
    pub(super) from: Option<NaiveDate>,
    pub(super) until: Option<NaiveDate>,
}

/// What rules look at on a line item. Tags are already canonical: keys
/// through the aliases, values lowercased.
#[derive(Debug, Default)]
pub struct LineView<'a> {
    pub billing_account: Option<&'a str>,
    pub sub_account: Option<&'a str>,
    pub service_name: Option<&'a str>,
    pub service_code: Option<&'a str>,
    pub region: Option<&'a str>,
    pub charge_category: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub resource_group: Option<&'a str>,
    /// `x_Cluster`, `x_Namespace`, `x_Workload` as ingested (see [`LineView::cluster`]).
    pub cluster: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub workload: Option<&'a str>,
    pub tags: Vec<(&'a str, Cow<'a, str>)>,
    pub date: NaiveDate,
}

pub use crate::schema::containers::{CLUSTER_TAGS, NAMESPACE_TAGS, WORKLOAD_TAGS};

impl LineView<'_> {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref())
    }

    fn column_or_tag<'s>(&'s self, column: Option<&'s str>, tags: &[&str]) -> Option<Cow<'s, str>> {
        match column {
            Some(value) if value.chars().any(char::is_uppercase) => Some(Cow::Owned(value.to_lowercase())),
            Some(value) => Some(Cow::Borrowed(value)),
            None => tags.iter().find_map(|key| self.tag(key)).map(Cow::Borrowed),
        }
    }

    /// The line's container cluster, lowercased: `x_Cluster`, else the tag that names it.
    pub fn cluster(&self) -> Option<Cow<'_, str>> {
        self.column_or_tag(self.cluster, &CLUSTER_TAGS)
    }

    /// The line's Kubernetes namespace, lowercased (GKE's `kube:unallocated` included).
    pub fn namespace(&self) -> Option<Cow<'_, str>> {
        self.column_or_tag(self.namespace, &NAMESPACE_TAGS)
    }

    /// The line's workload (Deployment, StatefulSet, ECS service...), lowercased.
    pub fn workload(&self) -> Option<Cow<'_, str>> {
        self.column_or_tag(self.workload, &WORKLOAD_TAGS)
    }
}

/// One rule's judgement of one line (see `RuleSet::verdict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Matches(Decision),
    NotInEffect,
    NoTeamForTag { key: String, value: Option<String> },
    NoMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Team { rule: usize, team: String },
    Pool { rule: usize, pool: String },
    Unallocated { reason: String },
}

/// Which container dimension a rule is indexed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Dimension {
    Cluster,
    Namespace,
    Workload,
}

pub struct RuleSet {
    /// Sorted by (precedence, id): a rule's index is its rank.
    pub rules: Vec<Rule>,
    /// Alias key -> canonical key, and the order aliases are tried in.
    aliases: HashMap<String, (String, usize)>,
    by_account: HashMap<String, Vec<usize>>,
    by_billing_account: HashMap<String, Vec<usize>>,
    /// Canonical key -> lowercased value -> ranks (nested, so a lookup borrows).
    by_tag_value: HashMap<String, HashMap<String, Vec<usize>>>,
    by_service: HashMap<String, Vec<usize>>,
    by_tag_key: HashMap<String, Vec<usize>>,
    /// (cluster | namespace | workload, lowercased value) -> ranks.
    by_container: HashMap<(Dimension, String), Vec<usize>>,
    scanned: Vec<usize>,
    /// Every rule's `resource_regex` in one automaton: one pass over a
    /// ResourceId answers all of them, however many regex rules there are.
    regexes: RegexSet,
    /// Rank -> index of its regex in `regexes`.
    regex_of: Vec<Option<usize>>,
    /// Canonical keys whose value names a team (for unallocated reasons).
    team_keys: Vec<String>,
    /// Raw tag keys any rule can read: canonical keys in conditions or
    /// naming teams, and their aliases. Other tags cannot change a decision.
    keys_read: HashSet<String>,
}

impl RuleSet {
    /// Canonical tags of a line, sorted by key: alias keys renamed (the
    /// first alias in the list wins when several are present), values
    /// trimmed and lowercased. Borrows wherever it can: this runs on every
    /// line item, and most tags need no change.
    pub fn canonical_tags<'t>(
        &'t self,
        tags: impl Iterator<Item = (&'t str, &'t str)>,
    ) -> Vec<(&'t str, Cow<'t, str>)> {
        let mut best: Vec<(&'t str, usize, Cow<'t, str>)> = Vec::new();
        for (key, value) in tags {
            let (canonical, position) = match self.aliases.get(key) {
                Some((canonical, position)) => (canonical.as_str(), *position),
                None => (key, 0),
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let value = if value.chars().any(char::is_uppercase) {
                Cow::Owned(value.to_lowercase())
            } else {
                Cow::Borrowed(value)
            };
            match best.iter_mut().find(|(k, _, _)| *k == canonical) {
                Some((_, p, _)) if *p <= position => {}
                Some(slot) => *slot = (canonical, position, value),
                None => best.push((canonical, position, value)),
            }
        }
        best.sort_unstable_by(|a, b| a.0.cmp(b.0));
        best.into_iter().map(|(k, _, v)| (k, v)).collect()
    }

    /// Raw tag key -> (canonical key, its place among the spellings: lowest wins).
    pub fn tag_aliases(&self) -> &HashMap<String, (String, usize)> {
        &self.aliases
    }

    /// Canonical keys whose value names a team, in the order unallocated reasons try them.
    pub fn team_keys(&self) -> &[String] {
        &self.team_keys
    }

    /// Every raw tag key a rule can read, sorted ([`RuleSet::reads_tag`]).
    pub fn keys_read(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.keys_read.iter().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// Whether a tag with this (raw) key can change what any rule decides.
    pub fn reads_tag(&self, key: &str) -> bool {
        self.keys_read.contains(key)
    }

    /// Every `from` and `until` date of the rules, sorted: between two of
    /// them every rule is either in effect or not, so lines that differ only
    /// in their charge date within such a span are decided alike.
    pub fn date_breaks(&self) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = self.rules.iter().flat_map(|r| [r.from, r.until]).flatten().collect();
        dates.sort_unstable();
        dates.dedup();
        dates
    }

    /// Every rule that could match `line`, by rank.
    fn candidates(&self, line: &LineView, out: &mut Vec<usize>) {
        out.clear();
        if let Some(account) = line.sub_account {
            out.extend(self.by_account.get(account).into_iter().flatten());
        }
        if let Some(account) = line.billing_account {
            out.extend(self.by_billing_account.get(account).into_iter().flatten());
        }
        for service in [line.service_name, line.service_code].into_iter().flatten() {
            out.extend(self.by_service.get(service).into_iter().flatten());
        }
        if !self.by_container.is_empty() {
            let dimensions = [
                (Dimension::Cluster, line.cluster()),
                (Dimension::Namespace, line.namespace()),
                (Dimension::Workload, line.workload()),
            ];
            for (dimension, value) in dimensions {
                if let Some(value) = value {
                    out.extend(self.by_container.get(&(dimension, value.into_owned())).into_iter().flatten());
                }
            }
        }
        for (key, value) in &line.tags {
            if let Some(ranks) = self.by_tag_value.get(*key).and_then(|values| values.get(value.as_ref())) {
                out.extend(ranks);
            }
            out.extend(self.by_tag_key.get(*key).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The winning rule's decision, given the org for tag-named teams.
    pub fn decide(&self, line: &LineView, org: &Org, scratch: &mut Scratch) -> Decision {
        self.candidates(line, &mut scratch.candidates);
        let mut hits = RegexHits::new(&self.regexes, line.resource_id, &mut scratch.regex);
        let indexed = scratch
            .candidates
            .iter()
            .copied()
            .find_map(|rank| self.outcome(rank, line, org, &mut hits).map(|d| (rank, d)));
        let best_rank = indexed.as_ref().map_or(usize::MAX, |(rank, _)| *rank);
        let scanned = self
            .scanned
            .iter()
            .take_while(|rank| **rank < best_rank)
            .find_map(|rank| self.outcome(*rank, line, org, &mut hits));
        if let Some(decision) = scanned.or(indexed.map(|(_, d)| d)) {
            return decision;
        }
        Decision::Unallocated { reason: self.unallocated_reason(line, org) }
    }

    /// Every rule that would take `line`, by rank: the winner first, then
    /// those that lost on precedence. Uses the indexes, so it is cheap enough
    /// to run on every line (`check` counts dead rules with it).
    pub fn all_matches(&self, line: &LineView, org: &Org, scratch: &mut Scratch) -> Vec<(usize, Decision)> {
        let candidates = &mut scratch.candidates;
        self.candidates(line, candidates);
        candidates.extend(&self.scanned);
        candidates.sort_unstable();
        candidates.dedup();
        let mut hits = RegexHits::new(&self.regexes, line.resource_id, &mut scratch.regex);
        candidates.iter().filter_map(|rank| self.outcome(*rank, line, org, &mut hits).map(|d| (*rank, d))).collect()
    }

    /// How rule `rank` judges `line`, for `explain`: including rules whose
    /// conditions hold but are not in effect on the charge date, and
    /// team-from-tag rules whose tag value names no team.
    pub fn verdict(&self, rank: usize, line: &LineView, org: &Org) -> Verdict {
        let rule = &self.rules[rank];
        let mut cache = HashMap::new();
        let mut hits = RegexHits::new(&self.regexes, line.resource_id, &mut cache);
        if !rule.conditions_hold(line) || !self.regex_holds(rank, &mut hits) {
            return Verdict::NoMatch;
        }
        if !rule.in_effect(line.date) {
            return Verdict::NotInEffect;
        }
        match (&rule.target, self.outcome(rank, line, org, &mut hits)) {
            (_, Some(decision)) => Verdict::Matches(decision),
            (Target::TeamFromTag(key), None) => {
                Verdict::NoTeamForTag { key: key.clone(), value: line.tag(key).map(str::to_string) }
            }
            (_, None) => Verdict::NoMatch,
        }
    }

    fn regex_holds(&self, rank: usize, hits: &mut RegexHits) -> bool {
        self.regex_of[rank].is_none_or(|index| hits.hit(index))
    }

    fn outcome(&self, rank: usize, line: &LineView, org: &Org, hits: &mut RegexHits) -> Option<Decision> {
        let rule = &self.rules[rank];
        // The regex last: it is the dearest condition.
        if !rule.in_effect(line.date) || !rule.conditions_hold(line) || !self.regex_holds(rank, hits) {
            return None;
        }
        Some(match &rule.target {
            Target::Team(team) => Decision::Team { rule: rank, team: team.clone() },
            Target::Pool(pool) => Decision::Pool { rule: rank, pool: pool.clone() },
            Target::TeamFromTag(key) => {
                let team = org.team_for_value(line.tag(key)?)?;
                Decision::Team { rule: rank, team: team.to_string() }
            }
        })
    }

    fn unallocated_reason(&self, line: &LineView, org: &Org) -> String {
        for key in &self.team_keys {
            if let Some(value) = line.tag(key)
                && org.team_for_value(value).is_none()
            {
                return format!("unknown {key} tag value `{value}`");
            }
        }
        if let Some(key) = self.team_keys.first() {
            return format!("no {key} tag and no rule for account {}", line.sub_account.unwrap_or("(none)"));
        }
        "no rule matched".to_string()
    }
}

/// Working memory for deciding lines, reused from line to line.
#[derive(Default)]
pub struct Scratch {
    candidates: Vec<usize>,
    /// ResourceId -> the regexes it matches. Resources recur on many lines
    /// (hourly usage), so most lines need no regex run at all.
    regex: HashMap<Box<str>, SetMatches>,
}

/// Room for the compiled set of every `resource_regex` (bytes).
const REGEX_SET_SIZE_LIMIT: usize = 256 << 20;

/// Bound on cached resources: past it the cache starts over.
const REGEX_CACHE_LIMIT: usize = 1 << 18;

/// Which regexes a line's ResourceId matches, computed on first use (most
/// lines are decided by an indexed rule without any regex).
struct RegexHits<'s> {
    set: &'s RegexSet,
    resource: Option<&'s str>,
    cache: &'s mut HashMap<Box<str>, SetMatches>,
    matches: Option<SetMatches>,
}

impl<'s> RegexHits<'s> {
    fn new(set: &'s RegexSet, resource: Option<&'s str>, cache: &'s mut HashMap<Box<str>, SetMatches>) -> Self {
        RegexHits { set, resource, cache, matches: None }
    }

    fn hit(&mut self, index: usize) -> bool {
        let Some(resource) = self.resource else { return false };
        if self.matches.is_none() {
            let matches = match self.cache.get(resource) {
                Some(m) => m.clone(),
                None => {
                    let m = self.set.matches(resource);
                    if self.cache.len() >= REGEX_CACHE_LIMIT {
                        self.cache.clear();
                    }
                    self.cache.insert(resource.into(), m.clone());
                    m
                }
            };
            self.matches = Some(matches);
        }
        self.matches.as_ref().is_some_and(|m| m.matched(index))
    }
}

fn canonical_key(aliases: &HashMap<String, (String, usize)>, key: &str) -> String {
    aliases.get(key).map_or_else(|| key.to_string(), |(canonical, _)| canonical.clone())
}

impl Rule {
    /// Whether the rule's date range covers `date`.
    pub fn in_effect(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.until.is_none_or(|until| date < until)
    }

    /// The rule's conditions and dates in words:
    /// `accounts 111, 222; tag team in payments; from 2026-10-15`.
    pub fn describe(&self) -> String {
        let conditions = self.describe_conditions();
        match (self.from, self.until) {
            (Some(from), Some(until)) => format!("{conditions}; from {from} until {until}"),
            (Some(from), None) => format!("{conditions}; from {from}"),
            (None, Some(until)) => format!("{conditions}; until {until}"),
            (None, None) => conditions,
        }
    }

    /// What the rule matches, without dates or target.
    pub fn describe_conditions(&self) -> String {
        fn list(set: &HashSet<String>) -> String {
            let mut items: Vec<&str> = set.iter().map(String::as_str).collect();
            items.sort_unstable();
            items.join(", ")
        }
        let mut parts = Vec::new();
        for (name, set) in [
            ("accounts", &self.accounts),
            ("billing accounts", &self.billing_accounts),
            ("services", &self.services),
            ("regions", &self.regions),
            ("charge categories", &self.charge_categories),
        ] {
            if !set.is_empty() {
                parts.push(format!("{name} {}", list(set)));
            }
        }
        for (key, values) in &self.tags {
            parts.push(format!("tag {key} in {}", list(values)));
        }
        if let Some(prefix) = &self.resource_prefix {
            parts.push(format!("resource prefix {prefix}"));
        }
        if !self.resource_groups.is_empty() {
            parts.push(format!("resource groups {}", list(&self.resource_groups)));
        }
        if let Some(glob) = &self.resource_glob {
            parts.push(format!("resource glob {}", glob.as_str()));
        }
        if let Some(regex) = &self.resource_regex {
            parts.push(format!("resource regex {}", regex.as_str()));
        }
        for (name, set) in
            [("clusters", &self.clusters), ("namespaces", &self.namespaces), ("workloads", &self.workloads)]
        {
            if !set.is_empty() {
                parts.push(format!("{name} {}", list(set)));
            }
        }
        if let Some(glob) = &self.namespace_glob {
            parts.push(format!("namespace glob {}", glob.as_str()));
        }
        if let Some(regex) = &self.namespace_regex {
            parts.push(format!("namespace regex {}", regex.as_str()));
        }
        if let Target::TeamFromTag(key) = &self.target {
            parts.push(format!("tag {key} names a team"));
        }
        if parts.is_empty() {
            parts.push("everything".to_string());
        }
        parts.join("; ")
    }

    /// `[from, until)`, open ends as `None`.
    pub fn dates(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (self.from, self.until)
    }

    /// Every condition but `resource_regex`, cheapest first, stopping at the
    /// first that fails (the RuleSet checks all regexes at once).
    fn conditions_hold(&self, line: &LineView) -> bool {
        let resource = line.resource_id;
        (self.accounts.is_empty() || line.sub_account.is_some_and(|a| self.accounts.contains(a)))
            && (self.billing_accounts.is_empty()
                || line.billing_account.is_some_and(|a| self.billing_accounts.contains(a)))
            && (self.services.is_empty()
                || [line.service_name, line.service_code].into_iter().flatten().any(|s| self.services.contains(s)))
            && (self.regions.is_empty() || line.region.is_some_and(|r| self.regions.contains(r)))
            && (self.charge_categories.is_empty()
                || line.charge_category.is_some_and(|c| self.charge_categories.contains(c)))
            && self.tags.iter().all(|(key, values)| line.tag(key).is_some_and(|v| values.contains(v)))
            && self.resource_prefix.as_ref().is_none_or(|p| resource.is_some_and(|r| r.starts_with(p.as_str())))
            && (self.resource_groups.is_empty()
                || line.resource_group.is_some_and(|g| self.resource_groups.contains(&g.to_lowercase())))
            && self.resource_glob.as_ref().is_none_or(|g| resource.is_some_and(|r| g.matches(r)))
            && self.containers_hold(line)
    }

    fn has_container_condition(&self) -> bool {
        !self.clusters.is_empty()
            || !self.namespaces.is_empty()
            || self.namespace_glob.is_some()
            || self.namespace_regex.is_some()
            || !self.workloads.is_empty()
    }

    /// The cluster, namespace and workload conditions (none given: they hold).
    fn containers_hold(&self, line: &LineView) -> bool {
        if !self.has_container_condition() {
            return true;
        }
        let namespace = line.namespace();
        let namespace = namespace.as_deref();
        (self.clusters.is_empty() || line.cluster().is_some_and(|c| self.clusters.contains(c.as_ref())))
            && (self.namespaces.is_empty() || namespace.is_some_and(|n| self.namespaces.contains(n)))
            && self.namespace_glob.as_ref().is_none_or(|g| namespace.is_some_and(|n| g.matches(n)))
            && self.namespace_regex.as_ref().is_none_or(|r| namespace.is_some_and(|n| r.is_match(n)))
            && (self.workloads.is_empty() || line.workload().is_some_and(|w| self.workloads.contains(w.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::Compiled;

    fn compiled(rules: &str) -> (Compiled, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("org.toml"), "[teams.a]\n[teams.b]\n[teams.c]\n").unwrap();
        std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
        let compiled = Compiled::load(dir.path()).unwrap();
        (compiled, dir)
    }

    fn decide(compiled: &Compiled, account: &str, resource: Option<&str>) -> Decision {
        let line = LineView {
            sub_account: Some(account),
            resource_id: resource,
            date: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
            ..LineView::default()
        };
        compiled.rules.decide(&line, &compiled.org, &mut Scratch::default())
    }

    #[test]
    fn hundreds_of_unanchored_regex_rules_compile_together() {
        // The shapes bench/attribution.py generates: 300 of them overflowed the default limit.
        let rules: String = (0..300)
            .map(|i| {
                format!(
                    "[[rule]]\nid = \"re-{i}\"\nprecedence = {i}\nresource_regex = \"^arn:aws:lambda:[a-z0-9-]+:\\\\d{{12}}:function:svc{i}\\\\-stream-[a-z]+-(prod|staging|dev)-[0-9a-f]{{8}}$\"\nteam = \"a\"\n\n[[rule]]\nid = \"log-{i}\"\nprecedence = {i}\nresource_regex = \":log-group:/ecs/svc{i}\\\\-tracker-(prod|staging|dev)-\"\nteam = \"b\"\n"
                )
            })
            .collect();
        let (compiled, _dir) = compiled(&rules);
        assert_eq!(compiled.rules.rules.len(), 600);
        let team = decide(&compiled, "1", Some("arn:aws:logs:us-east-1:1:log-group:/ecs/svc299-tracker-dev-x"));
        assert!(matches!(team, Decision::Team { ref team, .. } if team == "b"), "{team:?}");
    }

    #[test]
    fn only_tags_a_rule_reads_can_change_a_decision() {
        let (compiled, _dir) = compiled(
            r#"
[tag_aliases]
team = ["Team", "owner-team"]
cost-center = ["CostCenter"]

[[rule]]
id = "prod"
precedence = 1
tags = { env = "prod" }
team = "b"

[[rule]]
id = "owner"
precedence = 2
team_from_tag = "team"
"#,
        );
        let read: Vec<bool> = ["env", "team", "Team", "owner-team", "Env", "request-id", "cost-center", "CostCenter"]
            .iter()
            .map(|key| compiled.rules.reads_tag(key))
            .collect();
        assert_eq!(read, [true, true, true, true, false, false, false, false]);
    }

    #[test]
    fn multi_tag_rules_are_found_through_their_rarest_tag() {
        let (compiled, _dir) = compiled(
            r#"
[[rule]]
id = "api"
precedence = 1
tags = { env = "prod", service = "api" }
team = "a"

[[rule]]
id = "web"
precedence = 2
tags = { env = "prod", service = "web" }
team = "c"

[[rule]]
id = "prod"
precedence = 3
tags = { env = "prod" }
team = "b"
"#,
        );
        let decide = |tags: &[(&str, &str)]| {
            let line = LineView {
                tags: compiled.rules.canonical_tags(tags.iter().copied()),
                date: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
                ..LineView::default()
            };
            match compiled.rules.decide(&line, &compiled.org, &mut Scratch::default()) {
                Decision::Team { team, .. } => team,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(decide(&[("env", "Prod"), ("service", "api")]), "a");
        assert_eq!(decide(&[("service", "web"), ("env", "prod")]), "c");
        assert_eq!(decide(&[("env", "prod"), ("service", "batch")]), "b");
        // `service` is the rarer key of both two-tag rules: that is where they are indexed.
        assert!(compiled.rules.by_tag_value["service"].contains_key("api"));
        assert!(!compiled.rules.by_tag_value["env"]["prod"].contains(&0));
    }

    #[test]
    fn regex_rules_are_answered_together_and_keep_precedence() {
        let (compiled, _dir) = compiled(
            r#"
[[rule]]
id = "db"
precedence = 1
resource_regex = "^arn:aws:rds:.*:db:orders-"
team = "a"

[[rule]]
id = "acct"
precedence = 5
accounts = ["111"]
team = "b"

[[rule]]
id = "any-db"
precedence = 9
resource_regex = ":db:"
accounts = ["222"]
team = "c"
"#,
        );
        let team = |d: Decision| match d {
            Decision::Team { team, .. } => team,
            other => panic!("{other:?}"),
        };
        // The first regex outranks the account rule; the second needs its account too.
        assert_eq!(team(decide(&compiled, "111", Some("arn:aws:rds:us-east-1:1:db:orders-prod"))), "a");
        assert_eq!(team(decide(&compiled, "111", Some("arn:aws:rds:us-east-1:1:db:users"))), "b");
        assert_eq!(team(decide(&compiled, "222", Some("arn:aws:rds:us-east-1:1:db:users"))), "c");
        assert_eq!(team(decide(&compiled, "222", Some("arn:aws:rds:us-east-1:1:db:orders-x"))), "a");
        assert!(matches!(decide(&compiled, "222", None), Decision::Unallocated { .. }));
        assert!(matches!(decide(&compiled, "333", Some("i-123")), Decision::Unallocated { .. }));
    }
}
