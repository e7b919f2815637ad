//! The price list itself: every archetype with its meters and rates.

use super::{Archetype, HOME_REGION, Kind, Meter, Product, Quantity, REGIONS, ReservedPricing};
use crate::demo::generate::decimal::Fixed;
use crate::demo::generate::ids;

/// Savings Plans cost 72% of on-demand; a Reserved Instance 30% recurring +
/// 32% amortized upfront. Two extra decimals keep all of them exact.
const SAVINGS_PLAN_SHARE: &str = "0.72";
const RESERVED_RECURRING_SHARE: &str = "0.30";
const RESERVED_UPFRONT_SHARE: &str = "0.32";

/// Every archetype, in a fixed order (resource plans index into it).
pub fn archetypes() -> Vec<Archetype> {
    let mut archetypes = Vec::new();
    for (instance, rate) in [
        ("m5.large", "0.096"),
        ("m5.xlarge", "0.192"),
        ("c5.xlarge", "0.17"),
        ("m6i.large", "0.096"),
        ("t3.medium", "0.0416"),
    ] {
        let mut web = archetype(Kind::WebServer, vec![ec2_hours(instance, rate, Quantity::AlwaysOnHours)]);
        web.meters.push(egress());
        web.savings_plan_rate = Some(Fixed::lit(rate).mul_exact(Fixed::lit(SAVINGS_PLAN_SHARE)));
        archetypes.push(web);
    }
    let worker_hours = Quantity::BusyHours { weekday_min_bp: 6_000, weekend_max_bp: 5_000 };
    for (instance, rate) in
        [("c5.2xlarge", "0.34"), ("m5.2xlarge", "0.384"), ("r5.xlarge", "0.252"), ("r5.2xlarge", "0.504")]
    {
        archetypes.push(archetype(Kind::Worker, vec![ec2_hours(instance, rate, worker_hours)]));
    }
    let training_hours = Quantity::BusyHours { weekday_min_bp: 4_000, weekend_max_bp: 3_000 };
    for (instance, rate) in [("g4dn.xlarge", "0.526"), ("g5.2xlarge", "1.212"), ("p3.2xlarge", "3.06")] {
        archetypes.push(archetype(Kind::GpuTrainer, vec![ec2_hours(instance, rate, training_hours)]));
    }
    let build_hours = Quantity::BusyHours { weekday_min_bp: 3_000, weekend_max_bp: 2_000 };
    for (instance, rate) in [("c5.xlarge", "0.17"), ("c5.2xlarge", "0.34"), ("m5.large", "0.096")] {
        archetypes.push(archetype(Kind::CiRunner, vec![ec2_hours(instance, rate, build_hours)]));
    }
    for (volume, rate, operation, label) in [
        ("gp3", "0.08", "CreateVolume-Gp3", "General Purpose (gp3)"),
        ("gp2", "0.10", "CreateVolume-Gp2", "General Purpose SSD (gp2)"),
        ("piops", "0.125", "CreateVolume-P-IOPS", "Provisioned IOPS SSD (io1)"),
    ] {
        let description = format!("${rate} per GB-month of {label} provisioned storage");
        let meter = MeterSpec::new(Product::Ec2, &format!("EBS:VolumeUsage.{volume}"), operation, rate)
            .family("Storage")
            .unit("GB-Mo")
            .storage("1")
            .zonal()
            .describe(description);
        archetypes.push(archetype(Kind::Volume, vec![meter.build()]));
    }
    for (class, engine, rate, operation) in [
        ("db.r5.large", "MySQL", "0.24", "CreateDBInstance:0002"),
        ("db.m5.large", "PostgreSQL", "0.178", "CreateDBInstance:0014"),
        ("db.r6g.xlarge", "PostgreSQL", "0.449", "CreateDBInstance:0014"),
    ] {
        archetypes.push(database(class, engine, rate, operation));
    }
    archetypes.push(archetype(Kind::Bucket, vec![s3_storage(), s3_requests()]));
    archetypes.push(archetype(Kind::ReplicatedBucket, vec![s3_storage(), s3_requests(), replication()]));
    let cluster = MeterSpec::new(Product::Eks, "AmazonEKS-Hours:perCluster", "CreateOperation", "0.10")
        .family("Compute")
        .unit("Hrs")
        .hours(Quantity::AlwaysOnHours)
        .describe("$0.10 per hour per EKS cluster".to_string());
    archetypes.push(archetype(Kind::Cluster, vec![cluster.build()]));
    let nat_hours = MeterSpec::new(Product::Ec2, "NatGateway-Hours", "NatGateway", "0.045")
        .family("NAT Gateway")
        .unit("Hrs")
        .hours(Quantity::AlwaysOnHours)
        .zonal()
        .describe("$0.045 per NAT Gateway Hour".to_string());
    let nat_bytes = MeterSpec::new(Product::Ec2, "NatGateway-Bytes", "NatGateway", "0.045")
        .family("NAT Gateway")
        .unit("GB")
        .traffic("1", 6)
        .zonal()
        .describe("$0.045 per GB Data Processed by NAT Gateways".to_string());
    archetypes.push(archetype(Kind::NatGateway, vec![nat_hours.build(), nat_bytes.build()]));
    let compute = MeterSpec::new(Product::Lambda, "Lambda-GB-Second", "Invoke", "0.0000166667")
        .family("Serverless")
        .unit("Lambda-GB-Second")
        .traffic("200", 0)
        .describe("AWS Lambda - Total Compute - $0.0000166667 per GB-second".to_string());
    let requests = MeterSpec::new(Product::Lambda, "Request", "Invoke", "0.0000002")
        .family("Serverless")
        .unit("Requests")
        .traffic("1000", 0)
        .describe("AWS Lambda - Total Requests - $0.20 per 1M requests".to_string());
    archetypes.push(archetype(Kind::Function, vec![compute.build(), requests.build()]));
    let ingestion = MeterSpec::new(Product::CloudWatch, "DataProcessing-Bytes", "PutLogEvents", "0.50")
        .family("Data Payload")
        .unit("GB")
        .traffic("0.001", 6)
        .describe("$0.50 per GB custom log data ingested".to_string());
    let retention = MeterSpec::new(Product::CloudWatch, "TimedStorage-ByteHrs", "HourlyStorageMetering", "0.03")
        .family("Storage Snapshot")
        .unit("GB-Mo")
        .storage("0.03")
        .describe("$0.03 per GB-mo of log storage".to_string());
    archetypes.push(archetype(Kind::LogGroup, vec![ingestion.build(), retention.build()]));
    let table_storage = MeterSpec::new(Product::DynamoDb, "TimedStorage-ByteHrs", "StandardStorage", "0.25")
        .family("Database Storage")
        .unit("GB-Mo")
        .storage("1")
        .describe("$0.25 per GB-Month of storage used beyond first 25 free GB-Months".to_string());
    let throughput = "Amazon DynamoDB PayPerRequest Throughput";
    let reads = MeterSpec::new(Product::DynamoDb, "ReadRequestUnits", "PayPerRequestThroughput", "0.00000025")
        .family(throughput)
        .unit("ReadRequestUnits")
        .traffic("150000", 0)
        .describe("$0.25 per million read request units".to_string());
    let writes = MeterSpec::new(Product::DynamoDb, "WriteRequestUnits", "PayPerRequestThroughput", "0.00000125")
        .family(throughput)
        .unit("WriteRequestUnits")
        .traffic("15000", 0)
        .describe("$1.25 per million write request units".to_string());
    archetypes.push(archetype(Kind::Table, vec![table_storage.build(), reads.build(), writes.build()]));
    // Kinds only the planted cases use, last so the archetypes above keep their indices.
    let lb_hours = MeterSpec::new(Product::Elb, "LoadBalancerUsage", "LoadBalancing:Application", "0.0225")
        .family("Load Balancer-Application")
        .unit("Hrs")
        .hours(Quantity::AlwaysOnHours)
        .describe("$0.0225 per Application LoadBalancer-hour (or partial hour)".to_string());
    let lb_lcus = MeterSpec::new(Product::Elb, "LCUUsage", "LoadBalancing:Application", "0.008")
        .family("Load Balancer-Application")
        .unit("LCU-Hrs")
        .traffic("1", 4)
        .describe("$0.008 per used Application load balancer capacity unit-hour (or partial hour)".to_string());
    archetypes.push(archetype(Kind::LoadBalancer, vec![lb_hours.build(), lb_lcus.build()]));
    let snapshot = MeterSpec::new(Product::Ec2, "EBS:SnapshotUsage", "CreateSnapshot", "0.05")
        .family("Storage Snapshot")
        .unit("GB-Mo")
        .storage("1")
        .describe("$0.05 per GB-Month of snapshot data stored".to_string());
    archetypes.push(archetype(Kind::Snapshot, vec![snapshot.build()]));
    let infrequent = MeterSpec::new(Product::S3, "TimedStorage-SIA-ByteHrs", "StandardIAStorage", "0.0125")
        .family("Storage")
        .unit("GB-Mo")
        .storage("0.5")
        .prefix(RegionPrefix::NotInHomeRegion)
        .describe("$0.0125 per GB-Month of storage used in Standard-Infrequent Access".to_string());
    let glacier = MeterSpec::new(Product::S3, "TimedStorage-GIR-ByteHrs", "GlacierInstantRetrievalStorage", "0.004")
        .family("Storage")
        .unit("GB-Mo")
        .storage("0.5")
        .prefix(RegionPrefix::NotInHomeRegion)
        .describe("$0.004 per GB-Month of storage used in Glacier Instant Retrieval".to_string());
    archetypes.push(archetype(Kind::ArchiveBucket, vec![infrequent.build(), glacier.build(), s3_requests()]));
    archetypes
}

