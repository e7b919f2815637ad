//! The plan: every resource the company runs over the generated period, with
//! its owner, placement, tags, lifetime and commitment coverage, plus the
//! Reserved Instances and Savings Plans each payer bought.
//!
//! Resources are compact (no strings) so tens of millions of rows need only a
//! few hundred thousand small structs; names and ids are derived when written.

mod planted;
mod resources;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::{Months, NaiveDate};

use super::DemoConfig;
use super::catalog::{Catalog, Product, REGIONS};
use super::company::{ACCOUNTS, Env, PAYERS, PayerSpec, TEAMS, account_index};
use super::decimal::Fixed;
use super::ids::{self, mix64};
pub use planted::{Planted, PlantedAnomaly};
pub use resources::{Resource, TeamKey, TeamVocabulary, env_tag};
use resources::{TEAM_SHIFT, add_resources_to_empty_accounts, team_resources, vocabulary};

/// One billing period.
#[derive(Clone)]
pub struct Month {
    pub index: usize,
    pub first_day: NaiveDate,
    pub next_first_day: NaiveDate,
    pub days: u32,
    /// Days since the first day of the first month.
    pub first_global_day: u32,
    pub is_last: bool,
}

impl Month {
    /// `2026-08`.
    pub fn label(&self) -> String {
        self.first_day.format("%Y-%m").to_string()
    }

    /// AWS's report folder name: `20260801-20260901`.
    pub fn folder(&self) -> String {
        format!("{}-{}", self.first_day.format("%Y%m%d"), self.next_first_day.format("%Y%m%d"))
    }

    pub fn global_days(&self) -> std::ops::Range<u32> {
        self.first_global_day..self.first_global_day + self.days
    }
}

