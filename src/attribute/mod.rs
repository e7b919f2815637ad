//! Attribution: every line item of the lake to exactly one team, or split
//! into shares that add back to it exactly, by the ownership mappings.
//!
//! Per billing period: stream the period's line items (files in path order,
//! rows in file order, so output is deterministic), decide each by the rules,
//! split pooled spend, write `attributed` to staging, check the invariants by
//! an independent query, then swap the period in.

pub mod check;
pub mod clusters;
pub mod currency;
pub mod diff;
pub mod emit;
pub mod explain;
pub mod mappings;
pub mod opencost;
pub mod org;
pub mod owners;
mod period;
pub mod pools;
pub mod restate;
pub mod rules;
pub mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, UInt64Type};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressDrawTarget};
use sha2::Digest;

use crate::lake::Lake;
use crate::lake::attributed::{self, StagedPeriod};
use crate::lake::line_items::period_files;
use crate::money::SCALE;
use mappings::{MappingError, Mappings};
use org::Org;
use owners::Method;
pub use period::Rates;
use pools::Pools;
pub use restate::Restate;
use rules::RuleSet;

/// A share of 1 at the money scale.
pub const WHOLE: i128 = 10i128.pow(SCALE as u32);

/// Who owns what: the mappings folder parsed, its org and ownership rules compiled.
/// Loaded once per command or run and shared by every step that reads ownership
/// (budgets, findings, reports, nudges); [`Compiled`] adds what attribution needs.
pub struct Ownership {
    pub mappings: Mappings,
    pub org: Org,
    pub rules: RuleSet,
    /// Short hash of the mapping files: which mappings produced a row.
    pub version: String,
    /// The reporting currency and its rates, when the folder has a currency.toml.
    pub currency: Option<currency::Currency>,
    /// Who owns each container cluster's idle capacity (clusters.toml).
    pub clusters: clusters::Clusters,
}

impl Ownership {
    /// A session over `lake` as these mappings report it: `attributed` in the reporting
    /// currency when the folder has a currency.toml ([`crate::lake::attributed::in_reporting_currency`]).
    pub async fn session(&self, lake: &Lake) -> datafusion::error::Result<datafusion::prelude::SessionContext> {
        let ctx = lake.session().await?;
        if self.currency.is_some() {
            crate::lake::attributed::in_reporting_currency(&ctx).await?;
        }
        Ok(ctx)
    }

    pub fn load(dir: &Path) -> Result<Ownership, MappingError> {
        let mappings = Mappings::load(dir)?;
        let org = Org::compile(&mappings)?;
        Ownership::compile(mappings, org)
    }

    fn compile(mappings: Mappings, org: Org) -> Result<Ownership, MappingError> {
        let rules = RuleSet::compile(&mappings, &org, &Pools::ids(&mappings))?;
        let mut hash = sha2::Sha256::new();
        for (name, text) in &mappings.sources {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
        }
        let version = crate::hashing::hex(&hash.finalize()[..6]);
        let currency = match &mappings.currency {
            Some(file) => {
                let text = mappings.sources.get(currency::FILE).map_or("", String::as_str);
                Some(currency::Currency::load(&mappings.dir, file, text)?)
            }
            None => None,
        };
        let clusters = clusters::Clusters::compile(&mappings, &org)?;
        Ok(Ownership { mappings, org, rules, version, currency, clusters })
    }
}

impl std::fmt::Debug for Ownership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ownership").field("dir", &self.mappings.dir).field("version", &self.version).finish()
    }
}

/// The mappings folder, loaded and compiled for attribution: [`Ownership`] and the
/// shared pools (with their telemetry). Reads as its `Ownership` (`compiled.org`).
pub struct Compiled {
    pub ownership: Arc<Ownership>,
    pub pools: Pools,
}

impl std::ops::Deref for Compiled {
    type Target = Ownership;
    fn deref(&self) -> &Ownership {
        &self.ownership
    }
}

