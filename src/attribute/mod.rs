//! Attribution: every line item of the lake to exactly one team, or split
//! into shares that add back to it exactly, by the ownership mappings.
//!
//! Per billing period: stream the period's line items (files in path order,
//! rows in file order, so output is deterministic), decide each by the rules,
//! split pooled spend, write `attributed` to staging, check the invariants by
//! an independent query, then swap the period in.

pub mod mappings;
pub mod org;
pub mod pools;
pub mod rules;
pub mod split;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{
    Array, AsArray, Decimal128Array, MapArray, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::Digest;

use crate::lake::Lake;
use crate::lake::attributed::{self, PeriodWriter, Row, StagedPeriod, text_index};
use crate::money::SCALE;
use mappings::{MappingError, Mappings};
use org::{Org, UNALLOCATED};
use pools::Pools;
use rules::{Decision, LineView, RuleSet};

/// A share of 1 at the money scale.
pub const WHOLE: i128 = 10i128.pow(SCALE as u32);

/// The mappings folder, loaded and compiled.
pub struct Compiled {
    pub mappings: Mappings,
    pub org: Org,
    pub pools: Pools,
    pub rules: RuleSet,
    /// Short hash of the mapping files: which mappings produced a row.
    pub version: String,
}

impl Compiled {
    pub fn load(dir: &Path) -> Result<Compiled, MappingError> {
        let mappings = Mappings::load(dir)?;
        let org = Org::compile(&mappings)?;
        let pools = Pools::compile(&mappings, &org)?;
        let rules = RuleSet::compile(&mappings, &org, &Pools::ids(&mappings))?;
        let mut hash = sha2::Sha256::new();
        for (name, text) in &mappings.sources {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
        }
        let version = hash.finalize()[..6].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Compiled { mappings, org, pools, rules, version })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Input(String),
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

#[derive(Debug)]
pub struct PeriodOutcome {
    pub period: String,
    pub line_items: u64,
    pub rows: u64,
    /// Currency -> [billed, effective] read from `line_items`.
    pub totals: BTreeMap<String, [i128; 2]>,
    pub coverage: BTreeMap<String, Coverage>,
}

/// The periods (`YYYY-MM`) present in the lake's line items, sorted.
pub fn lake_periods(lake: &Lake) -> Vec<String> {
    let mut periods: Vec<String> = period_files(lake, None).into_iter().map(|(p, _)| p).collect();
    periods.dedup();
    periods
}

/// (period, file) for every line-item file, sorted by period then path.
fn period_files(lake: &Lake, only: Option<&str>) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = walkdir::WalkDir::new(lake.table_dir("line_items"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "parquet"))
        .filter_map(|e| {
            let period = e.path().parent()?.file_name()?.to_str()?.strip_prefix("billing_period=")?.to_string();
            Some((period, e.into_path()))
        })
        .filter(|(p, _)| only.is_none_or(|o| o == p))
        .collect();
    files.sort();
    files
}

pub async fn run(
    lake: &Lake,
    compiled: &Compiled,
    periods: &[String],
    progress: bool,
) -> Result<Vec<PeriodOutcome>, AttributeError> {
    let staging = lake.staging_dir(&format!("attribute-{}", compiled.version));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(lake_error(&staging))?;
    }
    let mut staged = Vec::new();
    let mut outcomes = Vec::new();
    for period in periods {
        let files: Vec<PathBuf> = period_files(lake, Some(period)).into_iter().map(|(_, f)| f).collect();
        if files.is_empty() {
            return Err(AttributeError::Input(format!("no line items for billing period {period} in the lake")));
        }
        let (period_staged, outcome) = attribute_period(&staging, period, &files, compiled, progress)?;
        staged.push(period_staged);
        outcomes.push(outcome);
    }
    check_invariants(lake, &staging, &outcomes).await?;
    attributed::commit(lake, &staged).map_err(lake_error(lake.root()))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(outcomes)
}

