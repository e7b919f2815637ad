//! What each CUR line item type (`lineItem/LineItemType`, CUR 2.0
//! `line_item_line_item_type`) means in FOCUS terms: its ChargeCategory,
//! ChargeClass, ChargeFrequency and CommitmentDiscountStatus, and how its
//! BilledCost, EffectiveCost, ListCost and ContractedCost are computed from the
//! row's cells. The README's "How AWS CUR maps to FOCUS" table is this file in prose.
//!
//! EffectiveCost is what AWS Cost Explorer calls amortized cost, computed per
//! row as AWS computes it from the CUR: the `amortized_cost` expression of the
//! Cloud Intelligence Dashboards' `summary_view`
//! (aws-solutions-library-samples/cloud-intelligence-dashboards-framework,
//! `cid/builtin/core/data/queries/cid/summary_view.sql`) and of the CUR Query
//! Library ("Reserved Instance and Savings Plan Example", awslabs/aws-well-architected-labs,
//! `content/Cost-Optimization/CUR_Queries/Query_Help/_index.md`), which says
//! to use it "when comparing Cost Explorer amortized cost to your CUR queries".

use super::mapper::RowError;

/// The line item types AWS documents, plus `Unknown` for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineItemType {
    Usage,
    DiscountedUsage,
    SavingsPlanCoveredUsage,
    SavingsPlanNegation,
    SavingsPlanUpfrontFee,
    SavingsPlanRecurringFee,
    RiFee,
    Fee,
    FlatRateSubscription,
    Credit,
    Refund,
    Tax,
    /// `EdpDiscount`, `PrivateRateDiscount`, `BundledDiscount`, `SppDiscount`,
    /// `RiVolumeDiscount`, `DistributorDiscount`, `Discount`: price reductions
    /// on other rows, delivered as rows of their own.
    Discount,
    Unknown,
}

impl LineItemType {
    pub fn parse(text: &str) -> LineItemType {
        use LineItemType::*;
        match text {
            "Usage" => Usage,
            "DiscountedUsage" => DiscountedUsage,
            "SavingsPlanCoveredUsage" => SavingsPlanCoveredUsage,
            "SavingsPlanNegation" => SavingsPlanNegation,
            "SavingsPlanUpfrontFee" => SavingsPlanUpfrontFee,
            "SavingsPlanRecurringFee" => SavingsPlanRecurringFee,
            "RIFee" => RiFee,
            "Fee" => Fee,
            "FlatRateSubscription" => FlatRateSubscription,
            "Credit" => Credit,
            "Refund" => Refund,
            "Tax" => Tax,
            "EdpDiscount"
            | "PrivateRateDiscount"
            | "BundledDiscount"
            | "SppDiscount"
            | "RiVolumeDiscount"
            | "DistributorDiscount"
            | "Discount" => Discount,
            _ => Unknown,
        }
    }

    /// Usage a commitment may cover, billed or not: the rows whose quantity is consumption.
    pub fn is_consumption(self) -> bool {
        matches!(self, LineItemType::Usage | LineItemType::DiscountedUsage | LineItemType::SavingsPlanCoveredUsage)
    }
}

/// What a row is beyond its type: the cells that decide its category and costs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Row<'a> {
    /// `lineItem/UnblendedCost`.
    pub unblended: i128,
    /// `lineItem/NetUnblendedCost`, when the file has it and the cell is filled.
    pub net_unblended: Option<i128>,
    /// `pricing/publicOnDemandCost`, when filled.
    pub public_on_demand: Option<i128>,
    /// `reservation/ReservationARN`, when filled.
    pub reservation_arn: Option<&'a str>,
    /// `savingsPlan/SavingsPlanARN`, when filled.
    pub savings_plan_arn: Option<&'a str>,
    pub product_code: Option<&'a str>,
    pub description: Option<&'a str>,
    /// ChargePeriodStart and BillingPeriodStart, UTC microseconds.
    pub charge_start: Option<i64>,
    pub billing_start: Option<i64>,
}