fn archetype(kind: Kind, meters: Vec<Meter>) -> Archetype {
    Archetype { kind, meters, reserved: None, savings_plan_rate: None }
}

fn ec2_hours(instance: &'static str, rate: &str, quantity: Quantity) -> Meter {
    MeterSpec::new(Product::Ec2, &format!("BoxUsage:{instance}"), "RunInstances", rate)
        .family("Compute Instance")
        .unit("Hrs")
        .hours(quantity)
        .instance(instance)
        .zonal()
        .describe(format!("${rate} per On Demand Linux {instance} Instance Hour"))
        .build()
}

fn egress() -> Meter {
    MeterSpec::new(Product::DataTransfer, "DataTransfer-Out-Bytes", "RunInstances", "0.09")
        .family("Data Transfer")
        .unit("GB")
        .traffic("1", 6)
        .describe("$0.090 per GB - first 10 TB / month data transfer out beyond the global free tier".to_string())
        .build()
}

fn database(class: &'static str, engine: &str, rate: &str, operation: &'static str) -> Archetype {
    let instance = MeterSpec::new(Product::Rds, &format!("InstanceUsage:{class}"), operation, rate)
        .family("Database Instance")
        .unit("Hrs")
        .hours(Quantity::AlwaysOnHours)
        .instance(class)
        .zonal()
        .describe(format!("${rate} per RDS {class} instance hour (or partial hour) running {engine}"));
    let storage = MeterSpec::new(Product::Rds, "RDS:GP2-Storage", operation, "0.115")
        .family("Database Storage")
        .unit("GB-Mo")
        .storage("1")
        .zonal()
        .describe(format!("$0.115 per GB-month of provisioned GP2 storage running {engine}"));
    let on_demand = Fixed::lit(rate);
    let recurring = on_demand.mul_exact(Fixed::lit(RESERVED_RECURRING_SHARE));
    let reserved = ReservedPricing {
        recurring_hourly: recurring,
        amortized_upfront_hourly: on_demand.mul_exact(Fixed::lit(RESERVED_UPFRONT_SHARE)),
        fee_usage_types: regional_usage_types(&format!("HeavyUsage:{class}"), RegionPrefix::Always),
        fee_description: format!("USD {recurring} hourly fee per {engine}, {class} instance"),
        covered_description: format!("USD 0.0 hourly fee per {engine}, {class} instance"),
    };
    Archetype { reserved: Some(reserved), ..archetype(Kind::Database, vec![instance.build(), storage.build()]) }
}

