//! `tally attribute --emit-sql`: the mappings compiled to SQL that turns a lake's `line_items`
//! into the `attributed` table on an engine the company already runs, with the same rows,
//! shares and decimals as `tally attribute`.
//!
//! The rules become one `CASE` in rank order (the first rule whose conditions hold on the
//! charge date wins, as [`crate::attribute::rules::RuleSet::decide`]); the org, pools and
//! telemetry become small tables ([`tables`]); shares are tally's largest remainder, exact:
//! amounts as integers at the money scale, each product divided by long division in base
//! 10^4 so no intermediate leaves 128 bits ([`query`]).
//!
//! Kubernetes clusters split as attribution splits them (node lines by their pods, GKE idle rows
//! by the cluster's policy), and with a currency.toml every share is converted at its period's
//! rate. A split the integers cannot hold exactly stops the SQL with an error, never rounds.

mod query;
mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Compiled;

/// The engines the SQL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// DuckDB 1.3 or later (tested with 2.0): `cd DIR && duckdb < attribute.sql`.
    Duckdb,
    /// Apache Spark 4 SQL (tested with 4.3 local; Databricks, EMR): `spark-sql -f DIR/attribute.sql`.
    Spark,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Duckdb => "duckdb",
            Dialect::Spark => "spark",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// What was emitted, for the command's summary.
#[derive(Debug)]
pub struct Emitted {
    pub sql: PathBuf,
    pub rules: usize,
    pub pools: usize,
}

/// What the SQL is emitted for: the lake it reads, its periods, and (with a currency.toml)
/// each period's rates for the billing currencies the lake has ([`super::period_rates`]).
pub struct Target<'a> {
    pub lake: &'a Path,
    pub periods: &'a [String],
    pub rates: &'a BTreeMap<String, super::Rates>,
}

/// Writes `dir/attribute.sql` and `dir/README.txt`: SQL that reads the target lake's line
/// items of its periods and writes `attributed` as Parquet into `dir/attributed/`, by `compiled`.
pub fn emit(compiled: &Compiled, target: &Target, dialect: Dialect, dir: &Path) -> Result<Emitted, EmitError> {
    let lake = std::path::absolute(target.lake).map_err(|source| write_error(target.lake, source))?;
    let periods = target.periods;
    std::fs::create_dir_all(dir).map_err(|source| write_error(dir, source))?;
    let dir = &std::path::absolute(dir).map_err(|source| write_error(dir, source))?;
    let sql = query::script(compiled, &lake, periods, target.rates, dialect, dir);
    let path = dir.join("attribute.sql");
    std::fs::write(&path, sql).map_err(|source| write_error(&path, source))?;
    let readme = dir.join("README.txt");
    std::fs::write(&readme, readme_text(compiled, &lake, periods, dialect))
        .map_err(|source| write_error(&readme, source))?;
    Ok(Emitted { sql: path, rules: compiled.rules.rules.len(), pools: compiled.pools.all().count() })
}

fn write_error(path: &Path, source: std::io::Error) -> EmitError {
    EmitError::Write { path: path.display().to_string(), source }
}

fn readme_text(compiled: &Compiled, lake: &Path, periods: &[String], dialect: Dialect) -> String {
    let run = match dialect {
        Dialect::Duckdb => "Run it with this folder as the working directory:\n\n    duckdb < attribute.sql\n\n\
             or from Python: duckdb.connect().execute(open('attribute.sql').read())\n\n\
             It writes attributed/ in this folder (Parquet, one folder per billing period),\n\
             replacing what an earlier run wrote there."
            .to_string(),
        Dialect::Spark => "Run it with Spark 4 (local, EMR, Databricks):\n\n    spark-sql -f attribute.sql\n\n\
             or from PySpark: for s in open('attribute.sql').read().split(';\\n'): s.strip() and spark.sql(s)\n\n\
             It writes attributed/ in this folder (the absolute path in its last statement; Parquet, one\n\
             folder per billing period; delete it before running again: Spark will not write into\n\
             a non-empty location). The session settings it needs are SET at its top."
            .to_string(),
    };
    format!(
        "Emitted by `tally attribute --emit-sql --dialect {}` (tally {}), mappings {} ({}).\n\n\
         attribute.sql turns the line items of {} (billing periods {}) into the `attributed`\n\
         table, as `tally attribute` would write it.\n\n{run}\n\n\
         Amounts are exact: integers at 20 decimals, shares by largest remainder with long division\n\
         where a product would pass 38 digits; a split whose weights add to 10^33 units or more\n\
         (10 trillion in the billing currency) stops with an error instead of rounding.\n",
        dialect.name(),
        env!("CARGO_PKG_VERSION"),
        compiled.version,
        compiled.mappings.dir.display(),
        lake.display(),
        periods.join(", "),
    )
}

/// A `glob` pattern (the glob crate's syntax, default options: `*` crosses `/`) as a regex
/// anchored at both ends, the same in RE2 (DuckDB), Java (Spark) and Rust.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^(?s:");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                while i + 1 < chars.len() && chars[i + 1] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    let mut j = i + 1;
                    out.push('[');
                    if chars[j] == '!' {
                        out.push('^');
                        j += 1;
                    }
                    while j < end {
                        let c = chars[j];
                        if matches!(c, '\\' | '[' | ']' | '^') {
                            out.push('\\');
                        }
                        out.push(c);
                        j += 1;
                    }
                    out.push(']');
                    i = end;
                }
                None => out.push_str("\\["),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push_str(")\\z");
    out
}

/// The index of the `]` closing the class that opens at `start`, as the glob crate reads it:
/// a `]` right after `[` or `[!` is a member, not the end.
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while j < chars.len() {
        if chars[j] == ']' {
            return Some(j);
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_regexes_that_match_as_the_glob_crate_does() {
        let cases = [
            ("ns-*", "ns-a/b", true),
            ("ns-*", "xns-a", false),
            ("team-?", "team-1", true),
            ("team-?", "team-12", false),
            ("[ab]-x", "a-x", true),
            ("[!ab]-x", "a-x", false),
            ("[!ab]-x", "c-x", true),
            ("[]]x", "]x", true),
            ("a.b+c", "a.b+c", true),
            ("a.b+c", "aXb+c", false),
            ("[a-c]*", "b-anything", true),
        ];
        for (glob, text, expected) in cases {
            let pattern = glob::Pattern::new(glob).unwrap();
            assert_eq!(pattern.matches(text), expected, "glob crate, {glob} on {text}");
            let re = regex::Regex::new(&glob_to_regex(glob)).unwrap();
            assert_eq!(re.is_match(text), expected, "{glob} as {}", glob_to_regex(glob));
        }
    }
}