fn billing_months(config: &DemoConfig) -> Result<Vec<Month>> {
    let (year, month) = config.first_month;
    if config.months == 0 || config.months > 120 {
        bail!("months must be between 1 and 120, got {}", config.months);
    }
    let start = NaiveDate::from_ymd_opt(year, month, 1)
        .with_context(|| format!("first_month {year}-{month} is not a valid month"))?;
    let mut months = Vec::new();
    let mut first_global_day = 0;
    for index in 0..config.months as usize {
        let first_day = start + Months::new(index as u32);
        let next_first_day = first_day + Months::new(1);
        let days = (next_first_day - first_day).num_days() as u32;
        months.push(Month {
            index,
            first_day,
            next_first_day,
            days,
            first_global_day,
            is_last: index + 1 == config.months as usize,
        });
        first_global_day += days;
    }
    Ok(months)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commitment {
    OnDemand,
    /// Index into [`PayerPlan::reservations`].
    Reservation(u16),
    SavingsPlan,
}

/// A Reserved Instance purchase: `purchased` instances of one archetype in
/// one region, of which `covered` are in use every hour.
pub struct Reservation {
    pub arn: String,
    pub archetype: usize,
    pub region: usize,
    pub purchased: u32,
    pub covered: u32,
}

pub struct SavingsPlan {
    pub arn: String,
    pub hourly_commitment: Fixed,
}

pub struct PayerPlan {
    pub index: usize,
    pub spec: &'static PayerSpec,
    /// The price list in the family's billing currency ([`PayerSpec::price_bp`]).
    pub prices: Catalog,
    /// Index into [`ACCOUNTS`].
    pub account: usize,
    /// Ordered by account, then serial: the order rows are written in.
    pub resources: Vec<Resource>,
    pub reservations: Vec<Reservation>,
    pub savings_plan: Option<SavingsPlan>,
    /// Planted cases for the findings (see [`planted`]), written after the
    /// ordinary resources each day; not counted in [`Plan::estimated_rows`].
    pub planted: Vec<Planted>,
}

pub struct Plan {
    pub seed: u64,
    /// Pods per node of the shared cluster and day ([`DemoConfig::pods_per_node`]).
    pub pods_per_node: u64,
    pub catalog: Catalog,
    pub months: Vec<Month>,
    pub vocabularies: Vec<TeamVocabulary>,
    pub payers: Vec<PayerPlan>,
}

/// Every team runs at least this many resources, whatever the scale.
const MIN_RESOURCES_PER_TEAM: u64 = 3;

impl Plan {
    /// Sizes the company so the files hold about `config.target_rows` rows.
    pub fn build(config: &DemoConfig) -> Result<Plan> {
        let months = billing_months(config)?;
        let total_days: u64 = months.iter().map(|m| u64::from(m.days)).sum();
        let target = config.target_rows.max(1);
        // Rows grow almost linearly with resources: a few proportional
        // corrections get within a resource or two of the target.
        let mut resources = (target / total_days).max(1);
        let mut best: Option<(u64, Plan)> = None;
        for _ in 0..6 {
            let mut plan = Plan::with_resources(config.seed, months.clone(), resources)?;
            plan.pods_per_node = config.pods_per_node;
            let rows = plan.estimated_rows().max(1);
            let miss = rows.abs_diff(target);
            if best.as_ref().is_none_or(|(best_miss, _)| miss < *best_miss) {
                best = Some((miss, plan));
            }
            let next = (u128::from(resources) * u128::from(target) / u128::from(rows)).max(1) as u64;
            if miss * 200 <= target || next == resources {
                break;
            }
            resources = next;
        }
        Ok(best.expect("at least one plan was built").1)
    }

    fn with_resources(seed: u64, months: Vec<Month>, total_resources: u64) -> Result<Plan> {
        let catalog = Catalog::new();
        let mut all = Vec::new();
        for (team_index, count) in resources_per_team(total_resources).into_iter().enumerate() {
            if count >= 1 << (TEAM_SHIFT - 1) {
                bail!("target_rows too large: {count} resources for one team");
            }
            all.extend(team_resources(seed, &catalog, &months, team_index, count));
        }
        add_resources_to_empty_accounts(&mut all, &catalog, &months, seed);
        let planted = planted::planted(&catalog, &months, &all);

        let vocabularies = TEAMS.iter().map(vocabulary).collect();
        let mut payers = Vec::new();
        for (index, spec) in PAYERS.iter().enumerate() {
            let account = account_index(spec.account);
            let mut resources: Vec<Resource> =
                all.iter().filter(|r| ACCOUNTS[usize::from(r.account)].payer == spec.account).copied().collect();
            resources.sort_by_key(|r| (r.account, r.serial));
            let mine = planted.iter().filter(|p| ACCOUNTS[usize::from(p.resource.account)].payer == spec.account);
            let mut payer = PayerPlan {
                index,
                spec,
                prices: Catalog::priced_at(spec.price_bp),
                account,
                resources,
                reservations: Vec::new(),
                savings_plan: None,
                planted: mine.copied().collect(),
            };
            buy_commitments(&mut payer, &months, seed);
            payers.push(payer);
        }
        Ok(Plan { seed, pods_per_node: 3, catalog, months, vocabularies, payers })
    }

    /// Rows the plan will write: exact for usage and commitment lines, and
    /// a close upper bound for the month-end tax lines.
    pub fn estimated_rows(&self) -> u64 {
        let mut rows = 0;
        for payer in &self.payers {
            for month in &self.months {
                let mut products_per_account = BTreeMap::<u8, [bool; Product::ALL.len()]>::new();
                for resource in &payer.resources {
                    let days = u64::from(resource.active_days_in(month));
                    if days == 0 {
                        continue;
                    }
                    let archetype = &self.catalog.archetypes[usize::from(resource.archetype)];
                    let negations = u64::from(resource.commitment == Commitment::SavingsPlan);
                    rows += days * (archetype.meters.len() as u64 + negations);
                    // A cluster node's pods (split cost allocation data).
                    for (index, meter) in archetype.meters.iter().enumerate() {
                        if super::report::pods::is_node(resource, meter, index) {
                            rows += days * self.pods_per_node * super::report::pods::ROWS_PER_POD;
                        }
                    }
                    let used = products_per_account.entry(resource.account).or_default();
                    for meter in &archetype.meters {
                        used[meter.product.index()] = true;
                    }
                }
                let taxed_pairs: usize =
                    products_per_account.values().map(|used| used.iter().filter(|&&u| u).count()).sum();
                let payer_products =
                    1 + usize::from(!payer.reservations.is_empty()) + usize::from(payer.savings_plan.is_some());
                rows += (taxed_pairs + payer_products) as u64;
                rows += payer.reservations.len() as u64;
                rows += if payer.savings_plan.is_some() { u64::from(month.days) } else { 0 };
                rows += 2; // credit and support fee
                rows += u64::from(payer.refund_month(&self.months) == Some(month.index));
            }
        }
        rows
    }
}

impl Plan {
    /// The planted anomalies, with their dates.
    pub fn planted_anomalies(&self) -> Vec<PlantedAnomaly> {
        let planted: Vec<Planted> = self.payers.iter().flat_map(|p| p.planted.iter().copied()).collect();
        let mut anomalies = planted::anomalies(&planted, self.months[0].first_day);
        anomalies.sort_by_key(|a| a.start);
        anomalies
    }
}

impl PayerPlan {
    /// The one-off refund lands in the second month (or the only one).
    pub fn refund_month(&self, months: &[Month]) -> Option<usize> {
        self.spec.refund_account.map(|_| 1.min(months.len() - 1))
    }
}

/// Splits `total` between teams by weight (largest remainder, so one more
/// resource in total is one more resource for one team), with a floor.
fn resources_per_team(total: u64) -> Vec<u64> {
    let total_weight: u64 = TEAMS.iter().map(|t| u64::from(t.weight)).sum();
    let shares: Vec<(u64, u64)> = TEAMS
        .iter()
        .map(|t| (total * u64::from(t.weight) / total_weight, total * u64::from(t.weight) % total_weight))
        .collect();
    let mut counts: Vec<u64> = shares.iter().map(|(whole, _)| *whole).collect();
    let mut by_remainder: Vec<usize> = (0..TEAMS.len()).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(shares[i].1));
    let left = total - counts.iter().sum::<u64>();
    for &team in by_remainder.iter().take(left as usize) {
        counts[team] += 1;
    }
    counts.into_iter().map(|c| c.max(MIN_RESOURCES_PER_TEAM)).collect()
}

