//! A report table: typed columns, exact values. Shown for people (money to the
//! cent with separators, percentages to one decimal), written exactly as CSV and
//! Parquet (money at the lake's 20 places, trailing zeros trimmed in CSV).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::money::text::{self as format, RATIO_SCALE};
use crate::money::{self, PRECISION, SCALE};

/// What a column holds; decides both display and the exact file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Money at the lake's scale (`SCALE` places).
    Money,
    /// A signed change in money.
    MoneyChange,
    /// Money in a currency the row names (a billing currency, not the table's): at the lake's
    /// scale, shown to the cent without a symbol.
    Amount,
    /// Tenths of a percent.
    Percent,
    /// A signed change, tenths of a percent.
    PercentChange,
    Count,
    /// Money per unit of business volume, at `RATIO_SCALE` places, shown to 4.
    PerUnit,
    /// Basis points at `RATIO_SCALE` places, shown to 2.
    Bps,
    /// Business volume at `RATIO_SCALE` places, shown to 2.
    Volume,
}

impl Kind {
    fn scale(self) -> Option<u32> {
        match self {
            Kind::Text => None,
            Kind::Money | Kind::MoneyChange | Kind::Amount => Some(SCALE as u32),
            Kind::Percent | Kind::PercentChange => Some(1),
            Kind::Count => Some(0),
            Kind::PerUnit | Kind::Bps | Kind::Volume => Some(RATIO_SCALE),
        }
    }

