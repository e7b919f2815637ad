//! With a reporting currency (currency.toml): what each team was billed in each currency, this
//! week and month to date, and the rates that converted it (`queries/billing_currencies.sql`).
//! The weekly report shows the company's per currency; a team's page shows the team's.

use super::context::Context;
use super::document::Section;
use super::table::{Kind, Table, col};
pub use crate::lake::billed_in::{BilledIn, per_currency};

/// Every team's rows; `None` without a currency.toml (then nothing was converted).
pub async fn load(cx: &Context) -> anyhow::Result<Option<Vec<BilledIn>>> {
    if cx.options.mappings.currency.is_none() {
        return Ok(None);
    }
    Ok(Some(crate::lake::billed_in::read(&cx.ctx, &cx.currency, cx.windows.as_of).await?))
}

/// The section: `rows` (one owner's, or the company's per currency) as a table.
pub fn section(cx: &Context, file: &str, rows: &[&BilledIn], lead: String) -> Section {
    let w = &cx.windows;
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        file,
        format!("Billed in each currency: week {} to {}, month from {}", w.week_start, w.as_of, w.month_start),
        vec![
            col("billing_currency", "Billing currency", Kind::Text),
            col("billed_week", "Billed this week", Kind::Amount),
            col("billed_month", "Billed month to date", Kind::Amount),
            col("rate", "Rate", Kind::Text),
            col("converted_week", "This week", Kind::Money),
            col("converted_month", "Month to date", Kind::Money),
        ],
        cur,
    );
    for row in rows {
        table.push(vec![
            row.currency.as_str().into(),
            row.billed_week.into(),
            row.billed_month.into(),
            row.rates_text().into(),
            row.converted_week.into(),
            row.converted_month.into(),
        ]);
    }
    Section {
        id: "billed-in",
        title: "Billed in".into(),
        paragraphs: vec![lead],
        tables: if table.rows.is_empty() { Vec::new() } else { vec![table] },
        ..Default::default()
    }
}