impl Compiled {
    pub fn load(dir: &Path) -> Result<Compiled, MappingError> {
        let mappings = Mappings::load(dir)?;
        let org = Org::compile(&mappings)?;
        // Pools before rules, so a folder with both broken reports the pool first, as always.
        let mut pools = Pools::compile(&mappings, &org)?;
        let ownership = Arc::new(Ownership::compile(mappings, org)?);
        pools.resolve(&ownership);
        Ok(Compiled { ownership, pools })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Locked(String),
    #[error("invariant broken, nothing committed: {0}")]
    Invariant(String),
    #[error("lake {path}: {source}")]
    Lake { path: String, source: std::io::Error },
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

fn lake_error(path: &Path) -> impl FnOnce(std::io::Error) -> AttributeError + '_ {
    move |source| AttributeError::Lake { path: path.display().to_string(), source }
}

/// Money per owner class, for coverage: `[billed, effective]`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub direct: [i128; 2],
    pub shared: [i128; 2],
    pub unallocated: [i128; 2],
}

impl Coverage {
    /// Counts a share's `[billed, effective, ..]` into its owner class, checked.
    pub fn count(&mut self, method: Method, amounts: [i128; 3]) -> Result<(), crate::money::Overflow> {
        let class = match method {
            Method::Direct => &mut self.direct,
            Method::Shared => &mut self.shared,
            Method::Unallocated => &mut self.unallocated,
        };
        crate::money::add(&mut class[0], amounts[0])?;
        crate::money::add(&mut class[1], amounts[1])
    }
}

#[derive(Debug)]
pub struct PeriodOutcome {
    pub period: String,
    pub line_items: u64,
    pub rows: u64,
    /// Currency -> [billed, effective] read from `line_items`.
    pub totals: BTreeMap<String, [i128; 2]>,
    pub coverage: BTreeMap<String, Coverage>,
}

/// Attributes `periods` and swaps them in. A locked period needs `restate`,
/// and its restatement is recorded before the swap.
pub async fn run(
    lake: &Lake,
    compiled: &Compiled,
    periods: &[String],
    progress: bool,
    restate: Option<&Restate>,
) -> Result<Vec<PeriodOutcome>, AttributeError> {
    let locked = restate::locked_periods(lake, periods, restate)?;
    let rates = period_rates(lake, compiled, periods).await?;
    let staging = lake.staging_dir(&format!("attribute-{}", compiled.version));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(lake_error(&staging))?;
    }
    let mut inputs = Vec::new();
    for period in periods {
        let files: Vec<PathBuf> = period_files(lake, Some(period)).into_iter().map(|(_, f)| f).collect();
        if files.is_empty() {
            return Err(AttributeError::Input(format!("no line items for billing period {period} in the lake")));
        }
        inputs.push((period.as_str(), files));
    }
    // Periods are independent: one per core. Each writes its own file, so the
    // bytes do not depend on which finishes first.
    let bars =
        if progress { MultiProgress::new() } else { MultiProgress::with_draw_target(ProgressDrawTarget::hidden()) };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<PeriodResult>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((period, files)) = inputs.get(i) else { break };
                    let rates = rates.get(*period);
                    let result = period::attribute_period(&staging, period, files, compiled, rates, &bars);
                    *slots[i].lock().expect("no panics while holding it") = Some(result);
                }
            });
        }
    });
    let mut staged = Vec::new();
    let mut outcomes = Vec::new();
    for slot in slots {
        let (period_staged, outcome) =
            slot.into_inner().expect("no panics while holding it").expect("every period ran")?;
        staged.push(period_staged);
        outcomes.push(outcome);
    }
    check_invariants(lake, &staging, &outcomes, &staged).await?;
    if let (Some(restate), false) = (restate, locked.is_empty()) {
        restate::record(lake, &staging, &locked, &compiled.version, restate).await?;
    }
    attributed::commit(lake, &staged).map_err(lake_error(lake.root()))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(outcomes)
}

