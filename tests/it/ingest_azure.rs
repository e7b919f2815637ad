//! Azure cost exports: every public sample (finops-toolkit's EA actual and
//! amortized exports, focus_converters' EA export, koku's schema generations,
//! opencost's header variants), and how the actual and amortized exports of
//! one period combine.
//!
//! Expected figures come from Python's csv and decimal modules over each file
//! (read as UTF-8 with its BOM removed): the cost column (CostInBillingCurrency,
//! else Cost, else PreTaxCost, localized names by the canonical name in
//! parentheses), each value rounded half to even at 20 places as tally
//! documents, rows whose field count differs from the header's counted apart.

use crate::{Lake, shared};

/// (file, extra flags, landed line items / billed / effective, provider, period,
/// billing account and currency of the landed rows)
const SAMPLES: &[(&str, &[&str], &str, &[&str])] = &[
    (
        "azure/EA_ActualCost_Small.csv",
        &[],
        "11,8.5450077867419368,8.5450077867419368",
        &["azure,2023-09,8611537,USD,11"],
    ),
    (
        "azure/EA_AmortizedCost_Small.csv",
        &[],
        // Unrounded the sum is 16.296932136636644627485419: three costs carry 22 to
        // 28 decimal places (e.g. 0.0001188669167459011366) and are rounded at 20.
        "28,16.29693213663664462749,16.29693213663664462749",
        &["azure,2023-09,8611537,USD,28"],
    ),
    ("azure/EA_NoRows.csv", &[], "0,0,0", &[]),
    (
        "azure/azure_camelCased.csv",
        &[],
        "3,0.00011016,0.00011016",
        // No billing account column: the subscription is the billing scope.
        &["azure,2019-07,2639de71-ca37-4a17-a104-17665a50e7fc,USD,3"],
    ),
    (
        "azure/camel_azure_version_2.csv",
        &[],
        "4,0.0000262412,0.0000262412",
        &["azure,2023-08,3c100a8a-215e-5a7e-24b2-61aa86945012,USD,4"],
    ),
    (
        "azure/costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv",
        &[],
        "3,0.00011016,0.00011016",
        &["azure,2019-07,0039de71-ca37-4a17-a104-17665a50e7fc,USD,3"],
    ),
    ("azure/empty_frame.csv", &[], "0,0,0", &[]),
    (
        "azure/focus-converters-ea-export.csv",
        &[],
        "27,1.26136926505726,1.26136926505726",
        &["azure,2023-09,12345678,CAD,27"],
    ),
    // BillingPeriodStartDate says May although the usage date is in February.
    ("azure/opencost-header-variants/Enterprise.csv", &[], "1,0,0", &["azure,2021-05,12345678,CAD,1"]),
    (
        "azure/opencost-header-variants/EnterpriseCamel.csv",
        &[],
        "1,0.012,0.012",
        &["azure,2021-02,11111111-1111-1111-1111-123456789012,USD,1"],
    ),
    (
        "azure/opencost-header-variants/German.csv",
        &[],
        "1,0.075,0.075",
        &["azure,2021-02,11111111-12ab-34dc-56ef-123456abcdef,USD,1"],
    ),
    // No currency column in these three: --currency says what it is.
    (
        "azure/opencost-header-variants/MissingBrackets.csv",
        &["--currency", "USD"],
        "1,4,4",
        &["azure,2021-02,11111111-12ab-34dc-56ef-123456abcdef,USD,1"],
    ),
    (
        "azure/opencost-header-variants/PayAsYouGo.csv",
        &[],
        "1,0.075,0.075",
        &["azure,2021-02,11111111-12ab-34dc-56ef-123456abcdef,USD,1"],
    ),
    (
        "azure/opencost-header-variants/VirtualMachine.csv",
        &["--currency", "USD"],
        "1,4,4",
        &["azure,2021-02,11111111-12ab-34dc-56ef-123456billing,USD,1"],
    ),
    (
        "azure/opencost-header-variants/YA.csv",
        &[],
        "1,0.075,0.075",
        &["azure,2021-02,11111111-12ab-34dc-56ef-123456abcdef,USD,1"],
    ),
];

