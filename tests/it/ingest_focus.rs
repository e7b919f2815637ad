//! FOCUS: the real (non-conformant) sample, its Parquet twin, and every CSV
//! example of the FOCUS specification.

use crate::{Lake, fixture, shared};

#[test]
fn real_sample_is_normalised_and_counted() {
    let lake = Lake::new();
    let run = lake.ingest_ok(&[&shared("focus/focus-sample-data-1.0.csv")], &[]);
    assert!(run.stdout.contains("focus 1.0 (csv, detected)"), "{}", run.stdout);
    // What the sample breaks: literal NULL cells, "2024-09-01 00:00:00" timestamps
    // (4 timestamp columns x 1000 rows), one extra column ("Id") without the x_ prefix.
    assert!(
        run.stdout.contains(
            "normalised in focus/focus-sample-data-1.0.csv: literal NULL read as empty: 8973, \
             non-FOCUS column ignored: 1, timestamp not ISO 8601 with T and Z: 4000"
        ),
        "{}",
        run.stdout
    );
    // Sums from Python's decimal module over the CSV.
    assert_eq!(lake.totals(), "1000,20.52022672899,14.97651418586");
    assert_eq!(
        lake.rows(r#"SELECT provider, billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1, 2 ORDER BY 1, 2"#),
        vec![
            "aws,2024-09,942,18.0066386184",
            "azure,2024-09,51,1.97651418586",
            "oci,2024-09,6,0.29707392473",
            "oci,2024-10,1,0.24",
        ]
    );
    // One id per cloud in the partition; the provider's own name stays in its column.
    assert_eq!(
        lake.rows(r#"SELECT DISTINCT provider, "ProviderName" FROM line_items ORDER BY 1"#),
        vec!["aws,AWS", "azure,Microsoft", "oci,Oracle"]
    );
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE "RegionId" = 'NULL' OR "RegionId" = 'null'"#), "0");
}

#[test]
fn sample_as_parquet_with_a_tags_map() {
    let lake = Lake::new();
    let run = lake.ingest_ok(&[&fixture("focus/focus-sample-data-1.0.parquet")], &[]);
    assert!(run.stdout.contains("focus 1.0 (parquet, detected)"), "{}", run.stdout);
    assert_eq!(lake.totals(), "1000,20.52022672899,14.97651418586");
}

/// Every CSV example of the FOCUS spec. Figures from Python's decimal module
/// (`$10,100.00 ` read as 10100.00). Several examples carry no BillingCurrency
/// column, hence `--currency USD`.
#[test]
fn specification_examples() {
    let dir = "focus/spec-examples";
    // (file, rows landed, billed, effective)
    let cases = [
        (
            "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv",
            "3,2.75,2.75",
        ),
        (
            "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
            "3,2,2",
        ),
        (
            "commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
            "2,1.5,1.5",
        ),
        (
            "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv",
            "3,3.5,3.5",
        ),
        ("commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv", "1,8760,0"),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv", "1,0,1"),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv", "1,0,1"),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv", "2,0,1"),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv", "2,0.5,1.5"),
        ("saas_examples/simple_agreements/simple_saas_agreements_a1.csv", "1,10000,10000"),
        ("saas_examples/simple_agreements/simple_saas_agreements_a2.csv", "1,50000,50000"),
        ("saas_examples/simple_agreements/simple_saas_agreements_a3.csv", "1,1000,1000"),
        ("saas_examples/simple_agreements/simple_saas_agreements_b.csv", "1,50000,50000"),
        ("saas_examples/simple_agreements/simple_saas_agreements_c.csv", "3,35800,35800"),
        ("saas_examples/spend_agreements/saas_spend_agreements_a1.csv", "4,1200,1200"),
        ("saas_examples/spend_agreements/saas_spend_agreements_a2.csv", "13,1200,1200"),
        ("saas_examples/spend_agreements/saas_spend_agreements_b1.csv", "5,1200,1200"),
        ("saas_examples/spend_agreements/saas_spend_agreements_b2.csv", "14,1200,1200"),
        ("saas_examples/virtual_currency_pricing_model_a1.csv", "1,200000,0"),
        ("saas_examples/virtual_currency_pricing_model_a2.csv", "3,0,1230"),
        ("saas_examples/virtual_currency_pricing_model_b1.csv", "1,100000,0"),
        ("saas_examples/virtual_currency_pricing_model_b2.csv", "3,0,615"),
        ("saas_examples/virtual_currency_pricing_model_b3.csv", "3,0,495"),
        ("saas_examples/virtual_currency_pricing_model_c.csv", "2,53000,0"),
    ];
    for (file, expected) in cases {
        let lake = Lake::new();
        lake.ingest_ok(&[&shared(&format!("{dir}/{file}"))], &["--currency", "USD"]);
        assert_eq!(lake.totals(), expected, "{file}");
    }
}

