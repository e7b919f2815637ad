//! One file's rows, mapped on every core and written in file order.
//!
//! A reader thread decompresses and splits the file into chunks of rows,
//! worker threads map each chunk to Arrow batches per unit, and the calling
//! thread takes the chunks back in order: it checks what spans chunks (one
//! currency per file), writes the batches and keeps the counts. The output is
//! the same, row for row, as mapping the file on one thread.
//!
//! Chunk buffers circulate (reader -> worker -> writer -> reader), so at most
//! [`IN_FLIGHT`] chunks exist at once whatever the file's size, and their
//! `StringRecord`s are reused rather than allocated per row.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use csv::StringRecord;
use datafusion::arrow::record_batch::RecordBatch;
use indicatif::ProgressBar;

use super::mapper::{Mapper, Normalisations, ParseCache};
use super::source::{RowRead, Rows};
use super::{IngestError, file_error};
use crate::lake::line_items::{StagedLineItems, UnitBatches, UnitKey};
use crate::lake::log::{IngestRecord, QuarantinedRow};
use crate::money;
use crate::schema::LineItem;

/// Rows per chunk: large enough that handing a chunk between threads costs
/// nothing next to mapping it, small enough to keep every core fed.
const CHUNK_ROWS: usize = 4096;

/// Chunks read but not yet written. Bounds memory, and how far the reader
/// may run ahead of the slowest worker.
const IN_FLIGHT: usize = 16;

/// What a file is mapped with.
pub(super) struct FileMapping<'f> {
    /// The file as logs and `x_SourceFile` name it.
    pub name: &'f str,
    pub run_id: &'f str,
    pub mapper: &'f dyn Mapper,
    /// The file's column names, to name a cell's column in errors.
    pub header: &'f [String],
    /// The file's size, where progress ends.
    pub bytes: u64,
    /// `--since` as the first instant of its month: rows of earlier billing
    /// periods are counted as skipped, not landed.
    pub since: Option<i64>,
}

/// What a file's rows came to, besides the line items written and the
/// counts kept in its [`IngestRecord`].
#[derive(Default)]
pub(super) struct FileSummary {
    /// The billing currency of every landed row.
    pub currency: Option<String>,
    /// BillingPeriodStart of every landed row (microseconds).
    pub periods: BTreeSet<i64>,
    /// BillingPeriodStart of every row left out by `--since`.
    pub skipped_periods: BTreeSet<i64>,
    pub notes: Normalisations,
}

/// Rows as read: the records reused from chunk to chunk, and which of them
/// could not be read as rows (index, reason, raw text).
#[derive(Default)]
struct Chunk {
    seq: u64,
    /// Row number (1-based) of the chunk's first row in the file.
    first_row: u64,
    records: Vec<StringRecord>,
    len: usize,
    bad: Vec<(usize, String, String)>,
}

/// A chunk mapped: its batches and counts, to be applied in file order.
#[derive(Default)]
struct Mapped {
    batches: Vec<(UnitKey, RecordBatch)>,
    rows_landed: u64,
    lines_landed: u64,
    source_cost: i128,
    quarantined_cost: i128,
    /// Rows of billing periods before `--since`, and their source cost.
    rows_skipped: u64,
    skipped_cost: i128,
    skipped_periods: BTreeSet<i64>,
    /// The first row at which a cost sum left the range of the lake's decimals.
    overflow_at: Option<u64>,
    quarantined: Vec<QuarantinedRow>,
    /// The first landed row's currency and row number, and the first later
    /// row of the chunk with another currency.
    currency: Option<(String, u64)>,
    other_currency: Option<(String, u64)>,
    /// Likewise the first landed row's billing period, and the first later row with another.
    period: Option<(i64, u64)>,
    other_period: Option<(i64, u64)>,
    periods: BTreeSet<i64>,
    notes: Normalisations,
}

