//! Reading a billing file as a header plus rows of text cells, whatever its
//! encoding: CSV, gzip-compressed CSV (told by its magic bytes, not its name),
//! newline-delimited JSON (told by a leading `{`, gzipped or not) or Parquet
//! (cells rendered as text, maps as JSON objects, records spread into dotted
//! columns). Mappers then see one shape of input.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::StringRecord;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use flate2::read::MultiGzDecoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Csv,
    CsvGzip,
    Parquet,
    /// Newline-delimited JSON, as BigQuery exports GCP billing.
    Json,
    JsonGzip,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Csv => "csv",
            Encoding::CsvGzip => "csv.gz",
            Encoding::Parquet => "parquet",
            Encoding::Json => "json",
            Encoding::JsonGzip => "json.gz",
        }
    }
}

/// One row as read, or why it could not be read as a row at all.
pub enum RowRead {
    Row,
    /// The row is unreadable (bad UTF-8, wrong field count); it goes to quarantine.
    Bad {
        reason: String,
        raw: String,
    },
    End,
}

pub struct Rows {
    pub header: Vec<String>,
    pub encoding: Encoding,
    inner: Inner,
    /// Bytes of the file consumed so far (compressed bytes for gzip), for progress.
    pub bytes_read: Arc<AtomicU64>,
}

enum Inner {
    Csv(csv::Reader<Box<dyn Read + Send>>),
    Parquet { reader: ParquetRecordBatchReader, pending: VecDeque<StringRecord> },
    Json(super::nested::JsonLines),
}

/// Counts bytes as they are read, so progress follows the file, not the rows.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub fn sniff(path: &Path) -> std::io::Result<Encoding> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path)?;
    let n = read_up_to(&mut file, &mut magic)?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Encoding::CsvGzip,
        b"PAR1" => Encoding::Parquet,
        _ => Encoding::Csv,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