#[test]
fn simple_agreement_dates_in_month_day_year_land_in_their_period() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("focus/spec-examples/saas_examples/simple_agreements/simple_saas_agreements_c.csv")], &[]);
    assert_eq!(
        lake.rows(r#"SELECT billing_period, "BilledCost", "BillingCurrency" FROM line_items ORDER BY 1"#),
        vec!["2025-04,10100,USD", "2025-05,13000,USD", "2025-06,12700,USD"]
    );
}

#[test]
fn examples_with_an_impossible_hour_quarantine_that_row() {
    // Scenarios 2 and 3 end a charge period at "T30:00:00Z".
    let dir = "focus/spec-examples/commitment_discount_scenarios";
    for (file, row, landed, quarantined_cost) in [
        ("commitment_discount_purchase_scenario_2.csv", 3, "2,2,0", "1"),
        ("commitment_discount_purchase_scenario_3.csv", 4, "3,4381,0", "0.5"),
    ] {
        let lake = Lake::new();
        let path = shared(&format!("{dir}/{file}"));
        let refused = lake.ingest(&[&path], &["--currency", "USD"]);
        assert_eq!(refused.code, 3, "{file}: {}", refused.stderr);
        assert!(
            refused.stdout.contains(&format!(
                "quarantined commitment_discount_scenarios/{file}:row {row} column ChargePeriodEnd: hour 30"
            )),
            "{}",
            refused.stdout
        );
        lake.ingest_ok(&[&path], &["--currency", "USD", "--allow-quarantine"]);
        assert_eq!(lake.totals(), landed, "{file}");
        assert_eq!(
            lake.value("SELECT quarantined_cost FROM ingests WHERE status = 'committed'"),
            quarantined_cost,
            "{file}"
        );
    }
}

#[test]
fn missing_currency_is_asked_for() {
    let lake = Lake::new();
    let file = shared("focus/spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv");
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("commitment_discount_usage_scenario_1.csv: missing required focus columns: BillingCurrency (or pass --currency)"),
        "{}",
        run.stderr
    );
}

