//! `tally report`: exact tables on a hand-built dataset and on the demo company
//! (golden files in tests/it/snapshots, reviewed by hand), the HTML opened in
//! headless Chromium, escaping of billing values, byte-identical re-runs.
//!
//! The hand-built dataset (fixtures/reports/make_dataset.py), 1 Sep - 14 Oct 2026,
//! as of 14 Oct: this week = 8-14 Oct, prior week = 1-7 Oct, month to date = 1-14 Oct,
//! the same days last month = 1-14 Sep.
//!
//! ```text
//! alpha  (account 111): 100/day; +50/day from 8 Oct (res-a2, Database, eu-west-1)
//!        week 1050, prior 700 (+350, +50.0%), MTD 1750, prior MTD 1400 (+25.0%)
//! beta   (account 222): 40/day in Sep, 30/day in Oct
//!        week 210, prior 210, MTD 420, prior MTD 560 (-25.0%)
//! gamma  (tag team=gamma): 20/day; eng until 30 Sep, ops from 1 Oct
//!        week 140, prior 140, MTD 280, prior MTD 280
//! unallocated (tag team=<img src=x onerror=alert(1)>): 5/day: 35, 35, 70, 70
//! total  week 1435, prior 1085 (+350, 350/1085 = +32.3%), MTD 2520, prior MTD 2310 (210/2310 = +9.1%)
//! Pareto of allocated spend this week (1400): alpha 1050 = 75.0%, + beta 210 -> 90.0%: 2 teams
//! orders (company): 1000/day, 1200/day from 8 Oct. Oct 1-14: 15400 -> 2520/15400 = 0.163636.. per order
//! requests (alpha): 500/day Sep, 1000/day Oct. Alpha Sep 1-14: 1400/7000 = 0.2; Oct 1-14: 1750/14000 = 0.125 (-37.5%)
//! ```
//! Cross-checked with DuckDB over billing.csv:
//! `SELECT sum(EffectiveCost) FROM 'billing.csv' WHERE ChargePeriodStart >= '2026-10-08'` = 1435.

use std::path::{Path, PathBuf};

use crate::{Lake, fixture, tally, tally_ok};

/// A lake with the hand-built dataset, ingested and attributed, and its mappings folder.
pub(crate) fn hand_built() -> (Lake, String) {
    let lake = Lake::new();
    lake.ingest_ok(&[&fixture("reports/billing.csv")], &["--format", "focus"]);
    let mappings = fixture("reports/mappings");
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", &mappings]);
    (lake, mappings)
}

