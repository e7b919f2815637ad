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
