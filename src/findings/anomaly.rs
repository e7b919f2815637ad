//! Anomalies: days when a team's usage spend on a service departs upwards
//! from its expected level.
//!
//! The series is daily usage spend per team, provider and service
//! (`queries/findings_anomaly_daily.sql`: Usage charges only, so purchases,
//! credits, refunds and tax never count). For each day with at least
//! `min_history_days` of history, over the previous `history_days` days:
//!
//! - expected = the median of the same weekday's values (seasonality by weekday;
//!   a median, so one-off days in the history do not move it);
//! - noise = 1.4826 x the median absolute deviation of each history day from its
//!   own weekday's median (a robust standard deviation);
//! - the day is anomalous when actual - expected exceeds the largest of
//!   `sensitivity` x noise, `min_excess_share` of expected and `min_daily_excess`.
//!
//! Consecutive anomalous days make one anomaly: its start date, its size (the
//! excess over expected, summed) and the resources that drive it (their spend
//! during it against their daily average in the history before it). Anomalies
//! smaller than `min_total_excess` in all are not reported.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use super::query::{self, date_param, text_param};
use super::{Context, Finding, FindingsError, Kind, config::share, finding_id};

const DAILY: &str = include_str!("../../queries/findings_anomaly_daily.sql");
const DRIVERS: &str = include_str!("../../queries/findings_anomaly_drivers.sql");

/// Detection settings, from findings.toml.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub history_days: usize,
    pub min_history_days: usize,
    /// At [`super::SCALE`].
    pub sensitivity: i128,
    /// Fraction of `PERCENT_WHOLE`.
    pub min_excess_share: i128,
    pub min_daily_excess: i128,
}

/// One anomaly in a series: days `start..start + days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spike {
    pub start: usize,
    pub days: usize,
    pub actual: i128,
    pub expected: i128,
}

impl Spike {
    pub fn excess(&self) -> i128 {
        self.actual - self.expected
    }
}

fn median(values: &mut [i128]) -> i128 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { crate::money::div_round(values[n / 2 - 1] + values[n / 2], 2) }
}

/// The expected value of day `t` and whether it is anomalous, or `None` without enough history.
fn judge(values: &[i128], t: usize, s: &Settings) -> Option<(i128, bool)> {
    if t < s.min_history_days {
        return None;
    }
    let from = t.saturating_sub(s.history_days);
    // The median of the window's days on the same weekday as `day` (either side of it).
    let weekday_median = |day: usize| {
        let mut same: Vec<i128> = (from..t).filter(|d| d.abs_diff(day).is_multiple_of(7)).map(|d| values[d]).collect();
        median(&mut same)
    };
    let mut same: Vec<i128> = (from..t).filter(|d| (t - d).is_multiple_of(7)).map(|d| values[d]).collect();
    if same.len() < 2 {
        return None;
    }
    let expected = median(&mut same);
    let mut deviations: Vec<i128> = (from..t).map(|d| (values[d] - weekday_median(d)).abs()).collect();
    let noise = crate::money::div_round(median(&mut deviations) * 14_826, 10_000);
    let threshold =
        crate::money::mul(s.sensitivity, noise).max(share(expected, s.min_excess_share)).max(s.min_daily_excess);
    Some((expected, values[t] - expected > threshold))
}

/// Anomalies of one daily series (index = day).
pub fn detect(values: &[i128], settings: &Settings) -> Vec<Spike> {
    let mut spikes: Vec<Spike> = Vec::new();
    let mut open: Option<Spike> = None;
    for t in 0..values.len() {
        match judge(values, t, settings) {
            Some((expected, true)) => {
                let spike = open.get_or_insert(Spike { start: t, days: 0, actual: 0, expected: 0 });
                spike.days += 1;
                spike.actual += values[t];
                spike.expected += expected;
            }
            _ => spikes.extend(open.take()),
        }
    }
    spikes.extend(open);
    spikes
}

