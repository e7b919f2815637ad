//! How resources show in the bill: their ids, availability zone and tags.

use crate::demo::generate::catalog::{Kind, REGIONS};
use crate::demo::generate::company::{ACCOUNTS, TEAMS};
use crate::demo::generate::ids::{mix32, mix64, push_hex};
use crate::demo::generate::plan::{Plan, Resource, TeamKey, env_tag};
use crate::demo::generate::writer::Tags;

pub fn zone_name(resource: &Resource) -> &'static str {
    const ZONES: [[&str; 3]; 3] = [
        ["us-east-1a", "us-east-1b", "us-east-1c"],
        ["us-west-2a", "us-west-2b", "us-west-2c"],
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    ];
    ZONES[usize::from(resource.region)][usize::from(resource.zone)]
}

/// The resource's tags; a team tag sits under one of three keys.
pub fn tags<'p>(plan: &'p Plan, resource: &Resource) -> Tags<'p> {
    let team = usize::from(resource.team);
    let vocabulary = &plan.vocabularies[team];
    let value = vocabulary.value(&resource.tags);
    let under = |key| {
        if resource.tags.team_key == key { value } else { "" }
    };
    Tags {
        team: under(TeamKey::Team),
        team_capitalised: under(TeamKey::TeamCapitalised),
        owner_team: under(TeamKey::OwnerTeam),
        env: env_tag(&ACCOUNTS[usize::from(resource.account)], resource.tags.env),
        cost_center: if resource.tags.cost_center { vocabulary.cost_center } else { "" },
        service: if resource.tags.service { TEAMS[team].services[usize::from(resource.service)] } else { "" },
    }
}

/// AWS-style ids: `i-0…` (17 hex), `vol-0…`, ARNs for NAT gateways, RDS,
/// EKS, Lambda, log groups and DynamoDB tables, bare names for buckets.
/// Hex ids are a bijection of the serial, name suffixes too: no collisions.
pub fn write_resource_id(out: &mut String, seed: u64, kind: Kind, resource: &Resource) {
    out.clear();
    let account = &ACCOUNTS[usize::from(resource.account)];
    let region = REGIONS[usize::from(resource.region)].code;
    let hex_id = mix64(mix64(seed) ^ u64::from(resource.serial));
    let suffix = mix32(resource.serial ^ seed as u32);
    let service = TEAMS[usize::from(resource.team)].services[usize::from(resource.service)];
    let words = kind.name_words();
    let word = words[mix32(resource.serial) as usize % words.len()];
    let env = account.env.name();
    let arn = |out: &mut String, service_prefix: &str, resource_type: &str| {
        out.push_str("arn:aws:");
        out.push_str(service_prefix);
        out.push(':');
        out.push_str(region);
        out.push(':');
        out.push_str(account.id);
        out.push(':');
        out.push_str(resource_type);
    };
    let name = |out: &mut String, with_word: bool| {
        out.push_str(service);
        if with_word {
            out.push('-');
            out.push_str(word);
        }
        out.push('-');
        out.push_str(env);
        out.push('-');
        push_hex(out, u64::from(suffix), 8);
    };
    match kind {
        Kind::WebServer | Kind::Worker | Kind::GpuTrainer | Kind::CiRunner => {
            out.push_str("i-0");
            push_hex(out, hex_id, 16);
        }
        Kind::Volume => {
            out.push_str("vol-0");
            push_hex(out, hex_id, 16);
        }
        Kind::NatGateway => {
            arn(out, "ec2", "natgateway/nat-0");
            push_hex(out, hex_id, 16);
        }
        Kind::Database => {
            arn(out, "rds", "db:");
            name(out, true);
        }
        Kind::Bucket | Kind::ReplicatedBucket | Kind::ArchiveBucket => {
            out.push_str("acme-");
            name(out, true);
        }
        Kind::Snapshot => {
            out.push_str("snap-0");
            push_hex(out, hex_id, 16);
        }
        Kind::LoadBalancer => {
            arn(out, "elasticloadbalancing", "loadbalancer/app/");
            name(out, true);
            out.push('/');
            push_hex(out, hex_id, 16);
        }
        Kind::Cluster => {
            arn(out, "eks", "cluster/");
            name(out, false);
        }
        Kind::Function => {
            arn(out, "lambda", "function:");
            name(out, true);
        }
        Kind::LogGroup => {
            arn(out, "logs", "log-group:/ecs/");
            name(out, false);
        }
        Kind::Table => {
            arn(out, "dynamodb", "table/");
            name(out, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::generate::DemoConfig;

    #[test]
    fn resource_ids_are_aws_shaped_and_unique() {
        let plan = Plan::build(&DemoConfig { target_rows: 20_000, ..DemoConfig::default() }).unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut id = String::new();
        for resource in plan.payers.iter().flat_map(|p| &p.resources) {
            let kind = plan.catalog.archetypes[usize::from(resource.archetype)].kind;
            write_resource_id(&mut id, plan.seed, kind, resource);
            assert!(seen.insert(id.clone()), "duplicate id {id}");
            match kind {
                Kind::WebServer | Kind::Worker | Kind::GpuTrainer | Kind::CiRunner => {
                    assert!(id.starts_with("i-0") && id.len() == 19, "{id}");
                }
                Kind::Volume => assert!(id.starts_with("vol-0") && id.len() == 21, "{id}"),
                Kind::Bucket | Kind::ReplicatedBucket => assert!(id.starts_with("acme-"), "{id}"),
                _ => assert!(id.starts_with("arn:aws:"), "{id}"),
            }
        }
    }
}
