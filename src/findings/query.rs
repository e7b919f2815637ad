//! Running the `queries/findings_*.sql` files and reading their rows.

use std::collections::HashMap;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::FindingsError;
use crate::money::SCALE;

/// One result row: cells by column name.
#[derive(Debug, Clone, Default)]
pub struct Row {
    cells: HashMap<String, Cell>,
}

#[derive(Debug, Clone)]
enum Cell {
    Null,
    Text(String),
    /// At [`SCALE`].
    Number(i128),
    Date(NaiveDate),
}

impl Row {
    fn cell(&self, name: &str) -> &Cell {
        self.cells.get(name).unwrap_or_else(|| panic!("query has no column {name}"))
    }

    pub fn text(&self, name: &str) -> String {
        match self.cell(name) {
            Cell::Text(t) => t.clone(),
            _ => String::new(),
        }
    }

    /// A number at [`SCALE`]; 0 for null.
    pub fn number(&self, name: &str) -> i128 {
        match self.cell(name) {
            Cell::Number(n) => *n,
            _ => 0,
        }
    }

    pub fn date(&self, name: &str) -> Option<NaiveDate> {
        match self.cell(name) {
            Cell::Date(d) => Some(*d),
            _ => None,
        }
    }
}

/// Runs `sql` with `$1, $2...` bound to `params` and reads every row.
pub async fn rows(
    ctx: &SessionContext,
    name: &'static str,
    sql: &str,
    params: Vec<ScalarValue>,
) -> Result<Vec<Row>, FindingsError> {
    let err = |source| FindingsError::Query { query: name, source };
    let mut frame = crate::lake::sql::query(ctx, sql).await.map_err(err)?;
    if !params.is_empty() {
        frame = frame.with_param_values(params).map_err(err)?;
    }
    let batches = frame.collect().await.map_err(err)?;
    Ok(batches.iter().flat_map(read_batch).collect())
}

fn read_batch(batch: &RecordBatch) -> Vec<Row> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            let cells = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(field, array)| {
                    let cell = if array.is_null(row) {
                        Cell::Null
                    } else {
                        match array.data_type() {
                            DataType::Utf8 => Cell::Text(array.as_string::<i32>().value(row).to_string()),
                            DataType::LargeUtf8 => Cell::Text(array.as_string::<i64>().value(row).to_string()),
                            DataType::Utf8View => Cell::Text(array.as_string_view().value(row).to_string()),
                            DataType::Decimal128(_, scale) => {
                                let v = array.as_primitive::<Decimal128Type>().value(row);
                                Cell::Number(rescale(v, *scale))
                            }
                            DataType::Int64 => Cell::Number(
                                i128::from(array.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(row))
                                    * crate::money::ONE,
                            ),
                            DataType::UInt64 => Cell::Number(
                                i128::from(array.as_primitive::<datafusion::arrow::datatypes::UInt64Type>().value(row))
                                    * crate::money::ONE,
                            ),
                            DataType::Date32 => {
                                Date32Type::to_naive_date_opt(array.as_primitive::<Date32Type>().value(row))
                                    .map_or(Cell::Null, Cell::Date)
                            }
                            other => panic!("findings queries return text, decimals, integers and dates, not {other}"),
                        }
                    };
                    (field.name().clone(), cell)
                })
                .collect();
            Row { cells }
        })
        .collect()
}

/// A decimal of `scale` digits at [`SCALE`].
fn rescale(value: i128, scale: i8) -> i128 {
    let diff = i32::from(SCALE) - i32::from(scale);
    if diff >= 0 { value * 10i128.pow(diff as u32) } else { crate::money::div_round(value, 10i128.pow((-diff) as u32)) }
}

pub fn date_param(day: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(Date32Type::from_naive_date(day)))
}

pub fn text_param(text: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(text.to_string()))
}

const DATA_DAYS: &str = include_str!("../../queries/findings_data_days.sql");

/// The first day of usage in the attributed data; `None` when it has no usage.
pub async fn first_usage_day(ctx: &SessionContext) -> Result<Option<NaiveDate>, FindingsError> {
    let rows = rows(ctx, "findings_data_days.sql", DATA_DAYS, vec![]).await?;
    Ok(rows.first().and_then(|r| r.date("first_day")))
}
