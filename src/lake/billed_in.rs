//! What each team was billed in each currency, this week and month to date, beside the
//! converted amounts and the rates (`queries/billing_currencies.sql` over the reporting-currency
//! view [`super::attributed::in_reporting_currency`]). Reports and nudges both show it.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::prelude::SessionContext;

use crate::money::{PRECISION, RATE_SCALE, SCALE};

/// A team's spend in one billing currency (amortized, EffectiveCost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledIn {
    pub team: String,
    pub currency: String,
    /// Amounts at [`SCALE`]: billed in `currency`, converted in the reporting currency.
    pub billed_week: i128,
    pub converted_week: i128,
    pub billed_month: i128,
    pub converted_month: i128,
    /// Rates at [`RATE_SCALE`]; the week can reach into the month before.
    pub lowest_rate: i128,
    pub highest_rate: i128,
}

impl BilledIn {
    /// `1.1712` or `1.1689 to 1.1712` (reporting currency per unit).
    pub fn rates_text(&self) -> String {
        let rate = |r: i128| crate::money::format(r, RATE_SCALE as u32);
        if self.lowest_rate == self.highest_rate {
            rate(self.lowest_rate)
        } else {
            format!("{} to {}", rate(self.lowest_rate), rate(self.highest_rate))
        }
    }
}

/// Every team's rows in `reporting`, ordered by team and currency. The session must have the
/// reporting-currency view (the session reports and nudges open when the mappings have a
/// currency.toml).
pub async fn read(ctx: &SessionContext, reporting: &str, as_of: NaiveDate) -> datafusion::error::Result<Vec<BilledIn>> {
    let sql = crate::queries::billing_currencies(reporting, as_of);
    let batches = super::sql::query(ctx, &sql).await?.collect().await?;
    let mut rows = Vec::new();
    for batch in batches {
        let text = |i: usize| -> datafusion::error::Result<_> {
            Ok(cast(batch.column(i), &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let decimal = |i: usize, scale: i8| -> datafusion::error::Result<_> {
            Ok(cast(batch.column(i), &DataType::Decimal128(PRECISION, scale))?.as_primitive::<Decimal128Type>().clone())
        };
        let (team, currency) = (text(0)?, text(1)?);
        let amounts = [decimal(2, SCALE)?, decimal(3, SCALE)?, decimal(4, SCALE)?, decimal(5, SCALE)?];
        let (lowest, highest) = (decimal(6, RATE_SCALE)?, decimal(7, RATE_SCALE)?);
        let value = |a: &datafusion::arrow::array::StringArray, i: usize| {
            if a.is_null(i) { String::new() } else { a.value(i).to_string() }
        };
        for i in 0..batch.num_rows() {
            rows.push(BilledIn {
                team: value(&team, i),
                currency: value(&currency, i),
                billed_week: amounts[0].value(i),
                converted_week: amounts[1].value(i),
                billed_month: amounts[2].value(i),
                converted_month: amounts[3].value(i),
                lowest_rate: lowest.value(i),
                highest_rate: highest.value(i),
            });
        }
    }
    Ok(rows)
}

/// The rows summed over teams: one per billing currency, largest converted month first.
pub fn per_currency(rows: &[BilledIn]) -> Vec<BilledIn> {
    let mut out: Vec<BilledIn> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|o| o.currency == row.currency) {
            Some(o) => {
                o.billed_week += row.billed_week;
                o.converted_week += row.converted_week;
                o.billed_month += row.billed_month;
                o.converted_month += row.converted_month;
                o.lowest_rate = o.lowest_rate.min(row.lowest_rate);
                o.highest_rate = o.highest_rate.max(row.highest_rate);
            }
            None => out.push(BilledIn { team: String::new(), ..row.clone() }),
        }
    }
    out.sort_by(|a, b| b.converted_month.cmp(&a.converted_month).then_with(|| a.currency.cmp(&b.currency)));
    out
}
