//! The pages beside the weekly report (src/report/pages.rs): one per team, the page its
//! nudge's "Full report" opens, one per org node, and their index. Every figure is checked
//! against DuckDB over the lake's attributed files; every chart is drawn (each one
//! screenshotted alone in headless Chromium and its pixels counted); names and titles are
//! text, never markup; every link lands on a written page.
//!
//! The lake is the report tests' hand-built dataset (tests/it/report.rs: 1 Sep - 14 Oct
//! 2026, as of 14 Oct) plus 3 a day of Support in alpha's account 111 from 1 to 14 October
//! that no rule claims (alpha's rule is narrowed here to Compute and Database), so alpha's
//! page has unallocated spend in an account it mostly owns: 14 x 3 = $42.00. Findings:
//! an open idle recommendation for alpha ($1,200.00 a month, 1.5 dev-days, its title
//! markup), an anomaly for alpha, and a verified win for beta.

use std::path::{Path, PathBuf};

use crate::report::{chromium, keep_dir};
use crate::support::{FindingRow, duckdb, html_table, write_findings};
use crate::{Lake, copy_dir, fixture, tally_ok};

const AS_OF: &str = "2026-10-14";

struct Pages {
    lake: Lake,
    work: tempfile::TempDir,
    out: PathBuf,
}

