//! Runs the report questions in `queries/` (built into the binary) with their
//! parameters, and reads the answers as plain rows.
//!
//! Parameters are `{name}` in the SQL text, replaced by literals tally writes
//! itself: dates as `DATE 'YYYY-MM-DD'`, text quoted with `'` doubled.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type, TimeUnit};
use datafusion::prelude::SessionContext;

use crate::money::SCALE;

/// A parameter value.
pub enum Param {
    Date(NaiveDate),
    Text(String),
}

impl Param {
    fn literal(&self) -> String {
        match self {
            Param::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            Param::Text(s) => crate::lake::sql::string_literal(s),
        }
    }
}

/// One value of an answer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    /// A decimal or integer: `(unscaled, scale)`.
    Number(i128, u32),
    Date(NaiveDate),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Null => String::new(),
            Value::Number(v, s) => crate::money::format(*v, *s),
            Value::Date(d) => d.to_string(),
            Value::Timestamp(t) => t.to_string(),
        }
    }

    /// The value at `scale` places (nulls are 0: sums over no rows).
    pub fn at_scale(&self, scale: u32) -> i128 {
        match self {
            Value::Number(v, s) => crate::money::rescale(*v, *s, scale),
            _ => 0,
        }
    }

    /// Money at the lake's scale.
    pub fn money(&self) -> i128 {
        self.at_scale(SCALE as u32)
    }

    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
}

pub type Row = Vec<Value>;

/// Runs `sql` (a file of `queries/`, named `name` for errors) with `params` substituted.
pub async fn run(ctx: &SessionContext, name: &str, sql: &str, params: &[(&str, Param)]) -> anyhow::Result<Vec<Row>> {
    let mut text = sql.to_string();
    for (key, value) in params {
        text = text.replace(&format!("{{{key}}}"), &value.literal());
    }
    debug_assert!(!text.contains("{as_of}"), "unsubstituted parameter in {name}");
    let frame = crate::lake::sql::query(ctx, &text).await.map_err(|e| anyhow::anyhow!("queries/{name}: {e}"))?;
    let batches = frame.collect().await.map_err(|e| anyhow::anyhow!("queries/{name}: {e}"))?;
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<_> = batch.columns().to_vec();
        for r in 0..batch.num_rows() {
            let mut row = Vec::with_capacity(columns.len());
            for column in &columns {
                row.push(value(column, r)?);
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

fn value(array: &datafusion::arrow::array::ArrayRef, row: usize) -> anyhow::Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Decimal128(_, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            if *scale >= 0 {
                Value::Number(v, *scale as u32)
            } else {
                Value::Number(v * 10i128.pow((-*scale) as u32), 0)
            }
        }
        t if t.is_integer() => {
            let v = cast(&array.slice(row, 1), &DataType::Int64)?;
            Value::Number(v.as_primitive::<Int64Type>().value(0) as i128, 0)
        }
        DataType::Date32 => Value::Date(
            Date32Type::to_naive_date_opt(array.as_primitive::<Date32Type>().value(row)).expect("valid date"),
        ),
        DataType::Timestamp(_, _) => {
            let v = cast(&array.slice(row, 1), &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let v = cast(&v, &DataType::Int64)?;
            Value::Timestamp(v.as_primitive::<Int64Type>().value(0))
        }
        _ => {
            let v = cast(&array.slice(row, 1), &DataType::Utf8)?;
            Value::Text(v.as_string::<i32>().value(0).to_string())
        }
    })
}
