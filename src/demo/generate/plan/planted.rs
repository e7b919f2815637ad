//! Planted cases: resources with a known story, so efficiency findings have
//! something certain to find and the anomaly detector a truth to be backtested
//! against. Three are big enough to be worth doing (a 24 TB unattached volume, a
//! 48 TB old snapshot, a 50 TB orphan bucket: each over findings.toml's bar of a
//! dev-week per $10K a month), so a newcomer's nudges carry recommendations a team
//! would act on; the rest are small.
//!
//! They are written after each day's ordinary resources, from their own random
//! stream, so the rest of the bill is the same as without them (only the
//! month-end lines based on totals move: tax, support, credits). About $6,500 a
//! month in all at the default scale.

use chrono::{Days, NaiveDate};

use super::Month;
use super::resources::{EnvStyle, Resource, TagChoice, TeamKey, TeamValue, TrafficChange};
use crate::demo::generate::catalog::{Catalog, HOME_REGION, Kind};
use crate::demo::generate::company::{ACCOUNTS, TEAMS, account_index};
use crate::demo::generate::plan::Commitment;

/// What a planted resource is there to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Story {
    /// A NAT gateway whose processed bytes jump for a few days: an anomaly in
    /// its team's Amazon Elastic Compute Cloud spend.
    Spike,
    /// Billed hours, no traffic at all (load balancer, NAT gateway).
    Idle,
    /// A load balancer with traffic: must not be reported idle.
    Busy,
    /// A volume in an availability zone where its account runs no instance.
    UnattachedVolume,
    /// A snapshot kept the whole period.
    OldSnapshot,
    /// A snapshot taken a week before the end: not old.
    YoungSnapshot,
    /// An untagged bucket in a shared account, named after its owner's service.
    Orphan,
    /// A big Standard bucket that almost nobody reads or writes.
    ColdBucket,
    /// A bucket in Standard-IA and Glacier Instant Retrieval: gives the data its colder prices.
    ArchiveBucket,
}

/// A planted resource and its story.
#[derive(Clone, Copy, Debug)]
pub struct Planted {
    pub story: Story,
    pub resource: Resource,
}

/// (team, account, first day since the start of the period, days, traffic factor in basis points).
const SPIKES: [(&str, &str, u32, u32, i64); 5] = [
    ("orders", "acme-prod-core", 40, 4, 300_000),
    ("data-platform", "acme-data-prod", 55, 3, 600_000),
    ("checkout", "acme-payments-prod", 63, 5, 150_000),
    ("notifications", "acme-prod-core", 78, 3, 400_000),
    ("catalog", "acme-prod-core", 85, 4, 250_000),
];

