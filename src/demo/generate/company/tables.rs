//! The company's data: orgs, accounts, payer families and teams.

use super::{AccountSpec, Env, InvoiceStyle, LastMonthChange, OrgSpec, PayerSpec, Profile, TeamSpec};
use crate::demo::generate::catalog::Kind::*;

pub const ORGS: &[OrgSpec] = &[
    OrgSpec { name: "Payments", exec: "Sofia Alvarez", cost_center: "CC-2100" },
    OrgSpec { name: "Platform", exec: "Priya Raman", cost_center: "CC-3100" },
    OrgSpec { name: "Data", exec: "Priya Raman", cost_center: "CC-3200" },
    OrgSpec { name: "Growth", exec: "Marcus Cole", cost_center: "CC-4100" },
    OrgSpec { name: "Core Product", exec: "Marcus Cole", cost_center: "CC-4200" },
];

const MAIN_PAYER: &str = "acme-management";
const PAYMENTS_PAYER: &str = "acme-payments-management";

/// Payer accounts first, each followed by its members.
pub const ACCOUNTS: &[AccountSpec] = &[
    account("418273645091", MAIN_PAYER, MAIN_PAYER, Env::Management),
    account("729104638251", "acme-prod-core", MAIN_PAYER, Env::Prod),
    account("729104638474", "acme-staging-core", MAIN_PAYER, Env::Staging),
    account("615283940172", "acme-dev-sandbox", MAIN_PAYER, Env::Dev),
    account("837261504938", "acme-shared-platform", MAIN_PAYER, Env::Prod),
    account("904817263550", "acme-data-prod", MAIN_PAYER, Env::Prod),
    account("350918274663", "acme-analytics", MAIN_PAYER, Env::Prod),
    account("268471950384", "acme-ml-training", MAIN_PAYER, Env::Prod),
    account("193847562017", "acme-ci-runners", MAIN_PAYER, Env::Dev),
    account("562019384756", PAYMENTS_PAYER, PAYMENTS_PAYER, Env::Management),
    account("471829305617", "acme-payments-prod", PAYMENTS_PAYER, Env::Prod),
    account("471829305842", "acme-payments-staging", PAYMENTS_PAYER, Env::Staging),
    account("738492016354", "acme-ledger-prod", PAYMENTS_PAYER, Env::Prod),
    account("846302917485", "acme-fraud-ml", PAYMENTS_PAYER, Env::Prod),
];

pub const PAYERS: &[PayerSpec] = &[
    PayerSpec {
        account: MAIN_PAYER,
        invoicing_entity: "Amazon Web Services, Inc.",
        invoice_prefix: InvoiceStyle::Numeric,
        tax_type: "SalesTax",
        currency: "USD",
        price_bp: 10_000,
        tax_rate_bp: 625,
        credit_account: "acme-dev-sandbox",
        refund_account: Some("acme-prod-core"),
    },
    // The payments business was set up as a separate EU entity (PCI scope), billed in euros at
    // a euro price list (about the USD list at 1.163 USD per EUR), so reports show conversion.
    PayerSpec {
        account: PAYMENTS_PAYER,
        invoicing_entity: "Amazon Web Services EMEA SARL",
        invoice_prefix: InvoiceStyle::Emea,
        tax_type: "VAT",
        currency: "EUR",
        price_bp: 8_600,
        tax_rate_bp: 2000,
        credit_account: "acme-payments-staging",
        refund_account: None,
    },
];

const SERVICE: Profile = &[
    (WebServer, 18),
    (Worker, 8),
    (Volume, 14),
    (Database, 6),
    (Bucket, 7),
    (Function, 10),
    (LogGroup, 9),
    (Table, 6),
    (NatGateway, 1),
];
const DATA: Profile = &[
    (Worker, 16),
    (Volume, 14),
    (Bucket, 18),
    (ReplicatedBucket, 4),
    (Database, 4),
    (LogGroup, 5),
    (Function, 5),
    (Table, 2),
];
const ML: Profile =
    &[(GpuTrainer, 10), (Worker, 8), (Volume, 10), (Bucket, 14), (Function, 3), (LogGroup, 4), (WebServer, 3)];
