//! The ownership mappings folder, as people write it in git:
//!
//! ```text
//! mappings/
//!   org.toml     teams and the org nodes above them, with dated moves (reorgs)
//!   rules.toml   tag-key aliases and the rules that map line items to teams or pools
//!   pools.toml   shared cost pools and how each is split (optional)
//!   telemetry/   usage files that telemetry pools split by (optional)
//!   currency.toml  the reporting currency and its exchange rates (optional)
//! ```
//!
//! This module only reads and validates; `org`, `rules` and `pools` compile it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct MappingError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl MappingError {
    pub fn new(file: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        MappingError { file: file.into(), line, message: message.into() }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFile {
    /// Org nodes above teams (groups, orgs, execs), by id.
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeSpec>,
    #[serde(default)]
    pub teams: BTreeMap<String, TeamSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub parent: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub moves: Vec<Move>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    pub parent: Option<String>,
    pub name: Option<String>,
    /// Other spellings of the team in tag values (compared case-insensitively).
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub moves: Vec<Move>,
}

/// From `from` on, the node sits under `parent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    #[serde(deserialize_with = "day")]
    pub from: NaiveDate,
    pub parent: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Canonical tag key -> the keys that mean it (`team = ["team", "Team", "owner-team"]`).
    #[serde(default)]
    pub tag_aliases: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    /// Lower runs first; ties go to the rule id that sorts first.
    pub precedence: i64,
    // Conditions: all given ones must hold; a list holds when any value does.
    /// SubAccountId: the usage account (AWS), subscription (Azure), project (GCP).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// BillingAccountId: the payer account or billing account.
    #[serde(default)]
    pub billing_accounts: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    /// FOCUS ChargeCategory: Usage, Purchase, Tax, Credit, Adjustment.
    #[serde(default)]
    pub charge_categories: Vec<String>,
    /// Canonical tag key -> accepted values (case-insensitive).
    #[serde(default)]
    pub tags: BTreeMap<String, OneOrMany>,
    pub resource_prefix: Option<String>,
    pub resource_glob: Option<String>,
    /// Azure resource groups (`x_ResourceGroup`), compared case-insensitively as Azure does.
    #[serde(default)]
    pub resource_groups: Vec<String>,
    pub resource_regex: Option<String>,
    // Containers: a pod's cluster, namespace and workload (x_Cluster, x_Namespace, x_Workload,
    // or the aws:eks:* / GKE tags), compared case-insensitively; Kubernetes labels as tags.
    #[serde(default)]
    pub clusters: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    pub namespace_glob: Option<String>,
    pub namespace_regex: Option<String>,
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Label key -> accepted values: AWS imports a pod's labels as tags of the same key, GKE
    /// as `k8s-label/<key>`; both match.
    #[serde(default)]
    pub k8s_labels: BTreeMap<String, OneOrMany>,
    /// Matches every line item (within the dates): a catch-all.
    #[serde(default)]
    pub everything: bool,
    /// Effective dates of the charge, `from` inclusive, `until` exclusive.
    #[serde(default, deserialize_with = "optional_day")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "optional_day")]
    pub until: Option<NaiveDate>,
    // Target: exactly one.
    pub team: Option<String>,
    pub pool: Option<String>,
    /// The value of this (canonical) tag key names the team.
    pub team_from_tag: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<String> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolsFile {
    #[serde(default, rename = "pool")]
    pub pools: Vec<PoolSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub id: String,
    pub split: SplitKind,
    /// Recipients: team ids, or `pool:<id>` to feed another pool.
    #[serde(default)]
    pub to: Vec<String>,
    /// For `weights`: recipient -> weight.
    #[serde(default)]
    pub weights: BTreeMap<String, u64>,
    /// For `proportional`: only teams under this org node (default: all teams).
    pub scope: Option<String>,
    /// For `telemetry`: a CSV (`date,team,units`) relative to the mappings folder, or with
    /// `telemetry_format = "opencost"` OpenCost's allocation export (CSV or Parquet).
    pub telemetry: Option<String>,
    pub telemetry_format: Option<TelemetryFormat>,
}

/// What a pool's telemetry file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelemetryFormat {
    /// `date,team,units`.
    Tally,
    /// OpenCost's allocation export: rows per namespace (or pod) and window, with their cost;
    /// the rules decide each row's team as they decide a pod's.
    Opencost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitKind {
    Even,
    Weights,
    Proportional,
    Telemetry,
}

impl SplitKind {
    pub fn name(self) -> &'static str {
        match self {
            SplitKind::Even => "even",
            SplitKind::Weights => "weights",
            SplitKind::Proportional => "proportional",
            SplitKind::Telemetry => "telemetry",
        }
    }
}

/// The folder, read and parsed (not yet cross-checked).
#[derive(Debug)]
pub struct Mappings {
    pub dir: PathBuf,
    pub org: OrgFile,
    pub rules: RulesFile,
    pub pools: PoolsFile,
    /// `currency.toml`, when the folder has one ([`super::currency`]).
    pub currency: Option<super::currency::CurrencyFile>,
    /// `clusters.toml`, when the folder has one ([`super::clusters`]).
    pub clusters: Option<super::clusters::ClustersFile>,
    /// Source text per file, for line numbers in later errors.
    pub sources: BTreeMap<String, String>,
}