/// The amortization cells EffectiveCost may need; read only for the types
/// that use them (see [`Amortizations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amortization {
    /// `reservation/EffectiveCost`
    ReservationEffectiveCost,
    /// `reservation/UnusedAmortizedUpfrontFeeForBillingPeriod`
    ReservationUnusedAmortizedUpfront,
    /// `reservation/UnusedRecurringFee`
    ReservationUnusedRecurring,
    /// `savingsPlan/SavingsPlanEffectiveCost`
    SavingsPlanEffectiveCost,
    /// `savingsPlan/TotalCommitmentToDate`
    SavingsPlanTotalCommitment,
    /// `savingsPlan/UsedCommitment`
    SavingsPlanUsedCommitment,
}

/// Reads a row's amortization cells: an empty cell is 0 (counted by the
/// reader), a column the file lacks likewise.
pub trait Amortizations {
    fn amount(&mut self, which: Amortization) -> Result<i128, RowError>;
    /// The file's name for the column, for errors.
    fn name(&self, which: Amortization) -> String;
}

/// A row's four FOCUS cost columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    pub billed: i128,
    pub effective: i128,
    pub list: Option<i128>,
    pub contracted: Option<i128>,
}

/// CID's `summary_view` zeroes this refund in amortized cost: the upfront fee
/// it gives back never counted there either.
const SAVINGS_PLAN_FEE_REFUND: &str = "Refund for one-time fee for Savings Plan ID";

impl Row<'_> {
    fn has_reservation(&self) -> bool {
        self.reservation_arn.is_some()
    }

    /// A refund of a Savings Plan's upfront fee, as CID tells it apart.
    fn is_savings_plan_fee_refund(&self) -> bool {
        self.product_code == Some("ComputeSavingsPlans")
            && self.description.is_some_and(|d| d.starts_with(SAVINGS_PLAN_FEE_REFUND))
    }

    /// A refund that gives back (part of) a commitment purchase rather than usage.
    fn is_commitment_refund(&self) -> bool {
        self.has_reservation() || self.savings_plan_arn.is_some() || self.is_savings_plan_fee_refund()
    }
}