fn s3_storage() -> Meter {
    MeterSpec::new(Product::S3, "TimedStorage-ByteHrs", "StandardStorage", "0.023")
        .family("Storage")
        .unit("GB-Mo")
        .storage("1")
        .prefix(RegionPrefix::NotInHomeRegion)
        .describe("$0.023 per GB - first 50 TB / month of storage used".to_string())
        .build()
}

fn s3_requests() -> Meter {
    MeterSpec::new(Product::S3, "Requests-Tier1", "PutObject", "0.000005")
        .family("API Request")
        .unit("Requests")
        .traffic("5", 0)
        .prefix(RegionPrefix::NotInHomeRegion)
        .describe("$0.005 per 1,000 PUT, COPY, POST, or LIST requests".to_string())
        .build()
}

fn replication() -> Meter {
    MeterSpec::new(Product::DataTransfer, "AWS-Out-Bytes", "PutObjectForRepl", "0.02")
        .family("Data Transfer")
        .unit("GB")
        .traffic("0.002", 6)
        .prefix(RegionPrefix::InterRegion)
        .describe("$0.02 per GB - inter-region data transfer out".to_string())
        .build()
}

/// Usage type of a meter in each region.
fn regional_usage_types(base: &str, prefix: RegionPrefix) -> Vec<String> {
    REGIONS
        .iter()
        .enumerate()
        .map(|(index, region)| match prefix {
            RegionPrefix::NotInHomeRegion if index == HOME_REGION => base.to_string(),
            RegionPrefix::Always | RegionPrefix::NotInHomeRegion => {
                format!("{}-{base}", region.prefix)
            }
            RegionPrefix::InterRegion => {
                // Replicas of home-region buckets go to us-west-2, others come home.
                let peer = if index == HOME_REGION { &REGIONS[1] } else { &REGIONS[HOME_REGION] };
                format!("{}-{}-{base}", region.prefix, peer.prefix)
            }
        })
        .collect()
}

