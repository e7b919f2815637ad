//! Re-attributing a locked period is a restatement: it needs to be asked
//! for, and it is recorded (who, when, why, each team before and after) in
//! the `restatements` table before the new attribution is swapped in, so no
//! locked figure changes without a trace.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Decimal128Type;

use super::AttributeError;
use crate::lake::Lake;
use crate::lake::locks;
use crate::lake::restatements::{self, Restatement, TeamChange};

/// Who restates and why (`tally attribute --restate --message ...`).
#[derive(Debug, Clone)]
pub struct Restate {
    pub by: String,
    pub message: String,
}

/// The locked periods among `periods`; an error naming the lock when one is
/// locked and no restatement was asked for.
pub fn locked_periods(
    lake: &Lake,
    periods: &[String],
    restate: Option<&Restate>,
) -> Result<Vec<String>, AttributeError> {
    let mut locked = Vec::new();
    for period in periods {
        if let Some(lock) = locks::get(lake, period).map_err(AttributeError::Input)? {
            if restate.is_none() {
                return Err(AttributeError::Locked(format!(
                    "billing period {period} is {}; re-attributing it is a restatement: \
                     pass --restate --message '<why>' (it is recorded in the restatements table)",
                    lock.describe()
                )));
            }
            locked.push(period.clone());
        }
    }
    Ok(locked)
}

/// Per period: the mappings version it was attributed with, and each
/// team's spend in the lake's `attributed` (before) and in `staging` (after).
pub async fn record(
    lake: &Lake,
    staging: &Path,
    periods: &[String],
    new_version: &str,
    restate: &Restate,
) -> Result<(), AttributeError> {
    let ctx = lake.session().await?;
    crate::lake::register_parquet_dir(
        &ctx,
        "staged",
        staging,
        Some(crate::lake::attributed::SCHEMA.clone()),
        &["billing_period"],
    )
    .await?;
    let has_old = ctx.table_exist(crate::lake::ATTRIBUTED)?;
    let list: Vec<String> = periods.iter().map(|p| format!("'{p}'")).collect();
    let list = list.join(", ");
    // Each team's spend in its billing currencies, and converted into the reporting currency.
    let sums = |table: &str| {
        format!(
            r#"SELECT billing_period, team, coalesce("BillingCurrency", '') AS currency, 'billing' AS basis,
                      sum("BilledCost") AS billed, sum("EffectiveCost") AS effective, min(mappings_version) AS version
               FROM {table} WHERE billing_period IN ({list}) GROUP BY 1, 2, 3
               UNION ALL
               SELECT billing_period, team, "x_ReportingCurrency", 'reporting', sum("x_ReportingBilledCost"),
                      sum("x_ReportingEffectiveCost"), min(mappings_version)
               FROM {table} WHERE billing_period IN ({list}) AND "x_ReportingCurrency" IS NOT NULL GROUP BY 1, 2, 3"#
        )
    };
    let old = if has_old {
        sums(crate::lake::ATTRIBUTED)
    } else {
        // Never attributed: everything was zero before.
        format!("SELECT * FROM ({}) WHERE false", sums("staged"))
    };
    let query = format!(
        r#"WITH o AS ({old}), n AS ({})
           SELECT coalesce(o.billing_period, n.billing_period), coalesce(o.team, n.team), coalesce(o.currency, n.currency),
                  o.billed, n.billed, o.effective, n.effective, o.version, coalesce(o.basis, n.basis)
           FROM o FULL OUTER JOIN n ON o.billing_period = n.billing_period AND o.team = n.team AND o.currency = n.currency
                AND o.basis = n.basis
           ORDER BY 9, 1, 2, 3"#,
        sums("staged")
    );
    let mut changes: BTreeMap<String, (String, Vec<TeamChange>)> = BTreeMap::new();
    for batch in crate::lake::sql::query(&ctx, &query).await?.collect().await? {
        let text = |i: usize| batch.column(i).as_string::<i32>().clone();
        let (period, team, currency, version, basis) = (text(0), text(1), text(2), text(7), text(8));
        let money = |i: usize| batch.column(i).as_primitive::<Decimal128Type>().clone();
        let (billed_before, billed_after, effective_before, effective_after) = (money(3), money(4), money(5), money(6));
        let value =
            |a: &datafusion::arrow::array::Decimal128Array, row: usize| if a.is_null(row) { 0 } else { a.value(row) };
        for row in 0..batch.num_rows() {
            let entry = changes.entry(period.value(row).to_string()).or_default();
            if !version.is_null(row) && entry.0.is_empty() {
                entry.0 = version.value(row).to_string();
            }
            entry.1.push(TeamChange {
                team: team.value(row).to_string(),
                currency: currency.value(row).to_string(),
                basis: basis.value(row).to_string(),
                before: [value(&billed_before, row), value(&effective_before, row)],
                after: [value(&billed_after, row), value(&effective_after, row)],
            });
        }
    }
    let now = chrono::Utc::now().timestamp_micros();
    for (period, (old_version, changes)) in &changes {
        let record = Restatement {
            restated_at_micros: now,
            period,
            by: &restate.by,
            message: &restate.message,
            old_mappings_version: if old_version.is_empty() { "(none)" } else { old_version },
            new_mappings_version: new_version,
            changes,
        };
        restatements::write(lake, &record).map_err(|source| AttributeError::Lake {
            path: lake.table_dir(crate::lake::RESTATEMENTS).display().to_string(),
            source,
        })?;
    }
    Ok(())
}