/// Each period's rate into the reporting currency, per billing currency its line items use;
/// empty without currency.toml. Every missing rate is an error, all named at once, before
/// anything is written.
/// Each period's rate into the reporting currency for every billing currency it has (none
/// without a currency.toml); an error listing every pair and month the rates file lacks.
pub async fn period_rates(
    lake: &Lake,
    compiled: &Compiled,
    periods: &[String],
) -> Result<BTreeMap<String, Rates>, AttributeError> {
    let Some(currency) = &compiled.currency else { return Ok(BTreeMap::new()) };
    let ctx = lake.session().await?;
    let listed = periods.iter().map(|p| crate::lake::sql::string_literal(p)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        r#"SELECT DISTINCT billing_period, "BillingCurrency" FROM {} WHERE billing_period IN ({listed}) ORDER BY 1, 2"#,
        crate::lake::LINE_ITEMS
    );
    let mut rates: BTreeMap<String, Rates> = BTreeMap::new();
    let mut missing = Vec::new();
    for batch in crate::lake::sql::query(&ctx, &sql).await?.collect().await? {
        let text = |i: usize| {
            datafusion::arrow::compute::cast(batch.column(i), &datafusion::arrow::datatypes::DataType::Utf8)
                .map_err(datafusion::error::DataFusionError::from)
        };
        let (months, currencies) = (text(0)?, text(1)?);
        let (months, currencies) = (months.as_string::<i32>(), currencies.as_string::<i32>());
        for row in 0..batch.num_rows() {
            if currencies.is_null(row) {
                continue;
            }
            let (month, code) = (months.value(row), currencies.value(row));
            match currency.rate(code, month) {
                Ok(rate) => {
                    rates.entry(month.to_string()).or_default().insert(code.to_string(), rate);
                }
                Err(gap) => missing.push(gap),
            }
        }
    }
    if !missing.is_empty() {
        missing.sort();
        let list: String = missing.iter().map(|m| format!("\n  {m}")).collect();
        return Err(AttributeError::Input(format!(
            "{} exchange rate(s) missing for the reporting currency {} (currency.toml); nothing was written:{list}\n\
             add them to the rates file, or give those months a fixed rate",
            missing.len(),
            currency.reporting
        )));
    }
    Ok(rates)
}

/// The value for `key`, inserted as the default first; allocates the key
/// only when it is new (once per currency, not once per line).
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("just inserted")
}

type PeriodResult = Result<(StagedPeriod, PeriodOutcome), AttributeError>;

/// Line items in a staged file whose shares do not add to exactly 1. A
/// line's rows are written together, so one streaming pass suffices (a
/// group-by over every line item would hold them all in memory). Several
/// line items can share a source row (GCP credits come with their usage
/// row), so a line ends where its shares reach exactly 1; a run of rows
/// that overshoots 1 or stops short of it is a broken line.
fn lines_not_whole(file: &Path) -> Result<u64, String> {
    let shown = || file.display().to_string();
    let reader = std::fs::File::open(file).map_err(|e| format!("{}: {e}", shown()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| format!("{}: {e}", shown()))?;
    let schema = builder.schema().clone();
    let roots = ["x_SourceFile", "x_SourceRow", "share"]
        .iter()
        .map(|name| schema.index_of(name).map_err(|e| format!("{}: {e}", shown())))
        .collect::<Result<Vec<_>, _>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    // The current source file and row; the file's name buffer is reused, not reallocated per line.
    let (mut file_now, mut row_now) = (String::new(), None::<u64>);
    let (mut sum, mut bad) = (0i128, 0u64);
    for batch in builder.with_projection(mask).build().map_err(|e| format!("{}: {e}", shown()))? {
        let batch = batch.map_err(|e| format!("{}: {e}", shown()))?;
        let files = batch.column(0).as_string::<i32>();
        let rows = batch.column(1).as_primitive::<UInt64Type>();
        let shares = batch.column(2).as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            if row_now != Some(rows.value(i)) || file_now != files.value(i) {
                if sum != 0 {
                    bad += 1; // the previous source row's last line stopped short of 1
                }
                if file_now != files.value(i) {
                    file_now.clear();
                    file_now.push_str(files.value(i));
                }
                row_now = Some(rows.value(i));
                sum = 0;
            }
            sum += shares.value(i);
            if sum == WHOLE {
                sum = 0;
            } else if sum > WHOLE || shares.value(i) < 0 {
                bad += 1;
                sum = 0;
            }
        }
    }
    Ok(bad + u64::from(sum != 0))
}