/// `line_items` columns copied unchanged onto every attributed row.
const PASSED_THROUGH: [&str; 10] = [
    "BillingCurrency",
    "ChargeCategory",
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "x_ServiceCode",
    "RegionId",
    "ResourceId",
    "x_SourceFile",
    "x_SourceLineItemId",
];

/// The columns attribution reads from `line_items`.
const INPUT_COLUMNS: [&str; 16] = [
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "x_ServiceCode",
    "RegionId",
    "ResourceId",
    "Tags",
    "ChargePeriodStart",
    "ChargeCategory",
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "x_SourceFile",
    "x_SourceRow",
    "x_SourceLineItemId",
];

fn read_batches(path: &Path) -> Result<impl Iterator<Item = Result<RecordBatch, String>>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema = builder.schema().clone();
    let mut roots = Vec::new();
    for name in INPUT_COLUMNS {
        roots.push(schema.index_of(name).map_err(|_| format!("{}: no column {name}", path.display()))?);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| e.to_string())?;
    let shown = path.display().to_string();
    Ok(reader.map(move |b| b.map_err(|e| format!("{shown}: {e}"))))
}

/// Typed access to one input batch.
struct Input<'b> {
    text: HashMap<&'static str, &'b StringArray>,
    tags: &'b MapArray,
    start: &'b TimestampMicrosecondArray,
    billed: &'b Decimal128Array,
    effective: &'b Decimal128Array,
    source_row: &'b UInt64Array,
}

impl<'b> Input<'b> {
    fn new(batch: &'b RecordBatch) -> Input<'b> {
        let mut text = HashMap::new();
        for name in INPUT_COLUMNS {
            let column = batch.column_by_name(name).expect("projected");
            if column.data_type() == &DataType::Utf8 {
                text.insert(name, column.as_string::<i32>());
            }
        }
        let column = |name: &str| batch.column_by_name(name).expect("projected");
        Input {
            text,
            tags: column("Tags").as_map(),
            start: column("ChargePeriodStart").as_primitive(),
            billed: column("BilledCost").as_primitive(),
            effective: column("EffectiveCost").as_primitive(),
            source_row: column("x_SourceRow").as_primitive(),
        }
    }

    fn text(&self, name: &str, row: usize) -> Option<&'b str> {
        let array = self.text.get(name)?;
        (!array.is_null(row)).then(|| array.value(row))
    }

    fn tags(&self, row: usize) -> Vec<(&'b str, &'b str)> {
        if self.tags.is_null(row) {
            return Vec::new();
        }
        let offsets = self.tags.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let keys = self.tags.keys().as_string::<i32>();
        let values = self.tags.values().as_string::<i32>();
        (start..end).filter(|i| !values.is_null(*i)).map(|i| (keys.value(i), values.value(i))).collect()
    }

    fn date(&self, row: usize) -> NaiveDate {
        let micros = if self.start.is_null(row) { 0 } else { self.start.value(row) };
        DateTime::from_timestamp_micros(micros).map(|t| t.date_naive()).unwrap_or_default()
    }
}

/// Team paths by date, computed once per (date, team).
#[derive(Default)]
struct PathCache(HashMap<NaiveDate, HashMap<String, String>>);

impl PathCache {
    fn get(&mut self, org: &Org, team: &str, date: NaiveDate) -> &str {
        let day = self.0.entry(date).or_default();
        if !day.contains_key(team) {
            day.insert(team.to_string(), org.path(team, date));
        }
        &day[team]
    }
}