/// Maps every row of `rows` and writes the line items to `staged`, counting
/// into `record` and `quarantined` exactly as a one-thread loop would.
pub(super) fn map_file(
    rows: Rows,
    file: &FileMapping,
    staged: &mut StagedLineItems,
    record: &mut IngestRecord,
    quarantined: &mut Vec<QuarantinedRow>,
    progress: &ProgressBar,
) -> Result<FileSummary, IngestError> {
    // More workers than chunks in flight would only wait.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(IN_FLIGHT);
    let (free, free_chunks) = sync_channel::<Chunk>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        free.send(Chunk::default()).expect("room for every chunk");
    }
    let (to_map, chunks) = sync_channel::<Chunk>(IN_FLIGHT);
    let chunks = Mutex::new(chunks);
    let (to_write, mapped) = sync_channel::<(Chunk, Mapped)>(IN_FLIGHT);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_chunks(rows, free_chunks, to_map, file.bytes, progress));
        for _ in 0..workers {
            let (chunks, to_write) = (&chunks, to_write.clone());
            scope.spawn(move || map_chunks(chunks, to_write, file));
        }
        drop(to_write);
        // Returning drops `free` and `mapped`, which stops the reader and the
        // workers early when writing fails.
        let written = write_in_order(mapped, free, file, staged, record, quarantined);
        let read = reader.join().expect("the reader does not panic");
        let summary = written?;
        // Counted by the reader, apart from what landed: reconciliation compares them.
        record.rows_read = read.map_err(|e| file_error(file.name, e))?;
        Ok(summary)
    })
}

/// The reader: fills free chunks with rows until the file ends; returns the
/// number of rows read.
fn read_chunks(
    mut rows: Rows,
    free: Receiver<Chunk>,
    to_map: SyncSender<Chunk>,
    file_bytes: u64,
    progress: &ProgressBar,
) -> Result<u64, String> {
    let mut row_number = 0u64;
    let mut bytes_seen = 0u64;
    for seq in 0.. {
        // No free chunk: the writer stopped.
        let Ok(mut chunk) = free.recv() else { return Ok(row_number) };
        chunk.seq = seq;
        chunk.first_row = row_number + 1;
        chunk.len = 0;
        chunk.bad.clear();
        let mut ended = false;
        while chunk.len < CHUNK_ROWS {
            if chunk.records.len() == chunk.len {
                chunk.records.push(StringRecord::new());
            }
            let read = rows.next(&mut chunk.records[chunk.len]).map_err(|e| format!("{e} (after row {row_number})"))?;
            match read {
                RowRead::End => {
                    ended = true;
                    break;
                }
                RowRead::Row => {}
                RowRead::Bad { reason, raw } => chunk.bad.push((chunk.len, reason, raw)),
            }
            chunk.len += 1;
            row_number += 1;
        }
        let now = rows.bytes_read.load(Ordering::Relaxed);
        progress.inc(now - bytes_seen);
        bytes_seen = now;
        if chunk.len > 0 && to_map.send(chunk).is_err() {
            return Ok(row_number);
        }
        if ended {
            break;
        }
    }
    progress.inc(file_bytes.saturating_sub(bytes_seen));
    Ok(row_number)
}

/// A worker: maps chunks until there are none left.
fn map_chunks(chunks: &Mutex<Receiver<Chunk>>, to_write: SyncSender<(Chunk, Mapped)>, file: &FileMapping) {
    let mut cache = ParseCache::default();
    loop {
        let next = chunks.lock().expect("no worker panics holding the lock").recv();
        let Ok(chunk) = next else { return };
        let mapped = map_chunk(&chunk, file, &mut cache);
        if to_write.send((chunk, mapped)).is_err() {
            return;
        }
    }
}

