//! The price list: what each kind of resource is billed for, at which
//! on-demand rate, and how its daily usage behaves.
//!
//! Rates are public us-east-1 list prices (rounded); every region uses them.
//! Each meter keeps `usage decimals + rate decimals <= 10`, so the cost of a
//! line is exactly representable (see [`Fixed::mul_exact`]).

mod prices;

use super::decimal::Fixed;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Always-on EC2 instance behind a load balancer, with internet egress.
    WebServer,
    /// Autoscaled EC2 instance, busier on weekdays.
    Worker,
    GpuTrainer,
    /// Short-lived CI build instance (lives a few days).
    CiRunner,
    Volume,
    Database,
    Bucket,
    /// Bucket replicated to another region (inter-region transfer).
    ReplicatedBucket,
    Cluster,
    NatGateway,
    Function,
    LogGroup,
    Table,
    /// Application load balancer (planted cases only: no team profile runs one).
    LoadBalancer,
    /// EBS snapshot (planted cases only).
    Snapshot,
    /// Bucket whose objects sit in colder storage classes (planted cases only).
    ArchiveBucket,
}

impl Kind {
    /// Range of the resource's size, in the unit its meters scale with
    /// (see [`Quantity`]); drawn skewed towards the low end.
    pub fn size_range(self) -> (i64, i64) {
        match self {
            Kind::WebServer => (1, 300), // GB egress per day
            Kind::Worker | Kind::GpuTrainer | Kind::CiRunner | Kind::Cluster => (1, 1),
            Kind::Volume => (20, 4_000),                           // GB provisioned
            Kind::Database => (50, 3_000),                         // GB storage
            Kind::Bucket | Kind::ReplicatedBucket => (10, 40_000), // GB stored
            Kind::NatGateway => (5, 3_000),                        // GB processed per day
            Kind::Function => (1, 20_000),                         // thousand invocations per day
            Kind::LogGroup => (20, 60_000),                        // MB ingested per day
            Kind::Table => (1, 800),                               // GB stored
            Kind::LoadBalancer => (1, 200),                        // LCU-hours per day
            Kind::Snapshot => (20, 4_000),                         // GB stored
            Kind::ArchiveBucket => (10, 40_000),                   // GB stored
        }
    }

    /// Words used in resource names (`orders-api-exports-prod-1f3a9c2e`).
    pub fn name_words(self) -> &'static [&'static str] {
        match self {
            Kind::Database => &["db", "primary", "store"],
            Kind::Bucket | Kind::ReplicatedBucket => &["assets", "exports", "backups", "uploads", "artifacts", "raw"],
            Kind::ArchiveBucket => &["archive"],
            Kind::LoadBalancer => &["alb"],
            Kind::Function => &["handler", "worker", "cron", "webhook", "consumer"],
            Kind::Table => &["events", "sessions", "state", "idempotency-keys"],
            Kind::Cluster => &["cluster"],
            _ => &["app"],
        }
    }

    /// Short-lived resources are active for a few days (up to 10) somewhere in the period.
    pub fn is_ephemeral(self) -> bool {
        self == Kind::CiRunner
    }
}

/// The regions resources run in.
pub struct Region {
    pub code: &'static str,
    /// Usage-type prefix (`USE1-BoxUsage:m5.xlarge`).
    pub prefix: &'static str,
}

pub const REGIONS: [Region; 3] = [
    Region { code: "us-east-1", prefix: "USE1" },
    Region { code: "us-west-2", prefix: "USW2" },
    Region { code: "eu-west-1", prefix: "EU" },
];
pub const HOME_REGION: usize = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Product {
    Ec2,
    Rds,
    S3,
    DataTransfer,
    Eks,
    Lambda,
    CloudWatch,
    DynamoDb,
    ComputeSavingsPlans,
    SupportBusiness,
    Elb,
}

impl Product {
    pub const ALL: [Product; 11] = [
        Product::Ec2,
        Product::Rds,
        Product::S3,
        Product::DataTransfer,
        Product::Eks,
        Product::Lambda,
        Product::CloudWatch,
        Product::DynamoDb,
        Product::ComputeSavingsPlans,
        Product::SupportBusiness,
        Product::Elb,
    ];