fn runs_all_period(resource: &Resource, total_days: u32) -> bool {
    resource.active_from == 0 && resource.active_until == total_days
}

/// Covers most always-on prod databases with Reserved Instances and most
/// always-on prod web servers with a Compute Savings Plan. Each payer buys one
/// reserved instance too many, so the unused-fee columns have something in them.
fn buy_commitments(payer: &mut PayerPlan, months: &[Month], seed: u64) {
    let catalog = &payer.prices;
    let total_days: u32 = months.iter().map(|m| m.days).sum();
    let payer_id = ACCOUNTS[payer.account].id;
    let ri_eligible = |r: &Resource| {
        catalog.archetypes[usize::from(r.archetype)].reserved.is_some() && runs_all_period(r, total_days)
    };
    let sp_eligible = |r: &Resource| {
        catalog.archetypes[usize::from(r.archetype)].savings_plan_rate.is_some() && runs_all_period(r, total_days)
    };
    let covered_ri = choose_covered(&payer.resources, ri_eligible);
    let covered_sp = choose_covered(&payer.resources, sp_eligible);

    let mut groups = BTreeMap::<(u16, u8), Vec<usize>>::new();
    for &i in &covered_ri {
        let r = &payer.resources[i];
        groups.entry((r.archetype, r.region)).or_default().push(i);
    }
    for (number, ((archetype, region), members)) in groups.into_iter().enumerate() {
        let region_code = REGIONS[usize::from(region)].code;
        let mut suffix = String::new();
        ids::push_hex(&mut suffix, mix64(seed ^ mix64((payer.index as u64) << 32 | number as u64)), 12);
        payer.reservations.push(Reservation {
            // Only databases have reserved pricing in the catalog.
            arn: format!("arn:aws:rds:{region_code}:{payer_id}:ri:ri-2025-{suffix}"),
            archetype: usize::from(archetype),
            region: usize::from(region),
            covered: members.len() as u32,
            purchased: members.len() as u32 + u32::from(number == 0),
        });
        for i in members {
            payer.resources[i].commitment = Commitment::Reservation(number as u16);
        }
    }

    if !covered_sp.is_empty() {
        let hourly_rates: Fixed = covered_sp
            .iter()
            .map(|&i| {
                catalog.archetypes[usize::from(payer.resources[i].archetype)].savings_plan_rate.unwrap_or_default()
            })
            .sum();
        // Sized 4% above the steady covered usage, in whole tenths of a cent per hour.
        let hourly_commitment = hourly_rates.mul_exact(Fixed::lit("1.04")).ceil_to(3);
        let arn = format!("arn:aws:savingsplans::{payer_id}:savingsplan/{}", ids::uuid(seed ^ payer.index as u64));
        payer.savings_plan = Some(SavingsPlan { arn, hourly_commitment });
        for i in covered_sp {
            payer.resources[i].commitment = Commitment::SavingsPlan;
        }
    }
}