pub(crate) fn report(kind: &str, lake: &Lake, mappings: &str, out: &Path, extra: &[&str]) -> crate::Run {
    let mut args = vec!["report", kind, "--lake", lake.arg(), "--mappings", mappings, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    tally_ok(&args)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// Every file in a folder with its bytes, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    crate::support::files_under(dir, dir)
}

fn metrics() -> String {
    fixture("metrics/report-metrics.csv")
}

#[test]
fn weekly_on_the_hand_built_dataset() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weekly");
    let run = report("weekly", &lake, &mappings, &out, &[]);
    assert!(run.stderr.contains("weekly.html"), "{}", run.stderr);
    assert!(run.stdout.contains("Weekly ops review: week ending 2026-10-14"), "{}", run.stdout);

    // By team, exact (amounts at 20 places are written minimal in CSV).
    assert_eq!(
        read(&out, "weekly_by_team.csv"),
        "currency,team,org,this_week,prior_week,week_change,week_change_pct,month_to_date,prior_month_to_date,month_change_pct\n\
         USD,alpha,eng,1050,700,350,50,1750,1400,25\n\
         USD,beta,eng,210,210,0,0,420,560,-25\n\
         USD,gamma,ops,140,140,0,0,280,280,0\n\
         USD,unallocated,unallocated,35,35,0,0,70,70,0\n"
    );
    // As-was: gamma's September days stay with eng.
    assert_eq!(
        read(&out, "weekly_by_org.csv"),
        "currency,org,this_week,prior_week,week_change,week_change_pct,month_to_date,prior_month_to_date,month_change_pct\n\
         USD,eng,1260,910,350,38.5,2170,2240,-3.1\n\
         USD,ops,140,140,0,0,280,0,\n\
         USD,unallocated,35,35,0,0,70,70,0\n"
    );
    assert_eq!(
        read(&out, "weekly_pareto.csv"),
        "currency,rank,team,this_week,share_pct,cumulative_pct\nUSD,1,alpha,1050,75,75\nUSD,2,beta,210,15,90\n"
    );
    let movers = read(&out, "weekly_top_movers.csv");
    assert!(
        movers.contains(
            "USD,alpha,1050,700,350,50,Database (+$350.00),111 (+$350.00),eu-west-1 (+$350.00),res-a2 (+$350.00)"
        ),
        "{movers}"
    );

    let markdown = read(&out, "weekly.md");
    assert!(markdown.contains("- **Spend this week:** $1,435.00, +32.3% (+$350.00) vs prior week"), "{markdown}");
    assert!(markdown.contains("- **Month to date:** $2,520.00, +9.1% vs same days last month"), "{markdown}");
    assert!(markdown.contains("_Data through 2026-10-14"), "{markdown}");
    // The tag value is text in Markdown too, not HTML.
    assert!(markdown.contains("&lt;img src=x onerror=alert(1)&gt;"), "{markdown}");
    assert!(!markdown.contains("<img"), "{markdown}");

    for table in
        ["weekly_by_team", "weekly_by_org", "weekly_coverage", "weekly_unallocated_reasons", "weekly_budget_status"]
    {
        insta::assert_snapshot!(format!("hand_built_{table}"), read(&out, &format!("{table}.csv")));
        assert!(out.join(format!("{table}.parquet")).exists());
    }
    // The ingest time is when this test ingested: the only line that differs between runs.
    let (head, rest) = markdown.split_once("Last ingest ").unwrap();
    let (_, tail) = rest.split_once(" UTC.").unwrap();
    insta::assert_snapshot!(
        "hand_built_weekly_md",
        format!("{head}Last ingest <time of the test's ingest> UTC.{tail}")
    );
}

#[test]
fn weekly_rolls_up_as_is_when_asked() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    report("weekly", &lake, &mappings, dir.path(), &["--rollup", "as-is"]);
    assert_eq!(
        read(dir.path(), "weekly_by_org.csv"),
        "currency,org,this_week,prior_week,week_change,week_change_pct,month_to_date,prior_month_to_date,month_change_pct\n\
         USD,eng,1260,910,350,38.5,2170,1960,10.7\n\
         USD,ops,140,140,0,0,280,280,0\n\
         USD,unallocated,35,35,0,0,70,70,0\n"
    );
}

#[test]
fn reports_are_byte_identical_on_rerun() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    for kind in ["weekly", "leaderboard", "unit-economics", "quarterly"] {
        let (a, b) = (dir.path().join(format!("{kind}-a")), dir.path().join(format!("{kind}-b")));
        report(kind, &lake, &mappings, &a, &["--metrics", &metrics()]);
        report(kind, &lake, &mappings, &b, &["--metrics", &metrics()]);
        let (fa, fb) = (files(&a), files(&b));
        assert!(fa.len() > 2, "{kind}: {:?}", fa.iter().map(|f| &f.0).collect::<Vec<_>>());
        assert!(fa == fb, "{kind}: files differ between runs");
    }
}

