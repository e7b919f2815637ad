//! The fictional company behind the demo bill: Acme, with 24 teams in 5 orgs
//! under 3 execs, spread over 12 AWS member accounts in 2 payer families.
//!
//! The static tables here drive both [`company`] (what later code sees) and the
//! generator (which resources each team runs, where, and how its tags drift).

mod tables;

use super::catalog::Kind;
pub(super) use tables::{ACCOUNTS, ORGS, PAYERS, TEAMS, UNKNOWN_TEAM_VALUES};

/// The company as ownership mappings see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Company {
    pub name: String,
    pub teams: Vec<Team>,
    /// Payer (management) accounts first in each family, then their members.
    pub accounts: Vec<Account>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// Canonical name, lowercase-with-dashes (`payments-api`).
    pub name: String,
    pub org: String,
    pub exec: String,
    pub cost_center: String,
    /// Other values tags use for this team: short forms and former names
    /// (`payments`, `etl`). Case variants (`Payments-API`) are not listed.
    pub aliases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// 12 digits.
    pub id: String,
    pub name: String,
    /// Equal to `id` for the payer (management) accounts themselves.
    pub payer_account_id: String,
    /// `prod`, `staging`, `dev` or `management`.
    pub environment: String,
    /// The single team owning everything in the account; `None` for shared
    /// accounts (several teams, told apart only by tags) and payer accounts.
    pub owner_team: Option<String>,
}

impl Company {
    pub fn payer_account_ids(&self) -> Vec<&str> {
        self.accounts.iter().filter(|a| a.id == a.payer_account_id).map(|a| a.id.as_str()).collect()
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

/// The demo company. Always the same, whatever the seed.
pub fn company() -> Company {
    let teams = TEAMS
        .iter()
        .map(|team| {
            let org = org_of(team);
            let aliases = team.former_name.iter().chain(team.aliases).map(|a| a.to_string()).collect();
            Team {
                name: team.name.to_string(),
                org: org.name.to_string(),
                exec: org.exec.to_string(),
                cost_center: org.cost_center.to_string(),
                aliases,
            }
        })
        .collect();
    let accounts = ACCOUNTS
        .iter()
        .map(|account| Account {
            id: account.id.to_string(),
            name: account.name.to_string(),
            payer_account_id: account_by_name(account.payer).id.to_string(),
            environment: account.env.name().to_string(),
            owner_team: owner_of(account).map(str::to_string),
        })
        .collect();
    Company { name: "Acme Corp".to_string(), teams, accounts }
}

pub(super) struct OrgSpec {
    pub name: &'static str,
    pub exec: &'static str,
    pub cost_center: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Env {
    Prod,
    Staging,
    Dev,
    Management,
}

impl Env {
    pub fn name(self) -> &'static str {
        match self {
            Env::Prod => "prod",
            Env::Staging => "staging",
            Env::Dev => "dev",
            Env::Management => "management",
        }
    }
}

pub(super) struct AccountSpec {
    pub id: &'static str,
    pub name: &'static str,
    /// Name of the payer account (itself for a payer).
    pub payer: &'static str,
    pub env: Env,
}

/// How a payer family is invoiced.
pub(super) struct PayerSpec {
    pub account: &'static str,
    pub invoicing_entity: &'static str,
    pub invoice_prefix: InvoiceStyle,
    pub tax_type: &'static str,
    /// `lineItem/CurrencyCode` of every line.
    pub currency: &'static str,
    /// The family's price list against the USD list, in basis points (a rate of $1.00 is
    /// billed as `price_bp / 10_000` units of `currency`).
    pub price_bp: i128,
    /// Tax rate in basis points of the taxed charges.
    pub tax_rate_bp: i128,
    /// Member account receiving the monthly promotional credit.
    pub credit_account: &'static str,
    /// Member account receiving the one-off refund, if this family gets it.
    pub refund_account: Option<&'static str>,
}

#[derive(Clone, Copy)]
pub(super) enum InvoiceStyle {
    /// AWS Inc. style: ten digits.
    Numeric,
    /// AWS EMEA style: `EUINGB26-000123`.
    Emea,
}

/// What happens to a team in the last generated month, so "top movers"
/// reports have something to explain.
#[derive(Clone, Copy, Debug)]
pub(super) enum LastMonthChange {
    None,
    /// A new fleet of `kind`, `extra_bp` of the team's resource count, is
    /// launched on day 1.
    Launch {
        kind: Kind,
        extra_bp: u64,
    },
    /// Traffic-driven usage (logs, requests, transfer) is multiplied.
    TrafficStep {
        factor_bp: i64,
    },
    /// This share (basis points) of the team's resources is shut down on the given day.
    Decommission {
        share_bp: i64,
        on_day: u32,
    },
}

/// Which kinds of resources a team runs, with relative weights.
pub(super) type Profile = &'static [(Kind, u32)];

pub(super) struct TeamSpec {
    pub name: &'static str,
    pub org: &'static str,
    pub profile: Profile,
    /// Relative number of resources.
    pub weight: u32,
    /// Accounts (by name) the team deploys to, with relative weights.
    pub accounts: &'static [(&'static str, u32)],
    /// Service names, used for resource names and the `service` tag.
    pub services: &'static [&'static str],
    pub aliases: &'static [&'static str],
    /// A renamed team: many resources still carry the old name.
    pub former_name: Option<&'static str>,
    /// A misspelling seen on a few resources (not a known alias).
    pub typo: Option<&'static str>,
    /// Gentle growth of traffic and storage, basis points per month.
    pub monthly_growth_bp: i64,
    pub last_month: LastMonthChange,
}

