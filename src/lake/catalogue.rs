//! The lake's catalogue: every table's name, its folder, and the schema declared for
//! the tables whose files may predate newer columns. A session registers every table
//! folder it finds, as DataFusion's listing tables do for a directory, so a table a
//! later module adds needs no line here unless it needs a declared schema.
//!
//! Folders starting with `_` (`_staging`, `_run`) or `.` are never data, nor is
//! `locks` (JSON files).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::{Lake, datasets, register_parquet_dir, sql};

pub const LINE_ITEMS: &str = "line_items";
pub const ATTRIBUTED: &str = "attributed";
pub const INGESTS: &str = "ingests";
pub const QUARANTINE: &str = "quarantine";
pub const PERIODS: &str = "periods";
pub const S3_DELIVERIES: &str = "s3_deliveries";
pub const RESTATEMENTS: &str = "restatements";
/// Budget statuses, one file per month (written by `budget`).
pub const BUDGETS: &str = "budgets";
/// The last findings computed, one file (written by `findings`).
pub const FINDINGS: &str = "findings";
/// Nudges owed, sent and acknowledged, one file per event batch (written by `nudge`).
pub const OUTBOX: &str = "outbox";
/// Closed periods (JSON, not a table).
pub const LOCKS: &str = "locks";
/// The view over `invoice_details` that reconciles each invoice to its line items.
pub const INVOICE_RECONCILIATION: &str = "invoice_reconciliation";

/// Where writers build files before one `rename` moves each into place.
pub(super) const STAGING: &str = "_staging";
/// The run's own state (`lock`, `state.json`, `derived.json`).
pub const RUN: &str = "_run";

/// Hive partition columns of `line_items`, in folder order.
pub const PARTITION_COLUMNS: [&str; 2] = ["provider", "billing_period"];

/// Per invoice of the Invoice Detail dataset, its BilledCost against its line items'.
pub const INVOICE_RECONCILIATION_SQL: &str = include_str!("../../queries/invoice_reconciliation.sql");

/// What a table's files must be read as: the schema (files missing newer columns read
/// as null there) and its partition folders. Tables not declared are read as their files say.
fn declared(table: &str) -> Option<(SchemaRef, Vec<&'static str>)> {
    match table {
        LINE_ITEMS => Some((crate::schema::SCHEMA.clone(), PARTITION_COLUMNS.to_vec())),
        ATTRIBUTED => Some((super::attributed::SCHEMA.clone(), vec!["billing_period"])),
        INGESTS => Some((super::log::ingests_schema(), vec![])),
        _ => datasets::ALL.iter().find(|d| d.table == table).map(|d| (d.schema(), d.partition_columns().to_vec())),
    }
}

/// Whether a folder at the lake's top level holds a table.
fn is_table_folder(name: &str) -> bool {
    !(name.starts_with('_') || name.starts_with('.') || name == LOCKS)
}

/// A session with every table of the lake registered; `line_items` always (empty when
/// nothing was ingested yet), and the `invoice_reconciliation` view when invoice details exist.
pub async fn session(lake: &Lake) -> datafusion::error::Result<SessionContext> {
    let ctx = sql::session(super::session_config());
    for (table, dir) in table_folders(lake.root())? {
        // One file says whether the folder is a table (and, undeclared, its partitions):
        // the listing table lists the rest itself.
        let Some(first) = walk_parquet(&dir).next() else { continue };
        match declared(&table) {
            Some((schema, partitions)) => register_parquet_dir(&ctx, &table, &dir, Some(schema), &partitions).await?,
            None => {
                let partitions = partition_folders(&dir, &first);
                let partitions: Vec<&str> = partitions.iter().map(String::as_str).collect();
                register_parquet_dir(&ctx, &table, &dir, None, &partitions).await?
            }
        }
    }
    if !ctx.table_exist(LINE_ITEMS)? {
        let mut fields: Vec<Field> = crate::schema::SCHEMA.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(PARTITION_COLUMNS.map(|c| Field::new(c, DataType::Utf8, false)));
        let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
        ctx.register_table(LINE_ITEMS, Arc::new(empty))?;
    }
    if ctx.table_exist(datasets::INVOICE_DETAILS.table)? {
        // A view, so `tally sql` and every ingest summary read the same reconciliation.
        let view = sql::query(&ctx, INVOICE_RECONCILIATION_SQL).await?.into_view();
        ctx.register_table(INVOICE_RECONCILIATION, view)?;
    }
    Ok(ctx)
}

/// Registers `dir` (staged files, not yet in place) as `table`, read as the lake reads
/// that table, in place of the lake's own.
pub async fn register_staged(ctx: &SessionContext, table: &str, dir: &Path) -> datafusion::error::Result<()> {
    ctx.deregister_table(table)?;
    let (schema, partitions) = declared(table).expect("a staged table has a declared schema");
    register_parquet_dir(ctx, table, dir, Some(schema), &partitions).await
}

/// Whether `table` has any data file.
pub fn has_table(lake: &Lake, table: &str) -> bool {
    walk_parquet(&lake.table_dir(table)).next().is_some()
}

/// The top-level folders that may hold tables, sorted by name.
fn table_folders(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if entry.file_type()?.is_dir() && is_table_folder(&name) {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The Parquet files under `dir`, in walk order (hidden `.partial` files are never data).
fn walk_parquet(dir: &Path) -> impl Iterator<Item = PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "parquet"))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(walkdir::DirEntry::into_path)
}

/// Every Parquet file under `dir`, sorted.
pub(super) fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk_parquet(dir).collect();
    files.sort();
    files
}

/// The Hive partition columns of an undeclared table, from the `key=value` folders
/// between `dir` and one of its files.
fn partition_folders(dir: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    let Some(parent) = relative.parent() else { return Vec::new() };
    parent
        .components()
        .filter_map(|c| c.as_os_str().to_str()?.split_once('=').map(|(key, _)| key.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_folders_are_not_tables() {
        assert!(is_table_folder("budgets"));
        assert!(is_table_folder("a_table_of_mine"));
        for name in ["_staging", "_run", ".git", "locks"] {
            assert!(!is_table_folder(name), "{name}");
        }
    }

    #[test]
    fn partitions_of_an_undeclared_table_come_from_its_folders() {
        let dir = Path::new("/lake/costs");
        assert_eq!(partition_folders(dir, Path::new("/lake/costs/year=2026/month=03/a.parquet")), ["year", "month"]);
        assert!(partition_folders(dir, Path::new("/lake/costs/a.parquet")).is_empty());
    }
}
