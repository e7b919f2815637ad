//! AWS CUR (legacy, Athena snake_case, CUR 2.0) on the public samples and fixtures.

use crate::{Lake, fixture, shared};

#[test]
fn legacy_cur_csv_lands_every_row_and_cent() {
    let lake = Lake::new();
    let run = lake.ingest_ok(&[&shared("aws-cur/focus-converters-cur-2023-11.csv")], &[]);
    assert!(run.stdout.contains("aws-cur (csv, detected)"), "{}", run.stdout);
    // 1281 rows; sum of lineItem/UnblendedCost computed with Python's decimal module.
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
    // Counts of (lineItem/CurrencyCode, lineItem/LineItemType) from Python's csv module.
    assert_eq!(
        lake.rows(r#"SELECT provider, billing_period, "BillingCurrency", "ChargeCategory", count(*) FROM line_items GROUP BY 1, 2, 3, 4 ORDER BY 4"#),
        vec!["aws,2023-11,USD,Tax,12", "aws,2023-11,USD,Usage,1269"]
    );
    assert!(lake.path.join("line_items/provider=aws/billing_period=2023-11/part-123412340534.parquet").exists());
}

#[test]
fn legacy_cur_parquet_reads_like_its_csv() {
    // The same export converted to Parquet by DuckDB (doubles, timestamps, snake_case names).
    let lake = Lake::new();
    let run = lake.ingest_ok(&[&fixture("aws-cur/focus-converters-cur-2023-11.parquet")], &[]);
    assert!(run.stdout.contains("aws-cur (parquet, detected)"), "{}", run.stdout);
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
}

#[test]
fn athena_snake_case_columns_and_their_tags() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("aws-cur/koku-2022-07-snake-case-columns.csv")], &[]);
    assert_eq!(lake.totals(), "2,0,0");
    assert_eq!(
        lake.rows(
            r#"SELECT "SubAccountId", "ServiceName", "PublisherName", "RegionId", "PricingCategory" FROM line_items"#
        ),
        vec![
            "999999,Red Hat® Enterprise Linux®,\"Red Hat, Inc.\",us-east-1,Standard",
            "999999,Red Hat® Enterprise Linux®,\"Red Hat, Inc.\",us-east-1,Standard"
        ]
    );
}

#[test]
fn messy_rows_are_quarantined_with_their_reason() {
    let lake = Lake::new();
    let file = shared("aws-cur/koku-2023-11-messy-tag-keys.csv");
    // Rows 6 and 21 are spliced (194 and 197 fields for a 200-column header).
    let refused = lake.ingest(&[&file], &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stdout.contains("quarantined aws-cur/koku-2023-11-messy-tag-keys.csv:row 6 column (whole row): row has 194 fields, header has 200"), "{}", refused.stdout);
    assert!(refused.stderr.contains("2 row(s) quarantined, so nothing was committed"), "{}", refused.stderr);
    assert_eq!(lake.totals(), "0,0,0");
    assert_eq!(
        lake.rows("SELECT source_row, reason FROM quarantine ORDER BY source_row"),
        vec!["6,\"row has 194 fields, header has 200\"", "21,\"row has 197 fields, header has 200\""]
    );

    lake.ingest_ok(&[&file], &["--allow-quarantine"]);
    // 24 good rows. Billed and amortized sums from Python's decimal module; the
    // Savings Plan rows make EffectiveCost differ from BilledCost.
    assert_eq!(lake.totals(), "24,3.4696976217232192805,4.039");
    assert_eq!(
        lake.rows("SELECT rows_read, rows_landed, rows_quarantined, source_cost, landed_cost, quarantined_cost, status FROM ingests ORDER BY status"),
        vec![
            "26,24,2,3.8256976217232192805,3.4696976217232192805,0.356,committed",
            "26,24,2,3.8256976217232192805,3.4696976217232192805,0.356,rejected: rows quarantined",
        ]
    );
}

#[test]
fn mixed_case_and_dashed_tag_keys_are_kept_as_written() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("aws-cur/koku-2023-11-messy-tag-keys.csv")], &["--allow-quarantine"]);
    assert_eq!(
        lake.rows(r#"SELECT DISTINCT k FROM (SELECT unnest(map_keys("Tags")) AS k FROM line_items) ORDER BY k"#),
        // Of the 13 resourceTags/ columns, these 5 have a value on some landed row
        // (Python's csv module); empty cells are not tags.
        vec!["app", "aws:createdBy", "dashed-key-on-aws", "storageclass", "version"]
    );
}