pub async fn find(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let c = &cx.config;
    let settings = Settings {
        history_days: c.anomaly_history_days as usize,
        min_history_days: c.anomaly_min_history_days as usize,
        sensitivity: c.anomaly_sensitivity,
        min_excess_share: c.anomaly_min_excess_share,
        min_daily_excess: c.anomaly_min_daily_excess,
    };
    let rows = query::rows(&cx.ctx, "findings_anomaly_daily.sql", DAILY, vec![]).await?;
    let mut series = BTreeMap::<(String, String, String, String), BTreeMap<NaiveDate, i128>>::new();
    for row in &rows {
        let key = (row.text("team"), row.text("provider"), row.text("ServiceName"), row.text("BillingCurrency"));
        let Some(day) = row.date("day") else { continue };
        *series.entry(key).or_default().entry(day).or_default() += row.number("cost");
    }
    let days = (cx.as_of - cx.first_day).num_days() as usize + 1;
    let mut findings = Vec::new();
    for ((team, provider, service, currency), by_day) in series {
        // Amounts for people: in the spend's currency, to the cent.
        let cents = |v: i128| crate::money::text::money(v, &currency);
        let values: Vec<i128> =
            (0..days).map(|i| by_day.get(&(cx.first_day + Days::new(i as u64))).copied().unwrap_or(0)).collect();
        for spike in detect(&values, &settings).into_iter().filter(|s| s.excess() >= c.anomaly_min_total_excess) {
            let start = cx.first_day + Days::new(spike.start as u64);
            let end = start + Days::new(spike.days as u64 - 1);
            let base_start = start - Days::new(settings.history_days as u64).min(Days::new(spike.start as u64));
            let base_days = (start - base_start).num_days().max(1) as i128;
            let params = vec![
                text_param(&team),
                text_param(&service),
                date_param(base_start),
                date_param(start),
                date_param(end),
            ];
            let drivers = query::rows(&cx.ctx, "findings_anomaly_drivers.sql", DRIVERS, params).await?;
            let mut ranked: Vec<(i128, String, String)> = drivers
                .iter()
                .map(|r| {
                    let usual = crate::money::div_round(r.number("before") * spike.days as i128, base_days);
                    (r.number("during") - usual, r.text("resource"), r.text("SubAccountId"))
                })
                .filter(|(excess, _, _)| *excess > 0)
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let top: Vec<String> = ranked
                .iter()
                .take(3)
                .map(|(excess, id, _)| {
                    format!("{} (+{})", if id.is_empty() { "(no resource id)" } else { id }, cents(*excess))
                })
                .collect();
            let ongoing = spike.start + spike.days == values.len();
            let excess = spike.excess();
            let title = format!(
                "{service} spend of {team} {} {} above expected over {} day(s) from {start}",
                if ongoing { "is" } else { "was" },
                cents(excess),
                spike.days
            );
            let detail = format!(
                "actual {} against an expected {} ({} to {}{}); expected is the median of the same weekday over the \
                 previous {} days, usage charges only; driven by {}",
                cents(spike.actual),
                cents(spike.expected),
                start,
                end,
                if ongoing { ", still going on the data's last day" } else { "" },
                settings.history_days,
                if top.is_empty() { "spend without a single driving resource".to_string() } else { top.join(", ") }
            );
            let (resource, account) = ranked.first().map(|(_, r, a)| (r.clone(), a.clone())).unwrap_or_default();
            findings.push(Finding {
                finding_id: finding_id(Kind::Anomaly, &[&team, &provider, &service, &start.to_string()]),
                kind: Some(Kind::Anomaly),
                subkind: if ongoing { "ongoing".into() } else { "past".into() },
                billing_period: start.format("%Y-%m").to_string(),
                org_path: cx.org_path(&team),
                team: team.clone(),
                provider: provider.clone(),
                sub_account_id: account,
                service_name: service.clone(),
                resource_id: resource,
                start_date: Some(start),
                title,
                detail,
                currency: currency.clone(),
                monthly_cost: spike.actual,
                monthly_savings: excess,
                status: "open".into(),
                ..Finding::default()
            });
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::ONE;

    fn settings() -> Settings {
        Settings {
            history_days: 28,
            min_history_days: 14,
            sensitivity: 4 * ONE,
            min_excess_share: 200_000,
            min_daily_excess: 10 * ONE,
        }
    }

    #[test]
    fn weekly_pattern_is_not_an_anomaly_and_a_spike_is() {
        // Weekdays 100, weekends 40: no anomaly. Then days 30..33 at 300.
        let mut values: Vec<i128> = (0..50).map(|d| if d % 7 >= 5 { 40 * ONE } else { 100 * ONE }).collect();
        assert!(detect(&values, &settings()).is_empty());
        for v in &mut values[30..33] {
            *v += 200 * ONE;
        }
        let spikes = detect(&values, &settings());
        assert_eq!(spikes.len(), 1, "{spikes:?}");
        assert_eq!((spikes[0].start, spikes[0].days), (30, 3));
        assert_eq!(spikes[0].excess(), 600 * ONE);
    }

    #[test]
    fn a_one_day_dip_or_small_wobble_is_not_an_anomaly() {
        let mut values: Vec<i128> = (0..40).map(|d| 100 * ONE + (d % 3) * ONE).collect();
        values[20] = 0;
        values[25] = 109 * ONE;
        assert!(detect(&values, &settings()).is_empty());
    }
}
