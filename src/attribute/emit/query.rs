//! The SQL text: line items in, `attributed` out. Statement by statement, as attribution
//! runs: decide each line by the rules, sum each team's direct spend, work out every pool's
//! weights per charge day, split pooled lines stage by stage (a pool feeding a pool is one
//! more stage), then write the shares with their org paths.
//!
//! Exactness: amounts are HUGEINT units of 10^-20. A part is `floor(|amount| * w / total)`
//! plus one unit for the parts with the largest remainders (ties to the recipient tally puts
//! first), as [`crate::money::split::split`]. The product needs up to 76 digits, so it is
//! never formed: the amount is read in base-10^4 limbs, high first, and each step divides
//! `remainder * 10^4 + limb * w` by the total, which stays below 2 * 10^37 while the total is
//! below 10^33 (checked: the SQL stops with an error past it).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::Path;

use super::tables::{self, Table};
use super::{Dialect, glob_to_regex};
use crate::attribute::Compiled;
use crate::attribute::owners::KEY_TEXT;
use crate::attribute::pools::Recipient;
use crate::attribute::rules::{CLUSTER_TAGS, NAMESPACE_TAGS, Rule, Target, WORKLOAD_TAGS};
use crate::attribute::scan::INPUT_COLUMNS;
use crate::lake::attributed::{Origin, TEXT_COLUMNS};
use crate::lake::sql::string_literal;

/// Limbs of an amount in base 10^4: 40 digits cover any DECIMAL(38,20) in units.
const LIMBS: u32 = 10;

/// The whitespace Rust's `str::trim` removes (Unicode White_Space), as a SQL expression
/// (Spark's `chr` takes one byte: the rest are decoded from UTF-8).
fn whitespace(dialect: Dialect) -> String {
    let points: [u32; 25] = [
        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
        0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
    ];
    let char_of = |p: u32| match dialect {
        Dialect::Spark if p > 0xff => {
            let mut bytes = [0u8; 4];
            let text = char::from_u32(p).expect("a char").encode_utf8(&mut bytes);
            let hex: String = text.bytes().map(|b| format!("{b:02X}")).collect();
            format!("decode(unhex('{hex}'), 'UTF-8')")
        }
        _ => format!("chr({p})"),
    };
    points.iter().map(|p| char_of(*p)).collect::<Vec<_>>().join(" || ")
}

/// `text` trimmed of `chars` (an expression).
fn trim(text: &str, chars: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Duckdb => format!("trim({text}, {chars})"),
        Dialect::Spark => format!("trim(BOTH {chars} FROM {text})"),
    }
}

/// Integer units (HUGEINT) at `scale` decimals as DECIMAL(38, scale). DuckDB multiplies
/// exactly; Spark would cut the product's scale to 6, so it is built from its digits.
fn decimal(units: &str, scale: u32, dialect: Dialect) -> String {
    match dialect {
        Dialect::Duckdb => format!(
            "CAST({units} AS DECIMAL(38, 0)) * CAST(0.{}1 AS DECIMAL(38, {scale}))",
            "0".repeat(scale as usize - 1)
        ),
        Dialect::Spark => {
            let unit = hugeint(scale);
            format!(
                "CAST(concat(CASE WHEN {units} < 0 THEN '-' ELSE '' END, \
                 CAST((abs({units}) - abs({units}) % {unit}) // {unit} AS VARCHAR), '.', \
                 lpad(CAST(abs({units}) % {unit} AS VARCHAR), {scale}, '0')) AS DECIMAL(38, {scale}))"
            )
        }
    }
}

/// Spark SQL from the script as written for DuckDB: type names and the few functions that are
/// spelled otherwise, changed outside string literals and comments only.
fn spark(sql: &str) -> String {
    // Work tables are Parquet tables in their own database: a cached view would keep its whole
    // lineage, and Spark re-plans it at every step (minutes, then out of memory).
    static CREATE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"CREATE TEMP TABLE (\w+) AS").expect("a regex"));
    const WORDS: [(&str, &str); 6] = [
        ("HUGEINT", "DECIMAL(38, 0)"),
        ("VARCHAR", "STRING"),
        (" // ", " div "),
        ("error(", "raise_error("),
        ("epoch_us(", "unix_micros("),
        ("regexp_matches(", "regexp("),
    ];
    let mut out = String::with_capacity(sql.len() + sql.len() / 8);
    let mut code = String::new();
    let flush = |code: &mut String, out: &mut String| {
        let mut text =
            CREATE.replace_all(code, "DROP TABLE IF EXISTS $1;\nCREATE TABLE $1 USING parquet AS").into_owned();
        code.clear();
        for (from, to) in WORDS {
            text = text.replace(from, to);
        }
        out.push_str(&text);
    };
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                flush(&mut code, &mut out);
                out.push(c);
                // A literal runs to the next quote that is not doubled.
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                flush(&mut code, &mut out);
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            _ => code.push(c),
        }
    }
    flush(&mut code, &mut out);
    out
}

fn hugeint(power_of_ten: u32) -> String {
    format!("CAST('1{}' AS HUGEINT)", "0".repeat(power_of_ten as usize))
}

/// The canonical tag keys the SQL reads, each with its column and the raw spellings that
/// give its value, lowest position first (as `RuleSet::canonical_tags` picks).
struct TagColumns {
    keys: Vec<String>,
    column: HashMap<String, String>,
}

impl TagColumns {
    fn plan(compiled: &Compiled) -> TagColumns {
        let rules = &compiled.rules;
        let mut keys: Vec<String> = Vec::new();
        let mut add = |key: &str| {
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        };
        for rule in &rules.rules {
            for (key, _) in &rule.tags {
                add(key);
            }
        }
        for key in rules.team_keys() {
            add(key);
        }
        // The container columns are always worked out: a node's pods are its parts by them.
        for key in CLUSTER_TAGS.iter().chain(&NAMESPACE_TAGS).chain(&WORKLOAD_TAGS) {
            add(key);
        }
        let column = keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("tag_{i}"))).collect();
        TagColumns { keys, column }
    }

    fn col(&self, key: &str) -> &str {
        &self.column[key]
    }

    /// `coalesce(...) AS tag_N` for every key: trimmed, lowercased, empty as absent.
    fn select(&self, compiled: &Compiled, dialect: Dialect) -> Vec<String> {
        let aliases = compiled.rules.tag_aliases();
        let ws = whitespace(dialect);
        self.keys
            .iter()
            .map(|key| {
                let mut spellings: Vec<(usize, &str)> = aliases
                    .iter()
                    .filter(|(_, (canonical, _))| canonical == key)
                    .map(|(raw, (_, position))| (*position, raw.as_str()))
                    .collect();
                if !aliases.contains_key(key) {
                    spellings.push((0, key));
                }
                spellings.sort();
                let values: Vec<String> = spellings
                    .iter()
                    .map(|(_, raw)| {
                        let value = format!("\"Tags\"[{}]", string_literal(raw));
                        format!("nullif(lower({}), '')", trim(&value, &ws, dialect))
                    })
                    .collect();
                let value = match values.len() {
                    0 => "CAST(NULL AS VARCHAR)".to_string(),
                    1 => values[0].clone(),
                    _ => format!("coalesce({})", values.join(", ")),
                };
                format!("{value} AS {}", self.col(key))
            })
            .collect()
    }
}

