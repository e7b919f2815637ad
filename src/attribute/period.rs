//! One billing period's attribution: the hot loop. Each line is decided and
//! split by [`Owners`] (the path `diff` and `explain` share) and written as one
//! `attributed` row per share; the shares must add back to the line exactly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::owners::{FxBuild, Owners};
use super::scan::{INPUT_COLUMNS, Input, input_column, read_columns};
use super::{AttributeError, Compiled, PeriodOutcome, PeriodResult, WHOLE, entry, lake_error};
use crate::lake::attributed::{self, PeriodWriter, Row, text_index};
use crate::lake::line_items::provider_of;
use crate::money;

// Where attribution writes each of its columns in a row (checked when built).
const PROVIDER: usize = text_index("provider");
const MAPPINGS_VERSION: usize = text_index("mappings_version");
const TEAM: usize = text_index("team");
const ORG_PATH: usize = text_index("org_path");
const ORG_PATH_CURRENT: usize = text_index("org_path_current");
const RULE_ID: usize = text_index("rule_id");
const METHOD: usize = text_index("method");
const POOL: usize = text_index("pool");
const SPLIT: usize = text_index("split");
const UNALLOCATED_REASON: usize = text_index("unallocated_reason");
const REPORTING_CURRENCY: usize = text_index("x_ReportingCurrency");
const RATE_POLICY: usize = text_index("x_ExchangeRatePolicy");
const CLUSTER: usize = text_index("x_Cluster");
const NAMESPACE: usize = text_index("x_Namespace");
const WORKLOAD: usize = text_index("x_Workload");

/// A period's rate into the reporting currency, per billing currency.
/// A period's rate into the reporting currency, by billing currency.
pub type Rates = BTreeMap<String, super::currency::Rate>;

/// Days since 1970-01-01 (Arrow's Date32).
fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")).num_days() as i32
}

/// `org_path` and `org_path_current` per (team id, charge date).
type Paths = HashMap<(u32, NaiveDate), (String, String), FxBuild>;

fn paths<'p>(
    cache: &'p mut Paths,
    compiled: &Compiled,
    team: u32,
    name: &str,
    date: NaiveDate,
    latest: NaiveDate,
) -> (&'p str, &'p str) {
    let (path, current) = cache
        .entry((team, date))
        .or_insert_with(|| (compiled.org.path(name, date), compiled.org.path(name, latest.max(date))));
    (path, current)
}

fn overflowed(period: &str, what: &str, e: money::Overflow) -> AttributeError {
    AttributeError::Input(format!("billing period {period}: summing {what}: the {e}"))
}

pub(super) fn attribute_period(
    staging: &Path,
    period: &str,
    files: &[PathBuf],
    compiled: &Compiled,
    rates: Option<&Rates>,
    bars: &MultiProgress,
) -> PeriodResult {
    let reporting = compiled.currency.as_ref().map(|c| c.reporting);
    let mut owners = Owners::new(compiled);

    let bar = bars.add(ProgressBar::no_length());
    bar.set_style(
        ProgressStyle::with_template("{spinner} attributing {msg}: {human_pos} line items ({per_sec})")
            .expect("valid template"),
    );
    bar.set_message(period.to_string());

    // Proportional pools split by each team's direct spend in the period: a first pass
    // decides every line and keeps its key, so the second pass decides nothing.
    let line_keys =
        owners.first_pass(files).map_err(|e| AttributeError::Input(format!("billing period {period}: {e}")))?;

    let mut writer = PeriodWriter::create(staging, period).map_err(lake_error(staging))?;
    let mut outcome = PeriodOutcome {
        period: period.to_string(),
        line_items: 0,
        rows: 0,
        totals: BTreeMap::new(),
        coverage: BTreeMap::new(),
    };
    let passed_through: Vec<(usize, usize)> =
        attributed::copied_from_line_item().map(|(name, index)| (input_column(name), index)).collect();
    let currency_at = input_column("BillingCurrency");
    let source_file_at = input_column("x_SourceFile");
    let latest = compiled.org.latest_move();
    let mut path_cache = Paths::default();
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
                    None => owners.key(&input, row, date),
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
                base.text[PROVIDER] = Some(&provider);
                for (at, index) in &passed_through {
                    base.text[*index] = input.text_at(*at, row);
                }
                base.text[MAPPINGS_VERSION] = Some(&compiled.version);
                // Every currency of the period has its rate (checked before any period ran).
                let rate = match (reporting, rates) {
                    (Some(reporting), Some(rates)) => {
                        let rate = rates.get(currency).ok_or_else(|| {
                            AttributeError::Invariant(format!("billing period {period}: no rate for {currency}"))
                        })?;
                        base.text[REPORTING_CURRENCY] = Some(reporting);
                        base.text[RATE_POLICY] = Some(rate.policy);
                        base.rate = Some(rate.rate);
                        base.rate_date = rate.date.map(days_since_epoch);
                        Some(rate.rate)
                    }
                    _ => None,
                };

                let coverage = entry(&mut outcome.coverage, currency);
                let mut sum = [0i128; 3];
                owners.line_shares(key, input.site(row), date, amounts, |share| -> Result<(), AttributeError> {
                    coverage
                        .count(share.method, share.amounts)
                        .map_err(|e| overflowed(period, share.method.name(), e))?;
                    for (s, p) in sum.iter_mut().zip(share.amounts) {
                        *s += p;
                    }
                    let (path, current) = paths(&mut path_cache, compiled, share.team_id, share.team, date, latest);
                    let mut out = base.clone();
                    out.text[TEAM] = Some(share.team);
                    out.text[ORG_PATH] = Some(path);
                    out.text[ORG_PATH_CURRENT] = Some(current);
                    out.text[RULE_ID] = share.rule_id;
                    out.text[METHOD] = Some(share.method.name());
                    out.text[POOL] = share.pool_chain;
                    out.text[SPLIT] = share.split;
                    out.text[UNALLOCATED_REASON] = share.unallocated_reason;
                    // A node's share split by its pods: the pods' cluster, namespace, workload.
                    if share.cluster.is_some() {
                        out.text[CLUSTER] = share.cluster;
                        out.text[NAMESPACE] = share.namespace;
                        out.text[WORKLOAD] = share.workload;
                    }
                    out.share = share.amounts[2];
                    out.billed = share.amounts[0];
                    out.effective = share.amounts[1];
                    if let Some(rate) = rate {
                        let convert = |amount| {
                            money::convert(amount, rate).map_err(|e| overflowed(period, "the converted amounts", e))
                        };
                        out.reporting = Some([convert(out.billed)?, convert(out.effective)?]);
                    }
                    writer.push(&out).map_err(lake_error(staging))
                })?;
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
