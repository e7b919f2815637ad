//! Storage tiering: buckets with data in S3 Standard (the hottest class) and
//! few requests (at most `max_requests_per_gb_month`), priced in each colder
//! class the data itself has a list price for in the same region
//! (`queries/findings_storage_prices.sql`). The suggestion is the class that
//! saves most. Assumptions, stated in each finding: the stored volume stays
//! as in the last 30 days; retrieval, transition-request and minimum-duration
//! charges of the colder class are not counted (few requests keep them small).

use std::collections::BTreeMap;

use super::query::{self, date_param};
use super::{Context, Finding, FindingsError, Kind, finding_id};
use crate::money::{ONE, div, div_round, mul};

const TIERING: &str = include_str!("../../queries/findings_storage_tiering.sql");
const PRICES: &str = include_str!("../../queries/findings_storage_prices.sql");

/// The hottest class, which is never suggested.
const STANDARD: &str = "StandardStorage";

pub async fn find(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let mut prices = BTreeMap::<(String, String), i128>::new();
    for row in query::rows(&cx.ctx, "findings_storage_prices.sql", PRICES, vec![]).await? {
        let key = (row.text("region"), row.text("class"));
        let price = row.number("price");
        prices.entry(key).and_modify(|p| *p = (*p).min(price)).or_insert(price);
    }
    let params = vec![date_param(cx.window_start()), date_param(cx.as_of)];
    let rows = query::rows(&cx.ctx, "findings_storage_tiering.sql", TIERING, params).await?;
    let owners = super::unused::resource_teams(cx).await?;
    let mut findings = Vec::new();
    for row in &rows {
        let gb_months = cx.monthly(row.number("gb_months"));
        let requests = cx.monthly(row.number("requests"));
        if gb_months < cx.config.min_gb_months || gb_months <= 0 {
            continue;
        }
        let per_gb = div(requests, gb_months);
        if per_gb > cx.config.max_requests_per_gb_month {
            continue;
        }
        let standard_cost = cx.monthly(row.number("standard_cost"));
        let region = row.text("region");
        let mut options: Vec<(i128, String, i128)> = prices
            .iter()
            .filter(|((r, class), _)| *r == region && class != STANDARD)
            .map(|((_, class), price)| (standard_cost - mul(gb_months, *price), class.clone(), *price))
            .filter(|(savings, _, _)| *savings > 0)
            .collect();
        options.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let Some((savings, class, _)) = options.first().cloned() else { continue };
        let resource = row.text("ResourceId");
        let team = owners.get(&resource).cloned().unwrap_or_else(|| "unallocated".to_string());
        let currency = row.text("BillingCurrency");
        let cents = |v: i128| crate::money::text::money(v, &currency);
        let others: Vec<String> = options
            .iter()
            .map(|(s, c, p)| format!("{c} at {}/GB-month saves {}", crate::money::format(*p, 20), cents(*s)))
            .collect();
        findings.push(Finding {
            finding_id: finding_id(
                Kind::StorageTiering,
                &[&row.text("provider"), &row.text("SubAccountId"), &resource],
            ),
            kind: Some(Kind::StorageTiering),
            subkind: class.clone(),
            billing_period: cx.billing_period(),
            org_path: cx.org_path(&team),
            team,
            provider: row.text("provider"),
            sub_account_id: row.text("SubAccountId"),
            service_name: row.text("ServiceName"),
            resource_id: resource.clone(),
            title: format!(
                "Bucket {resource}: move {} GB from Standard to {class} to save {} a month",
                gb(gb_months),
                cents(savings)
            ),
            detail: format!(
                "{} GB-months a month in Standard for {} ({}/GB-month), {} requests a month ({} per GB-month, \
                 limit {}); in {region} the data prices {}; assumes the stored volume stays, and leaves out \
                 retrieval, transition and minimum-duration charges",
                gb(gb_months),
                cents(standard_cost),
                crate::money::format(div_round(div(standard_cost, gb_months), ONE / 1_000_000), 6),
                gb(requests),
                crate::money::format(div_round(per_gb, ONE / 100), 2),
                crate::money::format(cx.config.max_requests_per_gb_month, 20),
                others.join("; ")
            ),
            currency: currency.clone(),
            monthly_cost: standard_cost,
            monthly_savings: savings,
            status: "open".into(),
            ..Finding::default()
        });
    }
    Ok(findings)
}

/// A quantity rounded to a whole number, for titles.
fn gb(value: i128) -> String {
    div_round(value, ONE).to_string()
}
