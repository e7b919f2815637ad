//! Writing line items: one Parquet file per (provider, billing period,
//! billing account), built in staging and then moved into place.
//!
//! That triple is the unit of replacement. AWS rewrites a month's CUR until it
//! is final; ingesting the new delivery replaces exactly that month of that
//! payer account and leaves other accounts' months alone. Azure delivers a
//! month as two exports (actual, amortized), replaced independently: for it
//! the unit also names the export ([`UnitKey::variant`]).

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::{Lake, writer_properties};
use crate::calendar;
use crate::schema::{BatchBuilder, LineItem, SCHEMA};

/// The table's folder in the lake.
use super::catalogue::LINE_ITEMS as TABLE;

/// Rows a unit's builder starts with room for: a chunk of mapped rows
/// (`ingest::chunks`), which usually all go to one unit.
const BATCH_ROWS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitKey {
    pub provider: String,
    pub billing_period: String,
    pub billing_account: String,
    /// Empty, or the export a unit holds when a provider delivers a period
    /// as two exports replaced independently (Azure `actual`, `amortized`).
    pub variant: String,
}

impl UnitKey {
    /// Where the unit lives, relative to the lake root.
    pub fn relative_path(&self) -> PathBuf {
        let variant = if self.variant.is_empty() { String::new() } else { format!(".{}", self.variant) };
        PathBuf::from(TABLE)
            .join(format!("provider={}", self.provider))
            .join(format!("billing_period={}", self.billing_period))
            .join(format!("part-{}{variant}.parquet", file_safe(&self.billing_account)))
    }

    /// The unit's file in `lake` (it may not exist yet).
    pub fn file_in(&self, lake: &Lake) -> PathBuf {
        lake.file(&self.relative_path())
    }
}

/// The periods (`YYYY-MM`) present in the lake's line items, sorted.
pub fn periods(lake: &Lake) -> Vec<String> {
    let mut periods: Vec<String> = period_files(lake, None).into_iter().map(|(p, _)| p).collect();
    periods.dedup();
    periods
}

/// (period, file) for every line-item file, sorted by period then path, so
/// every pass reads rows in the same order.
pub fn period_files(lake: &Lake, only: Option<&str>) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = super::catalogue::parquet_files(&lake.table_dir(TABLE))
        .into_iter()
        .filter_map(|path| {
            let period = path.parent()?.file_name()?.to_str()?.strip_prefix("billing_period=")?.to_string();
            Some((period, path))
        })
        .filter(|(p, _)| only.is_none_or(|o| o == p))
        .collect();
    files.sort();
    files
}

/// The provider of a line-item file, from its `provider=` partition folder.
pub fn provider_of(file: &Path) -> String {
    file.parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("provider="))
        .unwrap_or("unknown")
        .to_string()
}

/// Every export variant a unit file name may carry (`""` for none): Azure's
/// `actual` and `amortized`.
pub const VARIANTS: [&str; 3] = ["", "actual", "amortized"];

/// The lake's files of one cloud, billing period and billing account, in any
/// variant and in any `provider=` folder whose name is a spelling of the
/// key's provider (lakes written before provider ids were canonical hold
/// `provider=microsoft`, `provider=google-cloud`...). Sorted, relative paths.
pub fn files_of_account(lake: &Lake, key: &UnitKey) -> std::io::Result<Vec<(UnitKey, PathBuf)>> {
    let dir = lake.table_dir(TABLE);
    let mut providers = Vec::new();
    match fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name();
                let Some(folder) = name.to_str().and_then(|n| n.strip_prefix("provider=")) else { continue };
                if crate::provider::canonical_id(Some(folder)) == key.provider {
                    providers.push(folder.to_string());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut found = Vec::new();
    for provider in providers {
        for variant in VARIANTS {
            let other = UnitKey { provider: provider.clone(), variant: variant.to_string(), ..key.clone() };
            let relative = other.relative_path();
            if lake.root().join(&relative).is_file() {
                found.push((other, relative));
            }
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

/// The `(x_IngestRunId, x_SourceFile)` of a line items file's first row: the
/// ingest that wrote it (`None` for an empty file).
pub fn first_source(path: &Path) -> std::io::Result<Option<(String, String)>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let failed = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?).map_err(|e| failed(&e))?;
    let indices = ["x_IngestRunId", "x_SourceFile"].map(|c| builder.schema().index_of(c));
    let (Ok(run), Ok(file)) = (&indices[0], &indices[1]) else { return Ok(None) };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [*run, *file]);
    let mut reader = builder.with_projection(mask).with_limit(1).with_batch_size(1).build().map_err(|e| failed(&e))?;
    let Some(batch) = reader.next().transpose().map_err(|e| failed(&e))? else { return Ok(None) };
    if batch.num_rows() == 0 {
        return Ok(None);
    }
    let text = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>().value(0).to_string());
    Ok(text("x_IngestRunId").zip(text("x_SourceFile")))
}