/// A findings table with two verified savings for beta and one not realized for alpha.
fn write_findings(lake: &Lake) {
    use crate::support::FindingRow;
    let row = |id, team, title, savings, expected, status| FindingRow {
        id,
        kind: "realized_savings",
        team,
        title,
        savings,
        expected,
        effort_centidays: None,
        status,
    };
    crate::support::write_findings(
        &lake.path,
        &[
            row("f1", "beta", "smaller disks", 200, 250, "verified"),
            row("f2", "beta", "lifecycle rule", 100, 100, "verified"),
            row("f3", "alpha", "<b>rightsizing</b>", 50, 400, "not_realized"),
        ],
    );
}

#[test]
fn leaderboard_without_and_with_findings() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before");
    report("leaderboard", &lake, &mappings, &before, &["--metrics", &metrics()]);
    let html = read(&before, "leaderboard.html");
    assert!(html.contains("The lake has no findings table yet"), "the report says so instead of failing");

    write_findings(&lake);
    let out = dir.path().join("after");
    report("leaderboard", &lake, &mappings, &out, &["--metrics", &metrics()]);
    assert_eq!(
        read(&out, "leaderboard_verified_savings.csv"),
        "currency,rank,team,monthly_savings,initiatives\nUSD,1,beta,300,2\n"
    );
    // beta cut 25%, alpha's cost per request fell 37.5%; gamma was fully tagged last month too: no badge.
    assert_eq!(
        read(&out, "leaderboard_badges.csv"),
        "team,badge\n\
         beta,cut spend 25.0% month over month\n\
         alpha,unit cost per requests down 37.5%\n\
         beta,verified savings of $300.00 a month\n"
    );
    assert_eq!(
        read(&out, "leaderboard_unit_cost.csv"),
        "currency,rank,team,metric,cost_per_unit,prior_cost_per_unit,change_pct\nUSD,1,alpha,requests,0.125,0.2,-37.5\n"
    );
    let html = read(&out, "leaderboard.html");
    assert!(html.contains(r#"<span class="badge"><b>beta</b>cut spend 25.0% month over month</span>"#), "{html}");
    for table in ["leaderboard_biggest_spenders", "leaderboard_fastest_growers", "leaderboard_tag_coverage"] {
        insta::assert_snapshot!(format!("hand_built_{table}"), read(&out, &format!("{table}.csv")));
    }
}

#[test]
fn unit_economics_per_week_month_and_quarter() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    let none = tally(&["report", "unit-economics", "--lake", lake.arg(), "--mappings", &mappings]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("--metrics"), "{}", none.stderr);

    report("unit-economics", &lake, &mappings, dir.path(), &["--metrics", &metrics()]);
    let monthly = read(dir.path(), "unit_economics_monthly.csv");
    // Company: all spend (unallocated included) per order. September: 30 days of 165 = 4950 over 30,000 orders.
    assert!(monthly.contains("USD,company,orders,2026-09,2026-09-01,2026-09-30,4950,30000,0.165,1650,\n"), "{monthly}");
    // October 1-14: 2520 over 15,400 orders = 0.1636363636 (10 places), -0.8% on September.
    assert!(
        monthly.contains(
            "USD,company,orders,2026-10,2026-10-01,2026-10-14,2520,15400,0.1636363636,1636.3636363636,-0.8\n"
        ),
        "{monthly}"
    );
    // alpha's own metric: its spend per request.
    assert!(
        monthly.contains("USD,alpha,requests,2026-10,2026-10-01,2026-10-14,1750,14000,0.125,1250,-37.5\n"),
        "{monthly}"
    );
    for table in ["unit_economics_weekly", "unit_economics_monthly", "unit_economics_quarterly"] {
        insta::assert_snapshot!(format!("hand_built_{table}"), read(dir.path(), &format!("{table}.csv")));
    }
}

