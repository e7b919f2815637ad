//! Realized savings of the initiatives in `initiatives.toml`: the team's usage
//! spend in the initiative's scope (services, accounts, tags) before it shipped
//! against after. Tags match as in rules.toml: a scope key also matches its
//! aliases (`[tag_aliases]`), and values are compared trimmed and in any case.
//!
//! - before: the `baseline_days` days before the ship date; after: from the day
//!   after it, up to `baseline_days` days, to the data's last day (the ship day
//!   itself is left out). Days without spend count as 0.
//! - saving per day = mean before - mean after; with a `metric` (and `--metrics`),
//!   the before cost per unit of volume times each after day's volume, less that
//!   day's cost, averaged: savings normalised by business volume.
//! - band: 1.96 standard errors of that difference (the daily values' variances
//!   over each window), x 30 like the saving. Computed in whole cents with
//!   integer square roots, so the same data gives the same band everywhere.
//! - status: `too_early` with fewer than `min_days_after` days after; `verified`
//!   when the band's low end is above 0 and the saving is at least
//!   `verified_share` of the expected; else `not_realized`.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use super::config::{Initiative, share};
use super::query::{self, date_param, text_param};
use super::{Context, Finding, FindingsError, Kind, MONTH_DAYS, finding_id};
use crate::attribute::rules::RuleSet;
use crate::money::{CENT, div_round};

const DAILY: &str = include_str!("../../queries/findings_realized_daily.sql");
const DAILY_TAGS: &str = include_str!("../../queries/findings_realized_daily_tags.sql");
const VOLUME: &str = include_str!("../../queries/findings_realized_volume.sql");

/// Sample variance of whole-cent values, in cents squared (0 for fewer than 2).
fn variance(values: &[i128]) -> i128 {
    let n = values.len() as i128;
    if n < 2 {
        return 0;
    }
    let sum: i128 = values.iter().sum();
    let squares: i128 = values.iter().map(|v| v * v).sum();
    div_round(n * squares - sum * sum, n * (n - 1))
}

/// Measured monthly saving and the half-width of its 95% band, at [`super::SCALE`],
/// from daily before/after values (at SCALE) and, when normalising, daily volumes.
pub fn measure(before: &[i128], after: &[i128], volumes: Option<(&[i128], &[i128])>) -> (i128, i128) {
    let (nb, na) = (before.len() as i128, after.len() as i128);
    if nb == 0 || na == 0 {
        return (0, 0);
    }
    // Residuals: before around its own level, after as savings per day.
    let (residual_before, savings_after): (Vec<i128>, Vec<i128>) = match volumes {
        None => {
            let mean_before = div_round(before.iter().sum(), nb);
            (before.to_vec(), after.iter().map(|a| mean_before - a).collect())
        }
        Some((vb, va)) => {
            let (cost, volume): (i128, i128) = (before.iter().sum(), vb.iter().sum());
            let unit = |v: i128| if volume == 0 { 0 } else { crate::money::mul(crate::money::div(cost, volume), v) };
            (
                before.iter().zip(vb).map(|(c, v)| c - unit(*v)).collect(),
                after.iter().zip(va).map(|(c, v)| unit(*v) - c).collect(),
            )
        }
    };
    let daily = div_round(savings_after.iter().sum(), na);
    let to_cents = |v: &[i128]| v.iter().map(|x| div_round(*x, CENT)).collect::<Vec<_>>();
    let se_squared =
        div_round(variance(&to_cents(&residual_before)), nb) + div_round(variance(&to_cents(&savings_after)), na);
    let se_cents = isqrt(se_squared.max(0));
    let half = div_round(se_cents * 196, 100) * CENT * MONTH_DAYS;
    (daily * MONTH_DAYS, half)
}

