//! One payer's monthly report: a usage line per active resource, meter and
//! day (with Reserved Instance and Savings Plan variants), a daily Savings
//! Plan fee, then the month-end lines: RI fees, credit, refund, support fee
//! and taxes.

mod naming;
pub(super) mod pods;

use std::path::Path;

use anyhow::Result;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use super::GeneratedFile;
use super::catalog::{Meter, Product, Quantity, REGIONS};
use super::company::{ACCOUNTS, InvoiceStyle, LastMonthChange, TEAMS, TeamSpec, account_index};
use super::decimal::Fixed;
use super::ids::{between, mix64};
use super::plan::{Commitment, Month, PayerPlan, Plan, Resource};
use super::writer::{Bill, LineItem, ReportWriter};
use naming::{tags, write_resource_id, zone_name};

/// How often progress is reported to the caller.
const PROGRESS_EVERY_ROWS: u64 = 8_192;

/// Writes `<out_dir>/<payer id>/demo-cur/<yyyymmdd-yyyymmdd>/demo-cur-NNNNN.csv.gz`.
pub fn write_report(
    plan: &Plan,
    payer: &PayerPlan,
    month: &Month,
    out_dir: &Path,
    rows_per_file: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<GeneratedFile>> {
    let payer_id = ACCOUNTS[payer.account].id;
    let report_number = (payer.index as u64) << 16 | month.index as u64;
    let bill = Bill {
        payer_account_id: payer_id.to_string(),
        billing_period: month.label(),
        invoice_id: invoice_id(plan, payer, month, report_number),
        invoicing_entity: payer.spec.invoicing_entity.to_string(),
        currency: payer.spec.currency,
        period_start: timestamp(month.first_day),
        period_end: timestamp(month.next_first_day),
        report_number,
        seed_key: mix64(plan.seed ^ 0x1D),
    };
    let folder = out_dir.join(payer_id).join("demo-cur").join(month.folder());
    let mut report = Report {
        writer: ReportWriter::new(&folder, bill, rows_per_file)?,
        charges: vec![[Fixed::ZERO; Product::ALL.len()]; ACCOUNTS.len()],
        unreported_rows: 0,
        progress,
    };
    // One random stream per report, consumed in row order.
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(plan.seed ^ mix64(0xDA11 + report_number)));
    for day in 0..month.days {
        write_day(plan, payer, month, day, &mut rng, &mut report)?;
    }
    write_month_end(plan, payer, month, &mut report)?;
    (report.progress)(report.unreported_rows);
    report.writer.finish()
}

/// The writer plus what the month-end lines need: net charges per account
/// and product (taxes, credits and the support fee are based on them).
pub(super) struct Report<'p> {
    writer: ReportWriter,
    charges: Vec<[Fixed; Product::ALL.len()]>,
    unreported_rows: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl Report<'_> {
    fn write(&mut self, account: usize, product: Product, item: &LineItem) -> Result<()> {
        self.writer.write(item)?;
        if item.line_item_type != "Tax" {
            self.charges[account][product.index()] += item.unblended_cost;
        }
        self.unreported_rows += 1;
        if self.unreported_rows >= PROGRESS_EVERY_ROWS {
            (self.progress)(self.unreported_rows);
            self.unreported_rows = 0;
        }
        Ok(())
    }

    fn account_total(&self, account: usize) -> Fixed {
        self.charges[account].iter().copied().sum()
    }
}

/// One day of the month, as the usage lines of that day need it.
pub(super) struct Day {
    pub start: String,
    pub end: String,
    /// Days since the start of the generated period.
    pub global: u32,
    weekend: bool,
}