#[test]
fn quarterly_trends() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    report("quarterly", &lake, &mappings, dir.path(), &["--metrics", &metrics()]);
    let by_org = read(dir.path(), "quarterly_by_org.csv");
    // Q3 (September only): eng 30*(100+40+20) = 4800; Q4 to 14 Oct: eng 1750 + 420 = 2170, ops 280.
    assert!(by_org.contains("USD,eng,2026-Q3,2026-09-01,2026-09-30,4800,97,\n"), "{by_org}");
    // Both quarters are partial: no change is computed between them.
    assert!(by_org.contains("USD,eng,2026-Q4,2026-10-01,2026-10-14,2170,86.1,\n"), "{by_org}");
    for table in
        ["quarterly_by_org", "quarterly_monthly_by_org", "quarterly_unit_cost", "quarterly_commitment_coverage"]
    {
        insta::assert_snapshot!(format!("hand_built_{table}"), read(dir.path(), &format!("{table}.csv")));
    }
}

/// Runs headless Chromium on a file: a screenshot, and the DOM after parsing.
pub(crate) fn chromium(html: &Path, screenshot: &Path) -> String {
    let url = format!("file://{}", html.display());
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,4200"];
    let shot = std::process::Command::new("chromium")
        .args(common)
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs (Debian package `chromium`; .ci/run installs it)");
    assert!(shot.status.success(), "chromium screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(screenshot).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot");
    let dom = std::process::Command::new("chromium").args(common).arg("--dump-dom").arg(&url).output().unwrap();
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    String::from_utf8(dom.stdout).unwrap()
}