/// FOCUS ChargeCategory. Refunds take the category of what they give back
/// (FOCUS: Usage and Purchase are charges "including refunds"); discounts and
/// credits are Credit; an unknown type is Adjustment (`None`: count it).
pub fn charge_category(kind: LineItemType, row: &Row<'_>) -> Option<&'static str> {
    use LineItemType::*;
    Some(match kind {
        Usage | DiscountedUsage | SavingsPlanCoveredUsage | SavingsPlanNegation => "Usage",
        Fee | RiFee | SavingsPlanUpfrontFee | SavingsPlanRecurringFee | FlatRateSubscription => "Purchase",
        Refund if row.is_commitment_refund() => "Purchase",
        Refund => "Usage",
        Credit | Discount => "Credit",
        Tax => "Tax",
        Unknown => return None,
    })
}

/// FOCUS ChargeClass: `Correction` for a refund of charges of an earlier
/// (already invoiced) billing period, which its charge period tells; a
/// correction within the period is not one (FOCUS 1.0+ ChargeClass).
pub fn charge_class(kind: LineItemType, row: &Row<'_>) -> Option<&'static str> {
    match (kind, row.charge_start, row.billing_start) {
        (LineItemType::Refund, Some(charge), Some(billing)) if charge < billing => Some("Correction"),
        _ => None,
    }
}

pub fn charge_frequency(kind: LineItemType, row: &Row<'_>) -> &'static str {
    use LineItemType::*;
    match kind {
        RiFee | SavingsPlanRecurringFee | FlatRateSubscription => "Recurring",
        Fee | SavingsPlanUpfrontFee | Credit => "One-Time",
        Refund if row.is_commitment_refund() => "One-Time",
        _ => "Usage-Based",
    }
}

/// FOCUS CommitmentDiscountStatus: `Used` on the usage a Reserved Instance or
/// Savings Plan covered (and the negation of its on-demand cost), `Unused` on
/// the recurring fee rows, whose EffectiveCost is the unused commitment.
pub fn commitment_status(kind: LineItemType) -> Option<&'static str> {
    use LineItemType::*;
    match kind {
        DiscountedUsage | SavingsPlanCoveredUsage | SavingsPlanNegation => Some("Used"),
        RiFee | SavingsPlanRecurringFee => Some("Unused"),
        _ => None,
    }
}

/// Which commitment a row belongs to: `(id, type, category)`.
pub fn commitment<'a>(kind: LineItemType, row: &Row<'a>) -> Option<(&'a str, &'static str, &'static str)> {
    use LineItemType::*;
    let reservation = row.reservation_arn.map(|arn| (arn, "Reservation", "Usage"));
    let savings_plan = row.savings_plan_arn.map(|arn| (arn, "Savings Plan", "Spend"));
    match kind {
        DiscountedUsage | RiFee | Fee => reservation,
        SavingsPlanCoveredUsage | SavingsPlanNegation | SavingsPlanUpfrontFee | SavingsPlanRecurringFee => savings_plan,
        Refund => reservation.or(savings_plan),
        _ => None,
    }
}

/// The row's costs; `cells` reads the amortization cells the type needs.
///
/// - BilledCost: `lineItem/UnblendedCost`, always: its sum is the invoice, and
///   reconciliation checks it against the file's unblended cost column.
/// - EffectiveCost: Cost Explorer's amortized cost (see the module comment).
/// - ListCost: `pricing/publicOnDemandCost` for usage; 0 for the Savings Plan
///   negation and discount rows (a list price carries no discount); BilledCost
///   for purchases, credits, refunds and tax (FOCUS: a charge not priced from
///   a list price has ListCost = BilledCost).
/// - ContractedCost: `lineItem/NetUnblendedCost` where the row has it (the
///   cost after negotiated discounts), else UnblendedCost; ListCost for
///   DiscountedUsage (the CUR has no contracted on-demand cost for it); 0 for
///   the negation, and for a discount row whose own net cost is filled (its
///   amount is then in the net cost of the rows it discounts).
pub fn costs(kind: LineItemType, row: &Row<'_>, cells: &mut impl Amortizations) -> Result<Costs, RowError> {
    use Amortization::*;
    use LineItemType::*;
    let unblended = row.unblended;
    let effective = match kind {
        SavingsPlanCoveredUsage => cells.amount(SavingsPlanEffectiveCost)?,
        SavingsPlanRecurringFee => {
            let total = cells.amount(SavingsPlanTotalCommitment)?;
            let used = cells.amount(SavingsPlanUsedCommitment)?;
            let what =
                || format!("{} - {}", cells.name(SavingsPlanTotalCommitment), cells.name(SavingsPlanUsedCommitment));
            checked(total.checked_sub(used), what)?
        }
        SavingsPlanNegation | SavingsPlanUpfrontFee => 0,
        DiscountedUsage => cells.amount(ReservationEffectiveCost)?,
        RiFee => {
            let upfront = cells.amount(ReservationUnusedAmortizedUpfront)?;
            let recurring = cells.amount(ReservationUnusedRecurring)?;
            let what = || {
                format!(
                    "{} + {}",
                    cells.name(ReservationUnusedAmortizedUpfront),
                    cells.name(ReservationUnusedRecurring)
                )
            };
            checked(upfront.checked_add(recurring), what)?
        }
        // The upfront payment of a Reserved Instance: amortized into its
        // DiscountedUsage and RIFee rows, so counting it here counts it twice.
        Fee if row.has_reservation() => 0,
        Refund if row.is_savings_plan_fee_refund() => 0,
        _ => unblended,
    };
    let net_or_unblended = row.net_unblended.unwrap_or(unblended);
    let (list, contracted) = match kind {
        Usage | SavingsPlanCoveredUsage => (Some(row.public_on_demand.unwrap_or(unblended)), Some(net_or_unblended)),
        DiscountedUsage => (row.public_on_demand, row.public_on_demand),
        SavingsPlanNegation => (Some(0), Some(0)),
        Discount => (Some(0), Some(if row.net_unblended.is_some() { 0 } else { unblended })),
        Fee | RiFee | SavingsPlanUpfrontFee | SavingsPlanRecurringFee | FlatRateSubscription => {
            (Some(unblended), Some(net_or_unblended))
        }
        Credit | Refund | Tax | Unknown => (Some(unblended), Some(unblended)),
    };
    Ok(Costs { billed: unblended, effective, list, contracted })
}

/// A sum or difference of two cells, within the lake's 38 digits.
fn checked(value: Option<i128>, what: impl FnOnce() -> String) -> Result<i128, RowError> {
    const LIMIT: u128 = 10u128.pow(crate::money::PRECISION as u32);
    match value {
        Some(v) if v.unsigned_abs() < LIMIT => Ok(v),
        _ => Err(RowError::new(&what(), "number out of range: the amortized cost has more than 38 digits")),
    }
}

#[cfg(test)]
mod tests {
    //! Figures worked by hand from the README table; the arithmetic is in the comments.
    use super::*;

    fn units(text: &str) -> i128 {
        crate::money::parse(text).unwrap().value
    }

    /// The amortization cells of the fixture's Reserved Instance and Savings Plan
    /// (fixtures/aws-cur/line-item-types-2025-01.csv).
    struct Fixture;

    impl Amortizations for Fixture {
        fn amount(&mut self, which: Amortization) -> Result<i128, RowError> {
            Ok(units(match which {
                Amortization::ReservationEffectiveCost => "70.00",
                Amortization::ReservationUnusedAmortizedUpfront => "2.20",
                Amortization::ReservationUnusedRecurring => "2.20",
                Amortization::SavingsPlanEffectiveCost => "119.00",
                Amortization::SavingsPlanTotalCommitment => "372.00",
                Amortization::SavingsPlanUsedCommitment => "350.00",
            }))
        }

        fn name(&self, which: Amortization) -> String {
            format!("{which:?}")
        }
    }

    fn row(unblended: &str) -> Row<'static> {
        Row { unblended: units(unblended), ..Row::default() }
    }

    fn costs_of(kind: &str, row: Row<'_>) -> [Option<String>; 4] {
        let c = costs(LineItemType::parse(kind), &row, &mut Fixture).unwrap();
        let show = |v: i128| crate::money::Amount(v).to_string();
        [Some(show(c.billed)), Some(show(c.effective)), c.list.map(show), c.contracted.map(show)]
    }

    fn expect(values: [&str; 4]) -> [Option<String>; 4] {
        values.map(|v| (!v.is_empty()).then(|| v.to_string()))
    }

    #[test]
    fn every_type_has_its_costs() {
        const RI: &str = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-0001";
        let sp = Some("arn:aws:savingsplans::111122223333:savingsplan/sp-0001");
        let cases: Vec<(&str, Row, [&str; 4])> = vec![
            // On demand: list 192.00 = 1000 h x 0.192; EDP makes the net (contracted) 182.40 = 192.00 x 0.95.
            (
                "Usage",
                Row { net_unblended: Some(units("182.40")), public_on_demand: Some(units("192.00")), ..row("192.00") },
                ["192", "192", "192", "182.4"],
            ),
            // No list price in the row: the on-demand cost is its own list price.
            ("Usage", row("11.50"), ["11.5", "11.5", "11.5", "11.5"]),
            // Covered by the RI: unblended 0, amortized 35.00 upfront + 35.00 recurring, list 700 h x 0.192.
            (
                "DiscountedUsage",
                Row { reservation_arn: Some(RI), public_on_demand: Some(units("134.40")), ..row("0") },
                ["0", "70", "134.4", "134.4"],
            ),
            // The RI's upfront fee, 438.00 = 8760 h x 0.05: amortized elsewhere, so 0.
            ("Fee", Row { reservation_arn: Some(RI), ..row("438.00") }, ["438", "0", "438", "438"]),
            // A fee that no commitment amortizes (support) keeps its cost.
            ("Fee", row("100.00"), ["100", "100", "100", "100"]),
            // 744 h x 0.05 recurring; unused 44 h: 2.20 upfront + 2.20 recurring.
            ("RIFee", Row { reservation_arn: Some(RI), ..row("37.20") }, ["37.2", "4.4", "37.2", "37.2"]),
            // On-demand 500 h x 0.34; the plan's rate makes it 119.00.
            ("SavingsPlanCoveredUsage", Row { savings_plan_arn: sp, ..row("170.00") }, ["170", "119", "170", "170"]),
            ("SavingsPlanNegation", Row { savings_plan_arn: sp, ..row("-170.00") }, ["-170", "0", "0", "0"]),
            (
                "SavingsPlanUpfrontFee",
                Row { savings_plan_arn: sp, net_unblended: Some(units("2080.50")), ..row("2190.00") },
                ["2190", "0", "2190", "2080.5"],
            ),
            // Commitment to date 372.00 - used 350.00 = 22.00 unused.
            (
                "SavingsPlanRecurringFee",
                Row { savings_plan_arn: sp, net_unblended: Some(units("176.70")), ..row("186.00") },
                ["186", "22", "186", "176.7"],
            ),
            ("Credit", row("-25.00"), ["-25", "-25", "-25", "-25"]),
            ("Refund", row("-12.00"), ["-12", "-12", "-12", "-12"]),
            (
                "Refund",
                Row {
                    product_code: Some("ComputeSavingsPlans"),
                    description: Some("Refund for one-time fee for Savings Plan ID sp-0002"),
                    ..row("-100.00")
                },
                ["-100", "0", "-100", "-100"],
            ),
            ("Tax", row("43.21"), ["43.21", "43.21", "43.21", "43.21"]),
            // A discount whose net cost is filled lives in the net cost of what it discounts.
            ("EdpDiscount", Row { net_unblended: Some(0), ..row("-128.40") }, ["-128.4", "-128.4", "0", "0"]),
            ("PrivateRateDiscount", row("-5.00"), ["-5", "-5", "0", "-5"]),
            ("BundledDiscount", row("-1.50"), ["-1.5", "-1.5", "0", "-1.5"]),
            ("SppDiscount", row("-3.00"), ["-3", "-3", "0", "-3"]),
            ("RiVolumeDiscount", row("-2.00"), ["-2", "-2", "0", "-2"]),
            ("DistributorDiscount", row("-1.00"), ["-1", "-1", "0", "-1"]),
            ("FlatRateSubscription", row("15.00"), ["15", "15", "15", "15"]),
            ("SomethingNew", row("7.00"), ["7", "7", "7", "7"]),
        ];
        for (kind, row, expected) in cases {
            assert_eq!(costs_of(kind, row), expect(expected), "{kind} {row:?}");
        }
    }

    #[test]
    fn discounted_usage_without_a_public_price_has_no_list_cost() {
        assert_eq!(costs_of("DiscountedUsage", row("0")), expect(["0", "70", "", ""]));
    }

    #[test]
    fn categories_classes_and_statuses() {
        let january = Some(1_735_689_600_000_000); // 2025-01-01T00:00:00Z
        let december = Some(1_734_220_800_000_000); // 2024-12-15T00:00:00Z
        let in_period = Row { charge_start: january, billing_start: january, ..row("-12") };
        let earlier = Row { charge_start: december, billing_start: january, ..row("-8") };
        let ri = Row { reservation_arn: Some("arn:ri"), ..in_period };
        let sp_refund = Row {
            product_code: Some("ComputeSavingsPlans"),
            description: Some("Refund for one-time fee for Savings Plan ID sp-2"),
            ..in_period
        };
        let plain = Row::default();
        let cases = [
            ("Usage", plain, Some("Usage"), None, "Usage-Based", None),
            ("DiscountedUsage", ri, Some("Usage"), None, "Usage-Based", Some("Used")),
            ("SavingsPlanCoveredUsage", plain, Some("Usage"), None, "Usage-Based", Some("Used")),
            ("SavingsPlanNegation", plain, Some("Usage"), None, "Usage-Based", Some("Used")),
            ("SavingsPlanUpfrontFee", plain, Some("Purchase"), None, "One-Time", None),
            ("SavingsPlanRecurringFee", plain, Some("Purchase"), None, "Recurring", Some("Unused")),
            ("RIFee", ri, Some("Purchase"), None, "Recurring", Some("Unused")),
            ("Fee", ri, Some("Purchase"), None, "One-Time", None),
            ("Fee", plain, Some("Purchase"), None, "One-Time", None),
            ("FlatRateSubscription", plain, Some("Purchase"), None, "Recurring", None),
            ("Credit", in_period, Some("Credit"), None, "One-Time", None),
            ("Credit", earlier, Some("Credit"), None, "One-Time", None),
            ("Refund", in_period, Some("Usage"), None, "Usage-Based", None),
            ("Refund", earlier, Some("Usage"), Some("Correction"), "Usage-Based", None),
            ("Refund", sp_refund, Some("Purchase"), None, "One-Time", None),
            ("Refund", ri, Some("Purchase"), None, "One-Time", None),
            ("Tax", plain, Some("Tax"), None, "Usage-Based", None),
            ("EdpDiscount", plain, Some("Credit"), None, "Usage-Based", None),
            ("Discount", plain, Some("Credit"), None, "Usage-Based", None),
            ("SomethingNew", plain, None, None, "Usage-Based", None),
        ];
        for (text, row, category, class, frequency, status) in cases {
            let kind = LineItemType::parse(text);
            assert_eq!(
                (charge_category(kind, &row), charge_class(kind, &row), charge_frequency(kind, &row)),
                (category, class, frequency),
                "{text} {row:?}"
            );
            assert_eq!(commitment_status(kind), status, "{text}");
        }
    }

    #[test]
    fn commitments_name_their_reservation_or_plan() {
        let row = Row { reservation_arn: Some("ri"), savings_plan_arn: Some("sp"), ..Row::default() };
        let of = |kind: &str| commitment(LineItemType::parse(kind), &row).map(|(id, t, _)| (id, t));
        assert_eq!(of("Fee"), Some(("ri", "Reservation")));
        assert_eq!(of("RIFee"), Some(("ri", "Reservation")));
        assert_eq!(of("SavingsPlanNegation"), Some(("sp", "Savings Plan")));
        assert_eq!(of("Refund"), Some(("ri", "Reservation")));
        assert_eq!(of("Usage"), None);
        assert_eq!(of("Credit"), None);
    }

    #[test]
    fn an_amortized_cost_past_38_digits_names_its_columns() {
        struct Huge;
        impl Amortizations for Huge {
            fn amount(&mut self, _: Amortization) -> Result<i128, RowError> {
                Ok(9 * 10i128.pow(37))
            }
            fn name(&self, which: Amortization) -> String {
                format!("{which:?}")
            }
        }
        let err = costs(LineItemType::RiFee, &row("1"), &mut Huge).unwrap_err();
        assert_eq!(err.column, "ReservationUnusedAmortizedUpfront + ReservationUnusedRecurring");
        assert!(err.message.starts_with("number out of range"), "{}", err.message);
    }
}