pub(super) fn org_of(team: &TeamSpec) -> &'static OrgSpec {
    ORGS.iter().find(|o| o.name == team.org).unwrap_or_else(|| panic!("no org {}", team.org))
}

pub(super) fn account_index(name: &str) -> usize {
    ACCOUNTS.iter().position(|a| a.name == name).unwrap_or_else(|| panic!("no account {name}"))
}

pub(super) fn account_by_name(name: &str) -> &'static AccountSpec {
    &ACCOUNTS[account_index(name)]
}

/// The owner of a member account is the only team deploying to it.
pub(super) fn owner_of(account: &AccountSpec) -> Option<&'static str> {
    let mut deployers = TEAMS.iter().filter(|t| t.accounts.iter().any(|(a, _)| *a == account.name));
    match (deployers.next(), deployers.next()) {
        (Some(only), None) => Some(only.name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_has_the_advertised_shape() {
        let company = company();
        assert_eq!(company.teams.len(), 24);
        let orgs: std::collections::BTreeSet<_> = company.teams.iter().map(|t| &t.org).collect();
        let execs: std::collections::BTreeSet<_> = company.teams.iter().map(|t| &t.exec).collect();
        assert_eq!((orgs.len(), execs.len()), (5, 3));
        for team in &company.teams {
            assert!(team.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        assert_eq!(company.payer_account_ids().len(), 2);
        let members: Vec<_> = company.accounts.iter().filter(|a| a.id != a.payer_account_id).collect();
        assert_eq!(members.len(), 12);
        let ids: std::collections::BTreeSet<_> = company.accounts.iter().map(|a| &a.id).collect();
        assert_eq!(ids.len(), company.accounts.len());
        assert!(company.accounts.iter().all(|a| a.id.len() == 12 && a.id.bytes().all(|b| b.is_ascii_digit())));
        let owned = members.iter().filter(|a| a.owner_team.is_some()).count();
        assert!((3..members.len() - 3).contains(&owned), "{owned} owned accounts");
        for account in &company.accounts {
            if let Some(owner) = &account.owner_team {
                assert!(company.team(owner).is_some());
            }
        }
    }

    #[test]
    fn tables_are_consistent() {
        for team in TEAMS {
            org_of(team);
            assert!(!team.services.is_empty());
            for (account, _) in team.accounts {
                assert_ne!(account_by_name(account).env, Env::Management, "{} deploys to a payer", team.name);
            }
        }
        for payer in PAYERS {
            let account = account_by_name(payer.account);
            assert_eq!(account.payer, account.name);
            assert_eq!(account_by_name(payer.credit_account).payer, payer.account);
        }
    }
}