#[test]
fn weekly_html_renders_in_chromium_with_charts_totals_and_escaped_tags() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    report("weekly", &lake, &mappings, dir.path(), &[]);
    let shot = keep_dir().join("weekly-hand-built.png");
    let dom = chromium(&dir.path().join("weekly.html"), &shot);

    // Charts rendered: inline SVG, the daily line with a point per day of data in the last 5 weeks (35 days).
    assert!(dom.matches("<svg").count() >= 2, "no charts in the DOM");
    assert_eq!(dom.matches("<circle").count(), 35, "a data point per day");
    assert!(dom.contains("<rect"), "bar chart");
    // Totals shown equal the data (1435 this week; 2520 month to date: see the module comment).
    assert!(dom.contains(r#"<div class="value" data-exact="1435">$1,435.00</div>"#), "week total");
    assert!(dom.contains(r#"<div class="value" data-exact="2520">$2,520.00</div>"#), "month to date");
    assert!(dom.contains("Data through 2026-10-14"));
    // XSS: the tag value is text, never an element.
    assert!(dom.contains("unknown team tag value `&lt;img src=x onerror=alert(1)&gt;`"), "tag value shown as text");
    assert!(!dom.contains("<img"), "the tag value became an element");
    assert!(!dom.contains("<script"), "no scripts at all");
    // No network: nothing loaded from elsewhere.
    let html = read(dir.path(), "weekly.html").replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
    for external in ["http://", "https://", "src=\"", "<link", "url("] {
        assert!(!html.contains(external), "external reference {external}");
    }
    // The only links are to the team and org pages written beside it (tests/it/team_pages.rs).
    let links = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    let page = regex::Regex::new(r"^(teams|orgs)&#x2f;[a-z]+\.html$").unwrap();
    let hrefs: Vec<&str> = links.captures_iter(&html).map(|c| c.get(1).unwrap().as_str()).collect();
    assert_eq!(hrefs.len(), 5, "three teams and two orgs link to their pages: {hrefs:?}");
    assert!(hrefs.iter().all(|h| page.is_match(h)), "{hrefs:?}");
}

/// Where screenshots are kept for people to look at (target dir, not a temp dir).
pub(crate) fn keep_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_metrics_file_names_row_and_field() {
    let (lake, mappings) = hand_built();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("m.csv");
    std::fs::write(&bad, "date,metric,value\n2026-10-01,orders,12\n2026-10-02,orders,many\n").unwrap();
    let run = tally(&[
        "report",
        "unit-economics",
        "--lake",
        lake.arg(),
        "--mappings",
        &mappings,
        "--metrics",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("{}:3: field value", bad.display())), "{}", run.stderr);
}

/// The demo company (default seed and size), as `tally demo` writes it: the weekly report
/// and where to open it, and its tables exactly (golden files, reviewed by hand).
///
/// Independent figures, DuckDB over the demo lake's attributed Parquet files:
/// ```sql
/// -- in the reporting currency (USD): the payments family is billed in EUR
/// SELECT sum(CASE WHEN CAST(ChargePeriodStart AS DATE) BETWEEN DATE '2026-10-25' AND DATE '2026-10-31'
///                 THEN x_ReportingEffectiveCost ELSE 0 END),   -- 17251.36606171406749999993
///        ... '2026-10-01' AND '2026-10-31' ...                 -- 89446.37140675858655999972
/// FROM read_parquet('lake/attributed/**/*.parquet')
/// -- data-platform this week 2922.29352272804992087287, the largest team
/// ```
#[test]
fn demo_writes_the_weekly_report_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = tally_ok(&["demo", "--out", out.to_str().unwrap()]);
    let reports = out.join("reports");
    let html = reports.join("weekly.html");
    assert!(run.stdout.contains(&format!("open {} in a browser", html.display())), "{}", run.stdout);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("Weekly ops review: week ending 2026-10-31"), "the demo's last day");
    assert!(text.contains(r#"data-exact="17251.36606171406749999993">$17,251.37<"#), "week total equals the data");
    assert!(text.contains(r#"data-exact="89446.37140675858655999972">$89,446.37<"#), "month to date equals the data");
    let by_team = read(&reports, "weekly_by_team.csv");
    assert!(
        by_team.lines().nth(1).unwrap().starts_with("USD,data-platform,data,2922.29352272804992087287,"),
        "{by_team}"
    );
    // Golden files, reviewed by hand. The demo's spend is heavy-tailed (src/demo/generate/company/
    // tables.rs: team weights): 7 of 24 teams carry 80% of the week's allocated spend.
    for table in [
        "weekly_by_org",
        "weekly_by_team",
        "weekly_top_movers",
        "weekly_pareto",
        "weekly_coverage",
        "weekly_unallocated_reasons",
        "weekly_budget_status",
        "weekly_billing_currencies",
    ] {
        insta::assert_snapshot!(format!("demo_{table}"), read(&reports, &format!("{table}.csv")));
    }
    // The Pareto of a real company: a few teams carry most of the spend.
    assert_eq!(read(&reports, "weekly_pareto.csv").lines().count(), 1 + 7, "7 of 24 teams carry 80%");
    // Budgets as a newcomer should meet them: at month end six on track, fraud over with its
    // approval, platform over without one; in mid-October only platform is at risk.
    let (lake, mappings) = (out.join("lake"), out.join("mappings"));
    let statuses = |as_of: &str| -> Vec<String> {
        let run = tally_ok(&[
            "budget",
            "status",
            "--lake",
            lake.to_str().unwrap(),
            "--mappings",
            mappings.to_str().unwrap(),
            "--as-of",
            as_of,
            "--format",
            "csv",
        ]);
        let header: Vec<&str> = run.stdout.lines().next().unwrap().split(',').collect();
        let (owner, status) =
            (header.iter().position(|h| *h == "owner").unwrap(), header.iter().position(|h| *h == "status").unwrap());
        run.stdout
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!("{} {}", f[owner], f[status])
            })
            .filter(|s| !s.ends_with("on track"))
            .collect()
    };
    assert_eq!(statuses("2026-10-31"), ["fraud approved", "platform over tolerance"]);
    assert_eq!(statuses("2026-10-15"), ["platform at risk"]);
    let shot = keep_dir().join("weekly-demo.png");
    let dom = chromium(&html, &shot);
    assert_eq!(dom.matches("<circle").count(), 35, "a point per day of the last five weeks");
}