fn isqrt(n: i128) -> i128 {
    if n < 2 {
        return n;
    }
    let mut x = (n as f64).sqrt() as i128;
    while x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

fn in_scope(initiative: &Initiative, service: &str, account: &str) -> bool {
    (initiative.services.is_empty() || initiative.services.iter().any(|s| s == service))
        && (initiative.accounts.is_empty() || initiative.accounts.iter().any(|a| a == account))
}

/// Whether a line's tags (`tags` of `findings_realized_daily_tags.sql`: keys, then values,
/// each joined by `\u{1f}`, the two by `\u{1e}`) carry every tag of the scope, matched as
/// rules match tags: key aliases of rules.toml, values trimmed and in any case.
pub fn tags_match(rules: &RuleSet, scope: &[(&str, std::borrow::Cow<'_, str>)], tags: &str) -> bool {
    let (keys, values) = tags.split_once('\u{1e}').unwrap_or(("", ""));
    let pairs = keys.split('\u{1f}').zip(values.split('\u{1f}')).filter(|(k, _)| !k.is_empty());
    let line = rules.canonical_tags(pairs);
    scope.iter().all(|(key, value)| line.iter().any(|(k, v)| k == key && v == value))
}

pub async fn find(cx: &Context, metrics: bool) -> Result<Vec<Finding>, FindingsError> {
    let mut findings = Vec::new();
    for initiative in &cx.config.initiatives {
        let days = u64::from(cx.config.baseline_days);
        let shipped = initiative.shipped;
        let before_start = (shipped - Days::new(days)).max(cx.first_day);
        let after_end = (shipped + Days::new(days)).min(cx.as_of);
        let params = vec![text_param(&initiative.team), date_param(before_start), date_param(after_end)];
        let rows = if initiative.tags.is_empty() {
            query::rows(&cx.ctx, "findings_realized_daily.sql", DAILY, params).await?
        } else {
            query::rows(&cx.ctx, "findings_realized_daily_tags.sql", DAILY_TAGS, params).await?
        };
        // The scope's tags in the canonical form rules give a line's tags.
        let scope_tags =
            cx.mappings.rules.canonical_tags(initiative.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut daily = BTreeMap::<NaiveDate, i128>::new();
        let mut currency = String::new();
        for row in &rows {
            if in_scope(initiative, &row.text("ServiceName"), &row.text("SubAccountId"))
                && (scope_tags.is_empty() || tags_match(&cx.mappings.rules, &scope_tags, &row.text("tags")))
            {
                *daily.entry(row.date("day").expect("day")).or_default() += row.number("cost");
                currency = row.text("BillingCurrency");
            }
        }
        let range =
            |from: NaiveDate, to: NaiveDate| -> Vec<NaiveDate> { from.iter_days().take_while(|d| *d <= to).collect() };
        let before_days = if shipped > before_start { range(before_start, shipped - Days::new(1)) } else { vec![] };
        let after_days = range(shipped + Days::new(1), after_end);
        let cost = |ds: &[NaiveDate]| ds.iter().map(|d| daily.get(d).copied().unwrap_or(0)).collect::<Vec<_>>();
        let (before, after) = (cost(&before_days), cost(&after_days));
        let volume = match (&initiative.metric, metrics) {
            (Some(metric), true) => {
                let rows =
                    query::rows(&cx.ctx, "findings_realized_volume.sql", VOLUME, vec![text_param(metric)]).await?;
                let own = rows.iter().any(|r| r.text("team") == initiative.team);
                let mut by_day = BTreeMap::<NaiveDate, i128>::new();
                for r in rows.iter().filter(|r| !own || r.text("team") == initiative.team) {
                    *by_day.entry(r.date("day").expect("day")).or_default() += r.number("volume");
                }
                if by_day.is_empty() {
                    return Err(FindingsError::Data(format!(
                        "{}: metric {metric:?} has no rows in the metrics file",
                        initiative.location
                    )));
                }
                let v = |ds: &[NaiveDate]| ds.iter().map(|d| by_day.get(d).copied().unwrap_or(0)).collect::<Vec<_>>();
                Some((v(&before_days), v(&after_days)))
            }
            _ => None,
        };
        let (measured, half) = measure(&before, &after, volume.as_ref().map(|(b, a)| (b.as_slice(), a.as_slice())));
        let expected = initiative.expected_monthly_savings;
        let status = if (after.len() as u32) < cx.config.min_days_after || before.is_empty() {
            "too_early"
        } else if measured - half > 0 && measured >= share(expected, cx.config.verified_share) {
            "verified"
        } else {
            "not_realized"
        };
        let monthly_after =
            if after.is_empty() { 0 } else { div_round(after.iter().sum::<i128>() * MONTH_DAYS, after.len() as i128) };
        let scope: Vec<String> = [
            (!initiative.services.is_empty()).then(|| format!("services {}", initiative.services.join(", "))),
            (!initiative.accounts.is_empty()).then(|| format!("accounts {}", initiative.accounts.join(", "))),
            (!initiative.tags.is_empty()).then(|| {
                let tags: Vec<String> = initiative.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("tags {}", tags.join(", "))
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let normalised = match (&initiative.metric, volume.is_some()) {
            (Some(m), true) => format!("; normalised by business metric {m} (cost per unit before x volume after)"),
            (Some(m), false) => format!("; metric {m} not applied (no --metrics file)"),
            _ => String::new(),
        };
        let cents = |v: i128| crate::money::text::money(v, &currency);
        let title = format!(
            "{}: {} a month measured against {} expected ({})",
            initiative.title,
            cents(measured),
            cents(expected),
            status.replace('_', " ")
        );
        let detail = format!(
            "{} usage spend of {} in scope ({}): {} days before {} against {} days after{}; 95% band {} to {} a \
             month; {}",
            initiative.location,
            initiative.team,
            if scope.is_empty() { "all of it".to_string() } else { scope.join("; ") },
            before.len(),
            shipped,
            after.len(),
            normalised,
            cents(measured - half),
            cents(measured + half),
            match status {
                "verified" => "the expected savings appeared".to_string(),
                "too_early" =>
                    format!("too early: fewer than {} days of data after shipping", cx.config.min_days_after),
                _ => "the expected savings did not appear".to_string(),
            }
        );
        let single = |v: &Vec<String>| if v.len() == 1 { v[0].clone() } else { String::new() };
        findings.push(Finding {
            finding_id: finding_id(Kind::RealizedSavings, &[&initiative.team, &initiative.title, &shipped.to_string()]),
            kind: Some(Kind::RealizedSavings),
            subkind: if volume.is_some() { "normalised".into() } else { "absolute".into() },
            billing_period: cx.billing_period(),
            team: initiative.team.clone(),
            org_path: cx.org_path(&initiative.team),
            provider: String::new(),
            sub_account_id: single(&initiative.accounts),
            service_name: single(&initiative.services),
            start_date: Some(shipped),
            title,
            detail,
            currency,
            monthly_cost: monthly_after,
            monthly_savings: measured,
            expected_monthly_savings: Some(expected),
            savings_low: Some(measured - half),
            savings_high: Some(measured + half),
            status: status.to_string(),
            ..Finding::default()
        });
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::ONE;

    #[test]
    fn a_clean_drop_is_measured_exactly_with_a_zero_band() {
        let (saving, half) = measure(&[10 * ONE; 5], &[7 * ONE; 4], None);
        assert_eq!((saving, half), (90 * ONE, 0));
    }

    #[test]
    fn normalised_by_volume() {
        // $1 per unit before; after, volume doubles and cost rises only to $15 for 20 units.
        let (saving, _) = measure(&[10 * ONE, 10 * ONE], &[15 * ONE], Some((&[10 * ONE, 10 * ONE], &[20 * ONE])));
        assert_eq!(saving, 5 * ONE * MONTH_DAYS);
    }

    #[test]
    fn band_from_variances() {
        // before 9, 11 (var 2 dollars^2 = 20000 cents^2), after 5, 5 (var 0): se^2 = 10000, se = 100 cents.
        let (saving, half) = measure(&[9 * ONE, 11 * ONE], &[5 * ONE, 5 * ONE], None);
        assert_eq!(saving, 5 * ONE * MONTH_DAYS);
        assert_eq!(half, 196 * CENT * MONTH_DAYS);
    }
}