#[test]
fn lake_files_written_before_the_focus_1_3_columns_stay_readable() {
    // A lake written by tally before the 1.1-1.4 columns joined the schema: the CUR
    // line-item-type month (25 rows, BilledCost 3028.01, EffectiveCost 623.21, see
    // ingest_aws.rs) and the FOCUS sample (1000 rows, 20.52022672899, 14.97651418586).
    let lake = Lake::new();
    crate::copy_dir(std::path::Path::new(&fixture("lake-before-focus-1.3")), &lake.path);
    assert_eq!(lake.totals(), "1025,3048.53022672899,638.18651418586");
    assert_eq!(
        lake.value(
            r#"SELECT count("ServiceProviderName"), count("AllocatedTags"), count("InvoiceDetailId"), count("SkuMeter") FROM line_items"#
        ),
        "0,0,0,0"
    );
    // New files beside old ones: both read through one table.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("focus-1.3.csv");
    std::fs::write(
        &file,
        "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,\
         BilledCost,EffectiveCost,ChargeCategory,ProviderName,ServiceProviderName,HostProviderName,SkuMeter\n\
         acct-7,USD,2025-02-01T00:00:00Z,2025-03-01T00:00:00Z,2025-02-03T00:00:00Z,2025-02-04T00:00:00Z,\
         1.25,1.25,Usage,Microsoft,Microsoft,Microsoft,Compute Hours\n",
    )
    .unwrap();
    let run = lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    assert!(run.stdout.contains("focus 1.3 (csv, detected)"), "{}", run.stdout);
    assert_eq!(lake.totals(), "1026,3049.78022672899,639.43651418586");
    assert_eq!(
        lake.rows(r#"SELECT provider, count(*), count("ServiceProviderName"), count("SkuMeter") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["aws,967,0,0", "azure,52,1,1", "oci,7,0,0"]
    );
    let mappings = dir.path().join("mappings");
    crate::attribute::write_mappings(&mappings, "", "");
    let run = crate::attribute::attribute(&lake, &mappings, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        lake.value(r#"SELECT count(DISTINCT "x_SourceFile"), sum("BilledCost") FROM attributed"#),
        "3,3049.78022672899"
    );
}

// FOCUS 1.3 and 1.4 export folders built from the spec text by
// fixtures/make_focus_fixtures.py, which prints these figures (Python decimal):
// 1.3 cost and usage 6 rows, BilledCost 14.625, ListCost 18.28125; contract
// commitments 2 rows, 1200.00; 1.4 cost and usage 6 rows, BilledCost 27.99,
// ListCost 34.5850; invoice inv-2026-06-1 25.58 on both sides, inv-2026-06-2 1.61.

#[test]
fn focus_1_3_and_1_4_folders_land_with_every_column_and_dataset() {
    let lake = Lake::new();
    let run = lake.ingest_ok(&[&fixture("focus/focus-1.3-2026-05"), &fixture("focus/focus-1.4-2026-06")], &[]);
    for format in [
        "focus 1.3 contract commitment (csv, detected)",
        "focus 1.3 (csv, detected)",
        "focus 1.4 billing period (csv, detected)",
        "focus 1.4 (csv, detected)",
        "focus 1.4 invoice detail (csv, detected)",
    ] {
        assert!(run.stdout.contains(format), "{format}\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("non-FOCUS column ignored"), "{}", run.stdout);
    assert_eq!(lake.totals(), "12,42.615,42.615");
    assert_eq!(lake.value(r#"SELECT sum("ListCost") FROM line_items"#), "52.86625");
    // 1.4 has no ProviderName: the provider comes from ServiceProviderName (noted).
    assert!(
        run.stdout.contains(
            "normalised in focus-1.4-2026-06/cost-and-usage.csv: ProviderName from ServiceProviderName (FOCUS 1.4): 6"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        lake.rows(r#"SELECT billing_period, provider, "ProviderName", count("PublisherName"), count("ServiceProviderName"), count("InvoiceDetailId"), count("CommitmentProgramEligibilityDetails") FROM line_items GROUP BY 1, 2, 3 ORDER BY 1"#),
        vec!["2026-05,example-cloud,Example Cloud,6,6,0,0", "2026-06,example-cloud,Example Cloud,0,6,5,6"]
    );
    // The split-allocation columns, kept as delivered: the node's two shares add up to its hour.
    assert_eq!(
        lake.rows(r#"SELECT "AllocatedResourceName", "AllocatedMethodId", "BilledCost", "AllocatedTags" FROM line_items WHERE "AllocatedMethodId" IS NOT NULL ORDER BY 1"#),
        vec![
            r#"checkout,k8s-cpu-request,3,"{""app"": ""checkout""}""#,
            r#"search,k8s-cpu-request,1,"{""app"": ""search""}""#
        ]
    );
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE "HostProviderName" = 'Example Hosting'"#), "1");
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE "ContractApplied" LIKE '%cc-1%'"#), "2");
    assert_eq!(
        lake.value(
            r#"SELECT count(*), sum("SkuPriceDetails" IS NOT NULL::int), min("ServiceSubcategory") FROM line_items"#
        ),
        "12,12,Virtual Machines"
    );

    // The supplementary datasets, in their own tables.
    assert_eq!(
        lake.value(r#"SELECT count(*), sum("ContractCommitmentCost"), sum("ContractCommitmentQuantity") FROM contract_commitments"#),
        "2,1200,8760"
    );
    assert_eq!(
        lake.value(r#"SELECT count(*), sum("BilledCost"), min(billing_period) FROM invoice_details"#),
        "3,27.19,2026-06"
    );
    assert_eq!(
        lake.value(r#"SELECT "BillingPeriodStatus", "InvoiceIssuerName" FROM focus_billing_periods"#),
        "Closed,Example Cloud"
    );

    // Reconciled to the invoice, in the summary and in SQL.
    assert!(run.stdout.contains("reconciliation to the invoice (FOCUS Invoice Detail):"), "{}", run.stdout);
    assert_eq!(
        lake.rows("SELECT invoice_id, invoice_billed, line_items, line_items_billed, difference, status FROM invoice_reconciliation ORDER BY 1"),
        vec!["inv-2026-06-1,25.58,4,25.58,0,ok", "inv-2026-06-2,1.61,1,1.61,0,ok"]
    );

    // Re-delivered, each dataset's unit is replaced, not doubled.
    lake.ingest_ok(&[&fixture("focus/focus-1.3-2026-05"), &fixture("focus/focus-1.4-2026-06")], &[]);
    assert_eq!(lake.value("SELECT count(*) FROM contract_commitments"), "2");
    assert_eq!(lake.value("SELECT count(*) FROM invoice_details"), "3");
    assert_eq!(lake.totals(), "12,42.615,42.615");
}

#[test]
fn an_invoice_that_its_line_items_do_not_add_up_to_is_named_with_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("focus-1.4");
    crate::copy_dir(std::path::Path::new(&fixture("focus/focus-1.4-2026-06")), &folder);
    // The tax invoice says 1.71; its one line item bills 1.61.
    let invoice = folder.join("invoice-detail.csv");
    let text = std::fs::read_to_string(&invoice).unwrap();
    assert_eq!(text.matches("1.61,").count(), 2, "BilledCost and PaymentCurrencyBilledCost of d-9");
    std::fs::write(&invoice, text.replacen("1.61,", "1.71,", 1)).unwrap();
    let lake = Lake::new();
    let run = lake.ingest_ok(&[folder.to_str().unwrap()], &[]);
    assert!(
        run.stderr.contains(
            "invoice inv-2026-06-2 of Example Cloud (2026-06 USD): the line items' BilledCost 1.61 differs from the \
             invoice's 1.71 by -0.1"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        lake.rows("SELECT invoice_id, difference, status FROM invoice_reconciliation ORDER BY 1"),
        vec!["inv-2026-06-1,0,ok", "inv-2026-06-2,-0.1,mismatch"]
    );
}

// The clouds' own FOCUS exports, built from each provider's documentation of its
// export by fixtures/make_provider_focus_fixtures.py (no public sample exists; its
// docstring names the pages, sections and guesses), which prints these sums
// (Python decimal): AWS 8 rows, BilledCost 316.49800, EffectiveCost 316.49800,
// ListCost 574.45800; Azure 6 rows, 638.8508, 638.8508, 863.5388; GCP 7 rows,
// 167.821147, 167.821147, 202.292421.
#[test]
fn provider_focus_exports_land_under_their_cloud_with_their_x_columns() {
    for (file, provider, name, totals, list) in [
        ("focus/aws-data-exports-focus-1.2-2026-03.csv", "aws", "AWS", "8,316.498,316.498", "574.458"),
        ("focus/azure-focuscost-1.2-preview-2026-03.csv", "azure", "Microsoft", "6,638.8508,638.8508", "863.5388"),
        ("focus/gcp-focus-export-2026-03.csv", "gcp", "Google Cloud", "7,167.821147,167.821147", "202.292421"),
    ] {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&fixture(file)], &[]);
        assert!(run.stdout.contains("focus 1.2 (csv, detected)"), "{file}: {}", run.stdout);
        assert!(!run.stdout.contains("non-FOCUS column ignored"), "{file}: {}", run.stdout);
        assert_eq!(lake.totals(), totals, "{file}");
        assert_eq!(lake.value(r#"SELECT sum("ListCost") FROM line_items"#), list, "{file}");
        assert_eq!(
            lake.rows(r#"SELECT DISTINCT provider, "ProviderName", billing_period FROM line_items"#),
            vec![format!("{provider},{name},2026-03")],
            "{file}"
        );
    }
    // AWS's own x_ columns mean what tally's do and are kept (attribution reads x_ServiceCode);
    // Python csv: x_ServiceCode on all 8 rows, x_Operation on 3.
    let lake = Lake::new();
    lake.ingest_ok(&[&fixture("focus/aws-data-exports-focus-1.2-2026-03.csv")], &[]);
    assert_eq!(lake.value(r#"SELECT count("x_ServiceCode"), count("x_Operation") FROM line_items"#), "8,3");
}
