//! What moved each team's spend this week: `queries/week_drivers.sql` with its
//! placeholders filled in, read back as typed rows. Shared with the weekly report.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::prelude::SessionContext;

use crate::money::{PRECISION, SCALE};

/// One row of [`crate::queries::WEEK_DRIVERS_SQL`]: a team's amortized spend (EffectiveCost) on one
/// value of a dimension, this week (the 7 days ending on the as-of date) and the 7 before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    pub team: String,
    /// The team's current org path.
    pub org_path: String,
    pub currency: String,
    /// `service`, `account`, `region` or `resource`.
    pub dimension: String,
    /// The ServiceName, SubAccountId, RegionId or ResourceId; empty where a line has none.
    pub key: String,
    /// Amounts at [`crate::money::SCALE`].
    pub this_week: i128,
    pub prior_week: i128,
    pub change: i128,
}

/// Every driver row for the weeks ending on `as_of`, in the query's order (team,
/// org path, currency, dimension, largest absolute change first, key).
/// The session must have the `attributed` table (see [`crate::lake::Lake::session`]).
pub async fn week_drivers(ctx: &SessionContext, as_of: NaiveDate) -> datafusion::error::Result<Vec<Driver>> {
    let batches = crate::lake::sql::query(ctx, &crate::queries::week_drivers(as_of)).await?.collect().await?;
    let money_type = DataType::Decimal128(PRECISION, SCALE);
    let mut rows = Vec::new();
    for batch in batches {
        let text = |i: usize| -> datafusion::error::Result<StringArray> {
            Ok(cast(batch.column(i), &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let money = |i: usize| -> datafusion::error::Result<_> {
            Ok(cast(batch.column(i), &money_type)?.as_primitive::<Decimal128Type>().clone())
        };
        let (team, path, currency, dimension, key) = (text(0)?, text(1)?, text(2)?, text(3)?, text(4)?);
        let (this_week, prior_week, change) = (money(5)?, money(6)?, money(7)?);
        let value = |a: &StringArray, i: usize| if a.is_null(i) { String::new() } else { a.value(i).to_string() };
        for i in 0..batch.num_rows() {
            rows.push(Driver {
                team: value(&team, i),
                org_path: value(&path, i),
                currency: value(&currency, i),
                dimension: value(&dimension, i),
                key: value(&key, i),
                this_week: this_week.value(i),
                prior_week: prior_week.value(i),
                change: change.value(i),
            });
        }
    }
    Ok(rows)
}