#[test]
fn every_public_sample_lands_every_row_and_cent() {
    for (file, flags, totals, units) in SAMPLES {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&shared(file)], flags);
        assert!(run.stdout.contains("azure-a"), "{file}: {}", run.stdout);
        assert_eq!(lake.totals(), *totals, "{file}");
        assert_eq!(
            lake.rows(r#"SELECT provider, billing_period, "BillingAccountId", "BillingCurrency", count(*) FROM line_items GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3"#),
            units.to_vec(),
            "{file}"
        );
        let (rows, billed) = {
            let mut parts = totals.split(',');
            (parts.next().unwrap().to_string(), parts.next().unwrap().to_string())
        };
        assert_eq!(
            lake.value("SELECT rows_read, rows_landed, source_cost, landed_cost, status FROM ingests"),
            format!("{rows},{rows},{billed},{billed},committed"),
            "{file}"
        );
    }
}

#[test]
fn a_currency_that_is_not_iso_4217_is_quarantined() {
    // koku's azure_version_2.csv bills in "MC" (BillingCurrencyCode on all 5 rows, Python's
    // csv module), which no ISO 4217 list has: every row is quarantined, its cost kept.
    let lake = Lake::new();
    let file = shared("azure/azure_version_2.csv");
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "quarantined azure/azure_version_2.csv:row 1 column BillingCurrencyCode: unknown currency code \"MC\""
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        lake.value("SELECT rows_read, rows_quarantined, source_cost, quarantined_cost, status FROM ingests"),
        "5,5,19.998413754,19.998413754,rejected: rows quarantined"
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn header_only_exports_are_valid_and_empty() {
    // EA_NoRows.csv (55 columns) and empty_frame.csv (24) have a header and no
    // rows: a period with nothing in it, not an error (as for a header-only CUR).
    for file in ["azure/EA_NoRows.csv", "azure/empty_frame.csv"] {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&shared(file)], &[]);
        assert!(run.stdout.contains("azure-actual (csv, detected, actual: the path names no kind)"), "{}", run.stdout);
        assert_eq!(lake.value("SELECT rows_read, rows_landed, status FROM ingests"), "0,0,committed", "{file}");
        assert!(!lake.path.join("line_items").exists(), "{file}");
    }
}

#[test]
fn a_row_without_a_cost_is_quarantined() {
    // opencost's BOM.csv: a UTF-8 BOM before the header, then one row with only a date.
    let lake = Lake::new();
    let file = shared("azure/opencost-header-variants/BOM.csv");
    let refused = lake.ingest(&[&file], &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stdout.contains("quarantined opencost-header-variants/BOM.csv:row 1 column PreTaxCost: empty cost"),
        "{}",
        refused.stdout
    );
    lake.ingest_ok(&[&file], &["--allow-quarantine"]);
    assert_eq!(lake.totals(), "0,0,0");
}