fn map_chunk(chunk: &Chunk, file: &FileMapping, cache: &mut ParseCache) -> Mapped {
    let mapper = file.mapper;
    let cost_column = mapper.cost_column().index;
    let currency_column = mapper.currency_column().map_or("BillingCurrency", |c| c.name.as_str());
    let mut out = Mapped::default();
    let mut units = UnitBatches::default();
    let mut bad = chunk.bad.iter().peekable();
    for (index, row) in chunk.records[..chunk.len].iter().enumerate() {
        let row_number = chunk.first_row + index as u64;
        let bad_row = bad.next_if(|(at, _, _)| *at == index).map(|(_, reason, raw)| (reason.clone(), raw.clone()));
        let source_cost = if bad_row.is_some() {
            row.get(cost_column).and_then(|c| money::parse_lenient(c).ok()).map(|(p, _)| p.value)
        } else {
            mapper.source_cost(row)
        };
        if money::add(&mut out.source_cost, source_cost.unwrap_or(0)).is_err() {
            out.overflow_at.get_or_insert(row_number);
        }

        let mut item = LineItem::default();
        // Empty unless the format yields several line items per row (GCP credits).
        let mut extra = Vec::new();
        let quarantine = |e: super::mapper::RowError| (e.column, e.message, row.iter().collect::<Vec<_>>().join(","));
        // A row's billing period is known once it is read and its dates checked.
        let read = match bad_row {
            Some((reason, raw)) => Err(("(whole row)".to_string(), reason, raw)),
            None => mapper
                .map(row, cache, &mut item, &mut out.notes)
                .and_then(|()| super::mapper::check_dates(&item))
                .map_err(quarantine),
        };
        if read.is_ok()
            && let (Some(since), Some(period)) = (file.since, item.billing_period_start)
            && period < since
        {
            out.rows_skipped += 1;
            out.skipped_periods.insert(period);
            if money::add(&mut out.skipped_cost, source_cost.unwrap_or(0)).is_err() {
                out.overflow_at.get_or_insert(row_number);
            }
            continue;
        }
        let mapped = read.and_then(|()| {
            super::mapper::check_currency(&mut item, row, file.header, currency_column, &mut out.notes)
                .and_then(|()| mapper.extra_items(row, &item, &mut extra, &mut out.notes))
                .map_err(quarantine)
        });
        match mapped {
            Ok(()) => {
                let row_currency = item.billing_currency.unwrap_or_default();
                match &out.currency {
                    None => out.currency = Some((row_currency.to_string(), row_number)),
                    Some((first, _)) if first != row_currency && out.other_currency.is_none() => {
                        out.other_currency = Some((row_currency.to_string(), row_number));
                    }
                    Some(_) => {}
                }
                let period = item.billing_period_start.expect("mapped rows have a billing period");
                match out.period {
                    None => out.period = Some((period, row_number)),
                    Some((first, _)) if first != period && out.other_period.is_none() => {
                        out.other_period = Some((period, row_number));
                    }
                    Some(_) => {}
                }
                out.periods.insert(period);
                for line in std::iter::once(&mut item).chain(&mut extra) {
                    line.x_source_file = Some(file.name);
                    line.x_source_row = Some(row_number);
                    line.x_ingest_run_id = Some(file.run_id);
                    units.push(line);
                    out.lines_landed += 1;
                }
                out.rows_landed += 1;
            }
            Err((column, reason, raw)) => {
                if money::add(&mut out.quarantined_cost, source_cost.unwrap_or(0)).is_err() {
                    out.overflow_at.get_or_insert(row_number);
                }
                out.quarantined.push(QuarantinedRow {
                    source_file: file.name.to_string(),
                    source_row: row_number,
                    column,
                    reason,
                    raw,
                });
            }
        }
    }
    out.batches = units.finish();
    out
}