    /// `lineItem/ProductCode`.
    pub fn code(self) -> &'static str {
        match self {
            Product::Ec2 => "AmazonEC2",
            Product::Rds => "AmazonRDS",
            Product::S3 => "AmazonS3",
            Product::DataTransfer => "AWSDataTransfer",
            Product::Eks => "AmazonEKS",
            Product::Lambda => "AWSLambda",
            Product::CloudWatch => "AmazonCloudWatch",
            Product::DynamoDb => "AmazonDynamoDB",
            Product::ComputeSavingsPlans => "ComputeSavingsPlans",
            Product::SupportBusiness => "AWSSupportBusiness",
            Product::Elb => "AWSELB",
        }
    }

    /// `product/ProductName`.
    pub fn name(self) -> &'static str {
        match self {
            Product::Ec2 => "Amazon Elastic Compute Cloud",
            Product::Rds => "Amazon Relational Database Service",
            Product::S3 => "Amazon Simple Storage Service",
            Product::DataTransfer => "AWS Data Transfer",
            Product::Eks => "Amazon Elastic Container Service for Kubernetes",
            Product::Lambda => "AWS Lambda",
            Product::CloudWatch => "AmazonCloudWatch",
            Product::DynamoDb => "Amazon DynamoDB",
            Product::ComputeSavingsPlans => "Savings Plans for AWS Compute usage",
            Product::SupportBusiness => "AWS Support (Business)",
            Product::Elb => "Elastic Load Balancing",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a meter's daily usage amount is produced.
#[derive(Clone, Copy, Debug)]
pub enum Quantity {
    /// 24 hours every day.
    AlwaysOnHours,
    /// Autoscaled: a weekday runs at least `weekday_min_bp` of 24 hours, a
    /// weekend day at most `weekend_max_bp`.
    BusyHours { weekday_min_bp: i64, weekend_max_bp: i64 },
    /// Storage billed per GB-month and accrued daily: `size * gb_per_size`
    /// GB, divided by the days in the month.
    Storage { gb_per_size: Fixed },
    /// Traffic: `size * per_size` per day, with a weekly pattern and noise.
    Traffic { per_size: Fixed },
}

/// One billed dimension of a resource (an instance's hours, a bucket's storage).
pub struct Meter {
    pub product: Product,
    pub product_family: &'static str,
    pub operation: &'static str,
    /// `pricing/unit`.
    pub unit: &'static str,
    pub rate: Fixed,
    /// Fractional digits of the daily usage amount.
    pub usage_decimals: u32,
    pub quantity: Quantity,
    pub description: String,
    /// `product/instanceType` (empty when not an instance).
    pub instance_type: &'static str,
    /// Zonal resources carry `lineItem/AvailabilityZone`.
    pub zonal: bool,
    /// Per region (index into [`REGIONS`]).
    pub usage_types: Vec<String>,
    pub skus: Vec<String>,
}

/// Reserved Instance pricing (1 year, partial upfront) for an archetype's first meter.
pub struct ReservedPricing {
    /// Hourly fee billed on the monthly `RIFee` line.
    pub recurring_hourly: Fixed,
    /// Upfront fee spread over the term, per hour.
    pub amortized_upfront_hourly: Fixed,
    /// `RIFee` usage type per region (`USE1-HeavyUsage:db.r5.large`).
    pub fee_usage_types: Vec<String>,
    pub fee_description: String,
    pub covered_description: String,
}

/// A concrete variant of a kind (a `Worker` on `r5.xlarge`) with its meters.
/// The first meter is the one commitments cover.
pub struct Archetype {
    pub kind: Kind,
    pub meters: Vec<Meter>,
    pub reserved: Option<ReservedPricing>,
    /// Compute Savings Plan rate for the first meter.
    pub savings_plan_rate: Option<Fixed>,
}

pub struct Catalog {
    pub archetypes: Vec<Archetype>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog { archetypes: prices::archetypes() }
    }

    /// The price list in another currency: every rate times `bp / 10_000`, rounded half away
    /// from zero to the rate's own decimals (so `usage decimals + rate decimals <= 10` still
    /// holds and costs stay exact), never to zero.
    pub fn priced_at(bp: i128) -> Catalog {
        let convert = |rate: Fixed| {
            let converted = rate.mul_div_round(bp, 10_000, rate.decimals());
            if converted == Fixed::ZERO { rate } else { converted }
        };
        let mut archetypes = prices::archetypes();
        for archetype in &mut archetypes {
            for meter in &mut archetype.meters {
                meter.rate = convert(meter.rate);
            }
            if let Some(reserved) = &mut archetype.reserved {
                reserved.recurring_hourly = convert(reserved.recurring_hourly);
                reserved.amortized_upfront_hourly = convert(reserved.amortized_upfront_hourly);
            }
            archetype.savings_plan_rate = archetype.savings_plan_rate.map(convert);
        }
        Catalog { archetypes }
    }

    pub fn variants(&self, kind: Kind) -> Vec<usize> {
        (0..self.archetypes.len()).filter(|&i| self.archetypes[i].kind == kind).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_variants_and_commitment_prices_stay_exact() {
        let catalog = Catalog::new();
        for kind in [
            Kind::WebServer,
            Kind::Worker,
            Kind::GpuTrainer,
            Kind::CiRunner,
            Kind::Volume,
            Kind::Database,
            Kind::Bucket,
            Kind::ReplicatedBucket,
            Kind::Cluster,
            Kind::NatGateway,
            Kind::Function,
            Kind::LogGroup,
            Kind::Table,
            Kind::LoadBalancer,
            Kind::Snapshot,
            Kind::ArchiveBucket,
        ] {
            assert!(!catalog.variants(kind).is_empty(), "{kind:?}");
        }
        for archetype in &catalog.archetypes {
            let first = &archetype.meters[0];
            if let Some(rate) = archetype.savings_plan_rate {
                assert!(rate.decimals() + first.usage_decimals <= 10);
            }
            if let Some(ri) = &archetype.reserved {
                let effective = ri.recurring_hourly + ri.amortized_upfront_hourly;
                assert!(effective.decimals() + first.usage_decimals <= 10);
            }
        }
        let s3 = &catalog.archetypes[catalog.variants(Kind::Bucket)[0]].meters[0];
        assert_eq!(s3.usage_types, ["TimedStorage-ByteHrs", "USW2-TimedStorage-ByteHrs", "EU-TimedStorage-ByteHrs"]);
        let replicated = &catalog.archetypes[catalog.variants(Kind::ReplicatedBucket)[0]].meters[2];
        assert_eq!(replicated.usage_types[0], "USE1-USW2-AWS-Out-Bytes");
    }
}
