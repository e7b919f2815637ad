//! Who runs what: each resource's team, kind, account, region, size, tags
//! and lifetime, drawn from seeded per-team random streams.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use super::Commitment;
use super::Month;
use crate::demo::generate::catalog::{Catalog, HOME_REGION, Kind};
use crate::demo::generate::company::{
    ACCOUNTS, AccountSpec, Env, LastMonthChange, TEAMS, TeamSpec, UNKNOWN_TEAM_VALUES, account_index, org_of,
};
use crate::demo::generate::ids::{between, chance, mix64, weighted_index};

/// Serials are `team << TEAM_SHIFT | n`: unique across the plan.
pub const TEAM_SHIFT: u32 = 24;

#[derive(Clone, Copy, Debug)]
pub struct Resource {
    /// Unique across the plan; drives ids and names.
    pub serial: u32,
    pub team: u8,
    /// Index into [`ACCOUNTS`].
    pub account: u8,
    /// Index into [`Catalog::archetypes`].
    pub archetype: u16,
    /// Index into [`REGIONS`](crate::demo::generate::catalog::REGIONS).
    pub region: u8,
    pub zone: u8,
    /// Index into the team's services.
    pub service: u8,
    /// In the unit of [`Kind::size_range`].
    pub size: u32,
    pub tags: TagChoice,
    /// First active day (days since the start of the period).
    pub active_from: u32,
    /// First day no longer active.
    pub active_until: u32,
    pub commitment: Commitment,
    /// Takes a Reserved Instance or Savings Plan if one is on offer.
    pub wants_commitment: bool,
    /// Scales traffic-driven usage on some days (planted cases only).
    pub traffic: TrafficChange,
}

/// Traffic-driven meters (requests, bytes, LCUs) of a resource run at
/// `factor_bp` of their normal level on days `from..until`; at 0 they bill nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficChange {
    pub from: u32,
    pub until: u32,
    pub factor_bp: i64,
}

impl TrafficChange {
    pub const NONE: TrafficChange = TrafficChange { from: 0, until: 0, factor_bp: 10_000 };

    /// Basis points of normal traffic on a day.
    pub fn factor_on(&self, global_day: u32) -> i64 {
        if (self.from..self.until).contains(&global_day) { self.factor_bp } else { 10_000 }
    }
}

impl Resource {
    pub fn is_active_on(&self, global_day: u32) -> bool {
        (self.active_from..self.active_until).contains(&global_day)
    }

    pub fn active_days_in(&self, month: &Month) -> u32 {
        let range = month.global_days();
        let from = self.active_from.max(range.start);
        let until = self.active_until.min(range.end);
        until.saturating_sub(from)
    }
}

/// Which tag column carries the team, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamKey {
    Untagged,
    /// `user:team`, the convention.
    Team,
    /// `user:Team`.
    TeamCapitalised,
    /// `user:owner-team`.
    OwnerTeam,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamValue {
    Canonical,
    /// `Payments-API`.
    MixedCase,
    /// Index into [`TeamVocabulary::aliases`].
    Alias(u8),
    /// The team's misspelling.
    Typo,
    /// Index into [`UNKNOWN_TEAM_VALUES`].
    Unknown(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvStyle {
    Untagged,
    Canonical,
    Capitalised,
    Upper,
}

/// A resource's tags, fixed for its whole life.
#[derive(Clone, Copy, Debug)]
pub struct TagChoice {
    pub team_key: TeamKey,
    pub team_value: TeamValue,
    pub env: EnvStyle,
    pub cost_center: bool,
    pub service: bool,
}

/// Tag spellings of one team.
pub struct TeamVocabulary {
    pub canonical: &'static str,
    pub mixed_case: String,
    /// The former name first, if the team was renamed.
    pub aliases: Vec<&'static str>,
    pub typo: Option<&'static str>,
    pub cost_center: &'static str,
}

/// A team's resources, drawn from its own random stream so its first
/// resources stay the same at any scale. Serials are `team << TEAM_SHIFT | n`.
pub fn team_resources(seed: u64, catalog: &Catalog, months: &[Month], team_index: usize, count: u64) -> Vec<Resource> {
    let team = &TEAMS[team_index];
    let serial = |n: u64| (team_index as u32) << TEAM_SHIFT | n as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ mix64(team_index as u64 + 1)));
    let mut resources: Vec<Resource> = (0..count)
        .map(|n| draw_resource(&mut rng, catalog, months, team_index, serial(n), Placement::default()))
        .collect();
    if let (LastMonthChange::Launch { kind, extra_bp }, [_, .., last]) = (team.last_month, months) {
        let launched = (count * extra_bp / 10_000).max(1);
        for n in count..count + launched {
            let placement = Placement { kind: Some(kind), account: None };
            let mut resource = draw_resource(&mut rng, catalog, months, team_index, serial(n), placement);
            resource.active_from = resource.active_from.max(last.first_global_day);
            resource.active_until = resource.active_until.max(resource.active_from + 1);
            resources.push(resource);
        }
    }
    resources
}

