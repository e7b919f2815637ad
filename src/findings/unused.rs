//! Unclaimed and unused: orphans (spend no rule owns) and idle resources (cost
//! with no usage signal), each a candidate for "brown out, then release", with
//! its monthly cost and its owner or likely owner.
//!
//! The likely owner of an orphan comes from its name first (a team id or alias
//! of org.toml as a dash-separated part of the resource id, longest first:
//! `acme-ledger-core-exports-prod-1f3a` -> `ledger`), else from its account (the
//! team with the most usage spend there in the window).

use std::collections::BTreeMap;

use super::query::{self, Row, date_param, text_param};
use super::{Context, Finding, FindingsError, Kind, finding_id};
use crate::money::text::money as cents;

const ORPHANS: &str = include_str!("../../queries/findings_orphans.sql");
const ACCOUNT_OWNERS: &str = include_str!("../../queries/findings_account_owners.sql");
const RESOURCE_OWNERS: &str = include_str!("../../queries/findings_resource_owners.sql");
const IDLE_HOURLY: &str = include_str!("../../queries/findings_idle_hourly.sql");
const UNATTACHED_VOLUMES: &str = include_str!("../../queries/findings_unattached_volumes.sql");
const OLD_SNAPSHOTS: &str = include_str!("../../queries/findings_old_snapshots.sql");

/// A team named by a resource id: the longest run of its dash-separated parts
/// (up to 4) that is a team id or alias.
pub fn team_from_name<'o>(org: &'o crate::attribute::org::Org, resource_id: &str) -> Option<&'o str> {
    let last = resource_id.rsplit([':', '/']).next().unwrap_or(resource_id);
    let parts: Vec<&str> = last.split(['-', '_', '.']).filter(|p| !p.is_empty()).collect();
    for len in (1..=4.min(parts.len())).rev() {
        for window in parts.windows(len) {
            if let Some(team) = org.team_for_value(&window.join("-")) {
                return Some(team);
            }
        }
    }
    None
}

/// Usage spend per account, per team, in the window.
async fn account_owners(cx: &Context) -> Result<BTreeMap<String, Vec<(String, i128)>>, FindingsError> {
    let params = vec![date_param(cx.window_start()), date_param(cx.as_of)];
    let rows = query::rows(&cx.ctx, "findings_account_owners.sql", ACCOUNT_OWNERS, params).await?;
    let mut owners = BTreeMap::<String, Vec<(String, i128)>>::new();
    for row in rows {
        owners.entry(row.text("SubAccountId")).or_default().push((row.text("team"), row.number("cost")));
    }
    Ok(owners)
}

/// The likely owner of a resource and how it was told.
fn likely_owner(
    cx: &Context,
    accounts: &BTreeMap<String, Vec<(String, i128)>>,
    resource_id: &str,
    account: &str,
) -> (String, String) {
    if let Some(team) = team_from_name(&cx.mappings.org, resource_id) {
        return (team.to_string(), format!("likely owner {team}: named in the resource id"));
    }
    if let Some(teams) = accounts.get(account) {
        let total: i128 = teams.iter().map(|t| t.1).sum();
        if let Some((team, cost)) = teams.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            && total > 0
        {
            let pct = crate::money::div_round(cost * 100, total);
            return (team.clone(), format!("likely owner {team}: {pct}% of account {account}'s owned usage spend"));
        }
    }
    ("unallocated".to_string(), "no likely owner: not named, and no one owns spend in its account".to_string())
}

pub async fn orphans(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let params = vec![date_param(cx.window_start()), date_param(cx.as_of)];
    let rows = query::rows(&cx.ctx, "findings_orphans.sql", ORPHANS, params).await?;
    let accounts = account_owners(cx).await?;
    let mut findings = Vec::new();
    for row in rows {
        let monthly = cx.monthly(row.number("cost"));
        if monthly < cx.config.orphan_min_monthly_cost {
            continue;
        }
        let resource = row.text("ResourceId");
        let account = row.text("SubAccountId");
        let (team, why) = likely_owner(cx, &accounts, &resource, &account);
        let reason = row.text("reason");
        findings.push(Finding {
            finding_id: finding_id(Kind::Orphan, &[&row.text("provider"), &account, &resource]),
            kind: Some(Kind::Orphan),
            subkind: reason.clone(),
            billing_period: cx.billing_period(),
            org_path: cx.org_path(&team),
            title: format!(
                "{resource} costs {} a month and no rule owns it",
                cents(monthly, &row.text("BillingCurrency"))
            ),
            detail: format!(
                "{why}; unallocated ({}) in the last {} days of data to {}; claim it in rules.toml, or brown it \
                 out (stop or restrict it) and release it if no one asks",
                if reason.is_empty() { "no reason recorded".to_string() } else { reason },
                cx.window_days(),
                cx.as_of
            ),
            team,
            ..resource_finding(cx, Kind::Orphan, &row, monthly)
        });
    }
    Ok(findings)
}