impl Rows {
    pub fn open(path: &Path) -> Result<Rows, String> {
        let encoding = sniff_json(path, sniff(path).map_err(|e| format!("cannot open: {e}"))?)
            .map_err(|e| format!("cannot open: {e}"))?;
        let bytes_read = Arc::new(AtomicU64::new(0));
        let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        if let Some(hint) = utf16(path, encoding).map_err(|e| format!("cannot open: {e}"))? {
            return Err(hint);
        }
        match encoding {
            Encoding::Csv | Encoding::CsvGzip => {
                let counted = Counting { inner: file, count: bytes_read.clone() };
                let input: Box<dyn Read + Send> = if encoding == Encoding::CsvGzip {
                    Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(BufReader::new(counted))))
                } else {
                    Box::new(BufReader::with_capacity(1 << 20, counted))
                };
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
                let header = match reader.headers() {
                    Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_string()).collect::<Vec<_>>(),
                    Err(e) => return Err(describe_csv_error(&e, encoding)),
                };
                if header.iter().all(|h| h.is_empty()) {
                    return Err("empty file: no header line".to_string());
                }
                Ok(Rows { header, encoding, inner: Inner::Csv(reader), bytes_read })
            }
            Encoding::Parquet => guarded(|| {
                let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| format!("not a readable Parquet file: {e}"))?;
                let header = super::nested::flat_names(builder.schema().fields());
                let reader =
                    builder.with_batch_size(8192).build().map_err(|e| format!("not a readable Parquet file: {e}"))?;
                Ok(Rows { header, encoding, inner: Inner::Parquet { reader, pending: VecDeque::new() }, bytes_read })
            }),
            Encoding::Json | Encoding::JsonGzip => {
                // Lines may differ in their keys, so a first pass collects them all.
                let header = super::nested::json_lines_header(text_reader(path, encoding, None)?)?;
                let lines =
                    super::nested::JsonLines::new(text_reader(path, encoding, Some(bytes_read.clone()))?, &header);
                Ok(Rows { header, encoding, inner: Inner::Json(lines), bytes_read })
            }
        }
    }

    /// Reads the next row into `record`. File-level failures (truncated gzip,
    /// I/O errors) are returned as `Err` and stop the file.
    pub fn next(&mut self, record: &mut StringRecord) -> Result<RowRead, String> {
        let expected = self.header.len();
        match &mut self.inner {
            Inner::Csv(reader) => match reader.read_record(record) {
                Ok(false) => Ok(RowRead::End),
                Ok(true) if record.len() != expected => Ok(RowRead::Bad {
                    reason: format!("row has {} fields, header has {expected}", record.len()),
                    raw: record.iter().collect::<Vec<_>>().join(","),
                }),
                Ok(true) => Ok(RowRead::Row),
                Err(e) => match e.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => Ok(RowRead::Bad {
                        reason: format!(
                            "invalid UTF-8 in column {} (field {}): the file is not UTF-8 (Latin-1 or Windows-1252?); \
                             re-export it as UTF-8, or convert it: iconv -f WINDOWS-1252 -t UTF-8",
                            self.header.get(err.field()).map_or("?", String::as_str),
                            err.field() + 1
                        ),
                        raw: String::new(),
                    }),
                    _ => Err(describe_csv_error(&e, self.encoding)),
                },
            },
            Inner::Parquet { reader, pending } => {
                while pending.is_empty() {
                    match guarded(|| Ok(reader.next()))? {
                        None => return Ok(RowRead::End),
                        Some(Err(e)) => return Err(format!("Parquet read error: {e}")),
                        Some(Ok(batch)) => pending.extend(batch_to_records(&batch)?),
                    }
                }
                *record = pending.pop_front().expect("not empty");
                Ok(RowRead::Row)
            }
            Inner::Json(lines) => lines.next(record),
        }
    }
}

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read` on a Parquet file, turning a panic of the parquet crate (it
/// asserts on some corrupt metadata, e.g. a negative column offset) into the
/// error it should have been: a mutated file must stop with its name, not crash.
fn guarded<T>(read: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.with(|g| g.set(false));
    result.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        Err(format!("not a readable Parquet file: corrupt ({why})"))
    })
}

/// True on a thread inside [`guarded`]: a panic there is caught and becomes an
/// error, so a panic hook should stay quiet about it.
pub fn panic_is_guarded() -> bool {
    GUARDED.with(|g| g.get())
}

/// Text that is UTF-16 (a byte order mark, or NUL bytes between ASCII ones)
/// would read as one garbled column: say what it is instead.
fn utf16(path: &Path, encoding: Encoding) -> std::io::Result<Option<String>> {
    let reader: Box<dyn Read> = match encoding {
        Encoding::Csv | Encoding::Json => Box::new(File::open(path)?),
        Encoding::CsvGzip | Encoding::JsonGzip => Box::new(MultiGzDecoder::new(File::open(path)?)),
        Encoding::Parquet => return Ok(None),
    };
    let mut head = [0u8; 64];
    let n = read_up_to(&mut reader.take(64), &mut head).unwrap_or(0);
    let head = &head[..n];
    let what = match head {
        [0xff, 0xfe, ..] => "UTF-16 (it starts with the byte order mark FF FE)",
        [0xfe, 0xff, ..] => "UTF-16 (it starts with the byte order mark FE FF)",
        _ if head.len() >= 4 && head.iter().filter(|b| **b == 0).count() * 3 >= head.len() => {
            "UTF-16 or binary (every other byte is NUL)"
        }
        _ => return Ok(None),
    };
    Ok(Some(format!(
        "the file is {what}: tally reads UTF-8 text (CSV, JSON lines, gzipped or not) and Parquet; convert it \
         first, e.g. iconv -f UTF-16 -t UTF-8 in.csv > out.csv"
    )))
}

/// A `{` as the first character (after a BOM or spaces) makes a file JSON lines, not CSV.
fn sniff_json(path: &Path, encoding: Encoding) -> std::io::Result<Encoding> {
    let (json, reader): (Encoding, Box<dyn Read>) = match encoding {
        Encoding::Csv => (Encoding::Json, Box::new(File::open(path)?)),
        Encoding::CsvGzip => (Encoding::JsonGzip, Box::new(MultiGzDecoder::new(File::open(path)?))),
        other => return Ok(other),
    };
    let mut head = [0u8; 64];
    let n = read_up_to(&mut reader.take(64), &mut head).unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    let first = text.trim_start_matches('\u{feff}').trim_start().chars().next();
    Ok(if first == Some('{') { json } else { encoding })
}

/// A buffered text reader over a JSON-lines file, counting file bytes when asked.
fn text_reader(
    path: &Path,
    encoding: Encoding,
    count: Option<Arc<AtomicU64>>,
) -> Result<Box<dyn BufRead + Send>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let counted = Counting { inner: file, count: count.unwrap_or_default() };
    Ok(if encoding == Encoding::JsonGzip {
        Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(BufReader::new(counted))))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, counted))
    })
}

fn describe_csv_error(e: &csv::Error, encoding: Encoding) -> String {
    let at = e.position().map(|p| format!(" near line {}", p.line())).unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Io(io) if encoding == Encoding::CsvGzip => {
            format!("gzip stream is truncated or corrupt{at}: {io}")
        }
        csv::ErrorKind::Io(io) => format!("read error{at}: {io}"),
        _ => format!("CSV error{at}: {e}"),
    }
}

/// Renders a Parquet batch as text rows: scalars through Arrow's cast to
/// string (floats print their shortest exact form), maps as JSON objects.
fn batch_to_records(batch: &RecordBatch) -> Result<Vec<StringRecord>, String> {
    let schema = batch.schema();
    let names = super::nested::flat_names(schema.fields());
    let columns: Vec<ArrayRef> = super::nested::flatten_structs(schema.fields(), batch.columns())
        .iter()
        .zip(&names)
        .map(|(array, name)| match array.data_type() {
            DataType::Map(_, _) => Ok(map_as_json(array.as_map())),
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
                super::nested::json_texts(array.as_ref()).map_err(|e| format!("column {name}: {e}"))
            }
            _ => cast(array, &DataType::Utf8)
                .map_err(|e| format!("column {name}: cannot read {} values as text: {e}", array.data_type())),
        })
        .collect::<Result<_, _>>()?;
    let strings: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
    Ok((0..batch.num_rows())
        .map(|row| {
            let mut record = StringRecord::with_capacity(64, strings.len());
            for column in &strings {
                record.push_field(if column.is_null(row) { "" } else { column.value(row) });
            }
            record
        })
        .collect())
}

fn map_as_json(map: &MapArray) -> ArrayRef {
    let keys = cast(map.keys(), &DataType::Utf8).expect("map keys cast to text");
    let values = cast(map.values(), &DataType::Utf8).expect("map values cast to text");
    let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
    let offsets = map.value_offsets();
    let mut out = datafusion::arrow::array::StringBuilder::new();
    for row in 0..map.len() {
        if map.is_null(row) {
            out.append_null();
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = (offsets[row] as usize..offsets[row + 1] as usize)
            .filter(|&i| !values.is_null(i))
            .map(|i| (keys.value(i).to_string(), serde_json::Value::String(values.value(i).to_string())))
            .collect();
        out.append_value(serde_json::Value::Object(object).to_string());
    }
    std::sync::Arc::new(out.finish())
}