/// Re-reads the staged output and the lake's line items with DataFusion (not
/// the counters above) and insists that, per period and currency, both costs
/// add up exactly, and that every line item's shares add to exactly 1.
async fn check_invariants(
    lake: &Lake,
    staging: &Path,
    outcomes: &[PeriodOutcome],
    staged: &[StagedPeriod],
) -> Result<(), AttributeError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let ctx = lake.session().await?;
    crate::lake::catalogue::register_staged(&ctx, crate::lake::ATTRIBUTED, staging).await?;
    let periods: Vec<String> = outcomes.iter().map(|o| format!("'{}'", o.period)).collect();
    let list = periods.join(", ");
    let sums = |table: &str| {
        format!(
            r#"SELECT billing_period, coalesce("BillingCurrency", '') AS currency, sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
               FROM {table} WHERE billing_period IN ({list}) GROUP BY 1, 2"#
        )
    };
    let query = format!(
        r#"WITH i AS ({}), a AS ({})
           SELECT coalesce(i.billing_period, a.billing_period) AS period, coalesce(i.currency, a.currency) AS currency,
                  CAST(i.billed AS VARCHAR) AS billed_in, CAST(a.billed AS VARCHAR) AS billed_out,
                  CAST(i.effective AS VARCHAR) AS effective_in, CAST(a.effective AS VARCHAR) AS effective_out
           FROM i FULL OUTER JOIN a ON i.billing_period = a.billing_period AND i.currency = a.currency
           WHERE (i.billed IS DISTINCT FROM a.billed) OR (i.effective IS DISTINCT FROM a.effective)"#,
        sums(crate::lake::LINE_ITEMS),
        sums(crate::lake::ATTRIBUTED)
    );
    let broken = crate::lake::sql::query(&ctx, &query).await?.collect().await?;
    let mut problems = Vec::new();
    for batch in &broken {
        for row in 0..batch.num_rows() {
            let cell = |i: usize| {
                let column = batch.column(i).as_string::<i32>();
                if column.is_null(row) { "none".to_string() } else { column.value(row).to_string() }
            };
            problems.push(format!(
                "{} {}: billed {} in, {} attributed; effective {} in, {} attributed",
                cell(0),
                cell(1),
                cell(2),
                cell(3),
                cell(4),
                cell(5)
            ));
        }
    }
    let mut bad_lines = 0;
    for period in staged {
        bad_lines += lines_not_whole(&period.staged).map_err(AttributeError::Input)?;
    }
    if bad_lines > 0 {
        problems.push(format!("{bad_lines} line item(s) whose shares do not add to 1"));
    }
    if !problems.is_empty() {
        return Err(AttributeError::Invariant(problems.join("; ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::attributed::{PeriodWriter, Row, text_index};

    #[test]
    fn streaming_share_check_finds_short_and_overshooting_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = PeriodWriter::create(dir.path(), "2026-08").unwrap();
        let half = WHOLE / 2;
        // (source row, share): row 1 is split in halves; row 2 stops at a half; row 3 holds two
        // whole line items (a GCP usage row and its credit); row 4 overshoots; row 5 is whole.
        for (row, share) in [
            (1, half),
            (1, half),
            (2, half),
            (3, WHOLE),
            (3, WHOLE),
            (4, 7 * WHOLE / 10),
            (4, 7 * WHOLE / 10),
            (5, WHOLE),
        ] {
            let mut out = Row { source_row: Some(row), share, ..Row::default() };
            out.text[text_index("x_SourceFile")] = Some("cur.csv");
            writer.push(&out).unwrap();
        }
        let staged = writer.finish().unwrap();
        assert_eq!(lines_not_whole(&staged.staged).unwrap(), 2);
    }
}
