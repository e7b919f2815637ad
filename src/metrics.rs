//! Business volume: the denominators of unit economics ("cost per payment",
//! "spend per dollar processed, in basis points").
//!
//! A metrics file is CSV or Parquet with the columns
//! `date, metric, value[, team][, product]`: one row per day (or per any date
//! that stands for a period) and metric, optionally per team or product. Loaded
//! into the session as the `business_metrics` table:
//!
//! ```text
//! business_metrics(date DATE, metric VARCHAR, value DECIMAL(38,10), team VARCHAR, product VARCHAR)
//! ```
//!
//! Values are exact decimals like money (volume in dollars is money too).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, Decimal128Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

/// Name of the table in a session.
pub const TABLE: &str = "business_metrics";
/// Fractional digits of `value`.
pub const VALUE_SCALE: i8 = 10;

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Decimal128(38, VALUE_SCALE), false),
        Field::new("team", DataType::Utf8, true),
        Field::new("product", DataType::Utf8, true),
    ]))
});

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}:{row}: field {field}: {message}")]
    Field { path: PathBuf, row: usize, field: &'static str, message: String },
}

/// One row of a metrics file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub date: NaiveDate,
    pub metric: String,
    /// `value / 10^VALUE_SCALE`.
    pub value: i128,
    pub team: Option<String>,
    pub product: Option<String>,
}

/// Reads a metrics file (`.csv` or `.parquet`), naming the row and field of any bad value.
pub fn load(path: &Path) -> Result<Vec<Metric>, MetricsError> {
    let file_error = |message: String| MetricsError::File { path: path.to_path_buf(), message };
    let is_parquet = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if is_parquet { load_parquet(path) } else { load_csv(path) }.map_err(|e| match e {
        LoadError::Field { row, field, message } => {
            MetricsError::Field { path: path.to_path_buf(), row, field, message }
        }
        LoadError::File(message) => file_error(message),
    })
}

enum LoadError {
    File(String),
    Field { row: usize, field: &'static str, message: String },
}

/// Column positions by header name; `date`, `metric`, `value` are required.
struct Columns {
    date: usize,
    metric: usize,
    value: usize,
    team: Option<usize>,
    product: Option<usize>,
}

impl Columns {
    fn find(names: &[String]) -> Result<Columns, LoadError> {
        let position = |name: &str| names.iter().position(|n| n.trim().eq_ignore_ascii_case(name));
        let required = |name: &str| {
            position(name).ok_or_else(|| {
                LoadError::File(format!(
                    "no `{name}` column (a metrics file has date, metric, value and optionally team, product; found: {})",
                    names.join(", ")
                ))
            })
        };
        Ok(Columns {
            date: required("date")?,
            metric: required("metric")?,
            value: required("value")?,
            team: position("team"),
            product: position("product"),
        })
    }
}

fn parse_row(row: usize, fields: &[Option<&str>], columns: &Columns) -> Result<Metric, LoadError> {
    let bad = |field: &'static str, message: String| LoadError::Field { row, field, message };
    let text = |i: usize| fields.get(i).copied().flatten().map(str::trim).filter(|s| !s.is_empty());
    let date_text = text(columns.date).ok_or_else(|| bad("date", "empty".into()))?;
    let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
        .map_err(|_| bad("date", format!("{date_text:?} is not a date (YYYY-MM-DD)")))?;
    let metric = text(columns.metric).ok_or_else(|| bad("metric", "empty".into()))?.to_string();
    let value_text = text(columns.value).ok_or_else(|| bad("value", "empty".into()))?;
    let value =
        crate::money::parse_with_scale(value_text, VALUE_SCALE as u32).map_err(|e| bad("value", e.to_string()))?.value;
    let optional = |i: Option<usize>| i.and_then(text).map(str::to_string);
    Ok(Metric { date, metric, value, team: optional(columns.team), product: optional(columns.product) })
}

fn load_csv(path: &Path) -> Result<Vec<Metric>, LoadError> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| LoadError::File(e.to_string()))?;
    let headers: Vec<String> =
        reader.headers().map_err(|e| LoadError::File(e.to_string()))?.iter().map(str::to_string).collect();
    let columns = Columns::find(&headers)?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2; // 1-based, after the header line
        let record = record.map_err(|e| LoadError::File(format!("line {row}: {e}")))?;
        let fields: Vec<Option<&str>> = record.iter().map(Some).collect();
        rows.push(parse_row(row, &fields, &columns)?);
    }
    Ok(rows)
}

fn load_parquet(path: &Path) -> Result<Vec<Metric>, LoadError> {
    let file = std::fs::File::open(path).map_err(|e| LoadError::File(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| LoadError::File(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| LoadError::File(e.to_string()))?;
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let columns = Columns::find(&names)?;
        // Every column as text, so CSV and Parquet share one parser and one set of messages.
        let as_text: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(|e| LoadError::File(e.to_string())))
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            let fields: Vec<Option<&str>> = as_text
                .iter()
                .map(|c| {
                    let strings = c.as_string::<i32>();
                    (!strings.is_null(r)).then(|| strings.value(r))
                })
                .collect();
            rows.push(parse_row(rows.len() + 1, &fields, &columns)?);
        }
    }
    Ok(rows)
}

pub fn to_batch(rows: &[Metric]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|m| Date32Type::from_naive_date(m.date)))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|m| m.metric.as_str()))),
        Arc::new(
            Decimal128Array::from_iter_values(rows.iter().map(|m| m.value))
                .with_precision_and_scale(38, VALUE_SCALE)
                .expect("valid decimal"),
        ),
        Arc::new(StringArray::from_iter(rows.iter().map(|m| m.team.as_deref()))),
        Arc::new(StringArray::from_iter(rows.iter().map(|m| m.product.as_deref()))),
    ];
    RecordBatch::try_new(SCHEMA.clone(), columns).expect("consistent columns")
}

/// Loads `path` and registers it as `business_metrics` in `ctx`.
pub fn register(ctx: &SessionContext, path: &Path) -> Result<usize, anyhow::Error> {
    let rows = load(path)?;
    let table = MemTable::try_new(SCHEMA.clone(), vec![vec![to_batch(&rows)]])?;
    ctx.register_table(TABLE, Arc::new(table))?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_csv_with_optional_columns_exactly() {
        let (_dir, path) =
            write("m.csv", "date,metric,value,team\n2026-08-01,payments,1234.5,\n2026-08-01,api_calls,7,search\n");
        let rows = load(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].value, 12_345 * 10i128.pow(9));
        assert_eq!(rows[0].team, None);
        assert_eq!(rows[1].team.as_deref(), Some("search"));
        assert_eq!(rows[1].product, None);
    }

    #[test]
    fn bad_value_names_file_row_and_field() {
        let (_dir, path) = write("m.csv", "date,metric,value\n2026-08-01,payments,1\n2026-08-02,payments,lots\n");
        let message = load(&path).unwrap_err().to_string();
        assert_eq!(message, format!("{}:3: field value: not a number: \"lots\"", path.display()));
    }

    #[test]
    fn missing_column_is_named() {
        let (_dir, path) = write("m.csv", "day,metric,value\n");
        let message = load(&path).unwrap_err().to_string();
        assert!(message.contains("no `date` column"), "{message}");
    }
}