#[test]
fn gzip_cur_with_a_header_longer_than_its_rows() {
    // koku's test_cur.csv.gz: a 131-column header over 130-field rows. Guessing
    // which column is missing would misplace values, so every row is quarantined.
    let lake = Lake::new();
    let run = lake.ingest(&[&shared("aws-cur/koku-test_cur.csv.gz")], &["--allow-quarantine"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("aws-cur (csv.gz, detected)"), "{}", run.stdout);
    assert_eq!(lake.value("SELECT count(*) FROM quarantine WHERE reason = 'row has 130 fields, header has 131'"), "19");
    // Source cost of the quarantined rows, from Python's decimal module.
    assert_eq!(lake.value("SELECT quarantined_cost FROM ingests"), "0.0827499841274349353");
    assert_eq!(lake.totals(), "0,0,0");
}

#[test]
fn header_only_cur_is_valid_and_empty() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("aws-cur/koku-header-only.csv")], &[]);
    assert_eq!(lake.totals(), "0,0,0");
    assert_eq!(lake.value("SELECT rows_read, status FROM ingests"), "0,committed");
}

#[test]
fn cur2_csv_and_parquet_agree() {
    // Hand-written CUR 2.0 month (fixtures/aws-cur2): billed 244.5428 and
    // amortized 30.1514, worked out by hand from the AWS rules in the README.
    for file in ["aws-cur2/cur2-2025-01.csv", "aws-cur2/cur2-2025-01.parquet"] {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&fixture(file)], &[]);
        assert!(run.stdout.contains("aws-cur2 ("), "{}", run.stdout);
        assert_eq!(lake.totals(), "8,244.5428,30.1514", "{file}");
        assert_eq!(
            lake.rows(r#"SELECT "x_SourceLineItemId", "x_LineItemType", "ChargeCategory", "EffectiveCost", "Tags"['team'], "Tags"['Team'], "Tags"['aws:createdBy'], "CommitmentDiscountType" FROM line_items ORDER BY 1"#),
            vec![
                "li-0001,Usage,Usage,4.608,payments-api,,,",
                "li-0002,SavingsPlanCoveredUsage,Usage,5.712,ledger,,IAMUser:ci,Savings Plan",
                "li-0003,SavingsPlanNegation,Usage,0,ledger,,,Savings Plan",
                "li-0004,SavingsPlanRecurringFee,Purchase,15.75,,,,Savings Plan",
                "li-0005,DiscountedUsage,Usage,3.6288,,Ledger,,Reservation",
                "li-0006,RIFee,Purchase,1.7226,,,,Reservation",
                "li-0007,Tax,Tax,1.23,,,,",
                "li-0008,Credit,Credit,-2.5,,,,",
            ],
            "{file}"
        );
        assert_eq!(
            lake.value(r#"SELECT DISTINCT "BillingAccountName" || '/' || "SubAccountName" FROM line_items WHERE "SubAccountId" = '444455556666'"#),
            "Acme Payer/acme-prod"
        );
    }
}

