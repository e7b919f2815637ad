//! One billing period's attribution: the hot loop.
//!
//! Rules look at a handful of columns (accounts, service, region, charge
//! category, resource, tags) and, through `from`/`until`, at the span of
//! rule dates the charge falls in. Hourly billing repeats the same values on
//! many lines, so the rules decide once per distinct combination (a line
//! key) and every other line with that key looks the decision up. Decisions
//! are held as ids (team, rule, pool, reason), not strings; a pool's split
//! weights are worked out once per pool and day.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::assign::Method;
use super::org::UNALLOCATED;
use super::pools::Plan;
use super::rules::{self, Decision};
use super::scan::{INPUT_COLUMNS, Input, input_column, read_columns};
use super::{AttributeError, Compiled, PASSED_THROUGH, PeriodOutcome, PeriodResult, WHOLE, entry, lake_error};
use crate::lake::attributed::{PeriodWriter, Row, text_index};
use crate::lake::line_items::provider_of;
use crate::money;

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

/// The text columns a rule can look at, besides tags and date (`LineView`).
const KEY_TEXT: [usize; 8] = [
    input_column("BillingAccountId"),
    input_column("SubAccountId"),
    input_column("ServiceName"),
    input_column("x_ServiceCode"),
    input_column("RegionId"),
    input_column("ChargeCategory"),
    input_column("ResourceId"),
    input_column("x_ResourceGroup"),
];

/// Distinct line keys kept before the map starts over (bounds memory when
/// nearly every line is unique, e.g. a tag with a per-request value).
const KEY_LIMIT: usize = 1 << 20;

/// What the rules decided for a line key, as ids.
#[derive(Debug, Clone, Copy)]
enum Owner {
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

/// Line key -> decision, deciding each key once.
struct Decider<'c> {
    compiled: &'c Compiled,
    breaks: Vec<NaiveDate>,
    keys: HashMap<Box<[u8]>, u32, FxBuild>,
    owners: Vec<Owner>,
    buffer: Vec<u8>,
    scratch: rules::Scratch,
    teams: Interned,
    pools: Interned,
    reasons: Interned,
}

impl<'c> Decider<'c> {
    fn new(compiled: &'c Compiled) -> Self {
        // Every team up front: pool plans then find their teams' ids without
        // changing the table while rows borrow from it.
        let mut teams = Interned::default();
        teams.id(UNALLOCATED);
        for team in compiled.org.teams() {
            teams.id(team);
        }
        Decider {
            compiled,
            breaks: compiled.rules.date_breaks(),
            keys: HashMap::default(),
            owners: Vec::new(),
            buffer: Vec::new(),
            scratch: rules::Scratch::default(),
            teams,
            pools: Interned::default(),
            reasons: Interned::default(),
        }
    }

    /// The key id of line `row`, charged on `date`, deciding it if new.
    fn key(&mut self, input: &Input, row: usize, date: NaiveDate) -> u32 {
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
        let owner = match rules.decide(&view, org, &mut self.scratch) {
            Decision::Team { rule, team } => Owner::Team { rule: rule as u32, team: self.teams.id(&team) },
            Decision::Pool { rule, pool } => Owner::Pool { rule: rule as u32, pool: self.pools.id(&pool) },
            Decision::Unallocated { reason } => Owner::Unallocated { reason: self.reasons.id(&reason) },
        };
        if self.keys.len() >= KEY_LIMIT {
            self.keys.clear();
        }
        let id = self.owners.len() as u32;
        self.owners.push(owner);
        self.keys.insert(self.buffer.as_slice().into(), id);
        id
    }
}

/// `org_path` and `org_path_current` per (team id, charge date).
type Paths = HashMap<(u32, NaiveDate), (String, String), FxBuild>;

fn paths<'p>(
    cache: &'p mut Paths,
    compiled: &Compiled,
    teams: &[String],
    team: u32,
    date: NaiveDate,
    latest: NaiveDate,
) -> (&'p str, &'p str) {
    let (path, current) = cache.entry((team, date)).or_insert_with(|| {
        let name = &teams[team as usize];
        (compiled.org.path(name, date), compiled.org.path(name, latest.max(date)))
    });
    (path, current)
}

/// Pool plans per (pool id, charge date), with the ids of the plan's teams.
type Plans = HashMap<(u32, NaiveDate), Result<(Plan, Vec<u32>), String>, FxBuild>;