/// Removes a unit file from the lake (a unit another export of the same
/// cloud, month and account replaces).
pub fn remove(lake: &Lake, relative: &Path) -> std::io::Result<()> {
    let path = lake.root().join(relative);
    fs::remove_file(&path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A file-name-safe rendering of an account id. Ids such as Azure's
/// `/providers/Microsoft.Billing/billingAccounts/86` are rewritten and get a
/// short hash so two ids can never land in the same file.
pub(crate) fn file_safe(id: &str) -> String {
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    let safe = safe.trim_matches('_');
    if safe == id && !id.is_empty() && id.len() <= 64 {
        return id.to_string();
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(id.as_bytes());
    let short = crate::hashing::hex(&hash[..4]);
    let head: String = safe.chars().rev().take(56).collect::<Vec<_>>().into_iter().rev().collect();
    if head.is_empty() { format!("none-{short}") } else { format!("{head}-{short}") }
}

struct Unit {
    key: UnitKey,
    staged: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

/// A written, not yet visible, unit.
#[derive(Debug, Clone)]
pub struct StagedUnit {
    pub key: UnitKey,
    pub staged: PathBuf,
    pub rows: u64,
}

/// Line items grouped into Arrow batches by unit, in the order they came.
/// Built wherever rows are mapped (one per thread); the batches then go to
/// the one [`StagedLineItems`] that writes them.
#[derive(Default)]
pub struct UnitBatches {
    units: Vec<(UnitKey, BatchBuilder)>,
    /// The last row's raw key, to skip building a key when consecutive rows share a unit.
    last: Option<(String, i64, String, &'static str, usize)>,
}

impl UnitBatches {
    /// Adds a line item to its unit. The item must have a billing period start.
    pub fn push(&mut self, item: &LineItem<'_>) {
        let provider = item.provider_name.unwrap_or("");
        let period_start = item.billing_period_start.expect("mapper guarantees a billing period");
        let account = item.billing_account_id.unwrap_or("");
        let variant = item.lake_variant.unwrap_or("");
        let unit = match &self.last {
            Some((p, s, a, v, i)) if p == provider && *s == period_start && a == account && *v == variant => *i,
            _ => {
                let key = UnitKey {
                    provider: crate::provider::canonical_id(item.provider_name),
                    billing_period: calendar::year_month(period_start),
                    billing_account: account.to_string(),
                    variant: variant.to_string(),
                };
                let i = match self.units.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        self.units.push((key, BatchBuilder::with_capacity(BATCH_ROWS)));
                        self.units.len() - 1
                    }
                };
                self.last = Some((provider.to_string(), period_start, account.to_string(), variant, i));
                i
            }
        };
        self.units[unit].1.push(item);
    }

    /// The batches built, one per unit, in the order each unit first appeared.
    pub fn finish(self) -> Vec<(UnitKey, RecordBatch)> {
        self.units.into_iter().map(|(key, mut builder)| (key, builder.finish())).collect()
    }
}

/// The Parquet files of one ingest's units, in staging.
pub struct StagedLineItems {
    staging: PathBuf,
    units: Vec<Unit>,
    index: HashMap<UnitKey, usize>,
}

impl StagedLineItems {
    pub fn new(staging: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(staging)?;
        Ok(StagedLineItems { staging: staging.to_path_buf(), units: Vec::new(), index: HashMap::new() })
    }

    /// Appends a batch of line items to its unit's file.
    pub fn write(&mut self, key: UnitKey, batch: &RecordBatch) -> std::io::Result<()> {
        let unit = match self.index.get(&key) {
            Some(&i) => i,
            None => self.open_unit(key)?,
        };
        let unit = &mut self.units[unit];
        unit.writer.write(batch).map_err(std::io::Error::other)?;
        unit.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn open_unit(&mut self, key: UnitKey) -> std::io::Result<usize> {
        let staged = self.staging.join(key.relative_path());
        fs::create_dir_all(staged.parent().expect("unit path has a parent"))?;
        let file = File::create(&staged)?;
        let writer =
            ArrowWriter::try_new(file, SCHEMA.clone(), Some(writer_properties())).map_err(std::io::Error::other)?;
        self.units.push(Unit { key: key.clone(), staged, writer, rows: 0 });
        self.index.insert(key, self.units.len() - 1);
        Ok(self.units.len() - 1)
    }

    /// Flushes and closes every unit file (synced to disk), sorted by key.
    pub fn finish(self) -> std::io::Result<Vec<StagedUnit>> {
        let mut staged = Vec::with_capacity(self.units.len());
        for unit in self.units {
            let file = unit.writer.into_inner().map_err(std::io::Error::other)?;
            file.sync_all()?;
            staged.push(StagedUnit { key: unit.key, staged: unit.staged, rows: unit.rows });
        }
        staged.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(staged)
    }
}

/// What a unit file holds, for the before/after of a replacement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitTotals {
    pub line_items: u64,
    /// Sum of BilledCost.
    pub billed: i128,
    /// Sum of |BilledCost|: credits do not cancel charges in it, so a unit
    /// whose charges vanish shows even when refunds net it to the same total.
    pub gross: i128,
}

impl UnitTotals {
    /// Adds one line item's BilledCost (`None` when null), checked.
    pub fn add(&mut self, billed: Option<i128>) -> Result<(), crate::money::Overflow> {
        self.line_items += 1;
        if let Some(b) = billed {
            crate::money::add(&mut self.billed, b)?;
            crate::money::add(&mut self.gross, b.checked_abs().ok_or(crate::money::Overflow)?)?;
        }
        Ok(())
    }
}

/// Reads a line items file's [`UnitTotals`] (its BilledCost column only).
pub fn totals(path: &Path) -> std::io::Result<UnitTotals> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Decimal128Type;
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let failed = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?).map_err(|e| failed(&e))?;
    let index = builder.schema().index_of("BilledCost").map_err(|e| failed(&e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let mut totals = UnitTotals::default();
    for batch in builder.with_projection(mask).build().map_err(|e| failed(&e))? {
        let batch = batch.map_err(|e| failed(&e))?;
        let costs = batch.column(0).as_primitive::<Decimal128Type>();
        for i in 0..costs.len() {
            totals.add(costs.is_valid(i).then(|| costs.value(i))).map_err(|e| failed(&e))?;
        }
    }
    Ok(totals)
}

/// Moves staged units into the lake, each with one atomic rename that
/// replaces the unit's previous file.
pub fn commit(lake: &Lake, units: &[StagedUnit]) -> std::io::Result<()> {
    units.iter().try_for_each(|unit| super::move_into_place(lake, &unit.staged, &unit.key.relative_path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_paths_are_hive_partitions() {
        let key = UnitKey {
            provider: "aws".into(),
            billing_period: "2023-11".into(),
            billing_account: "123456789012".into(),
            variant: String::new(),
        };
        assert_eq!(
            key.relative_path(),
            PathBuf::from("line_items/provider=aws/billing_period=2023-11/part-123456789012.parquet")
        );
        let amortized = UnitKey { provider: "azure".into(), variant: "amortized".into(), ..key };
        assert_eq!(
            amortized.relative_path(),
            PathBuf::from("line_items/provider=azure/billing_period=2023-11/part-123456789012.amortized.parquet")
        );
    }

    #[test]
    fn awkward_account_ids_become_safe_distinct_names() {
        let a = file_safe("/providers/Microsoft.Billing/billingAccounts/8611537");
        assert!(a.starts_with("providers_Microsoft.Billing_billingAccounts_8611537-"), "{a}");
        assert_ne!(file_safe("a/b"), file_safe("a_b"));
        assert!(file_safe("").starts_with("none-"));
        assert!(!file_safe("../../etc").contains('/'));
    }
}
