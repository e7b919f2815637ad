//! After every file is staged: reconcile what landed against what was read,
//! refuse what would lose or double data (repeated line items, shrinking
//! units), then commit.

use std::collections::HashMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, UInt64Type};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{IngestError, Options, Outcome, azure, duplicates, lake_error, replace};
use crate::lake::Lake;
use crate::lake::datasets::StagedDataset;
use crate::lake::line_items::{StagedUnit, UnitTotals, commit, remove};
use crate::lake::log::{IngestRecord, QuarantinedRow, write_ingests, write_quarantine};
use crate::money;

/// What a run staged: line item units and FOCUS supplementary dataset units.
pub(super) struct Staged {
    pub line_items: Vec<StagedUnit>,
    pub datasets: Vec<StagedDataset>,
}

pub(super) async fn reconcile_and_commit(
    lake: &Lake,
    staging: &Path,
    run_id: String,
    mut records: Vec<IngestRecord>,
    staged: Staged,
    quarantined: Vec<QuarantinedRow>,
    options: &Options,
) -> Result<Outcome, IngestError> {
    let Staged { line_items: units, datasets } = staged;
    let (mut landed, unit_totals) = read_back(&units)?;
    for (file, (rows, cost)) in crate::lake::datasets::read_back(&datasets).map_err(lake_error(staging))? {
        landed.insert(file, (rows, rows, cost));
    }
    let mut problems = Vec::new();
    for r in &mut records {
        let (rows, lines, cost) = landed.get(&r.source_file).copied().unwrap_or((0, 0, 0));
        r.landed_cost = cost;
        let accounted = r.rows_landed + r.rows_quarantined + r.rows_skipped;
        if r.rows_read != accounted || rows != r.rows_landed || lines != r.lines_landed {
            problems.push(format!(
                "{}: read {} rows, counted {} landed ({} line items) + {} quarantined + {} before --since, found {} \
                 rows ({} line items) in the staged files",
                r.source_file,
                r.rows_read,
                r.rows_landed,
                r.lines_landed,
                r.rows_quarantined,
                r.rows_skipped,
                rows,
                lines
            ));
        }
        let parts = cost.checked_add(r.quarantined_cost).and_then(|c| c.checked_add(r.skipped_cost));
        if parts != Some(r.source_cost) {
            problems.push(format!(
                "{}: source cost {} != landed {} + quarantined {} + before --since {}",
                r.source_file,
                money::format(r.source_cost, money::SCALE as u32),
                money::format(cost, money::SCALE as u32),
                money::format(r.quarantined_cost, money::SCALE as u32),
                money::format(r.skipped_cost, money::SCALE as u32)
            ));
        }
    }
    if !problems.is_empty() {
        return Err(IngestError::Reconciliation(problems.join("; ")));
    }

    let repeats = repeated_line_items(&units, &unit_totals, &records)?;
    if !repeats.is_empty() {
        return Err(IngestError::Refused(format!(
            "refusing line items that two files deliver, nothing committed: {}. They would be counted twice: if \
             the files are two deliveries of the same month, ingest only the current one (its manifest names it); \
             if one is a copy of the other, remove it",
            repeats.join("; ")
        )));
    }
    let formats: HashMap<String, String> = records.iter().map(|r| (r.source_file.clone(), r.format.clone())).collect();
    let staged: Vec<replace::Staged<'_>> = units
        .iter()
        .zip(&unit_totals)
        .map(|(unit, (after, sources))| replace::Staged { unit, after: *after, sources })
        .collect();
    let plan = replace::plan(lake, &staged, &formats, options.allow_export_switch).map_err(lake_error(lake.root()))?;
    if let Some(refusal) = replace::export_refusal(&plan) {
        return Err(IngestError::Refused(refusal));
    }
    let changes = plan.changes;
    if !options.allow_shrink
        && let Some(refusal) = replace::refusal(&changes)
    {
        return Err(IngestError::Refused(refusal));
    }

    let commit_rows = quarantined.is_empty() || options.allow_quarantine;
    let status = if commit_rows { "committed" } else { "rejected: rows quarantined" };
    for r in &mut records {
        r.status = status.to_string();
    }
    let mut units = units;
    let mut periods = Vec::new();
    if commit_rows {
        azure::pair_exports(lake, staging, &mut units).map_err(lake_error(staging))?;
        // Finality of what is about to replace each unit, and of the file it replaces.
        let at = records.first().map_or(0, |r| r.ingested_at_micros);
        periods = crate::lake::periods::assess(lake, &units, &run_id, at).map_err(lake_error(staging))?;
        // Another export's files (or an older provider folder's) go first: a
        // crash between the two steps leaves the unit missing until the rerun,
        // never counted twice.
        for (relative, _) in changes.iter().flat_map(|c| &c.displaces) {
            match remove(lake, relative) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(lake_error(lake.root())(e)),
                _ => {}
            }
        }
        commit(lake, &units).map_err(lake_error(lake.root()))?;
        crate::lake::datasets::commit(lake, &datasets).map_err(lake_error(lake.root()))?;
    }
    if !quarantined.is_empty() {
        write_quarantine(lake, &run_id, &quarantined).map_err(lake_error(lake.root()))?;
    }
    write_ingests(lake, &run_id, &records).map_err(lake_error(lake.root()))?;
    Ok(Outcome {
        run_id,
        files: records,
        units,
        changes,
        datasets,
        invoices: Vec::new(),
        quarantined,
        committed: commit_rows,
        periods,
        s3_deliveries: Vec::new(),
        s3_skipped: Vec::new(),
    })
}

