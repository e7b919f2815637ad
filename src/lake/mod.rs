//! The Parquet lake: a folder any engine can read as Hive-partitioned tables.
//!
//! ```text
//! <lake>/line_items/provider=aws/billing_period=2023-11/part-<account>.parquet
//! <lake>/ingests/<run id>.parquet       one row per file per ingest run
//! <lake>/quarantine/<run id>.parquet    rows that could not be ingested, with the reason
//! <lake>/periods/<time>-<run id>.parquet        finality of each (provider, month, account) written
//! <lake>/s3_deliveries/<time>-<run id>.parquet  S3 deliveries read, so unchanged ones are skipped
//! <lake>/locks/<YYYY-MM>.json         closed periods: re-attributing them is a restatement
//! <lake>/restatements/<time>-<period>.parquet   each restatement: who, when, why, per-team before/after
//! <lake>/_staging/<run id>/             work in progress; never read as data
//! ```
//!
//! Writers build files under `_staging` and move each into place with one
//! `rename`, so a reader (or a crash) sees either the old file or the new one.

pub mod attributed;
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

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::schema::SCHEMA;

/// Hive partition columns of `line_items`, in folder order.
pub const PARTITION_COLUMNS: [&str; 2] = ["provider", "billing_period"];

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

    pub fn staging_dir(&self, run_id: &str) -> PathBuf {
        self.root.join("_staging").join(run_id)
    }

    /// A DataFusion session with every table of the lake registered:
    /// `line_items` (always, empty when nothing was ingested yet), `ingests`,
    /// `quarantine`, `periods`, `s3_deliveries`, FOCUS's supplementary datasets
    /// (and the `invoice_reconciliation` view over `invoice_details`) when they exist.
    pub async fn session(&self) -> datafusion::error::Result<SessionContext> {
        let ctx = sql::session(session_config());
        self.register_line_items(&ctx).await?;
        let dir = self.table_dir("ingests");
        if has_parquet(&dir) {
            // Its schema, so ingests logged before its newer columns read as null there.
            register_parquet_dir(&ctx, "ingests", &dir, Some(log::ingests_schema()), &[]).await?;
        }
        for table in [
            "quarantine",
            "periods",
            deliveries::TABLE,
            restatements::TABLE,
            crate::budget::TABLE,
            crate::findings::TABLE,
            crate::nudge::OUTBOX_TABLE,
        ] {
            let dir = self.table_dir(table);
            if has_parquet(&dir) {
                register_parquet_dir(&ctx, table, &dir, None, &[]).await?;
            }
        }
        for dataset in datasets::ALL {
            let dir = self.table_dir(dataset.table);
            if has_parquet(&dir) {
                register_parquet_dir(&ctx, dataset.table, &dir, Some(dataset.schema()), dataset.partition_columns())
                    .await?;
            }
        }
        if ctx.table_exist(datasets::INVOICE_DETAILS.table)? {
            // A view, so `tally sql` and every ingest summary read the same reconciliation.
            let view = sql::query(&ctx, INVOICE_RECONCILIATION_SQL).await?.into_view();
            ctx.register_table("invoice_reconciliation", view)?;
        }
        let dir = self.table_dir("attributed");
        if has_parquet(&dir) {
            register_parquet_dir(&ctx, "attributed", &dir, Some(attributed::SCHEMA.clone()), &["billing_period"])
                .await?;
        }
        Ok(ctx)
    }

    async fn register_line_items(&self, ctx: &SessionContext) -> datafusion::error::Result<()> {
        let dir = self.table_dir("line_items");
        if has_parquet(&dir) {
            register_parquet_dir(ctx, "line_items", &dir, Some(SCHEMA.clone()), &PARTITION_COLUMNS).await
        } else {
            let mut fields: Vec<Field> = SCHEMA.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(PARTITION_COLUMNS.map(|c| Field::new(c, DataType::Utf8, false)));
            let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            ctx.register_table("line_items", Arc::new(empty))?;
            Ok(())
        }
    }
}

/// Per invoice of the Invoice Detail dataset, its BilledCost against its line items'.
pub const INVOICE_RECONCILIATION_SQL: &str = include_str!("../../queries/invoice_reconciliation.sql");

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

fn has_parquet(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "parquet"))
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
    let target = lake.root().join(relative);
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