/// Overrides of what [`draw_resource`] would pick from the team's profile.
#[derive(Default)]
struct Placement {
    kind: Option<Kind>,
    account: Option<usize>,
}

fn draw_resource(
    rng: &mut ChaCha8Rng,
    catalog: &Catalog,
    months: &[Month],
    team_index: usize,
    serial: u32,
    placement: Placement,
) -> Resource {
    let team = &TEAMS[team_index];
    let kind =
        placement.kind.unwrap_or_else(|| team.profile[weighted_index(rng, team.profile.iter().map(|(_, w)| *w))].0);
    let variants = catalog.variants(kind);
    let archetype = variants[between(rng, 0, variants.len() as i64 - 1) as usize];
    let account = placement
        .account
        .unwrap_or_else(|| account_index(team.accounts[weighted_index(rng, team.accounts.iter().map(|(_, w)| *w))].0));
    // Mostly us-east-1; some us-west-2 (DR, replicas) and eu-west-1 (EU customers).
    let region = match between(rng, 0, 99) {
        0..82 => HOME_REGION,
        82..94 => 1,
        _ => 2,
    };
    let zone = between(rng, 0, 2) as u8;
    let service = between(rng, 0, team.services.len() as i64 - 1) as u8;
    let (low, high) = kind.size_range();
    // The product of three uniform draws skews sizes towards `low`, with a long tail.
    let skew = (0..3).map(|_| between(rng, 0, 10_000) as i128).product::<i128>();
    let size = low + ((high - low) as i128 * skew / 1_000_000_000_000) as i64;
    let tags = draw_tags(rng, team);
    let total_days = months.iter().map(|m| m.days).sum::<u32>();
    let (mut active_from, mut active_until) = (0, total_days);
    if kind.is_ephemeral() {
        active_from = between(rng, 0, i64::from(total_days) - 1) as u32;
        active_until = (active_from + between(rng, 1, 10) as u32).min(total_days);
    }
    let last = months.last().expect("at least one month");
    if months.len() > 1 {
        match team.last_month {
            LastMonthChange::Decommission { share_bp, on_day } if chance(rng, share_bp) => {
                let shutdown = last.first_global_day + on_day.min(last.days) - 1;
                active_until = active_until.min(shutdown).max(active_from + 1);
            }
            _ => {}
        }
    }
    Resource {
        serial,
        team: team_index as u8,
        account: account as u8,
        archetype: archetype as u16,
        region: region as u8,
        zone,
        service,
        size: size as u32,
        tags,
        active_from,
        active_until,
        commitment: Commitment::OnDemand,
        wants_commitment: chance(rng, 8_000),
        traffic: TrafficChange::NONE,
    }
}

