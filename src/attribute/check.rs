//! `tally check`: lints a mappings folder before it merges. Errors are
//! mistakes that misattribute spend (a rule that can never win, a gap in a
//! rule's dates); warnings are smells (equal precedence deciding by id,
//! pools nothing feeds, rules that matched nothing lately).
//!
//! Structural problems (unknown teams, dangling parents, pool cycles, bad
//! regexes) already stop `Compiled::load`; `check` reports that error too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::NaiveDate;

use super::Compiled;
use super::org::Org;
use super::pools::Recipient;
use super::rules::{Rule, Scratch, Target};
use super::scan::{Input, read_batches};
use crate::lake::Lake;
use crate::lake::line_items::period_files;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Short kind, e.g. `shadowed`, `date-gap`, `dead`.
    pub kind: &'static str,
    /// The mappings file (relative to the folder) and line, when known.
    pub file: &'static str,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let line = self.line.map(|l| format!(":{l}")).unwrap_or_default();
        write!(f, "{severity}[{}] {}{line}: {}", self.kind, self.file, self.message)
    }
}

fn rule_line(compiled: &Compiled, id: &str) -> Option<usize> {
    compiled.mappings.sources.get("rules.toml").and_then(|text| {
        let needle = format!("\"{id}\"");
        text.lines().position(|l| l.contains(&needle) && l.trim_start().starts_with("id")).map(|i| i + 1)
    })
}

/// Lints that need only the mappings.
pub fn lint(compiled: &Compiled) -> Vec<Finding> {
    let mut findings = Vec::new();
    shadowed(compiled, &mut findings);
    equal_precedence(compiled, &mut findings);
    date_gaps(compiled, &mut findings);
    unused_pools(compiled, &mut findings);
    findings
}

/// A rule that an earlier rule matches whenever it matches can never win.
fn shadowed(compiled: &Compiled, findings: &mut Vec<Finding>) {
    let rules = &compiled.rules.rules;
    for (rank, rule) in rules.iter().enumerate() {
        if let Some(earlier) = rules[..rank].iter().find(|e| covers(e, rule, &compiled.org)) {
            findings.push(Finding {
                severity: Severity::Error,
                kind: "shadowed",
                file: "rules.toml",
                line: rule_line(compiled, &rule.id),
                message: format!(
                    "rule `{}` (precedence {}) can never win: rule `{}` (precedence {}) matches every line it \
                     matches and comes first; give it a lower precedence or remove it",
                    rule.id, rule.precedence, earlier.id, earlier.precedence
                ),
            });
        }
    }
}

/// A rule's set conditions, in one order, so `covers` and `may_overlap`
/// compare the same dimensions (a new condition is added once, here).
fn condition_sets(rule: &Rule) -> [&HashSet<String>; 9] {
    [
        &rule.accounts,
        &rule.billing_accounts,
        &rule.services,
        &rule.regions,
        &rule.charge_categories,
        &rule.resource_groups,
        &rule.clusters,
        &rule.namespaces,
        &rule.workloads,
    ]
}

/// Whether every line `b` matches is also matched by `a` (conservative:
/// `false` when it cannot tell, e.g. two different regexes).
fn covers(a: &Rule, b: &Rule, org: &Org) -> bool {
    let set = |sa: &HashSet<String>, sb: &HashSet<String>| sa.is_empty() || (!sb.is_empty() && sb.is_subset(sa));
    let tags = a.tags.iter().all(|(key, values)| b.tags.iter().any(|(k, v)| k == key && v.is_subset(values)));
    let pattern = |pa: Option<&str>, pb: Option<&str>| pa.is_none() || pa == pb;
    let prefix = match (&a.resource_prefix, &b.resource_prefix) {
        (None, _) => true,
        (Some(pa), Some(pb)) => pb.starts_with(pa.as_str()),
        (Some(_), None) => false,
    };
    // A team-from-tag rule only takes lines whose tag names a team.
    let target = match &a.target {
        Target::TeamFromTag(key) => match &b.target {
            Target::TeamFromTag(k) => k == key,
            _ => b.tags.iter().any(|(k, values)| {
                k == key && !values.is_empty() && values.iter().all(|v| org.team_for_value(v).is_some())
            }),
        },
        _ => true,
    };
    let dates = a.from.is_none_or(|af| b.from.is_some_and(|bf| bf >= af))
        && a.until.is_none_or(|au| b.until.is_some_and(|bu| bu <= au));
    condition_sets(a).into_iter().zip(condition_sets(b)).all(|(sa, sb)| set(sa, sb))
        && tags
        && prefix
        && pattern(a.resource_glob.as_ref().map(|g| g.as_str()), b.resource_glob.as_ref().map(|g| g.as_str()))
        && pattern(a.resource_regex.as_ref().map(|r| r.as_str()), b.resource_regex.as_ref().map(|r| r.as_str()))
        && pattern(a.namespace_glob.as_ref().map(|g| g.as_str()), b.namespace_glob.as_ref().map(|g| g.as_str()))
        && pattern(a.namespace_regex.as_ref().map(|r| r.as_str()), b.namespace_regex.as_ref().map(|r| r.as_str()))
        && target
        && dates
}