const PLATFORM: Profile = &[
    (Cluster, 5),
    (Worker, 20),
    (WebServer, 4),
    (Volume, 14),
    (NatGateway, 4),
    (LogGroup, 16),
    (Bucket, 5),
    (Function, 4),
];
const CI: Profile = &[(CiRunner, 80), (Bucket, 4), (Volume, 6), (LogGroup, 4), (Worker, 2)];
const FRONTEND: Profile = &[(WebServer, 10), (Bucket, 14), (Function, 20), (LogGroup, 10), (Table, 5)];

const fn team(
    name: &'static str,
    org: &'static str,
    profile: Profile,
    weight: u32,
    accounts: &'static [(&'static str, u32)],
    services: &'static [&'static str],
    aliases: &'static [&'static str],
) -> TeamSpec {
    TeamSpec {
        name,
        org,
        profile,
        weight,
        accounts,
        services,
        aliases,
        former_name: None,
        typo: None,
        monthly_growth_bp: 100,
        last_month: LastMonthChange::None,
    }
}

pub const TEAMS: &[TeamSpec] = &[
    // Payments
    TeamSpec {
        typo: Some("paymnets-api"),
        monthly_growth_bp: 200,
        ..team(
            "payments-api",
            "Payments",
            SERVICE,
            50,
            &[("acme-payments-prod", 6), ("acme-payments-staging", 2)],
            &["payments-gateway", "payouts"],
            &["payments", "payments-svc"],
        )
    },
    team(
        "ledger",
        "Payments",
        SERVICE,
        5,
        &[("acme-ledger-prod", 6), ("acme-payments-staging", 1)],
        &["ledger-core", "reconciler"],
        &["ledger-team"],
    ),
    TeamSpec {
        monthly_growth_bp: 150,
        // A new model-training fleet.
        last_month: LastMonthChange::Launch { kind: GpuTrainer, extra_bp: 3_000 },
        ..team(
            "fraud",
            "Payments",
            ML,
            22,
            &[("acme-fraud-ml", 5), ("acme-payments-prod", 2), ("acme-payments-staging", 1)],
            &["fraud-scoring", "risk-rules"],
            &["risk"],
        )
    },
    team(
        "billing",
        "Payments",
        SERVICE,
        4,
        &[("acme-payments-prod", 5), ("acme-payments-staging", 2)],
        &["invoicing", "subscriptions"],
        &["billing-eng"],
    ),
    team(
        "checkout",
        "Payments",
        SERVICE,
        4,
        &[("acme-payments-prod", 5), ("acme-payments-staging", 2), ("acme-dev-sandbox", 1)],
        &["checkout-web", "cart"],
        &["checkout-team"],
    ),
    // Platform
    TeamSpec {
        typo: Some("k8s-platfrom"),
        ..team(
            "k8s-platform",
            "Platform",
            PLATFORM,
            10,
            &[("acme-shared-platform", 6), ("acme-staging-core", 1), ("acme-dev-sandbox", 1)],
            &["eks-core", "cluster-addons"],
            &["k8s", "kubernetes"],
        )
    },
    TeamSpec {
        typo: Some("observabilty"),
        // Debug logging left on after an incident: log ingestion jumps.
        last_month: LastMonthChange::TrafficStep { factor_bp: 22_000 },
        ..team(
            "observability",
            "Platform",
            PLATFORM,
            7,
            &[("acme-shared-platform", 6), ("acme-prod-core", 1)],
            &["metrics", "logging"],
            &["o11y", "monitoring"],
        )
    },
    team(
        "ci",
        "Platform",
        CI,
        30,
        &[("acme-ci-runners", 8), ("acme-shared-platform", 1)],
        &["build-runners", "artifact-cache"],
        &["ci-cd", "build"],
    ),
    team(
        "networking",
        "Platform",
        PLATFORM,
        3,
        &[("acme-shared-platform", 4), ("acme-prod-core", 2), ("acme-payments-prod", 1)],
        &["transit", "edge-proxy"],
        &["netops"],
    ),
    team(
        "security",
        "Platform",
        SERVICE,
        3,
        &[("acme-shared-platform", 5), ("acme-payments-prod", 1)],
        &["guardrails", "secrets-broker"],
        &["secops", "infosec"],
    ),
    // Data
    TeamSpec {
        monthly_growth_bp: 500,
        ..team(
            "data-platform",
            "Data",
            DATA,
            64,
            &[("acme-data-prod", 6), ("acme-dev-sandbox", 1)],
            &["lakehouse", "spark-jobs"],
            &["data-eng", "data"],
        )
    },
    team("analytics", "Data", DATA, 4, &[("acme-analytics", 6)], &["bi-dashboards", "reporting"], &["bi"]),
    TeamSpec {
        monthly_growth_bp: 400,
        ..team(
            "ml-platform",
            "Data",
            ML,
            40,
            &[("acme-ml-training", 6), ("acme-data-prod", 1), ("acme-dev-sandbox", 1)],
            &["model-training", "feature-store"],
            &["ml", "mlops"],
        )
    },
    TeamSpec {
        // The old search cluster is retired on the 10th.
        last_month: LastMonthChange::Decommission { share_bp: 5_000, on_day: 10 },
        ..team(
            "search",
            "Data",
            SERVICE,
            6,
            &[("acme-prod-core", 4), ("acme-data-prod", 2), ("acme-staging-core", 1)],
            &["search-api", "indexer"],
            &["search-team"],
        )
    },
    TeamSpec {
        former_name: Some("etl"),
        ..team(
            "data-ingest",
            "Data",
            DATA,
            4,
            &[("acme-data-prod", 6), ("acme-dev-sandbox", 1)],
            &["ingest-pipelines", "cdc-stream"],
            &["ingest"],
        )
    },
    // Growth
    TeamSpec {
        monthly_growth_bp: 800,
        ..team(
            "growth-web",
            "Growth",
            FRONTEND,
            4,
            &[("acme-prod-core", 5), ("acme-staging-core", 2), ("acme-dev-sandbox", 1)],
            &["landing-pages", "signup-flow"],
            &["growth", "web"],
        )
    },
    team(
        "experimentation",
        "Growth",
        SERVICE,
        3,
        &[("acme-prod-core", 4), ("acme-staging-core", 1), ("acme-dev-sandbox", 1)],
        &["ab-testing", "feature-flags"],
        &["experiments"],
    ),
    TeamSpec {
        former_name: Some("messaging"),
        ..team(
            "notifications",
            "Growth",
            SERVICE,
            3,
            &[("acme-prod-core", 4), ("acme-staging-core", 2)],
            &["email-sender", "push-gateway"],
            &["notify"],
        )
    },
    team(
        "marketing-site",
        "Growth",
        FRONTEND,
        2,
        &[("acme-prod-core", 3), ("acme-dev-sandbox", 1)],
        &["www", "blog"],
        &["marketing"],
    ),
    // Core Product
    team(
        "catalog",
        "Core Product",
        SERVICE,
        4,
        &[("acme-prod-core", 5), ("acme-staging-core", 2)],
        &["catalog-api", "pricing-engine"],
        &["product-catalog"],
    ),
    TeamSpec {
        typo: Some("oders"),
        monthly_growth_bp: 300,
        ..team(
            "orders",
            "Core Product",
            SERVICE,
            27,
            &[("acme-prod-core", 6), ("acme-staging-core", 2)],
            &["orders-api", "fulfilment"],
            &["order-service"],
        )
    },
    team(
        "user-profile",
        "Core Product",
        SERVICE,
        3,
        &[("acme-prod-core", 4), ("acme-staging-core", 2)],
        &["profile-api", "preferences"],
        &["profiles"],
    ),
    team(
        "mobile-backend",
        "Core Product",
        SERVICE,
        3,
        &[("acme-prod-core", 5), ("acme-staging-core", 2), ("acme-dev-sandbox", 1)],
        &["mobile-bff", "push-sync"],
        &["mobile"],
    ),
    TeamSpec {
        typo: Some("recomendations"),
        ..team(
            "recommendations",
            "Core Product",
            ML,
            3,
            &[("acme-prod-core", 3), ("acme-data-prod", 2)],
            &["recs-api", "recs-training"],
            &["recs"],
        )
    },
];

/// Team-tag values that map to no team at all.
pub const UNKNOWN_TEAM_VALUES: &[&str] = &["tbd", "unknown", "TBD", "none"];
const fn account(id: &'static str, name: &'static str, payer: &'static str, env: Env) -> AccountSpec {
    AccountSpec { id, name, payer, env }
}