/// Eligible prod resources that want coverage; if there are none (tiny
/// plans), the first eligible resource anywhere, so every payer has both kinds
/// of commitment.
fn choose_covered(resources: &[Resource], eligible: impl Fn(&Resource) -> bool) -> Vec<usize> {
    let candidates: Vec<usize> = (0..resources.len()).filter(|&i| eligible(&resources[i])).collect();
    let in_prod = |i: &usize| ACCOUNTS[usize::from(resources[*i].account)].env == Env::Prod;
    let chosen: Vec<usize> =
        candidates.iter().copied().filter(|i| resources[*i].wants_commitment && in_prod(i)).collect();
    if chosen.is_empty() { candidates.into_iter().take(1).collect() } else { chosen }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(target_rows: u64) -> DemoConfig {
        DemoConfig { target_rows, ..DemoConfig::default() }
    }

    #[test]
    fn months_follow_the_calendar() {
        let months = billing_months(&DemoConfig { first_month: (2026, 11), ..config(1) }).unwrap();
        let labels: Vec<_> = months.iter().map(|m| (m.label(), m.days, m.first_global_day)).collect();
        assert_eq!(labels, [("2026-11".into(), 30, 0), ("2026-12".into(), 31, 30), ("2027-01".into(), 31, 61)]);
        assert_eq!(months[1].folder(), "20261201-20270101");
        assert!(billing_months(&DemoConfig { first_month: (2026, 13), ..config(1) }).is_err());
    }

    #[test]
    fn plan_scales_to_the_target() {
        for target in [20_000, 60_000, 1_000_000] {
            let plan = Plan::build(&config(target)).unwrap();
            let rows = plan.estimated_rows();
            assert!(rows.abs_diff(target) * 50 <= target, "target {target}, planned {rows}");
        }
    }

    #[test]
    fn commitments_exist_in_both_payer_families() {
        let plan = Plan::build(&config(20_000)).unwrap();
        for payer in &plan.payers {
            assert!(!payer.reservations.is_empty(), "payer {} has no RI", payer.index);
            assert!(payer.savings_plan.is_some(), "payer {} has no savings plan", payer.index);
            assert!(payer.reservations.iter().any(|r| r.purchased > r.covered));
        }
    }
}