/// Whether some line could match both (conservative: `true` unless a
/// condition proves them disjoint).
fn may_overlap(a: &Rule, b: &Rule) -> bool {
    let set = |sa: &HashSet<String>, sb: &HashSet<String>| sa.is_empty() || sb.is_empty() || !sa.is_disjoint(sb);
    let tags = a.tags.iter().all(|(key, values)| b.tags.iter().all(|(k, v)| k != key || !values.is_disjoint(v)));
    let dates = a.from.is_none_or(|af| b.until.is_none_or(|bu| af < bu))
        && b.from.is_none_or(|bf| a.until.is_none_or(|au| bf < au));
    condition_sets(a).into_iter().zip(condition_sets(b)).all(|(sa, sb)| set(sa, sb)) && tags && dates
}

/// Overlapping rules with the same precedence and different owners: only
/// the ids' alphabetical order decides, which nobody reviewing meant.
fn equal_precedence(compiled: &Compiled, findings: &mut Vec<Finding>) {
    let rules = &compiled.rules.rules;
    let mut by_precedence: BTreeMap<i64, Vec<&Rule>> = BTreeMap::new();
    for rule in rules {
        by_precedence.entry(rule.precedence).or_default().push(rule);
    }
    for group in by_precedence.values() {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a.target != b.target && may_overlap(a, b) && !covers(a, b, &compiled.org) {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        kind: "tie",
                        file: "rules.toml",
                        line: rule_line(compiled, &b.id),
                        message: format!(
                            "rules `{}` and `{}` share precedence {} and can match the same line; `{}` wins only \
                             because its id sorts first: give them distinct precedences",
                            a.id, b.id, a.precedence, a.id
                        ),
                    });
                }
            }
        }
    }
}

/// Rules with the same conditions but successive date ranges (an owner
/// handing over spend at a reorg) must meet: a hole sends the spend in
/// between to `unallocated`.
fn date_gaps(compiled: &Compiled, findings: &mut Vec<Finding>) {
    let mut groups: BTreeMap<String, Vec<&Rule>> = BTreeMap::new();
    for rule in &compiled.rules.rules {
        groups.entry(rule.describe_conditions()).or_default().push(rule);
    }
    for group in groups.values_mut() {
        if group.len() < 2 || group.iter().all(|r| r.from.is_none() && r.until.is_none()) {
            continue;
        }
        group.sort_by_key(|r| (r.from.unwrap_or(NaiveDate::MIN), r.id.clone()));
        // Walk the ranges in start order, tracking how far they reach.
        let mut reach: Option<(NaiveDate, &Rule)> = None;
        let mut open_ended = false;
        for rule in group.iter() {
            if let (Some((end, before)), Some(from)) = (reach, rule.from)
                && !open_ended
                && from > end
            {
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: "date-gap",
                    file: "rules.toml",
                    line: rule_line(compiled, &rule.id),
                    message: format!(
                        "rules `{}` (until {end}) and `{}` (from {from}) have the same conditions ({}) but leave \
                         {end} to {} uncovered: that spend would be unallocated",
                        before.id,
                        rule.id,
                        rule.describe_conditions(),
                        from.pred_opt().unwrap_or(from)
                    ),
                });
            }
            match rule.until {
                None => open_ended = true,
                Some(until) => {
                    if reach.is_none_or(|(end, _)| until > end) {
                        reach = Some((until, rule));
                    }
                }
            }
        }
    }
}