/// The columns of the first pass: what decides a line, and its EffectiveCost.
fn first_pass_columns() -> Vec<&'static str> {
    let mut columns: Vec<&str> = KEY_TEXT.iter().map(|c| INPUT_COLUMNS[*c]).collect();
    columns.extend(["Tags", "ChargePeriodStart", "BilledCost", "EffectiveCost", "x_SourceRow"]);
    columns
}

fn overflowed(period: &str, what: &str, e: money::Overflow) -> AttributeError {
    AttributeError::Input(format!("billing period {period}: summing {what}: the {e}"))
}

pub(super) fn attribute_period(
    staging: &Path,
    period: &str,
    files: &[PathBuf],
    compiled: &Compiled,
    bars: &MultiProgress,
) -> PeriodResult {
    let (org, rules, pools) = (&compiled.org, &compiled.rules, &compiled.pools);
    let mut decider = Decider::new(compiled);

    let bar = bars.add(ProgressBar::no_length());
    bar.set_style(
        ProgressStyle::with_template("{spinner} attributing {msg}: {human_pos} line items ({per_sec})")
            .expect("valid template"),
    );
    bar.set_message(period.to_string());

    // Proportional pools split by each team's direct spend in the period: a
    // first pass decides every line (reading only what decides it) and keeps
    // each line's key id, so the second pass decides nothing.
    let mut line_keys: Option<Vec<u32>> = None;
    let mut direct: HashMap<String, i128> = HashMap::new();
    if pools.needs_direct_spend() {
        let columns = first_pass_columns();
        let mut keys = Vec::new();
        let mut spend: Vec<Option<i128>> = Vec::new();
        for file in files {
            for batch in read_columns(file, &columns).map_err(AttributeError::Input)? {
                let batch = batch.map_err(AttributeError::Input)?;
                let input = Input::new(&batch);
                for row in 0..batch.num_rows() {
                    let key = decider.key(&input, row, input.date(row));
                    keys.push(key);
                    if let Owner::Team { team, .. } = decider.owners[key as usize] {
                        if spend.len() <= team as usize {
                            spend.resize(team as usize + 1, None);
                        }
                        money::add(spend[team as usize].get_or_insert(0), input.effective.value(row))
                            .map_err(|e| overflowed(period, "direct EffectiveCost of a team", e))?;
                    }
                }
            }
        }
        for (team, sum) in spend.iter().enumerate() {
            if let Some(sum) = sum {
                direct.insert(decider.teams.names[team].clone(), *sum);
            }
        }
        line_keys = Some(keys);
    }

    let mut writer = PeriodWriter::create(staging, period).map_err(lake_error(staging))?;
    let mut outcome = PeriodOutcome {
        period: period.to_string(),
        line_items: 0,
        rows: 0,
        totals: BTreeMap::new(),
        coverage: BTreeMap::new(),
    };
    let passed_through: Vec<(usize, usize)> =
        PASSED_THROUGH.iter().map(|name| (input_column(name), text_index(name))).collect();
    let currency_at = input_column("BillingCurrency");
    let source_file_at = input_column("x_SourceFile");
    let latest = org.latest_move();
    let mut path_cache = Paths::default();
    let mut plans = Plans::default();
    let mut pieces = Vec::new();
    let columns: Vec<&str> = INPUT_COLUMNS.iter().copied().filter(|c| line_keys.is_none() || *c != "Tags").collect();
    let mut line = 0usize;
    for file in files {
        let provider = provider_of(file);
        for batch in read_columns(file, &columns).map_err(AttributeError::Input)? {
            let batch = batch.map_err(AttributeError::Input)?;
            let input = Input::new(&batch);
            for row in 0..batch.num_rows() {
                let date = input.date(row);
                let key = match &line_keys {
                    Some(keys) => keys[line],
                    None => decider.key(&input, row, date),
                };
                line += 1;
                let amounts = [input.billed.value(row), input.effective.value(row), WHOLE];
                let currency = input.text_at(currency_at, row).unwrap_or("");
                let total = entry(&mut outcome.totals, currency);
                money::add(&mut total[0], amounts[0])
                    .and_then(|()| money::add(&mut total[1], amounts[1]))
                    .map_err(|e| overflowed(period, "the period's total", e))?;
                outcome.line_items += 1;

                let mut base = Row {
                    charge_period_start: input.start_micros(row),
                    source_row: Some(input.source_row.value(row)),
                    ..Row::default()
                };
                base.text[text_index("provider")] = Some(&provider);
                for (at, index) in &passed_through {
                    base.text[*index] = input.text_at(*at, row);
                }
                base.text[text_index("mappings_version")] = Some(&compiled.version);

                let coverage = entry(&mut outcome.coverage, currency);
                let mut sum = [0i128; 3];
                // One output row: (team id, rule, method, pool chain, split kinds, reason, amounts).
                let mut emit = |team: u32,
                                rule: Option<u32>,
                                method: Method,
                                pool: Option<&str>,
                                split: Option<&str>,
                                reason: Option<&str>,
                                part: [i128; 3]|
                 -> Result<(), AttributeError> {
                    let class = match method {
                        Method::Direct => &mut coverage.direct,
                        Method::Shared => &mut coverage.shared,
                        Method::Unallocated => &mut coverage.unallocated,
                    };
                    money::add(&mut class[0], part[0])
                        .and_then(|()| money::add(&mut class[1], part[1]))
                        .map_err(|e| overflowed(period, method.name(), e))?;
                    for (s, p) in sum.iter_mut().zip(part) {
                        *s += p;
                    }
                    let (path, current) = paths(&mut path_cache, compiled, &decider.teams.names, team, date, latest);
                    let mut out = base.clone();
                    out.text[text_index("team")] = Some(&decider.teams.names[team as usize]);
                    out.text[text_index("org_path")] = Some(path);
                    out.text[text_index("org_path_current")] = Some(current);
                    out.text[text_index("rule_id")] = rule.map(|r| rules.rules[r as usize].id.as_str());
                    out.text[text_index("method")] = Some(method.name());
                    out.text[text_index("pool")] = pool;
                    out.text[text_index("split")] = split;
                    out.text[text_index("unallocated_reason")] = reason;
                    out.share = part[2];
                    out.billed = part[0];
                    out.effective = part[1];
                    writer.push(&out).map_err(lake_error(staging))
                };
                match decider.owners[key as usize] {
                    Owner::Team { rule, team } => emit(team, Some(rule), Method::Direct, None, None, None, amounts)?,
                    Owner::Unallocated { reason } => emit(
                        0,
                        None,
                        Method::Unallocated,
                        None,
                        None,
                        Some(&decider.reasons.names[reason as usize]),
                        amounts,
                    )?,
                    Owner::Pool { rule, pool } => {
                        let pool_id = decider.pools.names[pool as usize].as_str();
                        let plan = plans.entry((pool, date)).or_insert_with(|| {
                            let plan = pools.plan(pool_id, date, org, &direct)?;
                            let teams = plan.leaves.iter().map(|leaf| decider.teams.ids[&leaf.team]).collect();
                            Ok((plan, teams))
                        });
                        pieces.clear();
                        let split = match plan {
                            Ok((plan, teams)) => plan.split(amounts, &mut pieces).map(|()| (plan, teams)),
                            Err(reason) => Err(reason.clone()),
                        };
                        match split {
                            Ok((plan, teams)) => {
                                for (leaf, part) in &pieces {
                                    let leaf_info = &plan.leaves[*leaf];
                                    emit(
                                        teams[*leaf],
                                        Some(rule),
                                        Method::Shared,
                                        Some(&leaf_info.chain),
                                        Some(&leaf_info.kinds),
                                        None,
                                        *part,
                                    )?;
                                }
                            }
                            Err(reason) => {
                                emit(0, Some(rule), Method::Unallocated, Some(pool_id), None, Some(&reason), amounts)?
                            }
                        }
                    }
                }
                if sum != amounts {
                    return Err(AttributeError::Invariant(format!(
                        "{}:row {}: shares add to {sum:?}, not {amounts:?}",
                        input.text_at(source_file_at, row).unwrap_or("?"),
                        input.source_row.value(row)
                    )));
                }
            }
            bar.inc(batch.num_rows() as u64);
        }
    }
    bar.finish_and_clear();
    outcome.rows = writer.rows;
    let staged = writer.finish().map_err(lake_error(staging))?;
    Ok((staged, outcome))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Decimal128Array, MapBuilder, StringArray, StringBuilder, TimestampMicrosecondArray, UInt64Array,
    };
    use datafusion::arrow::record_batch::RecordBatch;

    use super::*;

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
        let mut decider = Decider::new(&compiled);
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
            .map(|k| match decider.owners[*k as usize] {
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