/// Line items repeated across the source files of a unit (see [`duplicates`]).
fn repeated_line_items(
    units: &[StagedUnit],
    read: &[(UnitTotals, Vec<String>)],
    records: &[IngestRecord],
) -> Result<Vec<String>, IngestError> {
    let is_cur = |file: &String| {
        records.iter().find(|r| &r.source_file == file).is_some_and(|r| r.format.starts_with("aws-cur"))
    };
    let mut repeats = Vec::new();
    for (unit, (_, sources)) in units.iter().zip(read) {
        if sources.len() < 2 {
            continue;
        }
        let io = lake_error(&unit.staged);
        let by_id = sources.iter().all(is_cur) && duplicates::every_row_has_a_line_item_id(&unit.staged).map_err(io)?;
        if let Some(repeat) = duplicates::find(&unit.staged, by_id).map_err(lake_error(&unit.staged))? {
            repeats.push(repeat.describe());
        }
    }
    Ok(repeats)
}

/// Per source file, what the staged unit files hold: distinct source rows,
/// line items (a row may land as several, e.g. GCP credits) and the sum of
/// BilledCost. An independent check of the writer, not a reuse of its
/// counters; read straight from the files one batch at a time, so memory does
/// not grow with the rows ingested.
///
/// The writer keeps each file's rows in file order within a unit, and a
/// source row's line items in one unit, so distinct rows are counted as
/// changes of `x_SourceRow`; a row number going backwards is reported.
/// Also returns each unit's totals and source files, in the order of `units`.
#[allow(clippy::type_complexity)]
fn read_back(
    units: &[StagedUnit],
) -> Result<(HashMap<String, (u64, u64, i128)>, Vec<(UnitTotals, Vec<String>)>), IngestError> {
    let mut landed: HashMap<String, (u64, u64, i128)> = HashMap::new();
    let mut unit_totals = Vec::with_capacity(units.len());
    for unit in units {
        let mut totals = UnitTotals::default();
        let staged = unit.staged.display().to_string();
        let failed = |e: &dyn std::fmt::Display| IngestError::Lake {
            path: staged.clone(),
            source: std::io::Error::other(format!("reading back the staged line items: {e}")),
        };
        let file = std::fs::File::open(&unit.staged).map_err(|e| failed(&e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(&e))?;
        let columns = ["x_SourceFile", "x_SourceRow", "BilledCost"].map(crate::schema::column_index);
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
        let reader = builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| failed(&e))?;
        // The last source row seen per source file in this unit.
        let mut last_row: HashMap<String, u64> = HashMap::new();
        for batch in reader {
            let batch = batch.map_err(|e| failed(&e))?;
            // A projection keeps the schema's column order, not the mask's.
            let column = |name: &str| batch.column_by_name(name).expect("projected column");
            let files = column("x_SourceFile").as_string::<i32>();
            let rows = column("x_SourceRow").as_primitive::<UInt64Type>();
            let costs = column("BilledCost").as_primitive::<Decimal128Type>();
            for i in 0..batch.num_rows() {
                let source = files.value(i);
                let entry = match landed.get_mut(source) {
                    Some(entry) => entry,
                    None => landed.entry(source.to_string()).or_default(),
                };
                entry.1 += 1;
                let cost = costs.is_valid(i).then(|| costs.value(i));
                let summed = totals.add(cost).and_then(|()| money::add(&mut entry.2, cost.unwrap_or(0)));
                if summed.is_err() {
                    return Err(IngestError::Reconciliation(format!(
                        "{source}: BilledCost in {staged}: the {}",
                        money::Overflow
                    )));
                }
                let row = rows.value(i);
                match last_row.get_mut(source) {
                    Some(last) if *last == row => {}
                    Some(last) if *last > row => {
                        return Err(IngestError::Reconciliation(format!(
                            "{source}: row {row} stored after row {last} in {staged}"
                        )));
                    }
                    Some(last) => {
                        *last = row;
                        entry.0 += 1;
                    }
                    None => {
                        last_row.insert(source.to_string(), row);
                        entry.0 += 1;
                    }
                }
            }
        }
        let mut sources: Vec<String> = last_row.into_keys().collect();
        sources.sort();
        unit_totals.push((totals, sources));
    }
    Ok((landed, unit_totals))
}