fn list(values: &std::collections::HashSet<String>) -> String {
    let sorted: BTreeSet<&String> = values.iter().collect();
    sorted.iter().map(|v| string_literal(v)).collect::<Vec<_>>().join(", ")
}

/// The SQL condition under which `rule` decides a line (in effect on its charge date, every
/// condition holding, a tag-named team existing).
fn condition(
    rule: &Rule,
    tags: &TagColumns,
    team_via: &HashMap<String, String>,
    breaks: &[chrono::NaiveDate],
) -> String {
    let mut parts = Vec::new();
    let mut within = |column: &str, set: &std::collections::HashSet<String>| {
        if !set.is_empty() {
            parts.push(format!("{column} IN ({})", list(set)));
        }
    };
    within("\"SubAccountId\"", &rule.accounts);
    within("\"BillingAccountId\"", &rule.billing_accounts);
    within("\"RegionId\"", &rule.regions);
    within("\"ChargeCategory\"", &rule.charge_categories);
    within("lower(\"x_ResourceGroup\")", &rule.resource_groups);
    within("k_cluster", &rule.clusters);
    within("k_namespace", &rule.namespaces);
    within("k_workload", &rule.workloads);
    if !rule.services.is_empty() {
        let services = list(&rule.services);
        parts.push(format!("(\"ServiceName\" IN ({services}) OR \"x_ServiceCode\" IN ({services}))"));
    }
    for (key, values) in &rule.tags {
        parts.push(format!("{} IN ({})", tags.col(key), list(values)));
    }
    if let Some(prefix) = &rule.resource_prefix {
        parts.push(format!("left(\"ResourceId\", {}) = {}", prefix.chars().count(), string_literal(prefix)));
    }
    if let Some(glob) = &rule.resource_glob {
        parts.push(format!("regexp_matches(\"ResourceId\", {})", string_literal(&glob_to_regex(glob.as_str()))));
    }
    if let Some(regex) = &rule.resource_regex {
        parts.push(format!("regexp_matches(\"ResourceId\", {})", string_literal(regex.as_str())));
    }
    if let Some(glob) = &rule.namespace_glob {
        parts.push(format!("regexp_matches(k_namespace, {})", string_literal(&glob_to_regex(glob.as_str()))));
    }
    if let Some(regex) = &rule.namespace_regex {
        parts.push(format!("regexp_matches(k_namespace, {})", string_literal(regex.as_str())));
    }
    // Dates as spans between the rules' dates: `span` counts the dates on or before the day.
    let place = |date: chrono::NaiveDate| breaks.partition_point(|b| *b < date) + 1;
    let (from, until) = rule.dates();
    if let Some(from) = from {
        parts.push(format!("span >= {}", place(from)));
    }
    if let Some(until) = until {
        parts.push(format!("span < {}", place(until)));
    }
    if let Target::TeamFromTag(key) = &rule.target {
        parts.push(format!("{} IS NOT NULL", team_via[key]));
    }
    if parts.is_empty() { "TRUE".to_string() } else { parts.join(" AND ") }
}

