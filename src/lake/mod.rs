//! The Parquet lake: a folder any engine can read as Hive-partitioned tables.
//! [`catalogue`] names the tables and owns the layout; no module above writes a
//! path inside the lake by hand.
//!
//! ```text
//! <lake>/line_items/provider=aws/billing_period=2023-11/part-<account>.parquet   canonical line items
//! <lake>/attributed/billing_period=2023-11/part-0.parquet   every line item's owner (attribute)
//! <lake>/ingests/<run id>.parquet       one row per file per ingest run
//! <lake>/quarantine/<run id>.parquet    rows that could not be ingested, with the reason
//! <lake>/periods/<time>-<run id>.parquet        finality of each (provider, month, account) written
//! <lake>/s3_deliveries/<time>-<run id>.parquet  S3 deliveries read, so unchanged ones are skipped
//! <lake>/contract_commitments/, invoice_details/billing_period=.../, focus_billing_periods/
//!                                       FOCUS's supplementary datasets
//! <lake>/restatements/<time>-<period>.parquet   each restatement: who, when, why, per-team before/after
//! <lake>/budgets/<YYYY-MM>.parquet      budget statuses of a month (budget)
//! <lake>/findings/findings.parquet      the last findings computed (findings)
//! <lake>/outbox/<seq>-<pid>.parquet     nudges owed, sent, acknowledged (nudge)
//! <lake>/locks/<YYYY-MM>.json           closed periods: re-attributing them is a restatement
//! <lake>/_run/                          the lake lock, `tally run`'s state (never data)
//! <lake>/_staging/<run id>/             work in progress (never data)
//! ```
//!
//! Writers build files under `_staging` and move each into place with one
//! `rename`, so a reader (or a crash) sees either the old file or the new one.

pub mod attributed;
pub mod background;
pub mod billed_in;
pub mod catalogue;
pub mod datasets;
pub mod deliveries;
pub mod line_items;
pub mod lock;
pub mod locks;
pub mod log;
pub mod periods;
pub mod restatements;
pub mod sql;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use catalogue::{
    ATTRIBUTED, BUDGETS, FINDINGS, INGESTS, INVOICE_RECONCILIATION, LINE_ITEMS, LOCKS, OUTBOX, PARTITION_COLUMNS,
    PERIODS, QUARANTINE, RESTATEMENTS, S3_DELIVERIES,
};

