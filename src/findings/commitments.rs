//! Commitments: Reserved Instance and Savings Plan coverage per account, and
//! the utilization of each commitment, from the FOCUS commitment columns
//! (`PricingCategory`, `CommitmentDiscountId`, `CommitmentDiscountStatus`) and,
//! for AWS CUR, the unused cost of its fee lines.
//!
//! Coverage = covered usage at list (on-demand) price / (that + eligible
//! on-demand spend), over the last 30 days. The estimate of raising it to the
//! target coverage assumes: only the steady part of on-demand spend is
//! committed (the smallest day x 30: a commitment is paid every hour), the
//! discount is the one the lake's covered usage already gets (1 - effective /
//! list; else `assumed_discount`), usage stays as it is.

use super::config::share;
use super::query::{self, date_param, text_param};
use super::{Context, Finding, FindingsError, Kind, MONTH_DAYS, finding_id};
use crate::money::{ONE, div, div_round, mul};

const COVERAGE: &str = include_str!("../../queries/findings_commitment_coverage.sql");
const UTILIZATION: &str = include_str!("../../queries/findings_commitment_utilization.sql");

fn pct(fraction: i128) -> String {
    format!("{}%", crate::money::format(div_round(fraction * 100, ONE / 10), 1))
}

pub async fn find(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let mut findings = Vec::new();
    let params = vec![date_param(cx.window_start()), date_param(cx.as_of)];
    let rows = query::rows(&cx.ctx, "findings_commitment_coverage.sql", COVERAGE, params).await?;
    let (all_list, all_effective) =
        rows.iter().fold((0, 0), |(l, e), r| (l + r.number("covered_list"), e + r.number("covered_effective")));
    let (discount, discount_note) = if all_list > 0 {
        let d = ONE - div(all_effective, all_list);
        (d, format!("the {} discount the lake's covered usage gets now", pct(d)))
    } else {
        let d = share(ONE, cx.config.assumed_discount);
        (d, format!("an assumed {} discount (no covered usage in the data to measure it)", pct(d)))
    };
    let target = share(ONE, cx.config.target_coverage);
    let owners = super::unused::account_teams(cx).await?;
    for row in &rows {
        let covered = row.number("covered_list");
        let on_demand = row.number("on_demand");
        if covered + on_demand <= 0 {
            continue;
        }
        let coverage = div(covered, covered + on_demand);
        let days = row.number("days") / ONE;
        // Days without eligible spend are not in the daily rows: then the steady part is 0.
        let steady_daily = if days < cx.window_days() { 0 } else { row.number("min_daily_on_demand").max(0) };
        let steady = steady_daily * MONTH_DAYS;
        let wanted = cx.monthly(mul(target, covered + on_demand) - covered).max(0);
        let commit = wanted.min(steady);
        let savings = mul(commit, discount);
        if coverage >= target || savings < cx.config.commitment_min_monthly_savings {
            continue;
        }
        let account = row.text("SubAccountId");
        let team = owners.get(&account).cloned().unwrap_or_else(|| "unallocated".to_string());
        let currency = row.text("BillingCurrency");
        let cents = |v: i128| crate::money::text::money(v, &currency);
        findings.push(Finding {
            finding_id: finding_id(Kind::Commitment, &["coverage", &row.text("provider"), &account]),
            kind: Some(Kind::Commitment),
            subkind: "coverage".into(),
            billing_period: cx.billing_period(),
            org_path: cx.org_path(&team),
            team,
            provider: row.text("provider"),
            sub_account_id: account.clone(),
            title: format!(
                "Account {account}: commitments cover {} of eligible compute; {} more could save {} a month",
                pct(coverage),
                cents(commit),
                cents(savings)
            ),
            detail: format!(
                "last {} days: {} covered (at on-demand prices), {} eligible on demand (instance hours and usage \
                 types commitments cover elsewhere); assumptions: commit only the steady part of on-demand spend \
                 (smallest day x 30 = {} a month), up to {} coverage, at {}; usage stays as it is",
                cx.window_days(),
                cents(cx.monthly(covered)),
                cents(cx.monthly(on_demand)),
                cents(steady),
                pct(target),
                discount_note
            ),
            currency: currency.clone(),
            monthly_cost: cx.monthly(on_demand),
            monthly_savings: savings,
            status: "open".into(),
            ..Finding::default()
        });
    }

    let period = cx.billing_period();
    let rows =
        query::rows(&cx.ctx, "findings_commitment_utilization.sql", UTILIZATION, vec![text_param(&period)]).await?;
    for row in &rows {
        let (used, unused) = (row.number("used"), row.number("unused"));
        if unused < cx.config.commitment_min_monthly_savings || used + unused <= 0 {
            continue;
        }
        let id = row.text("CommitmentDiscountId");
        let account = row.text("SubAccountId");
        let team = owners.get(&account).cloned().unwrap_or_else(|| "unallocated".to_string());
        let utilization = div(used, used + unused);
        let currency = row.text("BillingCurrency");
        let cents = |v: i128| crate::money::text::money(v, &currency);
        findings.push(Finding {
            finding_id: finding_id(Kind::Commitment, &["utilization", &row.text("provider"), &id]),
            kind: Some(Kind::Commitment),
            subkind: "utilization".into(),
            billing_period: period.clone(),
            org_path: cx.org_path(&team),
            team,
            provider: row.text("provider"),
            sub_account_id: account,
            service_name: row.text("ServiceName"),
            resource_id: id.clone(),
            title: format!(
                "{} {id} is {} used: {} unused in {period}",
                row.text("commitment_type"),
                pct(utilization),
                cents(unused)
            ),
            detail: format!(
                "{period}: {} of covered usage, {} of commitment unused; savings assume the unused part is \
                 put to use (move eligible on-demand usage onto it) or exchanged/sold",
                cents(used),
                cents(unused)
            ),
            currency: currency.clone(),
            monthly_cost: used + unused,
            monthly_savings: unused,
            status: "open".into(),
            ..Finding::default()
        });
    }
    Ok(findings)
}
