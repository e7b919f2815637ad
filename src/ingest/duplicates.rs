//! The same line item in two files of one unit would be counted twice:
//! `f.csv` beside `f.csv.gz`, two deliveries of one month in one folder,
//! overlapping month-to-date exports. After staging, each unit that holds rows
//! of two or more files is read back and every line item's identity compared
//! across its files:
//!
//! - AWS CUR and CUR 2.0: the provider's own identity, `identity/LineItemId` with
//!   `identity/TimeInterval` (`x_SourceLineItemId`, `ChargePeriodStart`, `ChargePeriodEnd`);
//! - every other format (no line-item id): the line item's whole content, every
//!   column but the lineage (`x_SourceFile`, `x_SourceRow`, `x_IngestRunId`).
//!
//! Repeats within one file are the file's own business (a CUR partition may
//! repeat nothing, and other exports may hold identical rows); repeats across
//! files are refused. Identities are 128-bit hashes (two independent 64-bit
//! hashes), so a false match is out of reach; memory is one entry per line
//! item of the largest multi-file unit, for as long as that unit is checked.
//! Byte-identical files never get here: they are read once (see `ingest::run`).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::schema::SCHEMA;

/// The columns that identify a CUR line item.
const AWS_IDENTITY: [&str; 3] = ["x_SourceLineItemId", "ChargePeriodStart", "ChargePeriodEnd"];
/// Lineage: where a line item was read, not what it is.
const LINEAGE: [&str; 3] = ["x_SourceFile", "x_SourceRow", "x_IngestRunId"];

/// A line item of one file that repeats one of another file, and how many do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    pub first_file: String,
    pub first_row: u64,
    pub file: String,
    pub row: u64,
    /// Line items of this unit that repeat one of another file.
    pub count: u64,
    /// What was compared: the provider's line-item identity, or every column.
    pub by: &'static str,
}

impl Repeat {
    pub fn describe(&self) -> String {
        format!(
            "{} row {} is the same line item as {} row {} ({}); {} line item(s) of that unit repeat another file's",
            self.file, self.row, self.first_file, self.first_row, self.by, self.count
        )
    }
}

/// Compares the line items of a staged unit file across its source files.
/// `by_line_item_id` when every file is an AWS CUR whose rows all carry an id.
pub fn find(staged: &Path, by_line_item_id: bool) -> std::io::Result<Option<Repeat>> {
    let failed = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", staged.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(staged)?).map_err(|e| failed(&e))?;
    let names: Vec<&str> = if by_line_item_id {
        AWS_IDENTITY.iter().chain(&LINEAGE[..2]).copied().collect()
    } else {
        SCHEMA.fields().iter().map(|f| f.name().as_str()).filter(|n| !LINEAGE[2..].contains(n)).collect()
    };
    let indices: Vec<usize> = names.iter().map(|n| crate::schema::column_index(n)).collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| failed(&e))?;
    let by = if by_line_item_id {
        "identity/LineItemId and identity/TimeInterval are equal"
    } else {
        "every column is equal"
    };
    // Two fixed seeds: the same input hashes the same on every run.
    let (low, high) = (RandomState::with_seed(0x7a11_7a11), RandomState::with_seed(0x5eed_0fca));
    let mut files: Vec<String> = Vec::new();
    // identity -> (file index, row) of its first occurrence
    let mut seen: HashMap<(u64, u64), (u32, u64)> = HashMap::new();
    let mut repeat: Option<Repeat> = None;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| failed(&e))?;
        let column = |name: &str| batch.column_by_name(name).expect("projected column");
        let source_files = column("x_SourceFile").as_string::<i32>().clone();
        let source_rows = column("x_SourceRow").as_primitive::<UInt64Type>().clone();
        let identity: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .filter(|(f, _)| !LINEAGE.contains(&f.name().as_str()))
            .map(|(_, c)| c.clone())
            .collect();
        a.clear();
        a.resize(batch.num_rows(), 0);
        b.clear();
        b.resize(batch.num_rows(), 0);
        create_hashes(&identity, &low, &mut a).map_err(|e| failed(&e))?;
        create_hashes(&identity, &high, &mut b).map_err(|e| failed(&e))?;
        let mut last: Option<(usize, u32)> = None;
        for row in 0..batch.num_rows() {
            let name = source_files.value(row);
            let file = match last {
                Some((i, f)) if source_files.value(i) == name => f,
                _ => match files.iter().position(|f| f == name) {
                    Some(f) => f as u32,
                    None => {
                        files.push(name.to_string());
                        (files.len() - 1) as u32
                    }
                },
            };
            last = Some((row, file));
            let at = source_rows.value(row);
            match seen.get(&(a[row], b[row])) {
                None => {
                    seen.insert((a[row], b[row]), (file, at));
                }
                Some(&(first, _)) if first == file => {}
                Some(&(first, first_row)) => match &mut repeat {
                    Some(r) => r.count += 1,
                    None => {
                        repeat = Some(Repeat {
                            first_file: files[first as usize].clone(),
                            first_row,
                            file: files[file as usize].clone(),
                            row: at,
                            count: 1,
                            by,
                        })
                    }
                },
            }
        }
    }
    Ok(repeat)
}

/// True when no row of the file's `x_SourceLineItemId` column is null (from
/// the Parquet statistics, without reading the column).
pub fn every_row_has_a_line_item_id(staged: &Path) -> std::io::Result<bool> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(staged)?).map_err(std::io::Error::other)?;
    let index = crate::schema::column_index("x_SourceLineItemId");
    Ok(builder
        .metadata()
        .row_groups()
        .iter()
        .all(|g| g.column(index).statistics().and_then(|s| s.null_count_opt()) == Some(0) || g.num_rows() == 0))
}