/// How many pools deep a chain of pools feeding pools can go (1: no pool feeds another).
fn pool_depth(compiled: &Compiled) -> usize {
    fn depth(compiled: &Compiled, id: &str) -> usize {
        let pool = compiled.pools.get(id);
        1 + pool
            .fixed
            .iter()
            .filter_map(|(r, _)| match r {
                Recipient::Pool(next) => Some(depth(compiled, next)),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
    compiled.pools.all().map(|p| depth(compiled, &p.id)).max().unwrap_or(0)
}

/// The whole script in `dialect`: reads `lake`'s line items of `periods`, writes `attributed`
/// into `dir/attributed` (`dir` absolute; DuckDB writes it relative to its working folder).
pub fn script(
    compiled: &Compiled,
    lake: &Path,
    periods: &[String],
    rates: &std::collections::BTreeMap<String, crate::attribute::Rates>,
    dialect: Dialect,
    dir: &Path,
) -> String {
    let mut sql = String::new();
    let out = &mut sql;
    let _ = writeln!(
        out,
        "-- Emitted by `tally attribute --emit-sql --dialect {}` (tally {}), mappings {}.\n\
         -- Reads the line items of {} (periods {}) and writes the `attributed` table into attributed/.\n\
         -- How to run it: README.txt beside this file.",
        dialect.name(),
        env!("CARGO_PKG_VERSION"),
        compiled.version,
        lake.display(),
        periods.join(", ")
    );
    out.push_str(match dialect {
        Dialect::Duckdb => "SET TimeZone = 'UTC';\n",
        // ANSI arithmetic (overflow is an error, never a wrap), double-quoted identifiers,
        // literals taken as written (regexes keep their backslashes), partition values as text.
        Dialect::Spark => {
            "SET spark.sql.session.timeZone = UTC;\n\
             SET spark.sql.ansi.enabled = true;\n\
             SET spark.sql.ansi.doubleQuotedIdentifiers = true;\n\
             SET spark.sql.parser.escapedStringLiterals = true;\n\
             SET spark.sql.sources.partitionColumnTypeInference.enabled = false;\n\
             SET spark.sql.parquet.outputTimestampType = TIMESTAMP_MICROS;\n\
             CREATE DATABASE IF NOT EXISTS tally_work;\n\
             USE tally_work;\n"
        }
    });
    out.push_str("\n-- The mappings, as tables.\n");
    let tables: [Table; 9] = [
        tables::rules(compiled),
        tables::team_aliases(compiled),
        tables::team_paths(compiled),
        tables::pools(compiled),
        tables::fixed_weights(compiled),
        tables::proportional_candidates(compiled),
        tables::telemetry_units(compiled),
        tables::clusters(compiled),
        tables::rates(rates),
    ];
    for table in &tables {
        table.create(out);
    }

    let rules = &compiled.rules.rules;
    let tags = TagColumns::plan(compiled);
    let team_via: HashMap<String, String> =
        compiled.rules.team_keys().iter().enumerate().map(|(i, k)| (k.clone(), format!("team_via_{i}"))).collect();

    // Line items, with amounts as integer units.
    let units = |column: &str| {
        format!("CAST(replace(CAST(CAST(r.\"{column}\" AS DECIMAL(38, 20)) AS VARCHAR), '.', '') AS HUGEINT)")
    };
    let passed: Vec<String> = TEXT_COLUMNS
        .iter()
        .filter(|(_, origin)| *origin == Origin::LineItem)
        .map(|(name, _)| format!("r.\"{name}\""))
        .collect();
    let files = lake.join("line_items").join("provider=*").join("billing_period=*").join("*.parquet");
    let period_list: Vec<String> = periods.iter().map(|p| string_literal(p)).collect();
    let split_units = |column: &str| format!("coalesce({}, 0)", units(column));
    let _ = writeln!(
        out,
        "\n-- Line items of the periods, amounts as integer units of 10^-20, numbered in tally's order
-- (files by path, rows in file order: a node's pods are its parts in the order they appear):
-- the file's place times 2^32 plus the row's, so no engine sorts every line to number it.
CREATE TEMP TABLE li AS
WITH raw AS (SELECT * FROM {source} WHERE billing_period IN ({period_list})),
files AS (SELECT filename, row_number() OVER (ORDER BY filename) AS file_no FROM (SELECT DISTINCT filename FROM raw) f)
SELECT CAST(f.file_no AS BIGINT) * 4294967296 + CAST(r.file_row_number AS BIGINT) AS line_id, r.provider,
       r.billing_period, {passed},
       r.\"ChargePeriodStart\", r.\"x_SourceRow\", r.\"Tags\",
       nullif(r.\"x_SplitParentResourceId\", '') AS parent, epoch_us(r.\"ChargePeriodStart\") AS start_us,
       {used} AS used_u, {idle} AS idle_u,
       coalesce(CAST(r.\"ChargePeriodStart\" AS DATE), DATE '1970-01-01') AS day,
       {billed} AS billed_u, {effective} AS effective_u
FROM raw r JOIN files f ON f.filename = r.filename;
",
        passed = passed.join(", "),
        used = split_units("x_SplitCost"),
        idle = split_units("x_SplitUnusedCost"),
        billed = units("BilledCost"),
        effective = units("EffectiveCost"),
        source = match dialect {
            Dialect::Duckdb => format!(
                "read_parquet({}, hive_partitioning = true, union_by_name = true, filename = true, \
                 file_row_number = true,\n                  hive_types = {{'provider': VARCHAR, 'billing_period': VARCHAR}})",
                string_literal(&files.display().to_string())
            ),
            Dialect::Spark => format!(
                "(SELECT *, _metadata.file_path AS filename, _metadata.row_index AS file_row_number\n      \
                 FROM parquet.`{}`)",
                lake.join("line_items").display()
            ),
        },
        period_list = if period_list.is_empty() { "NULL".to_string() } else { period_list.join(", ") },
    );

    // Decisions.
    let mut view_columns = tags.select(compiled, dialect);
    for (name, column, keys) in [
        ("k_cluster", "x_Cluster", &CLUSTER_TAGS[..]),
        ("k_namespace", "x_Namespace", &NAMESPACE_TAGS[..]),
        ("k_workload", "x_Workload", &WORKLOAD_TAGS[..]),
    ] {
        let fallbacks: Vec<&str> = keys.iter().map(|k| tags.col(k)).collect();
        view_columns.push(format!("coalesce(lower(\"{column}\"), {}) AS {name}", fallbacks.join(", ")));
    }
    let view_select = format!(", {}", view_columns.join(", "));
    let mut joins = String::new();
    let mut via_select = String::new();
    for (i, key) in compiled.rules.team_keys().iter().enumerate() {
        let _ = write!(joins, "\n  LEFT JOIN m_team_alias a{i} ON a{i}.value = k.{}", tags.col(key));
        let _ = write!(via_select, ", a{i}.team AS team_via_{i}");
    }
    let breaks = compiled.rules.date_breaks();
    let mut case = String::from("CASE");
    for (rank, rule) in rules.iter().enumerate() {
        let _ = write!(case, "\n    WHEN {} THEN {rank}", condition(rule, &tags, &team_via, &breaks));
    }
    case.push_str("\n  END");
    let rank_expr = if rules.is_empty() { "CAST(NULL AS INTEGER)".to_string() } else { case };
    let from_tag: Vec<String> = rules
        .iter()
        .enumerate()
        .filter_map(|(rank, rule)| match &rule.target {
            Target::TeamFromTag(key) => Some(format!("WHEN {rank} THEN {}", team_via[key])),
            _ => None,
        })
        .collect();
    let from_tag_team =
        if from_tag.is_empty() { "NULL".to_string() } else { format!("CASE x.rank {} END", from_tag.join(" ")) };
    // What a decision reads: the columns rules look at, the canonical tags, the containers.
    let mut inputs: Vec<String> = KEY_TEXT.iter().map(|c| format!("\"{}\"", INPUT_COLUMNS[*c])).collect();
    inputs.extend(tags.keys.iter().map(|key| tags.col(key).to_string()));
    inputs.extend(["k_cluster", "k_namespace", "k_workload"].map(str::to_string));
    let same: String = inputs.iter().map(|c| format!(" AND y.{c} IS NOT DISTINCT FROM v.{c}")).collect();
    let inputs = inputs.join(", ");
    let span = if breaks.is_empty() {
        "0".to_string()
    } else {
        breaks.iter().map(|b| format!("CASE WHEN day >= DATE '{b}' THEN 1 ELSE 0 END")).collect::<Vec<_>>().join(" + ")
    };
    let reason = unallocated_reason(compiled, &tags, &team_via);
    let key_text: Vec<String> = KEY_TEXT.iter().map(|c| format!("\"{}\"", INPUT_COLUMNS[*c])).collect();
    let key_text_of_li: Vec<String> = key_text.iter().map(|c| format!("l.{c}")).collect();
    let (key_text, key_text_of_li) = (key_text.join(", "), key_text_of_li.join(", "));
    let _ = writeln!(
        out,
        "
-- Each line's decision: the first rule (precedence, then id) whose conditions hold, decided
-- once per distinct set of what the rules read (hourly lines repeat), then joined back.
CREATE TEMP TABLE decided AS
WITH v AS (SELECT l.*{view_select}, {span} AS span FROM li l),
k AS (SELECT DISTINCT span, {inputs} FROM v),
w AS (SELECT k.*{via_select} FROM k{joins}),
x AS (SELECT w.*, {rank_expr} AS rank, {reason} AS no_rule_reason FROM w),
y AS (SELECT x.*, {from_tag_team} AS tag_team FROM x)
SELECT v.line_id, v.billing_period, v.day, v.billed_u, v.effective_u, y.rank, r.id AS rule_id,
       CASE r.kind WHEN 'team' THEN r.target WHEN 'from_tag' THEN y.tag_team END AS team,
       CASE WHEN r.kind = 'pool' THEN r.target END AS pool,
       CASE WHEN y.rank IS NULL THEN y.no_rule_reason END AS reason,
       v.parent, v.start_us, v.used_u, v.idle_u, v.k_cluster, v.k_namespace, v.k_workload, v.\"ResourceId\"
FROM v JOIN y ON y.span = v.span{same}
LEFT JOIN m_rule r ON r.rank = y.rank;"
    );

    // Kubernetes: node lines split by their pods (AWS split cost allocation data).
    let read_keys: Vec<String> = compiled.rules.keys_read().into_iter().map(string_literal).collect();
    let no_tags = match dialect {
        Dialect::Duckdb => "CAST([] AS STRUCT(key VARCHAR, value VARCHAR)[])",
        Dialect::Spark => "CAST(array() AS ARRAY<STRUCT<key: STRING, value: STRING>>)",
    };
    let read_tags = if read_keys.is_empty() {
        no_tags.to_string()
    } else {
        let keep = format!("e.key IN ({}) AND e.value IS NOT NULL", read_keys.join(", "));
        match dialect {
            Dialect::Duckdb => format!("coalesce(list_filter(map_entries(l.\"Tags\"), lambda e: {keep}), {no_tags})"),
            Dialect::Spark => format!("coalesce(filter(map_entries(l.\"Tags\"), e -> {keep}), {no_tags})"),
        }
    };
    let node_split = exact_split(
        "node_split",
        "SELECT p.line_id, '' AS ord, d.billed_u AS a0, d.effective_u AS a1, {WHOLE} AS a2, \
         p.idx, p.w, t.total, p.part, p.decider, p.namespace, p.workload, p.cluster, p.owner
         FROM line_part p JOIN line_total t ON t.line_id = p.line_id JOIN decided d ON d.line_id = p.line_id"
            .replace("{WHOLE}", &hugeint(20))
            .as_str(),
        &[
            "line_id",
            "ord",
            "a0",
            "a1",
            "a2",
            "idx",
            "w",
            "total",
            "part",
            "decider",
            "namespace",
            "workload",
            "cluster",
            "owner",
        ],
        &["line_id", "idx", "part", "decider", "namespace", "workload", "cluster", "owner"],
        dialect,
    );
    let _ = writeln!(
        out,
        "
-- A node's pods, one member per (decision key, namespace, workload) as tally keeps them: the
-- KEY_TEXT columns and the tags a rule reads, raw. Its weights: what it used and left idle.
CREATE TEMP TABLE pod AS
SELECT d.line_id, d.billing_period, d.parent, coalesce(d.start_us, 0) AS start_us, d.k_cluster, d.k_namespace,
       d.k_workload, d.used_u, d.idle_u, {key_text_of_li}, {read_tags} AS read_tags
FROM decided d JOIN li l ON l.line_id = d.line_id WHERE d.parent IS NOT NULL;

CREATE TEMP TABLE member AS
SELECT billing_period, parent, start_us, min(line_id) AS decider, k_namespace, k_workload,
       sum(CASE WHEN used_u > 0 THEN used_u ELSE 0 END) AS used, sum(CASE WHEN idle_u > 0 THEN idle_u ELSE 0 END) AS idle
FROM pod GROUP BY billing_period, parent, start_us, {key_text}, read_tags, k_namespace, k_workload;

-- Each node hour's cluster (its first pod's) and that cluster's idle policy.
CREATE TEMP TABLE pod_group AS
WITH first AS (
  SELECT billing_period, parent, start_us, min_by(coalesce(k_cluster, '(unnamed)'), line_id) AS cluster
  FROM pod GROUP BY billing_period, parent, start_us
)
SELECT f.*, coalesce(c.idle, d.idle) AS idle, c.owner
FROM first f LEFT JOIN m_cluster c ON c.name = lower(f.cluster)
CROSS JOIN (SELECT idle FROM m_cluster WHERE name IS NULL) d;

-- The parts of a node line: each member's use in order, then the idle capacity by policy
-- (each member's own idle part, or all of it to the owner or unallocated); weights above 0.
CREATE TEMP TABLE node_part AS
WITH m AS (
  SELECT *, row_number() OVER (PARTITION BY billing_period, parent, start_us ORDER BY decider) - 1 AS i,
         count(*) OVER (PARTITION BY billing_period, parent, start_us) AS n
  FROM member
)
SELECT m.billing_period, m.parent, m.start_us, m.i AS idx, 'used' AS part, m.decider, m.k_namespace, m.k_workload, m.used AS w
FROM m WHERE m.used > 0
UNION ALL
SELECT m.billing_period, m.parent, m.start_us, m.n + m.i, 'idle_of', m.decider, m.k_namespace, m.k_workload, m.idle
FROM m JOIN pod_group g ON g.billing_period = m.billing_period AND g.parent = m.parent AND g.start_us = m.start_us
WHERE g.idle = 'proportional' AND m.idle > 0
UNION ALL
SELECT g.billing_period, g.parent, g.start_us, max(m.n), 'idle_' || g.idle, NULL, NULL, NULL, sum(m.idle)
FROM m JOIN pod_group g ON g.billing_period = m.billing_period AND g.parent = m.parent AND g.start_us = m.start_us
WHERE g.idle <> 'proportional' GROUP BY g.billing_period, g.parent, g.start_us, g.idle HAVING sum(m.idle) > 0;

-- GKE idle rows (namespace kube:unallocated) by their cluster's policy: to its owner, left
-- unallocated, or spread over the cluster's namespace rows of the same hour by their
-- EffectiveCost (members as for pods, by the raw namespace and workload; GKE's buckets never
-- weigh); by the rules when that hour has none.
CREATE TEMP TABLE gke_member AS
SELECT d.billing_period, l.\"x_Cluster\" AS cluster, coalesce(d.start_us, 0) AS start_us, min(d.line_id) AS decider,
       l.\"x_Namespace\" AS namespace, l.\"x_Workload\" AS workload,
       sum(CASE WHEN d.effective_u > 0 THEN d.effective_u ELSE 0 END) AS used
FROM decided d JOIN li l ON l.line_id = d.line_id
WHERE d.parent IS NULL AND l.\"x_Cluster\" IS NOT NULL AND l.\"x_Namespace\" IS NOT NULL
  AND left(l.\"x_Namespace\", 5) <> 'kube:' AND left(l.\"x_Namespace\", 9) <> 'goog-k8s-'
  AND EXISTS (SELECT 1 FROM li i WHERE i.billing_period = d.billing_period AND lower(i.\"x_Namespace\") = 'kube:unallocated')
GROUP BY d.billing_period, l.\"x_Cluster\", coalesce(d.start_us, 0), {key_text_of_li}, {read_tags}, l.\"x_Namespace\", l.\"x_Workload\";

CREATE TEMP TABLE gke_idle AS
SELECT d.line_id, d.billing_period, d.start_us, l.\"x_Cluster\" AS cluster, coalesce(c.idle, dflt.idle) AS idle, c.owner
FROM decided d JOIN li l ON l.line_id = d.line_id
LEFT JOIN m_cluster c ON c.name = lower(l.\"x_Cluster\")
CROSS JOIN (SELECT idle FROM m_cluster WHERE name IS NULL) dflt
WHERE lower(l.\"x_Namespace\") = 'kube:unallocated' AND l.\"x_Cluster\" IS NOT NULL;

-- Every part of every line a cluster splits: node lines by their pods (first), GKE idle rows.
CREATE TEMP TABLE line_part AS
WITH node AS (
  SELECT d.line_id, p.idx, p.part, p.decider, p.k_namespace AS namespace, p.k_workload AS workload, g.cluster, g.owner, p.w
  FROM decided d
  JOIN (SELECT DISTINCT billing_period, parent, start_us FROM node_part) n
    ON n.billing_period = d.billing_period AND n.parent = d.\"ResourceId\" AND n.start_us = d.start_us
  JOIN node_part p ON p.billing_period = n.billing_period AND p.parent = n.parent AND p.start_us = n.start_us
  JOIN pod_group g ON g.billing_period = n.billing_period AND g.parent = n.parent AND g.start_us = n.start_us
),
idle AS (SELECT * FROM gke_idle i WHERE NOT EXISTS (SELECT 1 FROM node n WHERE n.line_id = i.line_id))
SELECT * FROM node
UNION ALL
SELECT i.line_id, m.i, 'idle_of', m.decider, m.namespace, m.workload, i.cluster, i.owner, m.used
FROM idle i JOIN (
  SELECT *, row_number() OVER (PARTITION BY billing_period, cluster, start_us ORDER BY decider) - 1 AS i FROM gke_member
) m ON m.billing_period = i.billing_period AND m.cluster = i.cluster AND m.start_us = i.start_us
WHERE i.idle = 'proportional' AND m.used > 0
UNION ALL
SELECT line_id, 0, 'idle_' || idle, NULL, NULL, NULL, cluster, owner, CAST(1 AS HUGEINT) FROM idle WHERE idle <> 'proportional';

CREATE TEMP TABLE line_total AS
SELECT line_id, CASE WHEN sum(w) >= {limit} THEN error('the parts of a cluster line weigh 10^33 units or more; \
the emitted SQL cannot split that exactly') ELSE sum(w) END AS total
FROM line_part GROUP BY line_id;

-- Lines split over their parts (exact largest remainder).
{node_split}

-- What each share decision applies to: a whole line, or a part of a node line (decorated with
-- its cluster, pod namespace and workload; owned as its member's rows are decided, or by the
-- cluster's idle policy).
CREATE TEMP TABLE unit AS
SELECT d.line_id, d.billing_period, d.day, '' AS unit_ord, d.rule_id, d.team, d.pool, d.reason,
       d.billed_u AS a0, d.effective_u AS a1, {whole} AS a2, FALSE AS decorated,
       CAST(NULL AS VARCHAR) AS prefix, CAST(NULL AS VARCHAR) AS kind_prefix,
       CAST(NULL AS VARCHAR) AS cluster, CAST(NULL AS VARCHAR) AS namespace, CAST(NULL AS VARCHAR) AS workload
FROM decided d WHERE NOT EXISTS (SELECT 1 FROM node_split n WHERE n.line_id = d.line_id)
UNION ALL
SELECT s.line_id, d.billing_period, d.day, lpad(CAST(s.idx AS VARCHAR), 6, '0'),
       m.rule_id,
       CASE s.part WHEN 'idle_owner' THEN s.owner WHEN 'idle_unallocated' THEN NULL ELSE m.team END,
       CASE WHEN s.part IN ('used', 'idle_of') THEN m.pool END,
       CASE s.part WHEN 'idle_unallocated' THEN 'idle capacity of cluster ' || s.cluster WHEN 'idle_owner' THEN NULL
            ELSE m.reason END,
       s.b0, s.b1, s.b2, TRUE,
       CASE WHEN s.part = 'used' THEN 'cluster:' || s.cluster ELSE 'cluster:' || s.cluster || ' > idle' END,
       CASE WHEN s.part = 'used' THEN 'kubernetes' ELSE 'kubernetes > idle' END,
       s.cluster, s.namespace, s.workload
FROM node_split s JOIN decided d ON d.line_id = s.line_id LEFT JOIN decided m ON m.line_id = s.decider
WHERE NOT (s.b0 = 0 AND s.b1 = 0 AND s.b2 = 0);",
        limit = hugeint(33),
        whole = hugeint(20),
    );

    // Pool weights per (period, charge day, pool).
    let _ = writeln!(
        out,
        "
-- Each team's direct EffectiveCost in the period: what proportional pools split by (a node
-- line its pods split is no team's direct spend).
CREATE TEMP TABLE direct AS
SELECT billing_period, team, sum(a1) AS spend FROM unit WHERE team IS NOT NULL AND NOT decorated
GROUP BY billing_period, team;

CREATE TEMP TABLE plan_day AS SELECT DISTINCT billing_period, day FROM unit WHERE pool IS NOT NULL;

-- Every recipient of every pool on every charge day a pooled line has, with its weight.
CREATE TEMP TABLE plan_weight AS
SELECT * FROM (
  SELECT d.billing_period, d.day, f.pool, f.idx, f.rkind, f.recipient, f.weight AS w
  FROM plan_day d CROSS JOIN m_pool_fixed f
  UNION ALL
  SELECT d.billing_period, d.day, c.pool, c.idx, 'team', c.team, CASE WHEN s.spend > 0 THEN s.spend ELSE 0 END
  FROM plan_day d JOIN m_pool_candidate c ON d.day >= c.valid_from AND d.day < c.valid_until
  LEFT JOIN direct s ON s.billing_period = d.billing_period AND s.team = c.team
  UNION ALL
  -- Telemetry: the day's units, else the month's.
  SELECT d.billing_period, d.day, u.pool, u.idx, u.rkind, u.recipient, u.units
  FROM plan_day d JOIN m_pool_units u ON u.day = d.day
  UNION ALL
  SELECT d.billing_period, d.day, u.pool, u.idx, u.rkind, u.recipient, u.units
  FROM plan_day d JOIN m_pool_units u ON u.day IS NULL AND u.month = substr(CAST(d.day AS VARCHAR), 1, 7)
  LEFT JOIN (SELECT DISTINCT pool, day FROM m_pool_units WHERE day IS NOT NULL) x ON x.pool = u.pool AND x.day = d.day
  WHERE x.pool IS NULL
) t WHERE w > 0;

CREATE TEMP TABLE plan_total AS
SELECT billing_period, day, pool,
       CASE WHEN sum(w) >= {limit} THEN error('pool ' || pool || ': weights add to 10^33 units or more on ' ||
            CAST(day AS VARCHAR) || '; the emitted SQL cannot split that exactly') ELSE sum(w) END AS total
FROM plan_weight GROUP BY billing_period, day, pool;

-- Pools that cannot split on a day, and why (what reaches them stays unallocated).
CREATE TEMP TABLE plan_error AS
SELECT d.billing_period, d.day, k.pool,
       CASE WHEN k.kind = 'proportional' THEN 'pool ' || k.pool || ': no team has direct spend to split by'
            WHEN k.kind = 'telemetry' AND x.pool IS NULL AND y.pool IS NULL
            THEN 'pool ' || k.pool || ': no telemetry for ' || CAST(d.day AS VARCHAR) || ' or its month'
            ELSE 'pool ' || k.pool || ': all weights are zero' END AS reason
FROM plan_day d CROSS JOIN m_pool k
LEFT JOIN (SELECT DISTINCT pool, day FROM m_pool_units WHERE day IS NOT NULL) x ON x.pool = k.pool AND x.day = d.day
LEFT JOIN (SELECT DISTINCT pool, month FROM m_pool_units WHERE day IS NULL) y
  ON y.pool = k.pool AND y.month = substr(CAST(d.day AS VARCHAR), 1, 7)
WHERE NOT EXISTS (SELECT 1 FROM plan_total t WHERE t.billing_period = d.billing_period AND t.day = d.day AND t.pool = k.pool);

-- Pooled units: the whole unit is the first piece, split by its pool.
CREATE TEMP TABLE piece_0 AS
SELECT u.line_id, u.billing_period, u.day, u.unit_ord, u.unit_ord AS ord, u.pool,
       CASE WHEN u.prefix IS NULL THEN u.pool ELSE u.prefix || ' > ' || u.pool END AS chain,
       CASE WHEN u.kind_prefix IS NULL THEN k.kind ELSE u.kind_prefix || ' > ' || k.kind END AS kinds,
       u.a0, u.a1, u.a2
FROM unit u JOIN m_pool k ON k.pool = u.pool;",
        limit = hugeint(33),
    );
    let depth = pool_depth(compiled);
    for stage in 0..depth {
        split_stage(out, stage, dialect);
    }
    let stages: Vec<usize> = (0..depth).collect();
    let union = |make: &dyn Fn(usize) -> String| -> String {
        stages.iter().map(|s| make(*s)).collect::<Vec<_>>().join("\n  UNION ALL\n  ")
    };
    let failures = if depth == 0 {
        "SELECT CAST(NULL AS BIGINT) AS line_id, '' AS unit_ord, '' AS ord, '' AS reason WHERE false".to_string()
    } else {
        union(&|s| {
            format!(
                "SELECT p.line_id, p.unit_ord, p.ord, e.reason FROM piece_{s} p JOIN plan_error e \
                 ON e.billing_period = p.billing_period AND e.day = p.day AND e.pool = p.pool"
            )
        })
    };
    let leaves = if depth == 0 {
        "SELECT CAST(NULL AS BIGINT) AS line_id, '' AS unit_ord, '' AS rkind, '' AS recipient, '' AS chain, \
         '' AS kinds, CAST(0 AS HUGEINT) AS b0, CAST(0 AS HUGEINT) AS b1, CAST(0 AS HUGEINT) AS b2 WHERE false"
            .to_string()
    } else {
        union(&|s| {
            format!(
                "SELECT line_id, unit_ord, rkind, recipient, chain, kinds, b0, b1, b2 FROM part_{s} \
                 WHERE rkind <> 'pool' AND NOT (b0 = 0 AND b1 = 0 AND b2 = 0)"
            )
        })
    };
    let version = string_literal(&compiled.version);
    let _ = writeln!(
        out,
        "
-- A unit whose pieces reach a pool that cannot split stays whole, unallocated, with the first
-- such pool's reason (in recipient order).
CREATE TEMP TABLE failed AS
SELECT line_id, unit_ord, reason FROM (
  SELECT line_id, unit_ord, reason, row_number() OVER (PARTITION BY line_id, unit_ord ORDER BY ord) AS n FROM (
  {failures}) f
) t WHERE n = 1;

-- Every share: units owned by a team, unallocated units, pool leaves, units no pool could split.
CREATE TEMP TABLE shares AS
SELECT line_id, team, rule_id, CASE WHEN decorated THEN 'shared' ELSE 'direct' END AS method, prefix AS pool,
       kind_prefix AS split, CAST(NULL AS VARCHAR) AS reason, a0 AS b0, a1 AS b1, a2 AS b2, decorated, cluster,
       namespace, workload
FROM unit WHERE team IS NOT NULL
UNION ALL
SELECT line_id, 'unallocated', rule_id, 'unallocated', prefix, kind_prefix, reason, a0, a1, a2, decorated, cluster,
       namespace, workload
FROM unit WHERE team IS NULL AND pool IS NULL
UNION ALL
SELECT u.line_id, 'unallocated', u.rule_id, 'unallocated',
       CASE WHEN u.prefix IS NULL THEN u.pool ELSE u.prefix || ' > ' || u.pool END, u.kind_prefix, f.reason,
       u.a0, u.a1, u.a2, u.decorated, u.cluster, u.namespace, u.workload
FROM unit u JOIN failed f ON f.line_id = u.line_id AND f.unit_ord = u.unit_ord
UNION ALL
SELECT p.line_id, CASE p.rkind WHEN 'team' THEN p.recipient ELSE 'unallocated' END, u.rule_id,
       CASE p.rkind WHEN 'team' THEN 'shared' ELSE 'unallocated' END, p.chain, p.kinds,
       CASE p.rkind WHEN 'team' THEN NULL ELSE p.recipient END, p.b0, p.b1, p.b2, u.decorated, u.cluster,
       u.namespace, u.workload
FROM (
  {leaves}) p
JOIN unit u ON u.line_id = p.line_id AND u.unit_ord = p.unit_ord
WHERE NOT EXISTS (SELECT 1 FROM failed f WHERE f.line_id = p.line_id AND f.unit_ord = p.unit_ord);"
    );

    // The attributed table, in tally's column order.
    let money = |column: &str| decimal(column, 20, dialect);
    let mut columns: Vec<String> = TEXT_COLUMNS
        .iter()
        .map(|(name, origin)| {
            let value = match (*name, origin) {
                // A node's share split by its pods carries the pods' cluster, namespace, workload.
                ("x_Cluster", _) => "CASE WHEN s.decorated THEN s.cluster ELSE l.\"x_Cluster\" END".to_string(),
                ("x_Namespace", _) => "CASE WHEN s.decorated THEN s.namespace ELSE l.\"x_Namespace\" END".to_string(),
                ("x_Workload", _) => "CASE WHEN s.decorated THEN s.workload ELSE l.\"x_Workload\" END".to_string(),
                (_, Origin::LineItem) => format!("l.\"{name}\""),
                ("provider", _) => "l.provider".to_string(),
                ("team", _) => "s.team".to_string(),
                ("org_path", _) => "coalesce(p.path, 'unallocated')".to_string(),
                ("org_path_current", _) => "coalesce(p.path_current, 'unallocated')".to_string(),
                ("rule_id", _) => "s.rule_id".to_string(),
                ("method", _) => "s.method".to_string(),
                ("pool", _) => "s.pool".to_string(),
                ("split", _) => "s.split".to_string(),
                ("unallocated_reason", _) => "s.reason".to_string(),
                ("mappings_version", _) => version.clone(),
                ("x_ReportingCurrency", _) if compiled.currency.is_some() => "s.reporting".to_string(),
                ("x_ExchangeRatePolicy", _) if compiled.currency.is_some() => "s.policy".to_string(),
                _ => "CAST(NULL AS VARCHAR)".to_string(),
            };
            format!("{value} AS \"{name}\"")
        })
        .collect();
    columns.extend([
        "l.\"ChargePeriodStart\"".to_string(),
        "l.\"x_SourceRow\"".to_string(),
        format!("{} AS \"share\"", money("s.b2")),
        format!("{} AS \"BilledCost\"", money("s.b0")),
        format!("{} AS \"EffectiveCost\"", money("s.b1")),
    ]);
    if compiled.currency.is_some() {
        columns.extend([
            format!("{} AS \"x_ExchangeRate\"", decimal("s.rate", 12, dialect)),
            "s.rate_date AS \"x_ExchangeRateDate\"".to_string(),
            format!("{} AS \"x_ReportingBilledCost\"", money("s.c0")),
            format!("{} AS \"x_ReportingEffectiveCost\"", money("s.c1")),
        ]);
    } else {
        columns.extend([
            "CAST(NULL AS DECIMAL(38, 12)) AS \"x_ExchangeRate\"".to_string(),
            "CAST(NULL AS DATE) AS \"x_ExchangeRateDate\"".to_string(),
            "CAST(NULL AS DECIMAL(38, 20)) AS \"x_ReportingBilledCost\"".to_string(),
            "CAST(NULL AS DECIMAL(38, 20)) AS \"x_ReportingEffectiveCost\"".to_string(),
        ]);
    }
    columns.extend(["l.billing_period".to_string()]);
    let source = match &compiled.currency {
        None => "shares".to_string(),
        Some(currency) => {
            convert(out, currency.reporting, dialect);
            "converted".to_string()
        }
    };
    let select = format!(
        "SELECT {columns}
  FROM {source} s JOIN li l ON l.line_id = s.line_id
  LEFT JOIN m_team_path p ON p.team = s.team AND l.day >= p.valid_from AND l.day < p.valid_until",
        columns = columns.join(",\n         ")
    );
    let _ = match dialect {
        Dialect::Duckdb => writeln!(
            out,
            "\nCOPY (\n  {select}\n) TO 'attributed' (FORMAT parquet, PARTITION_BY (billing_period), OVERWRITE true);"
        ),
        // The work database goes at the end; the attributed files stay (an external location).
        Dialect::Spark => writeln!(
            out,
            "\nDROP TABLE IF EXISTS tally_attributed;\n\
             CREATE TABLE tally_attributed USING parquet PARTITIONED BY (billing_period)\nLOCATION {}\nAS {select};\n\
             USE default;\nDROP DATABASE tally_work CASCADE;",
            string_literal(&format!("file:{}", dir.join("attributed").display()))
        ),
    };
    match dialect {
        Dialect::Duckdb => sql,
        Dialect::Spark => spark(&sql),
    }
}

/// Why a line no rule took is unallocated, as `RuleSet::unallocated_reason` words it.
fn unallocated_reason(compiled: &Compiled, tags: &TagColumns, team_via: &HashMap<String, String>) -> String {
    let keys = compiled.rules.team_keys();
    let Some(first) = keys.first() else { return "'no rule matched'".to_string() };
    let mut case = String::from("CASE");
    for key in keys {
        let tag = tags.col(key);
        let _ = write!(
            case,
            " WHEN {tag} IS NOT NULL AND {via} IS NULL THEN {unknown} || {tag} || '`'",
            via = team_via[key],
            unknown = string_literal(&format!("unknown {key} tag value `")),
        );
    }
    let _ = write!(
        case,
        " ELSE {} || coalesce(\"SubAccountId\", '(none)') END",
        string_literal(&format!("no {first} tag and no rule for account "))
    );
    case
}

/// Named steps of one computation: DuckDB runs them as one statement's CTEs; Spark, whose
/// optimizer would inline ten levels of long division into one exponential expression, gets
/// each as a cached table of its own.
struct Steps {
    prefix: String,
    steps: Vec<(String, String)>,
}

impl Steps {
    fn new(prefix: &str) -> Steps {
        Steps { prefix: prefix.to_string(), steps: Vec::new() }
    }

    /// The name step `name` is read by.
    fn name(&self, name: &str) -> String {
        format!("{}_{name}", self.prefix)
    }

    fn add(&mut self, name: &str, select: String) {
        self.steps.push((self.name(name), select));
    }

    /// `CREATE TEMP TABLE target AS` the steps, then `last` (a SELECT over them).
    fn create(&self, target: &str, last: &str, dialect: Dialect) -> String {
        match dialect {
            Dialect::Duckdb => {
                let ctes: Vec<String> =
                    self.steps.iter().map(|(name, select)| format!("{name} AS ({select})")).collect();
                format!("CREATE TEMP TABLE {target} AS\nWITH {}\n{last};", ctes.join(",\n"))
            }
            Dialect::Spark => {
                let mut out = String::new();
                for (name, select) in &self.steps {
                    let _ = writeln!(out, "CREATE TEMP TABLE {name} AS {select};");
                }
                let _ = write!(out, "CREATE TEMP TABLE {target} AS {last};");
                out
            }
        }
    }
}

/// Steps after `joined` (whose columns are `columns`) ending in `divided`: those columns and,
/// for each amount `a{k}` (k below `amounts`), the quotient `q{k}` and remainder `r{k}` of
/// `|a{k}| * w / total`, exact. In DuckDB a product that fits in 38 digits (most rows) is
/// divided directly; the rest, and every row in Spark (whose integer division returns 64
/// bits), by long division over the amount's base-10^4 limbs, high first (`level_0` ..
/// `level_9`): no intermediate reaches 2 * 10^37 while `w` and `total` stay below 10^33, and
/// every quotient taken is below 2 * 10^4.
fn long_division(steps: &mut Steps, amounts: usize, columns: &[&str], dialect: Dialect) {
    let cols = columns.join(", ");
    let fast = dialect == Dialect::Duckdb;
    let fits: Vec<String> = (0..amounts).map(|k| format!("abs(a{k}) <= bound")).collect();
    let fits = fits.join(" AND ");
    let joined = steps.name("joined");
    if fast {
        let max = format!("CAST('{}' AS HUGEINT)", "9".repeat(38));
        let direct: Vec<String> = (0..amounts)
            .map(|k| format!("(abs(a{k}) * w) // total AS q{k}, (abs(a{k}) * w) % total AS r{k}"))
            .collect();
        steps.add("fit", format!("SELECT {cols}, {max} // w AS bound FROM {joined}"));
        let fit = steps.name("fit");
        steps.add("small", format!("SELECT {cols}, {} FROM {fit} WHERE {fits}", direct.join(", ")));
    }
    for j in 0..LIMBS {
        let (high, low) = (4 * (LIMBS - j), 4 * (LIMBS - 1 - j));
        let mut new = Vec::new();
        let mut kept = Vec::new();
        for k in 0..amounts {
            // The limb's digits, taken by remainders so no quotient is large.
            let upper = if high > 38 { format!("abs(a{k})") } else { format!("(abs(a{k}) % {})", hugeint(high)) };
            let limb = format!("CAST(({upper} - abs(a{k}) % {}) // {} AS HUGEINT)", hugeint(low), hugeint(low));
            let t =
                if j == 0 { format!("({limb} * w)") } else { format!("(r{k}_{p} * 10000 + {limb} * w)", p = j - 1) };
            let q = if j == 0 {
                format!("CAST({t} // total AS HUGEINT)")
            } else {
                format!("q{k}_{p} * 10000 + CAST({t} // total AS HUGEINT)", p = j - 1)
            };
            new.push(format!("{t} % total AS r{k}_{j}, {q} AS q{k}_{j}"));
            kept.push(format!("r{k}_{j}, q{k}_{j}"));
        }
        let from = match (j, fast) {
            (0, true) => format!("{} WHERE NOT ({fits})", steps.name("fit")),
            (0, false) => joined.clone(),
            _ => steps.name(&format!("level_{}", j - 1)),
        };
        steps.add(&format!("level_{j}"), format!("SELECT {cols}, {} FROM {from}", new.join(", ")));
    }
    let last = LIMBS - 1;
    let renamed: Vec<String> = (0..amounts).map(|k| format!("q{k}_{last} AS q{k}, r{k}_{last} AS r{k}")).collect();
    let quotients: Vec<String> = (0..amounts).map(|k| format!("q{k}, r{k}")).collect();
    let level = steps.name(&format!("level_{last}"));
    if fast {
        steps.add("large", format!("SELECT {cols}, {} FROM {level}", renamed.join(", ")));
        let (small, large) = (steps.name("small"), steps.name("large"));
        let q = quotients.join(", ");
        steps.add("divided", format!("SELECT {cols}, {q} FROM {small} UNION ALL SELECT {cols}, {q} FROM {large}"));
    } else {
        steps.add("divided", format!("SELECT {cols}, {} FROM {level}", renamed.join(", ")));
    }
}

/// `CREATE TEMP TABLE target` splitting every row group of `joined` (columns `columns`)
/// exactly: one row per (piece, recipient) with the piece's `line_id`, `ord` and amounts
/// `a0..a2`, the recipient's `idx` (tally's order) and weight `w`, and the piece's `total`;
/// the result has `carry` and each recipient's parts `b0..b2` (largest remainder per amount,
/// as `money::split`).
fn exact_split(target: &str, joined: &str, columns: &[&str], carry: &[&str], dialect: Dialect) -> String {
    let mut steps = Steps::new(&format!("{target}_by"));
    steps.add("joined", joined.to_string());
    long_division(&mut steps, 3, columns, dialect);
    let mut ranked = Vec::new();
    let mut parts = Vec::new();
    for k in 0..3 {
        ranked.push(format!(
            "abs(a{k}) - sum(q{k}) OVER (PARTITION BY line_id, ord) AS left{k}, \
             row_number() OVER (PARTITION BY line_id, ord ORDER BY r{k} DESC, idx) AS place{k}"
        ));
        parts.push(format!(
            "CASE WHEN a{k} < 0 THEN -1 ELSE 1 END * (q{k} + CASE WHEN place{k} <= left{k} THEN 1 ELSE 0 END) AS b{k}"
        ));
    }
    let divided = steps.name("divided");
    steps.add("ranked", format!("SELECT *, {} FROM {divided}", ranked.join(",\n       ")));
    let last = format!("SELECT {}, {}\nFROM {}", carry.join(", "), parts.join(",\n       "), steps.name("ranked"));
    steps.create(target, &last, dialect)
}

/// Stage `s`: splits `piece_s` by its pools' weights into `part_s`, and passes the parts that
/// go to a further pool on as `piece_{s+1}`.
fn split_stage(out: &mut String, s: usize, dialect: Dialect) {
    let split = exact_split(
        &format!("part_{s}"),
        &format!(
            "SELECT p.line_id, p.billing_period, p.day, p.unit_ord, p.ord, p.chain, p.kinds, p.a0, p.a1, p.a2,
         w.idx, w.rkind, w.recipient, w.w, t.total
  FROM piece_{s} p
  JOIN plan_weight w ON w.billing_period = p.billing_period AND w.day = p.day AND w.pool = p.pool
  JOIN plan_total t ON t.billing_period = p.billing_period AND t.day = p.day AND t.pool = p.pool"
        ),
        &[
            "line_id",
            "billing_period",
            "day",
            "unit_ord",
            "ord",
            "chain",
            "kinds",
            "a0",
            "a1",
            "a2",
            "idx",
            "rkind",
            "recipient",
            "w",
            "total",
        ],
        &["line_id", "billing_period", "day", "unit_ord", "ord", "chain", "kinds", "idx", "rkind", "recipient"],
        dialect,
    );
    let _ = writeln!(
        out,
        "
-- Stage {s}: each piece split over its pool's recipients that day.
{split}

CREATE TEMP TABLE piece_{next} AS
SELECT p.line_id, p.billing_period, p.day, p.unit_ord, p.ord || lpad(CAST(p.idx AS VARCHAR), 6, '0') AS ord,
       p.recipient AS pool, p.chain || ' > ' || p.recipient AS chain, p.kinds || ' > ' || k.kind AS kinds,
       p.b0 AS a0, p.b1 AS a1, p.b2 AS a2
FROM part_{s} p JOIN m_pool k ON k.pool = p.recipient
WHERE p.rkind = 'pool' AND NOT (p.b0 = 0 AND p.b1 = 0 AND p.b2 = 0);",
        next = s + 1,
    );
}

/// `converted`: every share with its period's rate into `reporting` and its BilledCost and
/// EffectiveCost converted (`c0`, `c1`), rounded half away from zero at 20 decimals as
/// [`crate::money::convert`]; a line whose currency has no rate stops the SQL.
fn convert(out: &mut String, reporting: &str, dialect: Dialect) {
    let one = hugeint(12);
    const SHARE: [&str; 14] = [
        "line_id",
        "team",
        "rule_id",
        "method",
        "pool",
        "split",
        "reason",
        "b0",
        "b1",
        "b2",
        "decorated",
        "cluster",
        "namespace",
        "workload",
    ];
    let kept = [&SHARE[..], &["reporting", "rate_date", "policy", "rate"]].concat();
    let mut columns = kept.clone();
    columns.extend(["a0", "a1", "w", "total"]);
    let kept = kept.join(", ");
    let mut steps = Steps::new("converted_by");
    steps.add(
        "rated",
        format!(
            "SELECT s.*, {reporting} AS reporting, r.rate_date, r.policy,
         CASE WHEN r.rate IS NULL THEN error('no exchange rate into {reporting_text} for ' ||
              coalesce(l.\"BillingCurrency\", '(none)') || ' in ' || l.billing_period ||
              ': emit the SQL again once the rates file has it') ELSE r.rate END AS rate
  FROM shares s JOIN li l ON l.line_id = s.line_id
  LEFT JOIN m_rate r ON r.billing_period = l.billing_period AND r.currency = l.\"BillingCurrency\"",
            reporting = string_literal(reporting),
            reporting_text = reporting.replace('\'', "''"),
        ),
    );
    let rated = steps.name("rated");
    steps.add(
        "joined",
        format!("SELECT {kept}, b0 AS a0, b1 AS a1, rate AS w, {one} AS total FROM {rated} WHERE rate <> {one}"),
    );
    long_division(&mut steps, 2, &columns, dialect);
    let converted: Vec<String> = (0..2)
        .map(|k| {
            format!(
                "CASE WHEN a{k} < 0 THEN -1 ELSE 1 END * (q{k} + CASE WHEN 2 * r{k} >= total THEN 1 ELSE 0 END) AS c{k}"
            )
        })
        .collect();
    let last = format!(
        "SELECT {kept}, {}\nFROM {}\nUNION ALL\nSELECT {kept}, b0 AS c0, b1 AS c1 FROM {rated} WHERE rate = {one}",
        converted.join(",\n       "),
        steps.name("divided"),
    );
    let _ = writeln!(
        out,
        "
-- Each share in the reporting currency at its period's rate (a share billed in the reporting
-- currency, rate 1, as it is).
{}",
        steps.create("converted", &last, dialect)
    );
}
