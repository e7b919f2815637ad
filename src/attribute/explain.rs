//! `tally explain`: why a line item belongs to whom. Every rule that would
//! take it (the winner and those that lost on precedence), rules that hold
//! but are not in effect on the charge date, and how a pool split it.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::NaiveDate;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::clusters::{self, Site};
use super::owners::{Method, Owners};
use super::rules::{Decision, LineView, Scratch, Verdict};
use super::scan::{ClusterRows, Input, read_batches};
use super::{Compiled, WHOLE};
use crate::lake::Lake;
use crate::lake::line_items::period_files;
use crate::money::{SCALE, format};

/// A line item found by id, owned (the batch it came from is gone).
#[derive(Debug)]
struct Found {
    period: String,
    source_file: String,
    source_row: u64,
    line_item_id: Option<String>,
    billing_account: Option<String>,
    sub_account: Option<String>,
    service_name: Option<String>,
    service_code: Option<String>,
    region: Option<String>,
    charge_category: Option<String>,
    resource_id: Option<String>,
    resource_group: Option<String>,
    cluster: Option<String>,
    namespace: Option<String>,
    workload: Option<String>,
    raw_tags: Vec<(String, String)>,
    date: NaiveDate,
    /// ChargePeriodStart (micros): with the ResourceId, what a node's pods name as their parent.
    start: Option<i64>,
    currency: String,
    billed: i128,
    effective: i128,
}

impl Found {
    fn read(input: &Input, row: usize, period: &str) -> Found {
        let owned = |name: &str| input.text(name, row).map(str::to_string);
        Found {
            period: period.to_string(),
            source_file: owned("x_SourceFile").unwrap_or_default(),
            source_row: input.source_row.value(row),
            line_item_id: owned("x_SourceLineItemId"),
            billing_account: owned("BillingAccountId"),
            sub_account: owned("SubAccountId"),
            service_name: owned("ServiceName"),
            service_code: owned("x_ServiceCode"),
            region: owned("RegionId"),
            charge_category: owned("ChargeCategory"),
            resource_id: owned("ResourceId"),
            resource_group: owned("x_ResourceGroup"),
            cluster: owned("x_Cluster"),
            namespace: owned("x_Namespace"),
            workload: owned("x_Workload"),
            raw_tags: input.tags(row).into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            date: input.date(row),
            start: input.start_micros(row),
            currency: owned("BillingCurrency").unwrap_or_default(),
            billed: input.billed.value(row),
            effective: input.effective.value(row),
        }
    }

    fn view<'v>(&'v self, compiled: &'v Compiled) -> LineView<'v> {
        LineView {
            billing_account: self.billing_account.as_deref(),
            sub_account: self.sub_account.as_deref(),
            service_name: self.service_name.as_deref(),
            service_code: self.service_code.as_deref(),
            region: self.region.as_deref(),
            charge_category: self.charge_category.as_deref(),
            resource_id: self.resource_id.as_deref(),
            resource_group: self.resource_group.as_deref(),
            cluster: self.cluster.as_deref(),
            namespace: self.namespace.as_deref(),
            workload: self.workload.as_deref(),
            tags: compiled.rules.canonical_tags(self.raw_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            date: self.date,
        }
    }
}

/// The explanation of every line item whose `x_SourceLineItemId` or
/// `ResourceId` is `id` (at most `limit` of them), as text.
pub fn explain(lake: &Lake, compiled: &Compiled, id: &str, periods: &[String], limit: usize) -> Result<String, String> {
    let mut found = Vec::new();
    let mut more = 0u64;
    for (period, file) in period_files(lake, None) {
        if !periods.is_empty() && !periods.contains(&period) {
            continue;
        }
        for batch in read_batches(&file)? {
            let batch = batch?;
            let input = Input::new(&batch);
            for row in 0..batch.num_rows() {
                if input.text("x_SourceLineItemId", row) == Some(id) || input.text("ResourceId", row) == Some(id) {
                    if found.len() < limit {
                        found.push(Found::read(&input, row, &period));
                    } else {
                        more += 1;
                    }
                }
            }
        }
    }
    if found.is_empty() {
        return Err(format!(
            "no line item has x_SourceLineItemId or ResourceId `{id}` in {}",
            if periods.is_empty() {
                "the lake".to_string()
            } else {
                format!("billing period(s) {}", periods.join(", "))
            }
        ));
    }
    let mut owners_by_period: HashMap<String, Owners> = HashMap::new();
    let mut passed = std::collections::HashSet::new();
    let mut text = String::new();
    for (n, line) in found.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        // Only a pooled line can need the period's direct spend (a pass over the whole period).
        let pooled = matches!(
            compiled.rules.decide(&line.view(compiled), &compiled.org, &mut Scratch::default()),
            Decision::Pool { .. }
        );
        let owners = owners_by_period.entry(line.period.clone()).or_insert_with(|| Owners::new(compiled));
        let files: Vec<_> = period_files(lake, Some(&line.period)).into_iter().map(|(_, f)| f).collect();
        // A node line can be split by its pods, a GKE idle row spread over the cluster's
        // namespaces: their rows are in the same period.
        let mut rows = ClusterRows::default();
        for file in &files {
            rows = rows.or(ClusterRows::of(file)?);
        }
        if (pooled || rows.any()) && passed.insert(line.period.clone()) {
            owners.first_pass(&files)?;
        }
        explain_line(&mut text, line, compiled, owners);
    }
    if more > 0 {
        let _ = writeln!(text, "\n{more} more line item(s) match `{id}`; narrow with --period or raise --limit");
    }
    Ok(text)
}