/// Pools no rule sends spend to and no pool feeds.
fn unused_pools(compiled: &Compiled, findings: &mut Vec<Finding>) {
    let mut used: HashSet<String> = HashSet::new();
    for rule in &compiled.rules.rules {
        if let Target::Pool(pool) = &rule.target {
            used.insert(pool.clone());
        }
    }
    for spec in &compiled.mappings.pools.pools {
        for recipient in spec.to.iter().chain(spec.weights.keys()) {
            if let Recipient::Pool(pool) = Recipient::parse(recipient) {
                used.insert(pool);
            }
        }
    }
    for spec in &compiled.mappings.pools.pools {
        if !used.contains(&spec.id) {
            let (_, line) = compiled.mappings.locate("pools.toml", &format!("\"{}\"", spec.id));
            findings.push(Finding {
                severity: Severity::Warning,
                kind: "unused-pool",
                file: "pools.toml",
                line,
                message: format!("pool `{}` receives nothing: no rule targets it and no pool feeds it", spec.id),
            });
        }
    }
}

/// How often each rule matched and won over the line items of `periods`.
#[derive(Debug, Default)]
pub struct Usage {
    pub periods: Vec<String>,
    pub line_items: u64,
    /// Per rule rank: (lines matched, lines won).
    pub counts: Vec<(u64, u64)>,
    /// Per rule rank: the rule that most often beat it.
    pub beaten_by: Vec<HashMap<usize, u64>>,
    /// The container clusters the line items name (lowercased, as rules and clusters.toml
    /// compare them).
    pub clusters: BTreeSet<String>,
}

/// Replays the rules over the lake's line items in `periods`.
pub fn usage(lake: &Lake, compiled: &Compiled, periods: &[String]) -> Result<Usage, String> {
    let rules = &compiled.rules;
    let n = rules.rules.len();
    let mut usage = Usage {
        periods: periods.to_vec(),
        counts: vec![(0, 0); n],
        beaten_by: vec![HashMap::new(); n],
        ..Usage::default()
    };
    let mut scratch = Scratch::default();
    for period in periods {
        for (_, file) in period_files(lake, Some(period)) {
            for batch in read_batches(&file)? {
                let batch = batch?;
                let input = Input::new(&batch);
                for row in 0..batch.num_rows() {
                    usage.line_items += 1;
                    let view = input.line_view(row, rules);
                    if let Some(cluster) = view.cluster()
                        && !usage.clusters.contains(cluster.as_ref())
                    {
                        usage.clusters.insert(cluster.into_owned());
                    }
                    let matches = rules.all_matches(&view, &compiled.org, &mut scratch);
                    let Some((winner, _)) = matches.first() else { continue };
                    usage.counts[*winner].1 += 1;
                    for (rank, _) in &matches {
                        usage.counts[*rank].0 += 1;
                        if rank != winner {
                            *usage.beaten_by[*rank].entry(*winner).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
    Ok(usage)
}

/// Dead rules (matched nothing) and rules that matched but never won.
pub fn usage_findings(compiled: &Compiled, usage: &Usage) -> Vec<Finding> {
    let span = match (usage.periods.first(), usage.periods.last()) {
        (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
        (Some(only), _) => only.clone(),
        _ => return Vec::new(),
    };
    let mut findings = Vec::new();
    for (rank, rule) in compiled.rules.rules.iter().enumerate() {
        let (matched, won) = usage.counts[rank];
        let message = if matched == 0 {
            format!("rule `{}` matched none of the {} line items in {span}", rule.id, usage.line_items)
        } else if won == 0 {
            let (by, _) =
                usage.beaten_by[rank].iter().max_by_key(|(r, n)| (**n, std::cmp::Reverse(**r))).expect("beaten");
            format!(
                "rule `{}` matched {matched} line item(s) in {span} but never won (beaten by `{}`)",
                rule.id, compiled.rules.rules[*by].id
            )
        } else {
            continue;
        };
        findings.push(Finding {
            severity: Severity::Warning,
            kind: if matched == 0 { "dead" } else { "never-wins" },
            file: "rules.toml",
            line: rule_line(compiled, &rule.id),
            message,
        });
    }
    // A cluster policy for a name no line item has (a typo, a renamed cluster) does nothing.
    let listed = compiled.mappings.clusters.iter().flat_map(|file| &file.clusters);
    for spec in listed.filter(|spec| !usage.clusters.contains(&spec.name.to_lowercase())) {
        let seen: Vec<&str> = usage.clusters.iter().map(String::as_str).take(5).collect();
        let seen = if seen.is_empty() { "none".to_string() } else { seen.join(", ") };
        findings.push(Finding {
            severity: Severity::Warning,
            kind: "unknown-cluster",
            file: "clusters.toml",
            line: compiled.mappings.locate(super::clusters::FILE, &format!("\"{}\"", spec.name)).1,
            message: format!(
                "cluster `{}` names no cluster of the {} line items in {span} (theirs: {seen}): its policy does nothing",
                spec.name, usage.line_items
            ),
        });
    }
    findings
}