fn write_day(
    plan: &Plan,
    payer: &PayerPlan,
    month: &Month,
    day_of_month: u32,
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> Result<()> {
    let date = month.first_day + Days::new(u64::from(day_of_month));
    let day = Day {
        start: timestamp(date),
        end: timestamp(date + Days::new(1)),
        global: month.first_global_day + day_of_month,
        weekend: matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
    };
    let mut scratch = Scratch::default();
    let mut used_commitment = Fixed::ZERO;
    for resource in payer.resources.iter().filter(|r| r.is_active_on(day.global)) {
        let archetype = &payer.prices.archetypes[usize::from(resource.archetype)];
        write_resource_id(&mut scratch.resource_id, plan.seed, archetype.kind, resource);
        for meter_index in 0..archetype.meters.len() {
            used_commitment += write_usage(plan, payer, month, &day, resource, meter_index, rng, &mut scratch, report)?;
        }
    }
    // Planted cases last, from their own stream: the lines above stay as they were without them.
    let mut planted_rng = ChaCha8Rng::seed_from_u64(mix64(plan.seed ^ mix64(0x9EA7 + u64::from(day.global))));
    for resource in payer.planted.iter().map(|p| &p.resource).filter(|r| r.is_active_on(day.global)) {
        let archetype = &payer.prices.archetypes[usize::from(resource.archetype)];
        write_resource_id(&mut scratch.resource_id, plan.seed, archetype.kind, resource);
        let silent = resource.traffic.factor_on(day.global) == 0;
        for (meter_index, meter) in archetype.meters.iter().enumerate() {
            if silent && matches!(meter.quantity, Quantity::Traffic { .. }) {
                continue;
            }
            write_usage(plan, payer, month, &day, resource, meter_index, &mut planted_rng, &mut scratch, report)?;
        }
    }
    if let Some(savings_plan) = &payer.savings_plan {
        let commitment = Fixed::whole(24).mul_exact(savings_plan.hourly_commitment);
        let fee = LineItem {
            usage_account_id: ACCOUNTS[payer.account].id,
            line_item_type: "SavingsPlanRecurringFee",
            usage_start: &day.start,
            usage_end: &day.end,
            product_code: Product::ComputeSavingsPlans.code(),
            usage_type: "ComputeSP:1yrNoUpfront",
            resource_id: &savings_plan.arn,
            usage_amount: Some(Fixed::whole(24)),
            unblended_rate: Some(savings_plan.hourly_commitment),
            unblended_cost: commitment,
            description: "1 year No Upfront Compute Savings Plan",
            product_name: Product::ComputeSavingsPlans.name(),
            pricing_unit: "Hrs",
            savings_plan_arn: &savings_plan.arn,
            total_commitment_to_date: Some(commitment),
            used_commitment: Some(used_commitment),
            ..LineItem::default()
        };
        report.write(payer.account, Product::ComputeSavingsPlans, &fee)?;
    }
    Ok(())
}

/// Text buffers reused from row to row.
#[derive(Default)]
struct Scratch {
    resource_id: String,
    description: String,
}

/// Writes one meter's usage of one resource for one day: on demand, under a
/// Reserved Instance (`DiscountedUsage`, no unblended cost), or under the
/// Savings Plan (covered usage at on-demand cost, cancelled by a negation).
/// Returns the Savings Plan commitment it used.
#[allow(clippy::too_many_arguments)]
fn write_usage(
    plan: &Plan,
    payer: &PayerPlan,
    month: &Month,
    day: &Day,
    resource: &Resource,
    meter_index: usize,
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch,
    report: &mut Report,
) -> Result<Fixed> {
    let archetype = &payer.prices.archetypes[usize::from(resource.archetype)];
    let meter = &archetype.meters[meter_index];
    let team = &TEAMS[usize::from(resource.team)];
    let account = usize::from(resource.account);
    let region = usize::from(resource.region);
    let usage = daily_usage(meter, resource, team, month, day, rng);
    let cost = usage.mul_exact(meter.rate);
    let on_demand = LineItem {
        usage_account_id: ACCOUNTS[account].id,
        line_item_type: "Usage",
        usage_start: &day.start,
        usage_end: &day.end,
        product_code: meter.product.code(),
        usage_type: &meter.usage_types[region],
        operation: meter.operation,
        availability_zone: if meter.zonal { zone_name(resource) } else { "" },
        resource_id: &scratch.resource_id,
        usage_amount: Some(usage),
        unblended_rate: Some(meter.rate),
        unblended_cost: cost,
        description: &meter.description,
        product_name: meter.product.name(),
        product_family: meter.product_family,
        region: REGIONS[region].code,
        sku: &meter.skus[region],
        instance_type: meter.instance_type,
        public_on_demand_cost: Some(cost),
        public_on_demand_rate: Some(meter.rate),
        pricing_term: "OnDemand",
        pricing_unit: meter.unit,
        tags: tags(plan, resource),
        ..LineItem::default()
    };
    // Commitments cover the first meter only (instance hours, not storage or transfer).
    let commitment = if meter_index == 0 { resource.commitment } else { Commitment::OnDemand };
    if pods::is_node(resource, meter, meter_index) {
        // The node's amortized cost that day, as split cost allocation data splits it.
        let effective = match commitment {
            Commitment::OnDemand => cost,
            Commitment::Reservation(_) => archetype
                .reserved
                .as_ref()
                .map_or(cost, |p| usage.mul_exact(p.recurring_hourly + p.amortized_upfront_hourly)),
            Commitment::SavingsPlan => archetype.savings_plan_rate.map_or(cost, |rate| usage.mul_exact(rate)),
        };
        let pods = plan.pods_per_node;
        pods::write(report, report.writer.seed_key(), pods, resource, &scratch.resource_id, day, effective)?;
    }
    match commitment {
        Commitment::OnDemand => {
            report.write(account, meter.product, &on_demand)?;
            Ok(Fixed::ZERO)
        }
        Commitment::Reservation(number) => {
            let pricing = archetype.reserved.as_ref().expect("covered archetypes have RI pricing");
            let hourly = pricing.recurring_hourly + pricing.amortized_upfront_hourly;
            let discounted = LineItem {
                line_item_type: "DiscountedUsage",
                unblended_rate: Some(Fixed::ZERO),
                unblended_cost: Fixed::ZERO,
                description: &pricing.covered_description,
                pricing_term: "Reserved",
                reservation_arn: &payer.reservations[usize::from(number)].arn,
                reservation_effective_cost: Some(usage.mul_exact(hourly)),
                ..on_demand
            };
            report.write(account, meter.product, &discounted)?;
            Ok(Fixed::ZERO)
        }
        Commitment::SavingsPlan => {
            let plan_rate = archetype.savings_plan_rate.expect("covered archetypes have a plan rate");
            let effective = usage.mul_exact(plan_rate);
            let savings_plan = payer.savings_plan.as_ref().expect("payer has a savings plan");
            let covered = LineItem {
                line_item_type: "SavingsPlanCoveredUsage",
                savings_plan_arn: &savings_plan.arn,
                savings_plan_effective_cost: Some(effective),
                ..on_demand
            };
            report.write(account, meter.product, &covered)?;
            let description = &mut scratch.description;
            description.clear();
            description.push_str("SavingsPlanNegation used by AccountId : ");
            description.push_str(ACCOUNTS[account].id);
            description.push_str(" and UsageSku : ");
            description.push_str(&meter.skus[region]);
            let negation = LineItem {
                line_item_type: "SavingsPlanNegation",
                unblended_rate: Some(-meter.rate),
                unblended_cost: -cost,
                description,
                public_on_demand_cost: None,
                public_on_demand_rate: None,
                savings_plan_effective_cost: None,
                ..covered
            };
            report.write(account, meter.product, &negation)?;
            Ok(effective)
        }
    }
}

/// A meter's usage for one day, rounded to the meter's decimals (never zero).
fn daily_usage(
    meter: &Meter,
    resource: &Resource,
    team: &TeamSpec,
    month: &Month,
    day: &Day,
    rng: &mut ChaCha8Rng,
) -> Fixed {
    let decimals = meter.usage_decimals;
    let smallest = Fixed::from_units(10_i128.pow(10 - decimals));
    let size = Fixed::whole(i64::from(resource.size));
    // Gentle linear growth from the first day of the period.
    let growth = 10_000 + i128::from(team.monthly_growth_bp) * i128::from(day.global) / 30;
    let usage = match meter.quantity {
        Quantity::AlwaysOnHours => Fixed::whole(24),
        Quantity::BusyHours { weekday_min_bp, weekend_max_bp } => {
            let share =
                if day.weekend { between(rng, 1_000, weekend_max_bp) } else { between(rng, weekday_min_bp, 10_000) };
            Fixed::whole(24).mul_div_round(i128::from(share), 10_000, decimals)
        }
        Quantity::Storage { gb_per_size } => {
            let gigabytes = size.mul_exact(gb_per_size);
            gigabytes.mul_div_round(growth, 10_000 * i128::from(month.days), decimals)
        }
        Quantity::Traffic { per_size } => {
            let weekly = if day.weekend { 6_500 } else { 10_000 };
            let step = match team.last_month {
                LastMonthChange::TrafficStep { factor_bp } if month.is_last && month.index > 0 => factor_bp,
                _ => 10_000,
            };
            let noise = between(rng, 8_500, 11_500);
            let factors = weekly * growth * i128::from(step) * i128::from(noise);
            let planted = i128::from(resource.traffic.factor_on(day.global));
            if planted == 10_000 {
                size.mul_exact(per_size).mul_div_round(factors, 10_000_i128.pow(4), decimals)
            } else {
                size.mul_exact(per_size).mul_div_round(factors * planted, 10_000_i128.pow(5), decimals)
            }
        }
    };
    usage.max(smallest)
}

fn write_month_end(plan: &Plan, payer: &PayerPlan, month: &Month, report: &mut Report) -> Result<()> {
    let start = timestamp(month.first_day);
    let end = timestamp(month.next_first_day);
    // Month-level lines span the whole billing period.
    let period = |line_item_type, account: usize| LineItem {
        usage_account_id: ACCOUNTS[account].id,
        line_item_type,
        usage_start: &start,
        usage_end: &end,
        ..LineItem::default()
    };
    let hours_in_month = Fixed::whole(24 * i64::from(month.days));

    for reservation in &payer.reservations {
        let archetype = &payer.prices.archetypes[reservation.archetype];
        let pricing = archetype.reserved.as_ref().expect("reserved archetype");
        let meter = &archetype.meters[0];
        let purchased_hours = hours_in_month.mul_exact(Fixed::whole(i64::from(reservation.purchased)));
        let unused_hours =
            hours_in_month.mul_exact(Fixed::whole(i64::from(reservation.purchased - reservation.covered)));
        let fee = LineItem {
            product_code: meter.product.code(),
            usage_type: &pricing.fee_usage_types[reservation.region],
            operation: meter.operation,
            usage_amount: Some(purchased_hours),
            unblended_rate: Some(pricing.recurring_hourly),
            unblended_cost: purchased_hours.mul_exact(pricing.recurring_hourly),
            description: &pricing.fee_description,
            product_name: meter.product.name(),
            product_family: meter.product_family,
            region: REGIONS[reservation.region].code,
            sku: &meter.skus[reservation.region],
            instance_type: meter.instance_type,
            pricing_term: "Reserved",
            pricing_unit: "Hrs",
            reservation_arn: &reservation.arn,
            unused_amortized_upfront_fee: Some(unused_hours.mul_exact(pricing.amortized_upfront_hourly)),
            unused_recurring_fee: Some(unused_hours.mul_exact(pricing.recurring_hourly)),
            ..period("RIFee", payer.account)
        };
        report.write(payer.account, meter.product, &fee)?;
    }

    let credit_account = account_index(payer.spec.credit_account);
    let credit = report.account_total(credit_account).min(Fixed::whole(300)).floor_to(2);
    if credit > Fixed::ZERO {
        let product = largest_product(report, credit_account);
        let line = LineItem {
            product_code: product.code(),
            product_name: product.name(),
            unblended_cost: -credit,
            description: "AWS Promotional Credit - Proof of Concept program",
            ..period("Credit", credit_account)
        };
        report.write(credit_account, product, &line)?;
    }

    if let Some(refund_account) =
        payer.spec.refund_account.filter(|_| payer.refund_month(&plan.months) == Some(month.index))
    {
        let account = account_index(refund_account);
        let refund = report.account_total(account).min(Fixed::whole(180)).floor_to(2);
        if refund > Fixed::ZERO {
            let line = LineItem {
                product_code: Product::Rds.code(),
                product_name: Product::Rds.name(),
                unblended_cost: -refund,
                description: "Refund for Amazon RDS service event (case 17342215911)",
                ..period("Refund", account)
            };
            report.write(account, Product::Rds, &line)?;
        }
    }

    let family_total: Fixed = (0..ACCOUNTS.len()).map(|a| report.account_total(a)).sum();
    let support = business_support_fee(family_total);
    let fee = LineItem {
        product_code: Product::SupportBusiness.code(),
        usage_type: "Dollar",
        usage_amount: Some(Fixed::whole(1)),
        unblended_rate: Some(support),
        unblended_cost: support,
        description: "AWS Support (Business)",
        product_name: Product::SupportBusiness.name(),
        product_family: "Support",
        ..period("Fee", payer.account)
    };
    report.write(payer.account, Product::SupportBusiness, &fee)?;

    // Taxes last: one line per account and product with net charges.
    let mut description = String::new();
    for account in (0..ACCOUNTS.len()).filter(|&a| ACCOUNTS[a].payer == ACCOUNTS[payer.account].name) {
        for product in Product::ALL {
            let taxed = report.charges[account][product.index()];
            let tax = taxed.mul_div_round(payer.spec.tax_rate_bp, 10_000, 2);
            if tax <= Fixed::ZERO {
                continue;
            }
            description.clear();
            description.push_str("Tax for product code ");
            description.push_str(product.code());
            let line = LineItem {
                product_code: product.code(),
                product_name: product.name(),
                unblended_cost: tax,
                description: &description,
                tax_type: payer.spec.tax_type,
                ..period("Tax", account)
            };
            report.write(account, product, &line)?;
        }
    }
    Ok(())
}

fn largest_product(report: &Report, account: usize) -> Product {
    let charges = &report.charges[account];
    *Product::ALL.iter().rev().max_by_key(|p| charges[p.index()]).expect("products exist")
}

/// AWS Business support: 10% of the first $10K, 7% up to $80K, 5% up to
/// $250K, 3% above; at least $100. Rounded to the cent.
fn business_support_fee(charges: Fixed) -> Fixed {
    let tiers = [(Some(10_000), 1_000), (Some(80_000), 700), (Some(250_000), 500), (None, 300)];
    let mut fee = Fixed::ZERO;
    let mut lower = Fixed::ZERO;
    for (upper, rate_bp) in tiers {
        let upper = upper.map_or(charges, Fixed::whole);
        if charges > lower {
            fee += (charges.min(upper) - lower).mul_div_round(rate_bp, 10_000, 10);
        }
        lower = upper;
    }
    fee.mul_div_round(1, 1, 2).max(Fixed::whole(100))
}

fn invoice_id(plan: &Plan, payer: &PayerPlan, month: &Month, report_number: u64) -> String {
    if month.is_last {
        return String::new(); // the current month is not invoiced yet
    }
    let number = mix64(plan.seed ^ mix64(0x1A7 + report_number));
    match payer.spec.invoice_prefix {
        InvoiceStyle::Numeric => format!("{}", 1_000_000_000 + number % 9_000_000_000),
        InvoiceStyle::Emea => format!("EUINGB{:02}-{:06}", month.first_day.year() % 100, number % 1_000_000),
    }
}

fn timestamp(date: NaiveDate) -> String {
    format!("{}T00:00:00Z", date.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_fee_follows_the_tiers() {
        assert_eq!(business_support_fee(Fixed::whole(500)), Fixed::whole(100));
        assert_eq!(business_support_fee(Fixed::whole(10_000)), Fixed::whole(1_000));
        assert_eq!(business_support_fee(Fixed::whole(90_000)), Fixed::whole(1_000 + 4_900 + 500));
        assert_eq!(business_support_fee(Fixed::lit("12345.678")), Fixed::lit("1164.2"));
    }
}