impl Mappings {
    pub fn load(dir: &Path) -> Result<Mappings, MappingError> {
        if !dir.is_dir() {
            return Err(MappingError::new(dir.display().to_string(), None, "no such mappings folder"));
        }
        let mut sources = BTreeMap::new();
        let org: OrgFile = parse(dir, "org.toml", true, &mut sources)?;
        let rules: RulesFile = parse(dir, "rules.toml", true, &mut sources)?;
        let pools: PoolsFile = parse(dir, "pools.toml", false, &mut sources)?;
        let currency_file = super::currency::FILE;
        let currency = match dir.join(currency_file).exists() {
            true => Some(parse(dir, currency_file, true, &mut sources)?),
            false => None,
        };
        let clusters = match dir.join(super::clusters::FILE).exists() {
            true => Some(parse(dir, super::clusters::FILE, true, &mut sources)?),
            false => None,
        };
        Ok(Mappings { dir: dir.to_path_buf(), org, rules, pools, currency, clusters, sources })
    }

    /// `file:line` of the first line containing `needle` (e.g. `id = "x"`), for errors.
    pub fn locate(&self, file: &str, needle: &str) -> (String, Option<usize>) {
        let line = self.sources.get(file).and_then(|text| text.lines().position(|l| l.contains(needle)).map(|i| i + 1));
        (self.dir.join(file).display().to_string(), line)
    }

    pub fn error(&self, file: &str, needle: &str, message: impl Into<String>) -> MappingError {
        let (file, line) = self.locate(file, needle);
        MappingError::new(file, line, message)
    }

    /// An error at the line where `key` is written in `file`: a path of keys from the top
    /// (`["teams", "fraud", "moves"]`) and, for an array, the element's index. Exact where
    /// [`Mappings::error`] searches for text; the nearest enclosing key when the path stops short.
    pub fn error_at(&self, file: &str, key: &[&str], index: Option<usize>, message: impl Into<String>) -> MappingError {
        let line = self.sources.get(file).and_then(|text| key_line(text, key, index));
        MappingError::new(self.dir.join(file).display().to_string(), line, message)
    }
}

/// 1-based line of `key` (and of element `index` of the array it holds) in TOML `text`.
fn key_line(text: &str, key: &[&str], index: Option<usize>) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let document = DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut found = None;
    for (i, name) in key.iter().enumerate() {
        let Some((k, value)) = table.get_key_value(*name) else { break };
        found = Some(k.span().start);
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            DeValue::Array(items) if i + 1 == key.len() => {
                if let Some(item) = index.and_then(|n| items.get(n)) {
                    found = Some(item.span().start);
                }
            }
            _ => break,
        }
    }
    found.map(|offset| line_at(text, offset))
}

/// 1-based line of byte `offset` in `text` (TOML reports spans as byte offsets).
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses TOML read from `path`, naming the line of the first error.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, MappingError> {
    toml::from_str(text)
        .map_err(|e| MappingError::new(path, e.span().map(|s| line_at(text, s.start)), e.message().to_string()))
}

/// A date written `2026-09-15` (a TOML date) or `"2026-09-15"`.
pub(crate) fn day<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    struct Day;
    impl<'de> serde::de::Visitor<'de> for Day {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date like 2026-09-15")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<NaiveDate, E> {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| E::custom(format!("{text:?} is not a date like 2026-09-15")))
        }
        // TOML dates reach serde as a one-entry map holding their text.
        fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<NaiveDate, M::Error> {
            let (_, text): (String, String) =
                map.next_entry()?.ok_or_else(|| serde::de::Error::custom("empty date"))?;
            self.visit_str(&text)
        }
    }
    deserializer.deserialize_any(Day)
}

fn optional_day<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveDate>, D::Error> {
    day(deserializer).map(Some)
}

fn parse<T: for<'de> Deserialize<'de> + Default>(
    dir: &Path,
    name: &str,
    required: bool,
    sources: &mut BTreeMap<String, String>,
) -> Result<T, MappingError> {
    let path = dir.join(name);
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(T::default()),
        Err(e) => return Err(MappingError::new(shown, None, format!("cannot read: {e}"))),
    };
    let value = parse_toml(&shown, &text)?;
    sources.insert(name.to_string(), text);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_are_where_the_key_is_written() {
        let text = "[nodes]\nacme = {}\neng = { parent = \"acme\" }\n\n[teams.fraud]\nparent = \"eng\"\nmoves = [\n  { from = 2026-10-15, parent = \"acme\" },\n  { from = 2026-11-01, parent = \"eng\" },\n]\n\n[[teams.ops.moves]]\nfrom = 2026-01-01\nparent = \"acme\"\n";
        assert_eq!(key_line(text, &["nodes", "eng"], None), Some(3));
        assert_eq!(key_line(text, &["nodes", "eng", "parent"], None), Some(3));
        assert_eq!(key_line(text, &["teams", "fraud"], None), Some(5));
        assert_eq!(key_line(text, &["teams", "fraud", "parent"], None), Some(6));
        assert_eq!(key_line(text, &["teams", "fraud", "moves"], Some(1)), Some(9));
        assert_eq!(key_line(text, &["teams", "ops", "moves"], Some(0)), Some(12));
        // A key that is not there: the nearest one above it.
        assert_eq!(key_line(text, &["teams", "fraud", "aliases"], None), Some(5));
        assert_eq!(key_line("not = [toml", &["nodes"], None), None);
    }
}
