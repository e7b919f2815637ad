//! Compiling `rules.toml`: each rule validated (one target that exists, conditions or
//! `everything`, dates in order, patterns that compile), then filed under the index a line
//! finds it by, and every `resource_regex` in one `RegexSet`.

use std::collections::{HashMap, HashSet};

use regex::{Regex, RegexSet, RegexSetBuilder};

use super::{
    CLUSTER_TAGS, Dimension, NAMESPACE_TAGS, REGEX_SET_SIZE_LIMIT, Rule, RuleSet, Target, WORKLOAD_TAGS, canonical_key,
};
use crate::attribute::mappings::{MappingError, Mappings, RuleSpec};
use crate::attribute::org::Org;

impl RuleSet {
    pub fn compile(mappings: &Mappings, org: &Org, pool_ids: &HashSet<String>) -> Result<RuleSet, MappingError> {
        let mut aliases = tag_aliases(mappings)?;
        // GKE writes a pod's label `app` as `k8s-label/app`; AWS imports it as the tag `app`.
        for spec in &mappings.rules.rules {
            for key in spec.k8s_labels.keys() {
                let gke = format!("k8s-label/{key}");
                let canonical = canonical_key(&aliases, key);
                let position = aliases.values().filter(|(c, _)| *c == canonical).count() + 1;
                aliases.entry(gke).or_insert((canonical, position));
            }
        }
        let mut specs: Vec<&RuleSpec> = mappings.rules.rules.iter().collect();
        specs.sort_by(|a, b| a.precedence.cmp(&b.precedence).then_with(|| a.id.cmp(&b.id)));
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            if !seen.insert(spec.id.clone()) {
                return Err(rule_error(mappings, spec, "the id is used twice".to_string()));
            }
            rules.push(compile_rule(mappings, spec, org, pool_ids, &aliases)?);
        }
        let mut set = RuleSet {
            rules: Vec::new(),
            aliases,
            by_account: HashMap::new(),
            by_billing_account: HashMap::new(),
            by_tag_value: HashMap::new(),
            by_service: HashMap::new(),
            by_tag_key: HashMap::new(),
            by_container: HashMap::new(),
            scanned: Vec::new(),
            regexes: RegexSet::empty(),
            regex_of: vec![None; rules.len()],
            team_keys: Vec::new(),
            keys_read: HashSet::new(),
        };
        set.index(&rules);
        set.build_regex_set(&rules)?;
        set.rules = rules;
        Ok(set)
    }

    /// Files each rule (by rank) under the one index a line can find it by, and notes
    /// every tag key a rule reads.
    fn index(&mut self, rules: &[Rule]) {
        // A rule on several tags is indexed by its rarest one: `env = prod` is
        // on most lines, a service tag on few, and every indexed rule a line
        // hits must be checked.
        let mut popularity: HashMap<(&str, &str), usize> = HashMap::new();
        for rule in rules {
            for (key, values) in &rule.tags {
                for value in values {
                    *popularity.entry((key.as_str(), value.as_str())).or_default() += 1;
                }
            }
        }
        let rarest = |rule: &'_ Rule| {
            let most_shared = |(key, values): &&(String, HashSet<String>)| {
                values.iter().map(|v| popularity[&(key.as_str(), v.as_str())]).max()
            };
            rule.tags
                .iter()
                .min_by_key(|tag| most_shared(tag).unwrap_or(0))
                .map(|(key, values)| (key.clone(), values.clone()))
        };
        for (rank, rule) in rules.iter().enumerate() {
            if let Some((key, values)) = rarest(rule).filter(|_| rule.accounts.is_empty()) {
                for value in values {
                    self.by_tag_value.entry(key.clone()).or_default().entry(value).or_default().push(rank);
                }
            } else if !rule.accounts.is_empty() {
                for account in &rule.accounts {
                    self.by_account.entry(account.clone()).or_default().push(rank);
                }
            } else if !rule.billing_accounts.is_empty() {
                for account in &rule.billing_accounts {
                    self.by_billing_account.entry(account.clone()).or_default().push(rank);
                }
            } else if !rule.services.is_empty() {
                for service in &rule.services {
                    self.by_service.entry(service.clone()).or_default().push(rank);
                }
            } else if let Some((dimension, values)) = [
                (Dimension::Namespace, &rule.namespaces),
                (Dimension::Workload, &rule.workloads),
                (Dimension::Cluster, &rule.clusters),
            ]
            .into_iter()
            .find(|(_, values)| !values.is_empty())
            {
                for value in values {
                    self.by_container.entry((dimension, value.clone())).or_default().push(rank);
                }
            } else if let Target::TeamFromTag(key) = &rule.target {
                self.by_tag_key.entry(key.clone()).or_default().push(rank);
            } else {
                self.scanned.push(rank);
            }
            if let Target::TeamFromTag(key) = &rule.target
                && !self.team_keys.contains(key)
            {
                self.team_keys.push(key.clone());
            }
        }
        let canonical_read: HashSet<&str> = rules
            .iter()
            .flat_map(|rule| rule.tags.iter().map(|(key, _)| key.as_str()))
            .chain(self.team_keys.iter().map(String::as_str))
            .collect();
        self.keys_read = canonical_read.iter().map(|key| key.to_string()).collect();
        // A container condition reads the tags that name a line's cluster, namespace, workload.
        if rules.iter().any(Rule::has_container_condition) {
            for key in CLUSTER_TAGS.iter().chain(&NAMESPACE_TAGS).chain(&WORKLOAD_TAGS) {
                self.keys_read.insert(key.to_string());
            }
        }
        for (alias, (canonical, _)) in &self.aliases {
            if canonical_read.contains(canonical.as_str()) {
                self.keys_read.insert(alias.clone());
            }
        }
    }

    /// Every `resource_regex` in one `RegexSet`, so a line is matched against all at once.
    fn build_regex_set(&mut self, rules: &[Rule]) -> Result<(), MappingError> {
        let mut patterns = Vec::new();
        for (rank, rule) in rules.iter().enumerate() {
            if let Some(regex) = &rule.resource_regex {
                self.regex_of[rank] = Some(patterns.len());
                patterns.push(regex.as_str());
            }
        }
        // Hundreds of unanchored patterns compile past the regex crate's default
        // 10 MiB limit; the set is built once, so allow it room.
        self.regexes = RegexSetBuilder::new(&patterns)
            .size_limit(REGEX_SET_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SET_SIZE_LIMIT / 4)
            .build()
            .map_err(|e| {
                MappingError::new(
                    RULES_FILE,
                    None,
                    format!("the {} resource_regex rules together: {e}", patterns.len()),
                )
            })?;
        Ok(())
    }
}