#[test]
fn rows_shorter_than_the_header_are_quarantined() {
    // opencost's Template.csv: an 11-column header over 87 rows of 10 fields.
    // Guessing which column is missing would misplace values (as for koku's
    // CUR), so every row is quarantined. Their cost, from Python's decimal module
    // over the fifth field (costinbillingcurrency): 16.393506212224391.
    let lake = Lake::new();
    let file = shared("azure/opencost-header-variants/Template.csv");
    let run = lake.ingest(&[&file], &["--currency", "USD", "--allow-quarantine"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lake.value("SELECT count(*) FROM quarantine WHERE reason = 'row has 10 fields, header has 11'"), "87");
    assert_eq!(
        lake.value("SELECT rows_read, rows_landed, rows_quarantined, source_cost, quarantined_cost FROM ingests"),
        "87,0,87,16.393506212224391,16.393506212224391"
    );
    assert_eq!(lake.totals(), "0,0,0");
}

#[test]
fn generations_and_header_variants_map_alike() {
    // The same load balancer row in pay-as-you-go, German-localized and mixed
    // ("YA") headers, with ISO and M/D/YYYY dates.
    let lake = Lake::new();
    for file in ["PayAsYouGo.csv", "German.csv", "YA.csv"] {
        lake.ingest_ok(&[&shared(&format!("azure/opencost-header-variants/{file}"))], &[]);
    }
    // One unit per (period, account, export): each file replaced the previous one.
    assert_eq!(lake.value("SELECT count(*) FROM line_items"), "1");
    assert_eq!(
        lake.value(r#"SELECT "SubAccountId", "x_ResourceGroup", "ServiceName", "x_ServiceCode", "ServiceCategory", "RegionName", "ChargePeriodStart", "ChargePeriodEnd", "PricingQuantity", "PricingUnit", "ChargeCategory" FROM line_items"#),
        "11111111-12ab-34dc-56ef-123456abcdef,Example-Resource-Group,Load Balancer,Microsoft.Network,Networking,US East,2021-02-02T00:00:00Z,2021-02-03T00:00:00Z,3,100 Hours,Usage"
    );
}

#[test]
fn tags_with_and_without_braces_and_the_resource_group() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("azure/focus-converters-ea-export.csv")], &[]);
    // Every row's Tags is `"tagA": "valueA","tagB": "valueB","tagC": "valueC"`.
    assert_eq!(
        lake.rows(
            r#"SELECT "Tags"['tagA'], "Tags"['tagC'], "x_ResourceGroup", count(*) FROM line_items GROUP BY 1, 2, 3"#
        ),
        vec!["valueA,valueC,rg-example,27"]
    );
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("azure/opencost-header-variants/EnterpriseCamel.csv")], &[]);
    assert_eq!(
        lake.value(
            r#"SELECT "Tags"['ClusterName'] || ' ' || "Tags"['Vendor'] || ' ' || "x_ResourceGroup" FROM line_items"#
        ),
        "SrgExtractsPartDeux Databricks databricks"
    );
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("azure/EA_ActualCost_Small.csv")], &[]);
    // Python's csv module: ResourceGroup per row; one row has none.
    assert_eq!(
        lake.rows(r#"SELECT "x_ResourceGroup", count(*) FROM line_items GROUP BY 1 ORDER BY 1 NULLS FIRST"#),
        vec![
            ",1",
            "AHBTest,2",
            "AnalyticsEngine,1",
            "COSTMANAGEMENT-REST-RG,1",
            "CapRes_Test,1",
            "FTK-MICFLAN-DARKSLATE2,1",
            "databricks-rg-PeskyData-s6taefbli5c5e,1",
            "example-dtl-DTLWeb-128359,1",
            "example-dtl-DTLWebMySQL-186455,1",
            "ftk-micflan-TemplateDeployment,1",
        ]
    );
    assert_eq!(
        lake.value(r#"SELECT "ChargeCategory", "ChargeFrequency", "CommitmentDiscountType", "BilledCost" FROM line_items WHERE "PricingCategory" = 'Committed'"#),
        "Purchase,Recurring,Reservation,3.25"
    );
}

const ACTUAL: &str = "azure/EA_ActualCost_Small.csv";
const AMORTIZED: &str = "azure/EA_AmortizedCost_Small.csv";
/// Per export: line items, BilledCost, EffectiveCost (figures as in SAMPLES).
const PAIRED: [&str; 2] = ["actual,11,8.5450077867419368,0", "amortized,28,0,16.29693213663664462749"];

fn by_export(lake: &Lake) -> Vec<String> {
    lake.rows(
        r#"SELECT CASE WHEN "x_SourceFile" LIKE '%ActualCost%' THEN 'actual' ELSE 'amortized' END AS export,
                  count(*), sum("BilledCost"), sum("EffectiveCost") FROM line_items GROUP BY 1 ORDER BY 1"#,
    )
}

/// The actual and amortized exports of September 2023 are different rows (the
/// amortized one has no reservation purchase and more usage). They are not
/// matched: each lands as its own unit, the source of one measure, and the
/// period adds up to the actual total billed and the amortized total effective.
#[test]
fn actual_and_amortized_exports_combine_into_one_period() {
    let together = Lake::new();
    let run = together.ingest_ok(&[&shared(ACTUAL), &shared(AMORTIZED)], &[]);
    assert!(run.stdout.contains("azure-actual (csv, detected, actual by its path)"), "{}", run.stdout);
    assert!(run.stdout.contains("azure-amortized (csv, detected, amortized by its path)"), "{}", run.stdout);
    assert_eq!(together.totals(), "39,8.5450077867419368,16.29693213663664462749");
    assert_eq!(by_export(&together), PAIRED);
    let dir = together.path.join("line_items/provider=azure/billing_period=2023-09");
    assert!(dir.join("part-8611537.actual.parquet").exists());
    assert!(dir.join("part-8611537.amortized.parquet").exists());

    // One export at a time, in either order: while a period has one export, its
    // lines stand in for the other measure; the second export completes it.
    for (first, second) in [(ACTUAL, AMORTIZED), (AMORTIZED, ACTUAL)] {
        let lake = Lake::new();
        lake.ingest_ok(&[&shared(first)], &[]);
        let alone = if first == ACTUAL {
            "11,8.5450077867419368,8.5450077867419368"
        } else {
            "28,16.29693213663664462749,16.29693213663664462749"
        };
        assert_eq!(lake.totals(), alone, "{first} alone");
        lake.ingest_ok(&[&shared(second)], &[]);
        assert_eq!(lake.totals(), "39,8.5450077867419368,16.29693213663664462749", "{first} then {second}");
        assert_eq!(by_export(&lake), PAIRED, "{first} then {second}");

        // A restated export replaces only its own unit; the other is left as it was.
        let before = lake.data_files();
        lake.ingest_ok(&[&shared(second)], &[]);
        assert_eq!(lake.totals(), "39,8.5450077867419368,16.29693213663664462749");
        let unchanged: Vec<_> = lake
            .data_files()
            .into_iter()
            .filter(|f| !f.0.contains(if second == ACTUAL { ".actual." } else { ".amortized." }))
            .collect();
        let was: Vec<_> = before
            .into_iter()
            .filter(|f| !f.0.contains(if second == ACTUAL { ".actual." } else { ".amortized." }))
            .collect();
        assert_eq!(unchanged, was, "{first} then {second}: the other export's file");
    }
}

#[test]
fn an_amortized_only_row_refuses_the_actual_kind() {
    // UnusedReservation rows exist only in amortized exports: a file taken as
    // actual (its path names no kind) that has them says so, row by row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("costs.csv");
    std::fs::write(
        &path,
        "SubscriptionId,Date,MeterCategory,Cost,BillingCurrency,ChargeType,PricingModel,ReservationId\n\
         sub-1,10/01/2023,Virtual Machines,1.25,USD,Usage,OnDemand,\n\
         sub-1,10/01/2023,Virtual Machines,0.75,USD,UnusedReservation,Reservation,ri-1\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let lake = Lake::new();
    let refused = lake.ingest(&[file], &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stdout.contains(
            "row 2 column ChargeType: UnusedReservation rows appear only in amortized exports; \
             pass --format azure-amortized for this file"
        ),
        "{}",
        refused.stdout
    );
    lake.ingest_ok(&[file], &["--format", "azure-amortized"]);
    assert_eq!(lake.totals(), "2,2,2");
    assert_eq!(
        lake.value(r#"SELECT "CommitmentDiscountStatus" || ' ' || "CommitmentDiscountId" || ' ' || "ChargeCategory" FROM line_items WHERE "x_LineItemType" = 'UnusedReservation'"#),
        "Unused ri-1 Usage"
    );
    assert!(lake.path.join("line_items/provider=azure/billing_period=2023-10/part-sub-1.amortized.parquet").exists());
}
