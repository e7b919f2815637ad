//! Budgets: monthly amounts per team or org node (`budgets.toml` in the
//! mappings folder), approved variances (`approvals.toml`), and the status of
//! each in a month from the attributed spend: actual to date, a forecast for
//! month end, on track / at risk / over tolerance / approved.
//!
//! `file` parses and validates, `forecast` projects daily spend, `status`
//! puts them together. The last status computed for a month is kept in the
//! lake's `budgets` table (`lake/budgets/<YYYY-MM>.parquet`).

pub mod file;
pub mod forecast;
pub mod status;

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::attribute::Ownership;
use crate::attribute::mappings::MappingError;
use crate::attribute::org::Org;
use crate::calendar::Month;
use crate::lake::Lake;
use crate::money::{PRECISION, SCALE};
pub use file::Budgets;
pub use status::{BacktestRow, BudgetStatus, MonthView, OwnerDays, Status};

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Input(String),
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("lake {path}: {source}")]
    Lake { path: String, source: std::io::Error },
}

/// The mappings' org and budgets, and a session over a lake that has been attributed.
pub struct Loaded<'m> {
    pub org: &'m Org,
    /// The reporting currency and its rates (currency.toml): budgets in another currency
    /// are converted at the month's rate.
    pub currency: Option<&'m crate::attribute::currency::Currency>,
    pub budgets: Budgets,
    pub ctx: SessionContext,
    /// Billing periods in `attributed`, sorted.
    pub periods: Vec<Month>,
}

/// Budgets of the mappings (loaded once by the caller) over the lake's attributed spend.
pub async fn load<'m>(lake: &Lake, mappings: &'m Ownership) -> Result<Loaded<'m>, BudgetError> {
    let org = &mappings.org;
    let budgets = Budgets::load(&mappings.mappings.dir, org)?;
    if !lake.has_table(crate::lake::ATTRIBUTED) {
        return Err(BudgetError::Input(format!(
            "lake {} has no attributed spend: run `tally attribute` first",
            lake.root().display()
        )));
    }
    let ctx = mappings.session(lake).await?;
    let currency = mappings.currency.as_ref();
    // With a reporting currency any budget currency converts into it (a missing rate is noted
    // on the budget's status); without one, a budget is in a currency the spend is in.
    if currency.is_none() {
        budgets.check_currencies(&status::currencies(&ctx).await?)?;
    }
    let periods = crate::lake::line_items::periods(lake).iter().filter_map(|p| Month::parse(p)).collect();
    Ok(Loaded { org, currency, budgets, ctx, periods })
}

/// Every budget's status in `month` (default: the latest attributed month) as of
/// `as_of`: charges after it are not seen, and approvals must hold on it.
pub async fn status(
    loaded: &Loaded<'_>,
    month: Option<Month>,
    as_of: NaiveDate,
) -> Result<Vec<BudgetStatus>, BudgetError> {
    let month = match month {
        Some(m) => m,
        None => *loaded.periods.last().ok_or_else(|| BudgetError::Input("the lake has no attributed months".into()))?,
    };
    let view = month_view(loaded, month, as_of).await?;
    Ok(status::statuses(&view, loaded.org, &loaded.budgets, loaded.currency, as_of))
}

/// What the lake holds for `month` as of `as_of`, per team: what statuses, burn-down charts
/// and forecasts are made from.
pub async fn month_view(loaded: &Loaded<'_>, month: Month, as_of: NaiveDate) -> Result<MonthView, BudgetError> {
    let rows = status::daily_rows(&loaded.ctx, &[month.prev(), month]).await?;
    Ok(MonthView::build(&rows, month, as_of))
}

/// Backtest of the forecast on every complete attributed month, at `days` of data.
pub async fn backtest(loaded: &Loaded<'_>, days: &[u32]) -> Result<Vec<BacktestRow>, BudgetError> {
    let mut out = Vec::new();
    for month in &loaded.periods {
        let rows = status::daily_rows(&loaded.ctx, &[month.prev(), *month]).await?;
        out.extend(status::backtest(&rows, *month, days));
    }
    Ok(out)
}

/// Statuses as a record batch, amounts exact. `full`: every column (CSV, JSON, the
/// `budgets` table); otherwise the columns a terminal shows (which rounds them to the cent).
pub fn to_batch(rows: &[BudgetStatus], full: bool) -> RecordBatch {
    let text =
        |f: &dyn Fn(&BudgetStatus) -> String| Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef;
    let money = |f: &dyn Fn(&BudgetStatus) -> Option<i128>| {
        let values = rows.iter().map(f);
        Arc::new(Decimal128Array::from_iter(values).with_precision_and_scale(PRECISION, SCALE).expect("valid decimal"))
            as ArrayRef
    };
    let pct = |f: &dyn Fn(&BudgetStatus) -> Option<i128>, scale: i8| {
        Arc::new(
            Decimal128Array::from_iter(rows.iter().map(f))
                .with_precision_and_scale(PRECISION, scale)
                .expect("valid decimal"),
        ) as ArrayRef
    };
    let date = |f: &dyn Fn(&BudgetStatus) -> Option<NaiveDate>| {
        Arc::new(Date32Array::from_iter(rows.iter().map(|r| f(r).map(Date32Type::from_naive_date)))) as ArrayRef
    };
    let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
    if full {
        columns.push(("month", text(&|r| r.month.to_string())));
    }
    columns.push(("owner", text(&|r| r.owner.clone())));
    if full {
        columns.push(("kind", text(&|r| r.kind.to_string())));
        columns.push(("org_path", text(&|r| r.path.clone())));
    }
    columns.push(("currency", text(&|r| r.currency.clone())));
    if full {
        columns.push(("cost", text(&|r| r.cost.name().to_string())));
    }
    columns.push(("budget", money(&|r| Some(r.budget))));
    if full {
        columns.push(("tolerance_pct", pct(&|r| Some(r.tolerance), 4)));
    }
    columns.push(("actual", money(&|r| Some(r.actual))));
    columns.push(("forecast", money(&|r| Some(r.forecast))));
    columns.push(("variance_pct", pct(&|r| r.variance_pct, 2)));
    columns.push(("status", text(&|r| r.status.name().to_string())));
    if full {
        columns.push(("approved", money(&|r| Some(r.approved))));
        columns.push(("children_budget", money(&|r| r.children_budget)));
        columns.push(("days_of_data", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.days_of_data)))));
        columns.push(("data_to", date(&|r| r.data_end)));
        columns.push(("as_of", date(&|r| Some(r.as_of))));
    }
    columns.push(("note", text(&|r| r.note.clone())));
    let schema =
        Schema::new(columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>());
    debug_assert!(schema.fields().iter().all(|f| f.data_type() != &DataType::Null));
    RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect()).expect("consistent columns")
}

/// Keeps the statuses of a month in the lake's `budgets` table, replacing the last ones.
pub fn save(lake: &Lake, rows: &[BudgetStatus]) -> Result<(), BudgetError> {
    let Some(first) = rows.first() else { return Ok(()) };
    let path = lake.table_file(crate::lake::BUDGETS, &first.month.to_string());
    crate::lake::write_parquet_atomic(&path, &[to_batch(rows, true)])
        .map_err(|source| BudgetError::Lake { path: path.display().to_string(), source })
}