    pub fn is_numeric(self) -> bool {
        self != Kind::Text
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Text(String),
    /// A number at its column's scale.
    Num(i128),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i128> for Cell {
    fn from(v: i128) -> Cell {
        Cell::Num(v)
    }
}

impl From<Option<i128>> for Cell {
    fn from(v: Option<i128>) -> Cell {
        v.map_or(Cell::Null, Cell::Num)
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    /// snake_case name in CSV and Parquet.
    pub name: &'static str,
    /// Heading for people.
    pub heading: &'static str,
    pub kind: Kind,
}

pub const fn col(name: &'static str, heading: &'static str, kind: Kind) -> Column {
    Column { name, heading, kind }
}

#[derive(Debug, Clone)]
pub struct Table {
    /// File stem (`weekly_by_team`): chosen by tally, never from data.
    pub file: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Currency of the money columns.
    pub currency: String,
    /// Chart data: folded away in HTML, left out of the Markdown summary (still written as files).
    pub detail: bool,
    /// In HTML, the cells of this column link to the row's page (team and org pages).
    pub link_column: Option<usize>,
    /// Per row: the relative link of [`Table::link_column`]'s cell, made by tally from ids.
    pub links: Vec<Option<String>>,
}

/// A table as the templates see it: every cell already a display string.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub file: String,
    pub title: String,
    pub headings: Vec<&'static str>,
    /// Per column: right-aligned (numbers).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    pub detail: bool,
    pub link_column: Option<usize>,
    pub links: Vec<Option<String>>,
}

impl Table {
    pub fn new(file: &str, title: impl Into<String>, columns: Vec<Column>, currency: &str) -> Table {
        Table {
            file: file.to_string(),
            title: title.into(),
            columns,
            rows: Vec::new(),
            currency: currency.to_string(),
            detail: false,
            link_column: None,
            links: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        assert_eq!(row.len(), self.columns.len(), "row of table {} has the wrong width", self.file);
        self.rows.push(row);
        self.links.push(None);
    }

    /// A row whose [`Table::link_column`] cell links to `href` in HTML.
    pub fn push_linked(&mut self, row: Vec<Cell>, href: Option<String>) {
        self.push(row);
        *self.links.last_mut().expect("just pushed") = href;
    }

    /// One cell for people.
    pub fn show(&self, row: usize, column: usize) -> String {
        let kind = self.columns[column].kind;
        match &self.rows[row][column] {
            Cell::Null => "–".to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Num(v) => match kind {
                Kind::Text | Kind::Count => format::number(*v, 0, 0),
                Kind::Money => format::money(*v, &self.currency),
                Kind::MoneyChange => format::money_change(*v, &self.currency),
                Kind::Amount => format::number(*v, SCALE as u32, 2),
                Kind::Percent => format::percent(*v),
                Kind::PercentChange => format::percent_change(*v),
                Kind::PerUnit => format::number(*v, RATIO_SCALE, 4),
                Kind::Bps => format::number(*v, RATIO_SCALE, 2),
                Kind::Volume => format::number(*v, RATIO_SCALE, 2),
            },
        }
    }

    pub fn shown(&self) -> Shown {
        Shown {
            file: self.file.clone(),
            title: self.title.clone(),
            headings: self.columns.iter().map(|c| c.heading).collect(),
            numeric: self.columns.iter().map(|c| c.kind.is_numeric()).collect(),
            rows: (0..self.rows.len()).map(|r| (0..self.columns.len()).map(|c| self.show(r, c)).collect()).collect(),
            detail: self.detail,
            link_column: self.link_column,
            links: self.links.clone(),
        }
    }

    /// Exact values: text as text, numbers as decimals at their column's scale.
    pub fn to_batch(&self) -> RecordBatch {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let has_money = self.columns.iter().any(|c| matches!(c.kind, Kind::Money | Kind::MoneyChange | Kind::PerUnit));
        if has_money {
            fields.push(Field::new("currency", DataType::Utf8, false));
            arrays.push(Arc::new(StringArray::from_iter_values(self.rows.iter().map(|_| self.currency.as_str()))));
        }
        for (i, column) in self.columns.iter().enumerate() {
            let cells = self.rows.iter().map(|r| &r[i]);
            let array: ArrayRef = match column.kind.scale() {
                None => Arc::new(StringArray::from_iter(cells.map(|c| match c {
                    Cell::Text(s) => Some(s.clone()),
                    Cell::Num(v) => Some(v.to_string()),
                    Cell::Null => None,
                }))),
                Some(0) if column.kind == Kind::Count => Arc::new(Int64Array::from_iter(cells.map(|c| match c {
                    Cell::Num(v) => Some(*v as i64),
                    _ => None,
                }))),
                Some(scale) => Arc::new(
                    Decimal128Array::from_iter(cells.map(|c| match c {
                        Cell::Num(v) => Some(*v),
                        _ => None,
                    }))
                    .with_precision_and_scale(PRECISION, scale as i8)
                    .expect("valid decimal"),
                ),
            };
            fields.push(Field::new(column.name, array.data_type().clone(), true));
            arrays.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("consistent columns")
    }

    /// CSV with a header line; decimals exact without trailing zeros.
    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        let batch = self.to_batch();
        crate::output::write(&mut out, &batch.schema(), std::slice::from_ref(&batch), crate::output::OutputFormat::Csv)
            .expect("writing to memory");
        String::from_utf8(out).expect("utf-8")
    }

    pub fn write_parquet(&self, path: &Path) -> std::io::Result<()> {
        crate::lake::write_parquet_atomic(path, &[self.to_batch()])
    }

    /// An aligned terminal table of the display strings.
    pub fn to_terminal(&self) -> String {
        let shown = self.shown();
        let mut builder = tabled::builder::Builder::default();
        builder.push_record(shown.headings.iter().map(|h| h.to_string()));
        for row in &shown.rows {
            builder.push_record(row.clone());
        }
        let mut table = builder.build();
        table.with(tabled::settings::Style::sharp());
        for (i, numeric) in shown.numeric.iter().enumerate() {
            if *numeric {
                table.modify(tabled::settings::object::Columns::one(i), tabled::settings::Alignment::right());
            }
        }
        format!("{}\n{table}\n", self.title)
    }
}

/// Exact text of a number at a scale (for messages and tests).
pub fn exact(value: i128, scale: u32) -> String {
    money::format(value, scale)
}