fn explain_line(text: &mut String, line: &Found, compiled: &Compiled, owners_of: &mut Owners) {
    let (rules, org, pools) = (&compiled.rules, &compiled.org, &compiled.pools);
    let view = line.view(compiled);
    let money = |v: i128| format(v, SCALE as u32);
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());

    let _ = writeln!(
        text,
        "line item {} ({} row {})",
        line.line_item_id.as_deref().unwrap_or("(no id)"),
        line.source_file,
        line.source_row
    );
    let _ = writeln!(text, "  charged   {}, billing period {}", line.date, line.period);
    let _ = writeln!(
        text,
        "  account   {} (billing account {})",
        or_none(&line.sub_account),
        or_none(&line.billing_account)
    );
    let _ = writeln!(
        text,
        "  service   {} ({}), region {}, {}",
        or_none(&line.service_name),
        or_none(&line.service_code),
        or_none(&line.region),
        or_none(&line.charge_category)
    );
    let _ = writeln!(text, "  resource  {}", or_none(&line.resource_id));
    let tags: Vec<String> = view.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        text,
        "  tags      {}",
        if tags.is_empty() { "(none)".to_string() } else { format!("{} (canonical)", tags.join(", ")) }
    );
    let _ = writeln!(
        text,
        "  cost      BilledCost {} {cur}, EffectiveCost {} {cur}",
        money(line.billed),
        money(line.effective),
        cur = line.currency
    );

    let mut verdicts = Vec::new();
    for rank in 0..rules.rules.len() {
        match rules.verdict(rank, &view, org) {
            Verdict::NoMatch => {}
            verdict => verdicts.push((rank, verdict)),
        }
    }
    let mut scratch = Scratch::default();
    let decision = rules.decide(&view, org, &mut scratch);
    let winner = match &decision {
        Decision::Team { rule, .. } | Decision::Pool { rule, .. } => Some(*rule),
        Decision::Unallocated { .. } => None,
    };
    if verdicts.is_empty() {
        let _ = writeln!(text, "\n  no rule's conditions hold for this line");
    } else {
        let _ = writeln!(text, "\n  rules, by precedence:");
        for (rank, verdict) in &verdicts {
            let rule = &rules.rules[*rank];
            let outcome = match verdict {
                Verdict::Matches(Decision::Team { team, .. }) => format!("-> team {team}"),
                Verdict::Matches(Decision::Pool { pool, .. }) => format!("-> pool {pool}"),
                Verdict::Matches(Decision::Unallocated { .. }) | Verdict::NoMatch => String::new(),
                Verdict::NotInEffect => match rule.dates() {
                    (Some(from), Some(until)) => format!("not in effect on {} (from {from} until {until})", view.date),
                    (Some(from), None) => format!("not in effect on {} (from {from})", view.date),
                    (None, Some(until)) => format!("not in effect on {} (until {until})", view.date),
                    (None, None) => String::new(),
                },
                Verdict::NoTeamForTag { key, value } => match value {
                    Some(value) => format!("tag {key} = `{value}` names no team"),
                    None => format!("no {key} tag"),
                },
            };
            let standing = match (verdict, winner) {
                (Verdict::Matches(_), Some(w)) if w == *rank => "WINS ",
                (Verdict::Matches(_), _) => "loses",
                _ => "skips",
            };
            let _ = writeln!(
                text,
                "    {standing} {} (precedence {}) {outcome}\n          when {}",
                rule.id,
                rule.precedence,
                rule.describe()
            );
        }
        if let Some(w) = winner {
            let losers = verdicts.iter().filter(|(r, v)| matches!(v, Verdict::Matches(_)) && *r != w).count();
            if losers > 0 {
                let _ = writeln!(
                    text,
                    "  {} wins: lower precedence first, ties by id; {losers} other rule(s) lost",
                    rules.rules[w].id
                );
            }
        }
    }

    if explain_node(text, line, compiled, owners_of) {
        return;
    }
    let owners = owners_of.assign(&decision, view.date, [line.billed, line.effective, WHOLE]);
    let direct = owners_of.direct();
    match (&decision, owners.first()) {
        (Decision::Team { team, .. }, _) => {
            let _ = writeln!(text, "\n  owner: {team} ({}), direct", org.path(team, view.date));
        }
        (Decision::Unallocated { reason }, _) => {
            let _ = writeln!(text, "\n  owner: unallocated: {reason}");
        }
        (Decision::Pool { pool, .. }, Some(first)) if first.method == Method::Unallocated => {
            let _ = writeln!(
                text,
                "\n  owner: unallocated: pool {pool} cannot split: {}",
                first.unallocated_reason.as_deref().unwrap_or("")
            );
        }
        (Decision::Pool { pool, .. }, _) => {
            let _ = writeln!(text, "\n  owner: shared through pool {pool}");
            let mut chain = vec![pool.clone()];
            while let Some(id) = chain.pop() {
                let p = pools.get(&id);
                match p.basis(view.date, org, direct) {
                    Ok((how, weights)) => {
                        let shown: Vec<String> = weights.iter().map(|(r, w)| format!("{r} {w}")).collect();
                        let _ = writeln!(text, "    pool {id} splits {how}: {}", shown.join(", "));
                        for (recipient, _) in weights.iter().rev() {
                            if let Some(next) = recipient.strip_prefix("pool:") {
                                chain.push(next.to_string());
                            }
                        }
                    }
                    Err(reason) => {
                        let _ = writeln!(text, "    pool {id}: {reason}");
                    }
                }
            }
            let mut table = Builder::default();
            table.push_record(["team", "org path", "via", "share", "BilledCost", "EffectiveCost"]);
            for owner in &owners {
                table.push_record([
                    owner.team.clone(),
                    org.path(&owner.team, view.date),
                    owner.pools.join(" > "),
                    money(owner.amounts[2]),
                    money(owner.amounts[0]),
                    money(owner.amounts[1]),
                ]);
            }
            let mut table = table.build();
            table.with(Style::sharp());
            for row in table.to_string().lines() {
                let _ = writeln!(text, "    {row}");
            }
            let _ = writeln!(text, "    shares are largest-remainder splits: they add back to the line exactly");
        }
    }
}