impl Pages {
    fn read(&self, page: &str) -> String {
        std::fs::read_to_string(self.out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"))
    }

    /// The lake's attributed files, for DuckDB.
    fn attributed(&self) -> String {
        format!("read_parquet('{}/attributed/*/*.parquet')", self.lake.path.display())
    }
}

fn written() -> Pages {
    let work = tempfile::tempdir().unwrap();
    let mappings = work.path().join("mappings");
    copy_dir(Path::new(&fixture("reports/mappings")), &mappings);
    let rules = std::fs::read_to_string(mappings.join("rules.toml")).unwrap();
    let narrowed =
        rules.replacen("accounts = [\"111\"]\n", "accounts = [\"111\"]\nservices = [\"Compute\", \"Database\"]\n", 1);
    assert_ne!(rules, narrowed, "alpha's rule is narrowed");
    std::fs::write(mappings.join("rules.toml"), narrowed).unwrap();

    let mut billing = std::fs::read_to_string(fixture("reports/billing.csv")).unwrap();
    for day in 1..=14 {
        billing.push_str(&format!(
            "payer,111,USD,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-{day:02}T00:00:00Z,2026-10-{:02}T00:00:00Z,Usage,3,3,Support,us-east-1,res-a9,{{}}\n",
            day + 1
        ));
    }
    let csv = work.path().join("billing.csv");
    std::fs::write(&csv, billing).unwrap();

    let lake = Lake::new();
    lake.ingest_ok(&[csv.to_str().unwrap()], &["--format", "focus"]);
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", mappings.to_str().unwrap()]);
    let row = |id, kind, team, title, savings, effort_centidays, status| FindingRow {
        id,
        kind,
        team,
        title,
        savings,
        expected: 0,
        effort_centidays,
        status,
    };
    write_findings(
        &lake.path,
        &[
            row("f-idle", "idle", "alpha", "<script>alert(1)</script> idle load balancer", 1200, Some(150), "open"),
            row("f-spike", "anomaly", "alpha", "Database spend 2x the expected", 350, None, "open"),
            row("f-win", "realized_savings", "beta", "smaller disks", 200, None, "verified"),
        ],
    );
    let out = work.path().join("reports");
    let run = tally_ok(&[
        "report",
        "weekly",
        "--lake",
        lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.stderr.contains("teams/index.html"), "the command says where the pages are: {}", run.stderr);
    Pages { lake, work, out }
}

/// An attribute as a browser reads it: the HTML autoescaping writes `/` as `&#x2f;`.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

/// A page's table rows, keeping `columns` (by index).
fn columns(rows: Vec<Vec<String>>, columns: &[usize]) -> Vec<Vec<String>> {
    rows.into_iter().map(|r| columns.iter().map(|c| r[*c].clone()).collect()).collect()
}

#[test]
fn every_team_and_node_has_a_page_and_every_link_lands() {
    let pages = written();
    let names = crate::support::file_names_under(&pages.out);
    for page in [
        "teams/index.html",
        "teams/alpha.html",
        "teams/beta.html",
        "teams/gamma.html",
        "orgs/acme.html",
        "orgs/eng.html",
        "orgs/ops.html",
    ] {
        assert!(names.contains(&page.to_string()), "{page} missing: {names:?}");
    }
    // Every relative link of the report and its pages opens a file that was written.
    let href = regex::Regex::new(r#"href="([^"]+)""#).unwrap();
    let mut links = 0;
    for name in names.iter().filter(|n| n.ends_with(".html")) {
        let html = unescape(&pages.read(name));
        let dir = pages.out.join(name).parent().unwrap().to_path_buf();
        for link in href.captures_iter(&html) {
            assert!(!link[1].contains("://"), "{name}: no link leaves the folder: {}", &link[1]);
            assert!(dir.join(&link[1]).is_file(), "{name}: link {} lands nowhere", &link[1]);
            links += 1;
        }
    }
    assert!(links > 20, "pages link to each other ({links} links)");
    // The weekly report's team names open the team pages; the index lists every team.
    let weekly = unescape(&pages.read("weekly.html"));
    assert!(weekly.contains(r#"<a href="teams/alpha.html">alpha</a>"#), "weekly links its teams");
    let index = unescape(&pages.read("teams/index.html"));
    let teams: Vec<String> = html_table(&index, "teams_index").into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(teams, ["alpha", "beta", "gamma"]);
    assert!(index.contains(r#"<a href="alpha.html">alpha</a>"#), "{index}");
}

#[test]
fn a_teams_page_shows_the_lakes_figures() {
    let pages = written();
    let attributed = pages.attributed();
    let alpha = pages.read("teams/alpha.html");

    // Headline: this week and month to date, as DuckDB sums them.
    let kpi = duckdb(&format!(
        "SELECT sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) > DATE '{AS_OF}' - 7),
                sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) >= DATE '2026-10-01')
         FROM {attributed} WHERE team = 'alpha'"
    ));
    assert_eq!(kpi[0], ["$1,050.00", "$1,750.00"]);
    for value in &kpi[0] {
        assert!(alpha.contains(&format!("\">{value}</div>")), "KPI {value} on alpha's page");
    }

    // 13 weeks of spend, for every team and org node (as-was), each week the 7 days ending on
    // the date shown; weeks that ended before the data began have no row.
    for (page, owner) in [
        ("teams/alpha.html", "team = 'alpha'"),
        ("teams/beta.html", "team = 'beta'"),
        ("teams/gamma.html", "team = 'gamma'"),
        ("orgs/eng.html", "list_contains(string_split(org_path, '/'), 'eng')"),
        ("orgs/ops.html", "list_contains(string_split(org_path, '/'), 'ops')"),
        ("orgs/acme.html", "list_contains(string_split(org_path, '/'), 'acme')"),
    ] {
        let expected = duckdb(&format!(
            "SELECT CAST(DATE '{AS_OF}' - CAST(7 * ((DATE '{AS_OF}' - CAST(\"ChargePeriodStart\" AS DATE)) // 7) AS INTEGER) AS VARCHAR) AS week_ending,
                    sum(\"EffectiveCost\")
             FROM {attributed}
             WHERE {owner} AND CAST(\"ChargePeriodStart\" AS DATE) > DATE '{AS_OF}' - 91
             GROUP BY 1 ORDER BY 1"
        ));
        let shown = html_table(&pages.read(page), "team_weekly_spend");
        assert_eq!(shown.len(), 7, "{page}: the 7 weeks ending 2 Sep .. 14 Oct have data");
        let nonzero: Vec<Vec<String>> = shown.into_iter().filter(|r| r[1] != "$0.00").collect();
        assert_eq!(nonzero, expected, "{page}: weekly spend");
    }

    // Budget: actual to date is DuckDB's October sum; the forecast is what `tally budget status` says.
    let budget = columns(html_table(&alpha, "team_budget"), &[1, 3, 4, 6]);
    assert_eq!(budget[0][..2], ["$3,000.00", "$1,750.00"]);
    let status = tally_ok(&[
        "budget",
        "status",
        "--lake",
        pages.lake.arg(),
        "--mappings",
        &pages_mappings(&pages),
        "--as-of",
        AS_OF,
        "--format",
        "csv",
    ]);
    let header: Vec<&str> = status.stdout.lines().next().unwrap().split(',').collect();
    let forecast_column = header.iter().position(|h| *h == "forecast").expect("a forecast column");
    let alpha_status: Vec<&str> =
        status.stdout.lines().find(|l| l.contains(",alpha,")).expect("alpha's budget").split(',').collect();
    let forecast = duckdb(&format!("SELECT CAST('{}' AS DECIMAL(38, 20))", alpha_status[forecast_column]));
    assert_eq!(budget[0][2], forecast[0][0], "the page's forecast is budget status's");
    assert_eq!(budget[0][3], alpha_status[header.iter().position(|h| *h == "status").unwrap()]);

    // Drivers: per service, account and resource, this week against the week before (DuckDB),
    // largest change first within each; only what moved.
    let week = |column: &str| {
        format!(
            "SELECT '{column}' AS dimension, \"{column}\" AS item,
                    coalesce(sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) > DATE '{AS_OF}' - 7), 0) AS this_week,
                    coalesce(sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) <= DATE '{AS_OF}' - 7), 0) AS prior_week
             FROM {attributed}
             WHERE team = 'alpha' AND CAST(\"ChargePeriodStart\" AS DATE) > DATE '{AS_OF}' - 14
             GROUP BY 2"
        )
    };
    let drivers = duckdb(&format!(
        "SELECT CASE dimension WHEN 'ServiceName' THEN 'service' WHEN 'SubAccountId' THEN 'account' ELSE 'resource' END,
                item, this_week, prior_week, this_week - prior_week
         FROM ({} UNION ALL {} UNION ALL {})
         WHERE this_week <> prior_week
         ORDER BY CASE dimension WHEN 'ServiceName' THEN 0 WHEN 'SubAccountId' THEN 1 ELSE 2 END,
                  abs(this_week - prior_week) DESC, item",
        week("ServiceName"),
        week("SubAccountId"),
        week("ResourceId")
    ));
    assert_eq!(drivers[0], ["service", "Database", "$350.00", "$0.00", "$350.00"], "only Database moved");
    let shown: Vec<Vec<String>> = html_table(&alpha, "team_drivers")
        .into_iter()
        .map(|mut r| {
            r[4] = r[4].trim_start_matches('+').to_string();
            r
        })
        .collect();
    assert_eq!(shown, drivers);

    // Unallocated spend in account 111, which alpha mostly owns.
    let unallocated = duckdb(&format!(
        "SELECT \"SubAccountId\", sum(\"EffectiveCost\"), CAST(count(DISTINCT \"ResourceId\") AS VARCHAR), CAST(count(*) AS VARCHAR)
         FROM {attributed}
         WHERE method = 'unallocated' AND \"SubAccountId\" = '111' AND CAST(\"ChargePeriodStart\" AS DATE) >= DATE '2026-10-01'
         GROUP BY 1"
    ));
    assert_eq!(unallocated, [["111", "$42.00", "1", "14"]]);
    assert_eq!(html_table(&alpha, "team_unallocated"), unallocated);

    // Open findings, largest savings first, and the recommendation KPI (anomalies are not recommendations).
    let findings = html_table(&alpha, "team_findings");
    assert_eq!(
        findings,
        [
            ["&lt;script&gt;alert(1)&lt;&#x2f;script&gt; idle load balancer", "idle", "$1,200.00", "1.50"],
            ["Database spend 2x the expected", "anomaly", "$350.00", "–"],
        ]
    );
    assert!(alpha.contains("\">$1,200.00</div><div class=\"change\">a month, from 1 recommendation(s)"));
    assert_eq!(html_table(&pages.read("teams/beta.html"), "team_wins"), [["smaller disks", "$200.00"]]);

    // Top resources this month and the rule that made each alpha's.
    let top = duckdb(&format!(
        "SELECT \"ResourceId\", sum(\"EffectiveCost\"), CAST(count(*) AS VARCHAR), rule_id
         FROM {attributed}
         WHERE team = 'alpha' AND method <> 'unallocated' AND CAST(\"ChargePeriodStart\" AS DATE) >= DATE '2026-10-01'
         GROUP BY 1, 4 ORDER BY 2 DESC LIMIT 5"
    ));
    assert_eq!(top, [["res-a1", "$1,400.00", "14", "account-alpha"], ["res-a2", "$350.00", "7", "account-alpha"]]);
    let shown = html_table(&alpha, "team_top_resources");
    assert_eq!(columns(shown.clone(), &[0, 1, 2]), columns(top, &[0, 1, 2]));
    assert_eq!(shown[0][3], "rule account-alpha (precedence 10) when accounts 111; services Compute, Database");

    // The index: every team's week and month to date, and its budget status.
    let index = html_table(&pages.read("teams/index.html"), "teams_index");
    let expected = duckdb(&format!(
        "SELECT team, sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) > DATE '{AS_OF}' - 7),
                sum(\"EffectiveCost\") FILTER (WHERE CAST(\"ChargePeriodStart\" AS DATE) >= DATE '2026-10-01')
         FROM {attributed} WHERE team <> 'unallocated' GROUP BY 1 ORDER BY 1"
    ));
    assert_eq!(columns(index.clone(), &[0, 2, 4]), expected);
    assert_eq!(index[2][7], "–", "gamma has no budget");
}

fn pages_mappings(pages: &Pages) -> String {
    pages.work.path().join("mappings").display().to_string()
}

/// In a screenshot of a chart alone (860 x 340 at the top left): the fraction of its pixels
/// that are not white, and how many are the spend line's blue (31, 119, 180) and the
/// forecast's orange (255, 127, 14).
fn ink(png_path: &Path) -> (f64, usize, usize) {
    let (width, height, channels, pixels) = crate::support::decode_png(&std::fs::read(png_path).unwrap());
    let chart: Vec<&[u8]> = (0..height.min(340))
        .flat_map(|y| (0..width.min(860)).map(move |x| (y * width + x) * channels))
        .map(|at| &pixels[at..at + 3])
        .collect();
    let near = |p: &[u8], c: [u8; 3]| (0..3).all(|i| (p[i] as i32 - c[i] as i32).abs() < 40);
    let inked = chart.iter().filter(|p| p.iter().any(|v| *v < 235)).count();
    let blue = chart.iter().filter(|p| near(p, [31, 119, 180])).count();
    let orange = chart.iter().filter(|p| near(p, [255, 127, 14])).count();
    (inked as f64 / chart.len() as f64, blue, orange)
}

#[test]
fn a_teams_page_renders_in_chromium_with_every_chart_drawn_and_names_as_text() {
    let pages = written();
    let page = pages.out.join("teams/alpha.html");
    let shots = keep_dir();
    let dom = chromium(&page, &shots.join("team-alpha.png"));
    assert!(!dom.contains("<script"), "the finding's title stayed text");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt; idle load balancer"));
    // Two charts: 13 weeks of spend (a point per week with data: 7) and the month's burn-down
    // (a point per day of October with data: 14).
    let svgs: Vec<&str> = dom.split("<svg").skip(1).map(|s| &s[..s.find("</svg>").unwrap()]).collect();
    assert_eq!(svgs.len(), 2, "trend and burn-down");
    assert_eq!(svgs[0].matches("<circle").count(), 7);
    assert_eq!(svgs[1].matches("<circle").count(), 14);
    assert!(svgs[1].contains("tolerance") && svgs[1].contains("forecast") && svgs[1].contains("budget"));
    // Each chart alone, screenshotted: drawn, not blank, with its lines in their colours.
    for (i, svg) in svgs.iter().enumerate() {
        let alone = pages.out.join(format!("chart-{i}.html"));
        std::fs::write(&alone, format!("<!DOCTYPE html><body style=\"margin:0\"><svg{svg}</svg></body>")).unwrap();
        let shot = shots.join(format!("team-alpha-chart-{i}.png"));
        chromium(&alone, &shot);
        let (share, blue, orange) = ink(&shot);
        assert!(share > 0.01, "chart {i} is drawn ({share:.4} of its pixels inked)");
        assert!(blue > 100, "chart {i}: the spend line is drawn ({blue} blue pixels)");
        if i == 1 {
            assert!(orange > 50, "the forecast is drawn ({orange} orange pixels)");
        }
    }
}