// Every CUR line item type, legacy CUR and its CUR 2.0 twin: one January 2025 month
// (744 hours, monthly granularity) written by fixtures/make_line_item_fixtures.py, which names
// the documentation section each row follows and prints these figures from Python's decimal
// module. The rule each figure follows is the README table "How AWS CUR maps to FOCUS";
// EffectiveCost is AWS Cost Explorer's amortized cost, as the `amortized_cost` of AWS's Cloud
// Intelligence Dashboards (summary_view.sql) and the CUR Query Library compute it.
//
// The Reserved Instance: 1-year Partial Upfront m5.xlarge, 438.00 upfront (8760 h x 0.05) and
// 0.05 an hour; 744 RI hours in January, 700 used, 44 unused.
// - li-03 Fee 438.00 is the upfront: EffectiveCost 0 (before this was fixed it kept 438.00,
//   counting the upfront twice: it is amortized into li-05 and li-04).
// - li-04 RIFee 744 x 0.05 = 37.20; EffectiveCost = UnusedAmortizedUpfrontFee 44 x 0.05 = 2.20
//   + UnusedRecurringFee 44 x 0.05 = 2.20 = 4.40; CommitmentDiscountStatus Unused.
// - li-05 DiscountedUsage: unblended 0; EffectiveCost = AmortizedUpfrontCostForUsage 700 x 0.05
//   = 35.00 + RecurringFeeForUsage 700 x 0.05 = 35.00 = 70.00; ListCost = ContractedCost =
//   publicOnDemandCost 700 x 0.192 = 134.40.
// - So the RI costs 70.00 + 4.40 = 74.40 = 744 x (0.05 + 0.05) amortized, 475.20 billed.
//
// The Savings Plan: 1-year Partial Upfront, 0.50 an hour: 2190.00 upfront (8760 h x 0.25) and
// 0.25 an hour; January commits 744 x 0.50 = 372.00, of which 350.00 is used.
// - li-07 SavingsPlanUpfrontFee 2190.00: EffectiveCost 0; net 2190.00 x 0.95 = 2080.50 (EDP 5%)
//   is its ContractedCost.
// - li-08 SavingsPlanRecurringFee 744 x 0.25 = 186.00 (net 176.70): EffectiveCost =
//   TotalCommitmentToDate 372.00 - UsedCommitment 350.00 = 22.00; status Unused.
// - li-09/li-10 SavingsPlanCoveredUsage: unblended = on-demand 500 h x 0.34 = 170.00 and 8000
//   vCPU-h x 0.04125 = 330.00; EffectiveCost = SavingsPlanEffectiveCost 500 x 0.238 = 119.00 and
//   8000 x 0.028875 = 231.00 (119.00 + 231.00 = the 350.00 used); their
//   NetSavingsPlanEffectiveCost (113.05, 219.45) is not EffectiveCost: that is Cost Explorer's
//   *net* amortized cost, and the EDP already has rows of its own (li-19, li-20).
// - li-11/li-12 SavingsPlanNegation -170.00 and -330.00: EffectiveCost, ListCost,
//   ContractedCost 0; status Used.
// - li-13 an All Upfront plan's 100.00 upfront, li-14 its refund -100.00 (CID: a ComputeSavingsPlans
//   "Refund for one-time fee for Savings Plan ID..." is 0 amortized): both EffectiveCost 0, the
//   refund a Purchase.
//
// The rest keep their unblended cost as EffectiveCost: Usage li-01 192.00 (net 192.00 x 0.95 =
// 182.40 is its ContractedCost) and li-02 11.50, a support Fee li-06 100.00 (no reservation),
// Credit li-15 -25.00, Refunds li-16 -12.00 (Usage) and li-17 -8.00 (for 15 December 2024:
// ChargeClass Correction), Tax li-18 43.21, EdpDiscount li-19 -9.60 (192.00 x 0.05) and li-20
// -118.80 ((2190.00 + 186.00) x 0.05), PrivateRateDiscount li-21 -5.00, BundledDiscount li-22
// -1.50, SppDiscount li-23 -3.00, RiVolumeDiscount li-24 -2.00, FlatRateSubscription li-25 15.00.
// Discounts have ListCost 0; the EDP rows, whose net cost is filled (0: the net columns carry
// them on the rows they discount), ContractedCost 0; the others their BilledCost.
//
// The month:
// - BilledCost 3028.01 = 192.00 + 11.50 + 438.00 + 37.20 + 0 + 100.00 + 2190.00 + 186.00
//   + 170.00 + 330.00 - 170.00 - 330.00 + 100.00 - 100.00 - 25.00 - 12.00 - 8.00 + 43.21
//   - 9.60 - 118.80 - 5.00 - 1.50 - 3.00 - 2.00 + 15.00, the invoice.
// - EffectiveCost 623.21 = 192.00 + 11.50 + 4.40 + 70.00 + 100.00 + 22.00 + 119.00 + 231.00
//   - 25.00 - 12.00 - 8.00 + 43.21 - 9.60 - 118.80 - 5.00 - 1.50 - 3.00 - 2.00 + 15.00, which is
//   also the bill less its upfront fees plus their share of January: 3028.01 - (438.00 + 2190.00
//   + 100.00 - 100.00) + 37.20 + 186.00 = 623.21. (Before the fix: 961.21, the RI's 438.00 upfront
//   counted twice and the returned plan's refund -100.00 counted once.)
// - ListCost 3802.31 = 192.00 + 11.50 + 438.00 + 37.20 + 134.40 + 100.00 + 2190.00 + 186.00
//   + 170.00 + 330.00 + 100.00 - 100.00 - 25.00 - 12.00 - 8.00 + 43.21 + 15.00.
// - ContractedCost 3662.41 = ListCost 3802.31 less the discounts it keeps: 3802.31 - 9.60 - 118.80
//   (the EDP, through the net costs 182.40, 2080.50, 176.70) - 5.00 - 1.50 - 3.00 - 2.00.
#[test]
fn every_line_item_type_maps_to_focus_costs_by_hand() {
    for (file, format) in [
        ("aws-cur/line-item-types-2025-01.csv", "aws-cur (csv, detected)"),
        ("aws-cur2/line-item-types-2025-01.csv", "aws-cur2 (csv, detected)"),
    ] {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&fixture(file)], &[]);
        assert!(run.stdout.contains(format), "{file}: {}", run.stdout);
        assert_eq!(
            lake.rows(
                r#"SELECT "x_SourceLineItemId", "x_LineItemType", "BilledCost", "EffectiveCost", "ListCost",
                          "ContractedCost", "ChargeCategory", "ChargeClass", "CommitmentDiscountStatus"
                   FROM line_items ORDER BY 1"#
            ),
            vec![
                "li-01,Usage,192,192,192,182.4,Usage,,",
                "li-02,Usage,11.5,11.5,11.5,11.5,Usage,,",
                "li-03,Fee,438,0,438,438,Purchase,,",
                "li-04,RIFee,37.2,4.4,37.2,37.2,Purchase,,Unused",
                "li-05,DiscountedUsage,0,70,134.4,134.4,Usage,,Used",
                "li-06,Fee,100,100,100,100,Purchase,,",
                "li-07,SavingsPlanUpfrontFee,2190,0,2190,2080.5,Purchase,,",
                "li-08,SavingsPlanRecurringFee,186,22,186,176.7,Purchase,,Unused",
                "li-09,SavingsPlanCoveredUsage,170,119,170,170,Usage,,Used",
                "li-10,SavingsPlanCoveredUsage,330,231,330,330,Usage,,Used",
                "li-11,SavingsPlanNegation,-170,0,0,0,Usage,,Used",
                "li-12,SavingsPlanNegation,-330,0,0,0,Usage,,Used",
                "li-13,SavingsPlanUpfrontFee,100,0,100,100,Purchase,,",
                "li-14,Refund,-100,0,-100,-100,Purchase,,",
                "li-15,Credit,-25,-25,-25,-25,Credit,,",
                "li-16,Refund,-12,-12,-12,-12,Usage,,",
                "li-17,Refund,-8,-8,-8,-8,Usage,Correction,",
                "li-18,Tax,43.21,43.21,43.21,43.21,Tax,,",
                "li-19,EdpDiscount,-9.6,-9.6,0,0,Credit,,",
                "li-20,EdpDiscount,-118.8,-118.8,0,0,Credit,,",
                "li-21,PrivateRateDiscount,-5,-5,0,-5,Credit,,",
                "li-22,BundledDiscount,-1.5,-1.5,0,-1.5,Credit,,",
                "li-23,SppDiscount,-3,-3,0,-3,Credit,,",
                "li-24,RiVolumeDiscount,-2,-2,0,-2,Credit,,",
                "li-25,FlatRateSubscription,15,15,15,15,Purchase,,",
            ],
            "{file}"
        );
        // Per line item type, from the rows above.
        assert_eq!(
            lake.rows(
                r#"SELECT "x_LineItemType", count(*), sum("BilledCost"), sum("EffectiveCost"), sum("ListCost"),
                          sum("ContractedCost")
                   FROM line_items GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"#
            ),
            vec![
                // 438.00 + 100.00; only the support fee is amortized cost.
                "EdpDiscount,2,-128.4,-128.4,0,0",
                "Fee,2,538,100,538,538",
                // -100.00 - 12.00 - 8.00; the Savings Plan refund is 0 amortized.
                "Refund,3,-120,-20,-120,-120",
                "SavingsPlanCoveredUsage,2,500,350,500,500",
                "SavingsPlanNegation,2,-500,0,0,0",
                // 2190.00 + 100.00.
                "SavingsPlanUpfrontFee,2,2290,0,2290,2180.5",
                "Usage,2,203.5,203.5,203.5,193.9",
            ],
            "{file}"
        );
        assert_eq!(
            lake.value(
                r#"SELECT count(*), sum("BilledCost"), sum("EffectiveCost"), sum("ListCost"), sum("ContractedCost")
                   FROM line_items"#
            ),
            "25,3028.01,623.21,3802.31,3662.41",
            "{file}"
        );
        // The upfront Fee names its reservation; the negation repeats the covered hours, which
        // are consumed once (li-09).
        assert_eq!(
            lake.rows(
                r#"SELECT "x_SourceLineItemId", "CommitmentDiscountId", "CommitmentDiscountType", "ConsumedQuantity"
                   FROM line_items WHERE "x_SourceLineItemId" IN ('li-03', 'li-09', 'li-11') ORDER BY 1"#
            ),
            vec![
                "li-03,arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-0001,Reservation,",
                "li-09,arn:aws:savingsplans::111122223333:savingsplan/a1b2c3d4-0001,Savings Plan,500",
                "li-11,arn:aws:savingsplans::111122223333:savingsplan/a1b2c3d4-0001,Savings Plan,",
            ],
            "{file}"
        );
    }
}