fn attribute_period(
    staging: &Path,
    period: &str,
    files: &[PathBuf],
    compiled: &Compiled,
    progress: bool,
) -> Result<(StagedPeriod, PeriodOutcome), AttributeError> {
    let Compiled { org, pools, rules, .. } = compiled;
    let mut scratch = Vec::new();

    // Proportional pools split by each team's direct spend in the period: a first pass.
    let mut direct: HashMap<String, i128> = HashMap::new();
    if pools.needs_direct_spend() {
        for file in files {
            for batch in read_batches(file).map_err(AttributeError::Input)? {
                let batch = batch.map_err(AttributeError::Input)?;
                let input = Input::new(&batch);
                for row in 0..batch.num_rows() {
                    let view = line_view(&input, row, rules);
                    if let Decision::Team { team, .. } = rules.decide(&view, org, &mut scratch) {
                        *direct.entry(team).or_default() += input.effective.value(row);
                    }
                }
            }
        }
    }

    let bar = if progress {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} attributing {msg}: {human_pos} line items ({per_sec})")
            .expect("valid template"),
    );
    bar.set_message(period.to_string());

    let mut writer = PeriodWriter::create(staging, period).map_err(lake_error(staging))?;
    let mut outcome = PeriodOutcome {
        period: period.to_string(),
        line_items: 0,
        rows: 0,
        totals: BTreeMap::new(),
        coverage: BTreeMap::new(),
    };
    let passed_through: Vec<(&str, usize)> = PASSED_THROUGH.iter().map(|name| (*name, text_index(name))).collect();
    let mut paths = PathCache::default();
    let latest = org.latest_move();
    let mut current_paths = PathCache::default();
    for file in files {
        let provider = file
            .parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("provider="))
            .unwrap_or("unknown")
            .to_string();
        for batch in read_batches(file).map_err(AttributeError::Input)? {
            let batch = batch.map_err(AttributeError::Input)?;
            let input = Input::new(&batch);
            for row in 0..batch.num_rows() {
                let view = line_view(&input, row, rules);
                let amounts = [input.billed.value(row), input.effective.value(row), WHOLE];
                let currency = input.text("BillingCurrency", row).unwrap_or("").to_string();
                let total = outcome.totals.entry(currency.clone()).or_default();
                total[0] += amounts[0];
                total[1] += amounts[1];
                outcome.line_items += 1;

                let mut base = Row {
                    charge_period_start: (!input.start.is_null(row)).then(|| input.start.value(row)),
                    source_row: Some(input.source_row.value(row)),
                    ..Row::default()
                };
                base.text[text_index("provider")] = Some(&provider);
                for (name, index) in &passed_through {
                    base.text[*index] = input.text(name, row);
                }
                base.text[text_index("mappings_version")] = Some(&compiled.version);

                let decision = rules.decide(&view, org, &mut scratch);
                // (team, rule, method, pools, split kinds, reason, amounts)
                let pieces: Vec<Assignment> = match &decision {
                    Decision::Team { rule, team } => {
                        vec![(
                            team.clone(),
                            Some(rules.rules[*rule].id.as_str()),
                            "direct",
                            String::new(),
                            String::new(),
                            None,
                            amounts,
                        )]
                    }
                    Decision::Pool { rule, pool } => {
                        let rule_id = Some(rules.rules[*rule].id.as_str());
                        match pools.split(pool, amounts, view.date, org, &direct) {
                            Ok(pieces) => pieces
                                .into_iter()
                                .map(|p| {
                                    let kinds: Vec<&str> = p.pools.iter().map(|id| pools.get(id).kind.name()).collect();
                                    (p.team, rule_id, "shared", p.pools.join(" > "), kinds.join(" > "), None, p.amounts)
                                })
                                .collect(),
                            Err(reason) => vec![(
                                UNALLOCATED.to_string(),
                                rule_id,
                                "unallocated",
                                pool.clone(),
                                String::new(),
                                Some(reason),
                                amounts,
                            )],
                        }
                    }
                    Decision::Unallocated { reason } => {
                        vec![(
                            UNALLOCATED.to_string(),
                            None,
                            "unallocated",
                            String::new(),
                            String::new(),
                            Some(reason.clone()),
                            amounts,
                        )]
                    }
                };
                let sum: [i128; 3] =
                    pieces.iter().fold([0; 3], |acc, p| [acc[0] + p.6[0], acc[1] + p.6[1], acc[2] + p.6[2]]);
                if sum != amounts {
                    return Err(AttributeError::Invariant(format!(
                        "{}:row {}: shares add to {sum:?}, not {amounts:?}",
                        input.text("x_SourceFile", row).unwrap_or("?"),
                        input.source_row.value(row)
                    )));
                }
                let coverage = outcome.coverage.entry(currency).or_default();
                for (team, rule_id, method, pool_chain, kinds, reason, part) in &pieces {
                    let class = match *method {
                        "direct" => &mut coverage.direct,
                        "shared" => &mut coverage.shared,
                        _ => &mut coverage.unallocated,
                    };
                    class[0] += part[0];
                    class[1] += part[1];
                    let mut out = base.clone();
                    let path = paths.get(org, team, view.date).to_string();
                    let current = current_paths.get(org, team, latest.max(view.date)).to_string();
                    out.text[text_index("team")] = Some(team);
                    out.text[text_index("org_path")] = Some(&path);
                    out.text[text_index("org_path_current")] = Some(&current);
                    out.text[text_index("rule_id")] = *rule_id;
                    out.text[text_index("method")] = Some(method);
                    out.text[text_index("pool")] = (!pool_chain.is_empty()).then_some(pool_chain.as_str());
                    out.text[text_index("split")] = (!kinds.is_empty()).then_some(kinds.as_str());
                    out.text[text_index("unallocated_reason")] = reason.as_deref();
                    out.share = part[2];
                    out.billed = part[0];
                    out.effective = part[1];
                    writer.push(&out).map_err(lake_error(staging))?;
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

/// One owner of (part of) a line: team, rule id, method, pool chain, split
/// kinds, unallocated reason, and `[billed, effective, share]`.
type Assignment<'a> = (String, Option<&'a str>, &'a str, String, String, Option<String>, [i128; 3]);

fn line_view<'b>(input: &Input<'b>, row: usize, rules: &RuleSet) -> LineView<'b> {
    LineView {
        billing_account: input.text("BillingAccountId", row),
        sub_account: input.text("SubAccountId", row),
        service_name: input.text("ServiceName", row),
        service_code: input.text("x_ServiceCode", row),
        region: input.text("RegionId", row),
        charge_category: input.text("ChargeCategory", row),
        resource_id: input.text("ResourceId", row),
        tags: rules.canonical_tags(input.tags(row).into_iter()),
        date: input.date(row),
    }
}

/// Re-reads the staged output and the lake's line items with DataFusion (not
/// the counters above) and insists that, per period and currency, both costs
/// add up exactly, and that every line item's shares add to exactly 1.
async fn check_invariants(lake: &Lake, staging: &Path, outcomes: &[PeriodOutcome]) -> Result<(), AttributeError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let ctx = lake.session().await?;
    ctx.deregister_table("attributed")?;
    crate::lake::register_parquet_dir(
        &ctx,
        "attributed",
        staging,
        Some(attributed::SCHEMA.clone()),
        &["billing_period"],
    )
    .await?;
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
        sums("line_items"),
        sums("attributed")
    );
    let broken = ctx.sql(&query).await?.collect().await?;
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
    let shares = ctx
        .sql(
            r#"SELECT count(*) FROM (SELECT "x_SourceFile", "x_SourceRow" FROM attributed
               GROUP BY 1, 2 HAVING sum(share) <> 1)"#,
        )
        .await?
        .collect()
        .await?;
    let bad_lines =
        shares.first().map_or(0, |b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0));
    if bad_lines > 0 {
        problems.push(format!("{bad_lines} line item(s) whose shares do not add to 1"));
    }
    if !problems.is_empty() {
        return Err(AttributeError::Invariant(problems.join("; ")));
    }
    Ok(())
}
