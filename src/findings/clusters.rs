//! Idle capacity of shared container clusters: a cluster whose idle share (what no pod used, the
//! `cluster:<name> > idle` shares of its nodes' split) stays above its `idle_alert`
//! (clusters.toml, default 30%) this week and the week before, with the savings of right-sizing
//! it to that share: removing node capacity worth `S` leaves idle `I - S` of `T - S`, so
//! `S = (I - t*T) / (1 - t)` brings the share to `t` (the pods' usage assumed unchanged).

use super::query;
use super::{Context, Finding, FindingsError, Kind, finding_id};
use crate::money::{PERCENT_WHOLE, Percent, div_round};

/// The idle share that makes a finding where clusters.toml gives none.
pub const DEFAULT_IDLE_ALERT: Percent = Percent(300_000);

pub async fn find(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let sql = crate::queries::cluster_idle(cx.as_of);
    let rows = query::rows(&cx.ctx, "cluster_idle.sql", &sql, vec![]).await?;
    let mut findings = Vec::new();
    for row in &rows {
        let cluster = row.text("cluster");
        let policy = cx.mappings.clusters.get(&cluster);
        let alert = policy.idle_alert.unwrap_or(DEFAULT_IDLE_ALERT).0;
        let (week_cost, week_idle) = (row.number("week_cost"), row.number("week_idle"));
        let (prior_cost, prior_idle) = (row.number("prior_cost"), row.number("prior_idle"));
        // Above the alert both weeks: idle * 100% > alert * cost.
        let above = |idle: i128, cost: i128| cost > 0 && idle * PERCENT_WHOLE > alert * cost;
        if !above(week_idle, week_cost) || !above(prior_idle, prior_cost) || alert >= PERCENT_WHOLE {
            continue;
        }
        let (monthly_cost, monthly_idle) = (div_round(week_cost * 30, 7), div_round(week_idle * 30, 7));
        let savings = div_round(monthly_idle * PERCENT_WHOLE - alert * monthly_cost, PERCENT_WHOLE - alert);
        let currency = row.text("BillingCurrency");
        let money = |v: i128| crate::money::text::money(v, &currency);
        let share = |idle: i128, cost: i128| crate::money::text::percent(div_round(idle * 1000, cost));
        let (team, owner_note) = match &policy.owner {
            Some(owner) => (owner.clone(), format!("owned by {owner} (clusters.toml)")),
            None => ("unallocated".to_string(), "no owner in clusters.toml".to_string()),
        };
        let threshold = crate::money::text::percent(div_round(alert, 1_000));
        findings.push(Finding {
            finding_id: finding_id(Kind::Idle, &["cluster", &cluster, &currency]),
            kind: Some(Kind::Idle),
            subkind: "cluster".to_string(),
            billing_period: cx.billing_period(),
            org_path: cx.org_path(&team),
            team,
            provider: "AWS".to_string(),
            service_name: "Amazon Elastic Container Service for Kubernetes".to_string(),
            resource_id: cluster.clone(),
            title: format!(
                "Cluster {cluster} idles {} of its nodes' cost: right-sizing to {threshold} saves {} a month",
                share(week_idle, week_cost),
                money(savings)
            ),
            detail: format!(
                "idle share {} in the 7 days to {} and {} the week before, above the cluster's idle_alert of \
                 {threshold}; {owner_note}; idle {} of {} a month (the week's x 30/7); removing node capacity \
                 worth S = (idle - {threshold} x cost) / (1 - {threshold}) brings idle to {threshold}, assuming \
                 the pods' usage stays as it is",
                share(week_idle, week_cost),
                cx.as_of,
                share(prior_idle, prior_cost),
                money(monthly_idle),
                money(monthly_cost)
            ),
            currency,
            monthly_cost,
            monthly_savings: savings,
            status: "open".into(),
            ..Finding::default()
        });
    }
    Ok(findings)
}