/// The writer: applies mapped chunks in file order and hands their buffers
/// back to the reader.
fn write_in_order(
    mapped: Receiver<(Chunk, Mapped)>,
    free: SyncSender<Chunk>,
    file: &FileMapping,
    staged: &mut StagedLineItems,
    record: &mut IngestRecord,
    quarantined: &mut Vec<QuarantinedRow>,
) -> Result<FileSummary, IngestError> {
    let name = file.name;
    let currency_column = file.mapper.currency_column().map_or("BillingCurrency", |c| c.name.as_str());
    let mut summary = FileSummary::default();
    let mut first_currency: Option<(String, u64)> = None;
    let mut first_period: Option<(i64, u64)> = None;
    let mut waiting: BTreeMap<u64, (Chunk, Mapped)> = BTreeMap::new();
    let mut next = 0u64;
    for arrived in mapped {
        waiting.insert(arrived.0.seq, arrived);
        while let Some((chunk, chunk_mapped)) = waiting.remove(&next) {
            next += 1;
            let Mapped {
                batches,
                rows_landed,
                lines_landed,
                source_cost,
                quarantined_cost,
                rows_skipped,
                skipped_cost,
                skipped_periods,
                overflow_at,
                quarantined: rows_quarantined,
                currency,
                other_currency,
                period,
                other_period,
                periods,
                notes,
            } = chunk_mapped;
            // The first row whose currency differs from the file's first.
            let mixed = match (&first_currency, currency) {
                (_, None) => None,
                (None, Some(first)) => {
                    first_currency = Some(first);
                    other_currency
                }
                (Some((file_first, _)), Some(chunk_first)) if *file_first != chunk_first.0 => Some(chunk_first),
                (Some(_), Some(_)) => other_currency,
            };
            if let (Some((first, first_row)), Some((other, row))) = (&first_currency, mixed) {
                return Err(file_error(
                    name,
                    format!(
                        "mixed currencies: {first} from row {first_row}, then {other} at row {row} \
                         (column {currency_column}); split the file by currency"
                    ),
                ));
            }
            if let Some(column) = file.mapper.one_period_per_file() {
                let stray = match (&first_period, period) {
                    (_, None) => None,
                    (None, Some(first)) => {
                        first_period = Some(first);
                        other_period
                    }
                    (Some((file_first, _)), Some(chunk_first)) if *file_first != chunk_first.0 => Some(chunk_first),
                    (Some(_), Some(_)) => other_period,
                };
                if let (Some((first, first_row)), Some((other, row))) = (&first_period, stray) {
                    let month = crate::calendar::year_month;
                    // Two starts in one month still differ: show them whole then.
                    let shown = |micros: i64| match month(micros) == month(*first) && month(other) == month(*first) {
                        true => chrono::DateTime::from_timestamp_micros(micros)
                            .map_or_else(|| month(micros), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                        false => month(micros),
                    };
                    return Err(file_error(
                        name,
                        format!(
                            "row {row}, column {}: billing period {} differs from the file's {} (row {first_row}); \
                             AWS delivers each billing period in its own files, so this row is a stray that would \
                             replace all of {} for its account. Remove it, or split the file by billing period",
                            column.name,
                            shown(other),
                            shown(*first),
                            month(other)
                        ),
                    ));
                }
            }
            for (key, batch) in &batches {
                staged
                    .write(key.clone(), batch)
                    .map_err(|e| file_error(name, format!("writing staged Parquet: {e}")))?;
            }
            record.rows_landed += rows_landed;
            record.lines_landed += lines_landed;
            record.rows_quarantined += rows_quarantined.len() as u64;
            record.rows_skipped += rows_skipped;
            let summed = money::add(&mut record.source_cost, source_cost)
                .and_then(|()| money::add(&mut record.quarantined_cost, quarantined_cost))
                .and_then(|()| money::add(&mut record.skipped_cost, skipped_cost));
            if let Some(row) = overflow_at.or(summed.err().map(|_| chunk.first_row + chunk.len as u64 - 1)) {
                let column = &file.mapper.cost_column().name;
                return Err(file_error(name, format!("column {column}, by row {row}: the {}", money::Overflow)));
            }
            quarantined.extend(rows_quarantined);
            summary.periods.extend(periods);
            summary.skipped_periods.extend(skipped_periods);
            summary.notes.merge(&notes);
            // The reader has stopped once the file is read: nobody to hand back to.
            let _ = free.send(chunk);
        }
    }
    summary.currency = first_currency.map(|(currency, _)| currency);
    Ok(summary)
}