/// A node line its pods split (AWS split cost allocation data), or a GKE idle row spread by its
/// cluster's policy: each share with the pods' (namespaces') namespace and workload, and the idle
/// part by the policy. `false` for any other line.
fn explain_node(text: &mut String, line: &Found, compiled: &Compiled, owners_of: &mut Owners) -> bool {
    let site = Site {
        resource: line.resource_id.as_deref(),
        start: line.start,
        cluster: line.cluster.as_deref(),
        namespace: line.namespace.as_deref(),
    };
    let Some((cluster, gke_idle)) = owners_of.cluster_split(&site) else { return false };
    let policy = compiled.clusters.get(&cluster).idle.name();
    let _ = if gke_idle {
        writeln!(
            text,
            "\n  owner: idle capacity of cluster {cluster} (GKE cost allocation, namespace {}): the cluster's \
             policy decides it, not the rules above: {policy} (clusters.toml); proportional spreads it over the \
             cluster's namespace rows of the same hour by their EffectiveCost",
            clusters::IDLE_NAMESPACE
        )
    } else {
        writeln!(
            text,
            "\n  owner: split by the pods that ran on it in cluster {cluster} (AWS split cost allocation data), \
             idle capacity by the cluster's policy: {policy} (clusters.toml); the rules above decide its hours without pods"
        )
    };
    let money = |v: i128| format(v, SCALE as u32);
    let mut table = Builder::default();
    table.push_record(["team", "namespace", "workload", "via", "share", "BilledCost", "EffectiveCost"]);
    let amounts = [line.billed, line.effective, WHOLE];
    let _ = owners_of.line_shares(0, site, line.date, amounts, |share| -> Result<(), ()> {
        let who = match share.unallocated_reason {
            Some(reason) => format!("unallocated: {reason}"),
            None => share.team.to_string(),
        };
        table.push_record([
            who,
            share.namespace.unwrap_or("").to_string(),
            share.workload.unwrap_or("").to_string(),
            share.pool_chain.unwrap_or("").to_string(),
            money(share.amounts[2]),
            money(share.amounts[0]),
            money(share.amounts[1]),
        ]);
        Ok(())
    });
    let mut table = table.build();
    table.with(Style::sharp());
    for row in table.to_string().lines() {
        let _ = writeln!(text, "    {row}");
    }
    let _ = writeln!(
        text,
        "    shares are largest-remainder splits (by the pods' split and unused costs, or the namespaces' costs): \
         they add back to the line exactly"
    );
    true
}