#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// A DataFusion session with every table of the lake registered ([`catalogue::session`]).
    pub async fn session(&self) -> datafusion::error::Result<SessionContext> {
        catalogue::session(self).await
    }

    /// A path the lake gave relative to its root (`UnitKey::relative_path`,
    /// `attributed::relative_file`, `line_items::files_of_account`), as a file.
    pub fn file(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }

    /// Whether `table` has any data file.
    pub fn has_table(&self, table: &str) -> bool {
        catalogue::has_table(self, table)
    }

    /// The file `<table>/<key>.parquet`, for tables kept one file per key
    /// (a month's budgets, a batch of outbox events).
    pub fn table_file(&self, table: &str, key: &str) -> PathBuf {
        self.table_dir(table).join(format!("{key}.parquet"))
    }

    /// Replaces a table kept as one file, `<table>/<table>.parquet`, atomically (a crash
    /// leaves the old one); files of other names (an older layout) are removed after.
    pub fn replace_sole_file(&self, table: &str, batches: &[RecordBatch]) -> std::io::Result<()> {
        let path = self.table_file(table, table);
        write_parquet_atomic(&path, batches)?;
        for other in catalogue::parquet_files(&self.table_dir(table)) {
            if other != path {
                let _ = fs::remove_file(other);
            }
        }
        Ok(())
    }

    /// Where this run's files are built before they move into place.
    pub fn staging_dir(&self, run_id: &str) -> PathBuf {
        self.staging_root().join(run_id)
    }

    pub fn staging_root(&self) -> PathBuf {
        self.root.join(catalogue::STAGING)
    }

    /// Staging left by a crashed run is garbage: the lake never pointed at it. Only a
    /// writer holding the lake lock may clear it.
    pub fn clear_stale_staging(&self) -> std::io::Result<()> {
        match fs::remove_dir_all(self.staging_root()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The folder of the run's own state files (`lock`, `state.json`, `derived.json`).
    pub fn run_dir(&self) -> PathBuf {
        self.root.join(catalogue::RUN)
    }

    /// Whether a path relative to the lake is data a mirror keeps (not staging or run state).
    pub fn is_data_path(relative: &str) -> bool {
        let top = relative.split('/').next().unwrap_or("");
        top != catalogue::STAGING && top != catalogue::RUN
    }
}

/// SQL sees column names exactly as the lake stores them (`BilledCost`,
/// not `billedcost`), as DuckDB, Spark and Trino users expect.
pub fn session_config() -> SessionConfig {
    // DataFusion's own settings can be tuned without a rebuild, e.g.
    // DATAFUSION_EXECUTION_TARGET_PARTITIONS=8 (see DataFusion's configuration docs).
    let config = SessionConfig::from_env().unwrap_or_else(|e| {
        tracing::warn!("ignoring DATAFUSION_* settings from the environment: {e}");
        SessionConfig::new()
    });
    let mut config = config.with_information_schema(true);
    if std::env::var_os("DATAFUSION_EXECUTION_TARGET_PARTITIONS").is_none() {
        // Four scan partitions per core: a report that reads one week prunes
        // most row groups, and with one partition per core the few left can
        // all land on one core (measured: 7 report queries over 16M rows,
        // 10.8 s with 2 partitions, 8.4 s with 8, on 2 cores).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        config = config.with_target_partitions(4 * cores);
    }
    config.options_mut().sql_parser.enable_ident_normalization = false;
    config
}

/// Registers a folder of Parquet files as a table; the named Hive partition
/// folders under it become columns. With `schema`, files missing newer columns read as null.
pub async fn register_parquet_dir(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    schema: Option<Arc<Schema>>,
    partition_columns: &[&str],
) -> datafusion::error::Result<()> {
    let url = ListingTableUrl::parse(format!("{}/", dir.canonicalize()?.display()))?;
    let partitions: Vec<(String, DataType)> =
        partition_columns.iter().map(|c| (c.to_string(), DataType::Utf8)).collect();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions);
    let config = ListingTableConfig::new(url).with_listing_options(options);
    let config = match schema {
        Some(schema) => config.with_schema(schema),
        None => config.infer_schema(&ctx.state()).await?,
    };
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Parquet settings for every file tally writes. Fixed so the same rows
/// always give the same bytes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_created_by(format!("tally {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Moves a staged file to `relative` under the lake with one `rename`, then
/// syncs the folder so the rename is durable where the platform allows.
pub fn move_into_place(lake: &Lake, staged: &Path, relative: &Path) -> std::io::Result<()> {
    let target = lake.file(relative);
    let dir = target.parent().expect("a lake path has a parent");
    fs::create_dir_all(dir)?;
    fs::rename(staged, &target)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes batches to `path` atomically: a hidden temporary file beside it,
/// synced, then renamed over it.
pub fn write_parquet_atomic(path: &Path, batches: &[RecordBatch]) -> std::io::Result<()> {
    let dir = path.parent().expect("a file path has a parent");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.partial", path.file_name().unwrap().to_string_lossy()));
    let schema = batches.first().map(|b| b.schema()).expect("at least one batch");
    let file = fs::File::create(&tmp)?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(writer_properties())).map_err(std::io::Error::other)?;
    for batch in batches {
        writer.write(batch).map_err(std::io::Error::other)?;
    }
    let mut file = writer.into_inner().map_err(std::io::Error::other)?;
    file.flush()?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}