/// Builder for [`Meter`], so the catalog above reads as a table.
struct MeterSpec {
    product: Product,
    usage_type: String,
    operation: &'static str,
    rate: Fixed,
    family: &'static str,
    unit: &'static str,
    quantity: Quantity,
    usage_decimals: u32,
    instance_type: &'static str,
    zonal: bool,
    prefix: RegionPrefix,
    description: String,
}

impl MeterSpec {
    fn new(product: Product, usage_type: &str, operation: &'static str, rate: &str) -> MeterSpec {
        MeterSpec {
            product,
            usage_type: usage_type.to_string(),
            operation,
            rate: Fixed::lit(rate),
            family: "",
            unit: "",
            quantity: Quantity::AlwaysOnHours,
            usage_decimals: 0,
            instance_type: "",
            zonal: false,
            prefix: RegionPrefix::Always,
            description: String::new(),
        }
    }

    fn family(self, family: &'static str) -> Self {
        MeterSpec { family, ..self }
    }

    fn unit(self, unit: &'static str) -> Self {
        MeterSpec { unit, ..self }
    }

    /// Hours with two decimals (partial hours of autoscaled instances).
    fn hours(self, quantity: Quantity) -> Self {
        MeterSpec { quantity, usage_decimals: 2, ..self }
    }

    /// GB-month amounts carry as many decimals as the rate leaves room for.
    fn storage(self, gb_per_size: &str) -> Self {
        let usage_decimals = (10 - self.rate.decimals()).min(8);
        MeterSpec { quantity: Quantity::Storage { gb_per_size: Fixed::lit(gb_per_size) }, usage_decimals, ..self }
    }

    fn traffic(self, per_size: &str, usage_decimals: u32) -> Self {
        MeterSpec { quantity: Quantity::Traffic { per_size: Fixed::lit(per_size) }, usage_decimals, ..self }
    }

    fn instance(self, instance_type: &'static str) -> Self {
        MeterSpec { instance_type, ..self }
    }

    fn zonal(self) -> Self {
        MeterSpec { zonal: true, ..self }
    }

    fn prefix(self, prefix: RegionPrefix) -> Self {
        MeterSpec { prefix, ..self }
    }

    fn describe(self, description: String) -> Self {
        MeterSpec { description, ..self }
    }

    fn build(self) -> Meter {
        assert!(
            self.usage_decimals + self.rate.decimals() <= 10,
            "{}: usage x rate would not be exact",
            self.usage_type
        );
        let usage_types = regional_usage_types(&self.usage_type, self.prefix);
        let skus = usage_types
            .iter()
            .map(|usage_type| ids::sku(&format!("{}/{usage_type}/{}", self.product.code(), self.operation)))
            .collect();
        Meter {
            product: self.product,
            product_family: self.family,
            operation: self.operation,
            unit: self.unit,
            rate: self.rate,
            usage_decimals: self.usage_decimals,
            quantity: self.quantity,
            description: self.description,
            instance_type: self.instance_type,
            zonal: self.zonal,
            usage_types,
            skus,
        }
    }
}

/// How the region shows in a usage type.
#[derive(Clone, Copy)]
enum RegionPrefix {
    Always,
    /// S3 omits the prefix in us-east-1 (`TimedStorage-ByteHrs`).
    NotInHomeRegion,
    /// Inter-region transfer names both ends (`USE1-USW2-AWS-Out-Bytes`).
    InterRegion,
}