/// Every planted resource, in a fixed order. `ordinary` are the plan's other
/// resources (the unattached volume goes where none of them runs an instance).
pub fn planted(catalog: &Catalog, months: &[Month], ordinary: &[Resource]) -> Vec<Planted> {
    let total_days: u32 = months.iter().map(|m| m.days).sum();
    let make = |n: usize, story: Story, team: &str, account: &str, kind: Kind, variant: usize, size: u32| {
        let team_index = TEAMS.iter().position(|t| t.name == team).unwrap_or_else(|| panic!("no team {team}"));
        let serial = (team_index as u32) << super::TEAM_SHIFT | 1 << 23 | n as u32;
        let tagged = story != Story::Orphan;
        let tags = TagChoice {
            team_key: if tagged { TeamKey::Team } else { TeamKey::Untagged },
            team_value: TeamValue::Canonical,
            env: EnvStyle::Canonical,
            cost_center: tagged,
            service: tagged,
        };
        let resource = Resource {
            serial,
            team: team_index as u8,
            account: account_index(account) as u8,
            archetype: catalog.variants(kind)[variant] as u16,
            region: HOME_REGION as u8,
            zone: 0,
            service: 0,
            size,
            tags,
            active_from: 0,
            active_until: total_days,
            commitment: Commitment::OnDemand,
            wants_commitment: false,
            traffic: TrafficChange::NONE,
        };
        Planted { story, resource }
    };
    let mut out: Vec<Planted> = Vec::new();
    macro_rules! add {
        ($($arg:expr),*) => {{
            let planted = make(out.len(), $($arg),*);
            out.push(planted);
            &mut out.last_mut().expect("just pushed").resource
        }};
    }
    for (team, account, from, days, factor_bp) in SPIKES {
        if from + days <= total_days {
            add!(Story::Spike, team, account, Kind::NatGateway, 0, 40).traffic =
                TrafficChange { from, until: from + days, factor_bp };
        }
    }
    let silent = TrafficChange { from: 0, until: total_days, factor_bp: 0 };
    add!(Story::Idle, "growth-web", "acme-prod-core", Kind::LoadBalancer, 0, 20).traffic = silent;
    let _ = add!(Story::Busy, "checkout", "acme-payments-prod", Kind::LoadBalancer, 0, 30);
    add!(Story::Idle, "networking", "acme-prod-core", Kind::NatGateway, 0, 40).traffic = silent;
    if let Some((account, region, zone)) = free_zone(catalog, ordinary) {
        let volume = add!(Story::UnattachedVolume, "search", account, Kind::Volume, 1, 24_000);
        (volume.region, volume.zone) = (region, zone);
    }
    let _ = add!(Story::OldSnapshot, "data-ingest", "acme-data-prod", Kind::Snapshot, 0, 48_000);
    add!(Story::YoungSnapshot, "data-ingest", "acme-data-prod", Kind::Snapshot, 0, 300).active_from =
        total_days.saturating_sub(8);
    let _ = add!(Story::Orphan, "ledger", "acme-prod-core", Kind::Bucket, 0, 50_000);
    add!(Story::ColdBucket, "analytics", "acme-analytics", Kind::Bucket, 0, 6_000).traffic =
        TrafficChange { from: 0, until: total_days, factor_bp: 10 };
    let _ = add!(Story::ArchiveBucket, "data-platform", "acme-data-prod", Kind::ArchiveBucket, 0, 400);
    out
}

/// The first (account, region, zone) of the search team's accounts where no
/// ordinary resource runs an EC2 instance, so a volume there cannot be attached.
fn free_zone(catalog: &Catalog, ordinary: &[Resource]) -> Option<(&'static str, u8, u8)> {
    let instance = |r: &Resource| {
        matches!(
            catalog.archetypes[usize::from(r.archetype)].kind,
            Kind::WebServer | Kind::Worker | Kind::GpuTrainer | Kind::CiRunner
        )
    };
    for account in ["acme-staging-core", "acme-data-prod", "acme-prod-core"] {
        let a = account_index(account) as u8;
        for region in [2u8, 1, 0] {
            for zone in 0..3u8 {
                let used =
                    ordinary.iter().any(|r| r.account == a && r.region == region && r.zone == zone && instance(r));
                if !used {
                    return Some((account, region, zone));
                }
            }
        }
    }
    None
}

/// A planted anomaly as the findings should report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlantedAnomaly {
    pub team: &'static str,
    pub sub_account_id: &'static str,
    /// FOCUS `ServiceName` of the spend that spikes.
    pub service_name: &'static str,
    pub start: NaiveDate,
    pub days: u32,
}

/// The spikes among `planted`, with their dates.
pub fn anomalies(planted: &[Planted], first_day: NaiveDate) -> Vec<PlantedAnomaly> {
    planted
        .iter()
        .filter(|p| p.story == Story::Spike)
        .map(|p| PlantedAnomaly {
            team: TEAMS[usize::from(p.resource.team)].name,
            sub_account_id: ACCOUNTS[usize::from(p.resource.account)].id,
            service_name: "Amazon Elastic Compute Cloud",
            start: first_day + Days::new(u64::from(p.resource.traffic.from)),
            days: p.resource.traffic.until - p.resource.traffic.from,
        })
        .collect()
}