const RULES_FILE: &str = "rules.toml";

/// An error naming the rule's line in rules.toml.
fn rule_error(mappings: &Mappings, spec: &RuleSpec, message: String) -> MappingError {
    mappings.error(RULES_FILE, &format!("\"{}\"", spec.id), format!("rule `{}`: {message}", spec.id))
}

/// `[tag_aliases]`: every key to its canonical key and its position among the aliases.
fn tag_aliases(mappings: &Mappings) -> Result<HashMap<String, (String, usize)>, MappingError> {
    let mut aliases = HashMap::new();
    for (canonical, keys) in &mappings.rules.tag_aliases {
        for (position, key) in std::iter::once(canonical).chain(keys).enumerate() {
            if let Some((other, _)) = aliases.insert(key.clone(), (canonical.clone(), position))
                && other != *canonical
            {
                return Err(mappings.error(
                    RULES_FILE,
                    key,
                    format!("tag key `{key}` is an alias of both `{other}` and `{canonical}`"),
                ));
            }
        }
    }
    Ok(aliases)
}

/// One rule, validated: one target that exists, conditions (or `everything`), dates in
/// order, patterns that compile.
fn compile_rule(
    mappings: &Mappings,
    spec: &RuleSpec,
    org: &Org,
    pool_ids: &HashSet<String>,
    aliases: &HashMap<String, (String, usize)>,
) -> Result<Rule, MappingError> {
    let error = |message: String| rule_error(mappings, spec, message);
    let target = match (&spec.team, &spec.pool, &spec.team_from_tag) {
        (Some(team), None, None) => {
            if !org.is_team(team) {
                return Err(error(format!("unknown team `{team}` (not in org.toml)")));
            }
            Target::Team(team.clone())
        }
        (None, Some(pool), None) => {
            if !pool_ids.contains(pool) {
                return Err(error(format!("unknown pool `{pool}` (not in pools.toml)")));
            }
            Target::Pool(pool.clone())
        }
        (None, None, Some(key)) => Target::TeamFromTag(canonical_key(aliases, key)),
        _ => return Err(error("give exactly one of team, pool or team_from_tag".to_string())),
    };
    let has_condition = !spec.accounts.is_empty()
        || !spec.billing_accounts.is_empty()
        || !spec.services.is_empty()
        || !spec.regions.is_empty()
        || !spec.charge_categories.is_empty()
        || !spec.tags.is_empty()
        || spec.resource_prefix.is_some()
        || spec.resource_glob.is_some()
        || !spec.resource_groups.is_empty()
        || spec.resource_regex.is_some()
        || !spec.clusters.is_empty()
        || !spec.namespaces.is_empty()
        || spec.namespace_glob.is_some()
        || spec.namespace_regex.is_some()
        || !spec.workloads.is_empty()
        || !spec.k8s_labels.is_empty()
        || matches!(target, Target::TeamFromTag(_));
    if !has_condition && !spec.everything {
        return Err(error("no condition: give accounts, billing_accounts, services, regions, charge_categories, tags, resource_*, clusters, namespaces, namespace_*, workloads, k8s_labels or everything = true".to_string()));
    }
    if has_condition && spec.everything {
        return Err(error("`everything = true` cannot be combined with conditions".to_string()));
    }
    if let (Some(from), Some(until)) = (spec.from, spec.until)
        && from >= until
    {
        return Err(error(format!("from {from} is not before until {until}")));
    }
    let resource_glob = match &spec.resource_glob {
        Some(g) => Some(glob::Pattern::new(g).map_err(|e| error(format!("bad resource_glob: {e}")))?),
        None => None,
    };
    let resource_regex = match &spec.resource_regex {
        Some(r) => Some(Regex::new(r).map_err(|e| error(format!("bad resource_regex: {e}")))?),
        None => None,
    };
    let namespace_glob = match &spec.namespace_glob {
        Some(g) => Some(glob::Pattern::new(&g.to_lowercase()).map_err(|e| error(format!("bad namespace_glob: {e}")))?),
        None => None,
    };
    let namespace_regex = match &spec.namespace_regex {
        Some(r) => Some(Regex::new(r).map_err(|e| error(format!("bad namespace_regex: {e}")))?),
        None => None,
    };
    let lowercase = |values: &[String]| values.iter().map(|v| v.to_lowercase()).collect::<HashSet<String>>();
    let mut tags: Vec<(String, HashSet<String>)> = Vec::new();
    for (key, values) in spec.tags.iter().chain(&spec.k8s_labels) {
        let key = canonical_key(aliases, key);
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(error(format!("tag `{key}` is given twice (tags and k8s_labels)")));
        }
        tags.push((key, values.values().iter().map(|v| v.to_lowercase()).collect()));
    }
    Ok(Rule {
        id: spec.id.clone(),
        precedence: spec.precedence,
        target,
        accounts: spec.accounts.iter().cloned().collect(),
        billing_accounts: spec.billing_accounts.iter().cloned().collect(),
        services: spec.services.iter().cloned().collect(),
        regions: spec.regions.iter().cloned().collect(),
        charge_categories: spec.charge_categories.iter().cloned().collect(),
        tags,
        resource_prefix: spec.resource_prefix.clone(),
        resource_glob,
        resource_groups: spec.resource_groups.iter().map(|g| g.to_lowercase()).collect(),
        resource_regex,
        clusters: lowercase(&spec.clusters),
        namespaces: lowercase(&spec.namespaces),
        namespace_glob,
        namespace_regex,
        workloads: lowercase(&spec.workloads),
        from: spec.from,
        until: spec.until,
    })
}
