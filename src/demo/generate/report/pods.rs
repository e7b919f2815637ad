//! The shared EKS cluster: the instances the platform teams run in `acme-shared-platform` are
//! its nodes, and each node-day is billed with split cost allocation data, as AWS writes it
//! (fixtures/make_split_cost_fixtures.py names the documentation): three tenant teams' pods on
//! the node (`tally demo --pods-per-node` more), each a vCPU row and a memory row with no cost of
//! its own, `splitLineItem/SplitCost`
//! for its reserved share of the node's amortized cost (75% vCPU, 25% memory) and
//! `splitLineItem/UnusedCost` for its part of what no pod reserved, spread by usage. A pod's
//! Kubernetes label `team` arrives as the tag `team`; its namespace is its team.
//!
//! Pods come from a hash of the node and day, not from the report's random stream, so every
//! other line of the bill is what it would be without them.

use anyhow::Result;

use super::{Day, Report};
use crate::demo::generate::catalog::{Meter, Product, REGIONS};
use crate::demo::generate::company::{ACCOUNTS, account_index};
use crate::demo::generate::decimal::Fixed;
use crate::demo::generate::ids::{mix64, push_hex};
use crate::demo::generate::plan::Resource;
use crate::demo::generate::writer::{LineItem, PodSplit, Tags};

pub const CLUSTER: &str = "acme-shared-eks";
const NODE_ACCOUNT: &str = "acme-shared-platform";
/// The cluster's tenants (the teams whose services run in it).
const TENANTS: [&str; 8] =
    ["payments-api", "checkout", "orders", "catalog", "search", "user-profile", "notifications", "growth-web"];
/// Rows per pod (vCPU, memory).
pub const ROWS_PER_POD: u64 = 2;

/// Whether this meter of `resource` is a node's instance hours.
pub fn is_node(resource: &Resource, meter: &Meter, meter_index: usize) -> bool {
    meter_index == 0
        && meter.product == Product::Ec2
        && meter.operation == "RunInstances"
        && usize::from(resource.account) == account_index(NODE_ACCOUNT)
}

/// The `pods` pods of node `node_id` on `day`, whose amortized cost that day is `effective`.
pub fn write(
    report: &mut Report,
    seed_key: u64,
    pods: u64,
    resource: &Resource,
    node_id: &str,
    day: &Day,
    effective: Fixed,
) -> Result<()> {
    let account = usize::from(resource.account);
    let region = usize::from(resource.region);
    let h = mix64(seed_key ^ (u64::from(resource.serial) << 20) ^ u64::from(day.global));
    let first = (h % 8) as usize;
    // Three pods: three tenants, each reserving 10-30% of the vCPU and 8-30% of the memory
    // (basis points); more pods share the node as three would, each a 3/pods part of that.
    let tenants: Vec<&str> =
        (0..pods as usize).map(|k| TENANTS[(first + [0, 3, 5].get(k).copied().unwrap_or(k)) % 8]).collect();
    let bits = |k: u64| if k < 3 { h } else { mix64(h ^ (k << 32)) };
    let scaled = |bp: i128| bp * 3 / pods as i128;
    let cpu: Vec<i128> = (0..pods).map(|k| scaled(1_000 + ((bits(k) >> (24 + 8 * (k % 3))) % 2_000) as i128)).collect();
    let memory: Vec<i128> =
        (0..pods).map(|k| scaled(800 + ((bits(k) >> (44 + 6 * (k % 3))) % 2_200) as i128)).collect();
    let cpu_part = effective.mul_div_round(3, 4, 10);
    let memory_part = effective - cpu_part;
    let prefix = REGIONS[region].prefix;
    let region_code = REGIONS[region].code;
    for (resource_name, part, shares, capacity, unit) in
        [("vCPU", cpu_part, &cpu, 4, "vCPU-Hours"), ("GB", memory_part, &memory, 16, "GB-Hours")]
    {
        let reserved: i128 = shares.iter().sum();
        let used: Vec<Fixed> = shares.iter().map(|bp| part.mul_div_round(*bp, 10_000, 10)).collect();
        let unused = part - used.iter().copied().sum::<Fixed>();
        for (k, tenant) in tenants.iter().enumerate() {
            let mut pod = format!("{tenant}-api-");
            push_hex(&mut pod, mix64(h ^ k as u64), 10);
            let arn = format!(
                "arn:aws:eks:{region_code}:{}:pod/{CLUSTER}/{tenant}/{pod}/uid-{}",
                ACCOUNTS[account].id,
                &pod[pod.len() - 5..]
            );
            let usage_type = format!("{prefix}-EKS-EC2-{resource_name}-Hours");
            let deployment = if k < 3 { format!("{tenant}-api") } else { format!("{tenant}-worker-{}", k / 8) };
            let usage = Fixed::whole(24 * capacity).mul_div_round(shares[k], 10_000, 4);
            let line = LineItem {
                usage_account_id: ACCOUNTS[account].id,
                line_item_type: "Usage",
                usage_start: &day.start,
                usage_end: &day.end,
                product_code: Product::Eks.code(),
                usage_type: &usage_type,
                operation: "EKSPod-EC2",
                resource_id: &arn,
                usage_amount: Some(usage),
                unblended_rate: Some(Fixed::ZERO),
                unblended_cost: Fixed::ZERO,
                description: "Kubernetes pod usage (split cost allocation data)",
                product_name: Product::Eks.name(),
                region: region_code,
                pricing_unit: unit,
                tags: Tags { team: tenant, ..Tags::default() },
                split: Some(PodSplit {
                    parent: node_id,
                    usage,
                    cost: used[k],
                    unused: unused.mul_div_round(shares[k], reserved, 10),
                    cluster: CLUSTER,
                    namespace: tenant,
                    deployment: &deployment,
                }),
                ..LineItem::default()
            };
            report.write(account, Product::Eks, &line)?;
        }
    }
    Ok(())
}