/// Fields every resource finding shares.
fn resource_finding(cx: &Context, kind: Kind, row: &Row, monthly: i128) -> Finding {
    Finding {
        kind: Some(kind),
        billing_period: cx.billing_period(),
        provider: row.text("provider"),
        sub_account_id: row.text("SubAccountId"),
        service_name: row.text("ServiceName"),
        resource_id: row.text("ResourceId"),
        start_date: row.date("first_day"),
        currency: row.text("BillingCurrency"),
        monthly_cost: monthly,
        monthly_savings: monthly,
        status: "open".into(),
        ..Finding::default()
    }
}

pub async fn idle(cx: &Context) -> Result<Vec<Finding>, FindingsError> {
    let window = || vec![date_param(cx.window_start()), date_param(cx.as_of)];
    // Billed hours, and the usage that shows the resource did any work.
    let hourly = |hours: &str, work: &str| [window(), vec![text_param(hours), text_param(work)]].concat();
    let cutoff = cx.as_of - chrono::Days::new(u64::from(cx.config.snapshot_age_days));
    let checks: [(&'static str, &str, &str, Vec<_>); 4] = [
        ("findings_idle_hourly.sql", IDLE_HOURLY, "load_balancer", hourly("%LoadBalancerUsage", "%LCUUsage")),
        ("findings_idle_hourly.sql", IDLE_HOURLY, "nat_gateway", hourly("%NatGateway-Hours", "%NatGateway-Bytes")),
        ("findings_unattached_volumes.sql", UNATTACHED_VOLUMES, "unattached_volume", window()),
        (
            "findings_old_snapshots.sql",
            OLD_SNAPSHOTS,
            "old_snapshot",
            vec![date_param(cx.window_start()), date_param(cx.as_of), date_param(cutoff)],
        ),
    ];
    let owners = resource_teams(cx).await?;
    let accounts = account_owners(cx).await?;
    let mut findings = Vec::new();
    for (name, sql, subkind, params) in checks {
        for row in query::rows(&cx.ctx, name, sql, params).await? {
            let monthly = cx.monthly(row.number("cost"));
            if monthly < cx.config.idle_min_monthly_cost {
                continue;
            }
            let resource = row.text("ResourceId");
            let account = row.text("SubAccountId");
            let (team, owner_note) = match owners.get(&resource) {
                Some(team) if team != "unallocated" => (team.clone(), format!("owned by {team}")),
                _ => likely_owner(cx, &accounts, &resource, &account),
            };
            let first = row.date("first_day").map(|d| d.to_string()).unwrap_or_default();
            let (title, evidence) = match subkind {
                "load_balancer" => (
                    format!("Load balancer {resource} is billed but served no traffic"),
                    format!("hours billed and no capacity units (LCUs) used in the last {} days", cx.window_days()),
                ),
                "nat_gateway" => (
                    format!("NAT gateway {resource} is billed but processed no bytes"),
                    format!("hours billed and no data processed in the last {} days", cx.window_days()),
                ),
                "unattached_volume" => (
                    format!("Volume {resource} looks unattached"),
                    format!(
                        "billed in {} where account {account} ran no instance in the last {} days",
                        row.text("zone"),
                        cx.window_days()
                    ),
                ),
                _ => (
                    format!("Snapshot {resource} is older than {} days", cx.config.snapshot_age_days),
                    format!("first billed on {first} (the data's first sight of it) and still billed"),
                ),
            };
            findings.push(Finding {
                finding_id: finding_id(Kind::Idle, &[subkind, &row.text("provider"), &account, &resource]),
                subkind: subkind.to_string(),
                org_path: cx.org_path(&team),
                team,
                title: format!("{title}: {} a month", cents(monthly, &row.text("BillingCurrency"))),
                detail: format!(
                    "{evidence}; {owner_note}; brown it out (stop, detach or restrict it), then release it \
                     if no one asks; savings = its monthly cost"
                ),
                ..resource_finding(cx, Kind::Idle, &row, monthly)
            });
        }
    }
    Ok(findings)
}

/// The team with the most usage spend in each account over the window (ties: first by name).
pub async fn account_teams(cx: &Context) -> Result<BTreeMap<String, String>, FindingsError> {
    Ok(account_owners(cx)
        .await?
        .into_iter()
        .filter_map(|(account, teams)| {
            let top = teams.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?;
            Some((account, top.0))
        })
        .collect())
}

/// The team with the most spend of each resource over the window.
pub async fn resource_teams(cx: &Context) -> Result<BTreeMap<String, String>, FindingsError> {
    let params = vec![date_param(cx.window_start()), date_param(cx.as_of)];
    let rows = query::rows(&cx.ctx, "findings_resource_owners.sql", RESOURCE_OWNERS, params).await?;
    let mut owners = BTreeMap::<String, (i128, String)>::new();
    for row in rows {
        let entry = owners.entry(row.text("ResourceId")).or_insert((i128::MIN, String::new()));
        let (cost, team) = (row.number("cost"), row.text("team"));
        if cost > entry.0 || (cost == entry.0 && team < entry.1) {
            *entry = (cost, team);
        }
    }
    Ok(owners.into_iter().map(|(r, (_, t))| (r, t)).collect())
}