/// About 70% of resources carry the canonical name under `team`, 12% have no
/// team tag, 3% an unknown value; the rest use another key, case or alias.
fn draw_tags(rng: &mut ChaCha8Rng, team: &TeamSpec) -> TagChoice {
    let roll = between(rng, 0, 9_999);
    let (team_key, team_value) = if roll < 1_200 {
        (TeamKey::Untagged, TeamValue::Canonical)
    } else if roll < 1_500 {
        let value = match team.typo {
            Some(_) if chance(rng, 5_000) => TeamValue::Typo,
            _ => TeamValue::Unknown(between(rng, 0, UNKNOWN_TEAM_VALUES.len() as i64 - 1) as u8),
        };
        (TeamKey::Team, value)
    } else {
        let key =
            [TeamKey::Team, TeamKey::TeamCapitalised, TeamKey::OwnerTeam][weighted_index(rng, [90, 6, 4].into_iter())];
        let alias_count = team.former_name.iter().count() + team.aliases.len();
        let value = if team.former_name.is_some() && chance(rng, 4_000) {
            TeamValue::Alias(0)
        } else {
            match between(rng, 0, 99) {
                0..91 => TeamValue::Canonical,
                91..96 => TeamValue::MixedCase,
                _ if alias_count > 0 => TeamValue::Alias(between(rng, 0, alias_count as i64 - 1) as u8),
                _ => TeamValue::Canonical,
            }
        };
        (key, value)
    };
    let env = match between(rng, 0, 99) {
        0..7 => EnvStyle::Untagged,
        7..11 => EnvStyle::Capitalised,
        11..15 => EnvStyle::Upper,
        _ => EnvStyle::Canonical,
    };
    TagChoice { team_key, team_value, env, cost_center: chance(rng, 8_000), service: chance(rng, 8_500) }
}

/// Every member account gets at least one resource, even at tiny scales,
/// so each shows up in the bill (and the credit account has charges).
pub fn add_resources_to_empty_accounts(all: &mut Vec<Resource>, catalog: &Catalog, months: &[Month], seed: u64) {
    let mut next_serial_per_team = vec![0u32; TEAMS.len()];
    for resource in all.iter() {
        let team = usize::from(resource.team);
        next_serial_per_team[team] = next_serial_per_team[team].max(resource.serial + 1);
    }
    for (account, spec) in ACCOUNTS.iter().enumerate() {
        if spec.env == Env::Management || all.iter().any(|r| usize::from(r.account) == account) {
            continue;
        }
        let team = TEAMS.iter().position(|t| t.accounts.iter().any(|(a, _)| *a == spec.name)).expect("account used");
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ mix64(0xACC0 + account as u64)));
        let serial = next_serial_per_team[team];
        next_serial_per_team[team] += 1;
        let placement = Placement { kind: None, account: Some(account) };
        let mut resource = draw_resource(&mut rng, catalog, months, team, serial, placement);
        (resource.active_from, resource.active_until) = (0, months.iter().map(|m| m.days).sum());
        all.push(resource);
    }
}

pub fn vocabulary(team: &TeamSpec) -> TeamVocabulary {
    TeamVocabulary {
        canonical: team.name,
        mixed_case: mixed_case(team.name),
        aliases: team.former_name.iter().chain(team.aliases).copied().collect(),
        typo: team.typo,
        cost_center: org_of(team).cost_center,
    }
}

/// `payments-api` -> `Payments-API`, `k8s-platform` -> `K8S-Platform`.
fn mixed_case(name: &str) -> String {
    const ACRONYMS: &[&str] = &["api", "ml", "ci", "k8s", "bi", "web"];
    name.split('-')
        .map(|word| {
            if ACRONYMS.contains(&word) {
                word.to_ascii_uppercase()
            } else {
                let mut chars = word.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Environment name as the resource's env tag spells it.
pub fn env_tag(account: &AccountSpec, style: EnvStyle) -> &'static str {
    let [canonical, capitalised, upper] = match account.env {
        Env::Prod => ["prod", "Prod", "PROD"],
        Env::Staging => ["staging", "Staging", "STAGING"],
        Env::Dev => ["dev", "Dev", "DEV"],
        Env::Management => ["management", "Management", "MANAGEMENT"],
    };
    match style {
        EnvStyle::Untagged => "",
        EnvStyle::Canonical => canonical,
        EnvStyle::Capitalised => capitalised,
        EnvStyle::Upper => upper,
    }
}

impl TeamVocabulary {
    /// The team tag value a resource carries (empty when untagged).
    pub fn value(&self, tags: &TagChoice) -> &str {
        if tags.team_key == TeamKey::Untagged {
            return "";
        }
        match tags.team_value {
            TeamValue::Canonical => self.canonical,
            TeamValue::MixedCase => &self.mixed_case,
            TeamValue::Alias(i) => self.aliases[usize::from(i)],
            TeamValue::Typo => self.typo.unwrap_or(self.canonical),
            TeamValue::Unknown(i) => UNKNOWN_TEAM_VALUES[usize::from(i)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_case_names() {
        assert_eq!(mixed_case("payments-api"), "Payments-API");
        assert_eq!(mixed_case("ledger"), "Ledger");
    }
}
