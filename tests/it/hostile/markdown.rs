//! Billing data and mappings that try to be Markdown. A service name, resource id,
//! tag value, team id, pool id or metric name is text in every Markdown output
//! (the reports' `.md` files, `tally diff --format markdown` for pull requests):
//! it must not become a link, an image, emphasis, a strikethrough, a heading,
//! HTML, or break a table (see `output::markdown_escape`).
//!
//! A fortnight, 1-14 August 2026, as of the 14th:
//! - `_ops_` (tag team=_ops_): service SERVICE, resource RESOURCE, 10/day on the 1st-7th and
//!   50/day on the 8th-14th: this week 350, the week before 70, +280 (+400.0%), the top mover;
//! - alpha (tag team=alpha): Compute, 100/day;
//! - tag team=TAG (no such team): 5/day, unallocated with the reason naming the value.
//!
//! The new mappings of the diff send SERVICE to pool POOL, split to alpha: 14 line items,
//! 420.00 move from `_ops_` to `pool:POOL`.

use std::path::Path;

use crate::{Lake, tally, tally_ok};

use crate::support::FOCUS_HEADER as HEADER;

const SERVICE: &str = "[l](http://evil.example) *b* ~~s~~";
const RESOURCE: &str = "![x](http://evil.example/x.png)|<img src=x onerror=alert(1)>";
const TAG: &str = "`tick` # www.evil.example _x_";
const POOL: &str = "[p](http://evil.example)";
const METRIC: &str = "[orders](http://evil.example)";

const ORG: &str = "[nodes]\nacme = {}\n\n[teams.alpha]\nparent = \"acme\"\n\n[teams._ops_]\nparent = \"acme\"\n";

const RULES: &str = "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n";

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The lake (ingested and attributed with the old mappings) and the folder holding
/// `old/`, `new/` and `metrics.csv`.
fn setup() -> (Lake, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = format!("{HEADER}\n");
    let mut metrics = "date,metric,value\n".to_string();
    for day in 1..=14 {
        let period = "payer,{account},USD,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z";
        let charge = format!("2026-08-{day:02}T00:00:00Z,2026-08-{:02}T00:00:00Z,Usage", day + 1);
        let ops = if day > 7 { 50 } else { 10 };
        for (account, cost, service, resource, team) in [
            ("111", 100, "Compute", "i-alpha", "alpha"),
            ("222", ops, SERVICE, RESOURCE, "_ops_"),
            ("333", 5, "Storage", "vol-1", TAG),
        ] {
            let tags = serde_json::json!({ "team": team }).to_string();
            csv.push_str(&format!(
                "{},{charge},{cost},{cost},{},{},{}\n",
                period.replace("{account}", account),
                csv_field(service),
                csv_field(resource),
                csv_field(&tags)
            ));
        }
        metrics.push_str(&format!("2026-08-{day:02},{},100\n", csv_field(METRIC)));
    }
    let file = dir.path().join("fortnight.csv");
    std::fs::write(&file, csv).unwrap();
    std::fs::write(dir.path().join("metrics.csv"), metrics).unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    let pooled = format!(
        "[[rule]]\nid = \"hostile-service\"\nprecedence = 10\nservices = [{SERVICE:?}]\npool = {POOL:?}\n\n{RULES}"
    );
    let pools = format!("[[pool]]\nid = {POOL:?}\nsplit = \"even\"\nto = [\"alpha\"]\n");
    for (name, rules, pools) in [("old", RULES, None), ("new", pooled.as_str(), Some(pools.as_str()))] {
        let mappings = dir.path().join(name);
        std::fs::create_dir_all(&mappings).unwrap();
        std::fs::write(mappings.join("org.toml"), ORG).unwrap();
        std::fs::write(mappings.join("rules.toml"), rules).unwrap();
        if let Some(pools) = pools {
            std::fs::write(mappings.join("pools.toml"), pools).unwrap();
        }
    }
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", dir.path().join("old").to_str().unwrap(), "-q"]);
    (lake, dir)
}

/// What no Markdown output may hold: a live link, image or autolink, HTML, or emphasis
/// and strikethrough markers that are not escaped.
fn assert_inert(name: &str, markdown: &str) {
    for raw in ["http://", "<img", "<http"] {
        assert!(!markdown.contains(raw), "{raw} left in {name}:\n{markdown}");
    }
    for (at, _) in markdown.match_indices("](") {
        assert!(markdown[..at].ends_with('\\'), "unescaped ]( at {at} in {name}:\n{markdown}");
    }
    for marker in ["*b*", "~~s~~", "`tick`", " _x_"] {
        assert!(!markdown.contains(marker), "{marker} unescaped in {name}:\n{markdown}");
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn report_markdown_shows_billing_values_as_text() {
    let (lake, dir) = setup();
    let mappings = dir.path().join("old").display().to_string();
    let metrics = dir.path().join("metrics.csv").display().to_string();
    let out = dir.path().join("reports");
    let out_arg = out.display().to_string();
    for (kind, extra) in [
        ("weekly", vec![]),
        ("leaderboard", vec![]),
        ("quarterly", vec![]),
        ("unit-economics", vec!["--metrics", metrics.as_str()]),
    ] {
        let mut args = vec!["report", kind, "--lake", lake.arg(), "--mappings", &mappings, "--out", &out_arg];
        args.extend(extra);
        tally_ok(&args);
        let name = format!("{kind}.md");
        assert_inert(&name, &read(&out, &name));
    }

    let weekly = read(&out, "weekly.md");
    let service = r"\[l\](http\://evil.example) \*b\* \~\~s\~\~";
    let resource = r"!\[x\](http\://evil.example/x.png)\|&lt;img src=x onerror=alert(1)&gt;";
    // The top mover, in words (a bullet that starts with the team id) and in its table.
    let bullet = format!(
        "- \\_ops\\_ spent $350.00 this week, up $280.00 (+400.0%) on the week before. Most of the change: \
         service {service} (+$280.00), account 222 (+$280.00), region (none) (+$280.00), resource {resource} (+$280.00).\n"
    );
    assert!(weekly.contains(&bullet), "{bullet}\nnot in:\n{weekly}");
    assert!(
        weekly.contains(&format!(
            "| \\_ops\\_ | $350.00 | $70.00 | +$280.00 | +400.0% | {service} (+$280.00) | 222 (+$280.00) | (none) (+$280.00) | {resource} (+$280.00) | – |\n"
        )),
        "{weekly}"
    );
    // The unallocated reason quotes the tag value: backticks, # and www. are text too.
    let reason = r"unknown team tag value \`\`tick\` # www\.evil.example \_x\_\`";
    assert!(weekly.contains(&format!("| {reason} | $35.00 | $35.00 | 14 |\n")), "{weekly}");
    // Tally's own words and amounts are unchanged.
    assert!(weekly.contains("- **Spend this week:** $1,085.00"), "{weekly}");
    assert!(read(&out, "unit-economics.md").contains(r"\[orders\](http\://evil.example)"));
}

#[test]
fn diff_markdown_for_a_pull_request_shows_ids_as_text() {
    let (lake, dir) = setup();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let run = tally(&[
        "diff",
        "--lake",
        lake.arg(),
        "--mappings",
        old.to_str().unwrap(),
        "--mappings",
        new.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_inert("tally diff", &run.stdout);
    assert!(
        run.stdout.contains(": 14 of 42 line item(s) change owner; EffectiveCost moved between owners: $420.00\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| 2026-08 | USD | \\_ops\\_ | pool:\\[p\\](http\\://evil.example) | 14 | 420.00 | 420.00 |\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("| 2026-08 | USD | \\_ops\\_ | 420.00 | 0.00 | -420.00 | -420.00 |\n"),
        "{}",
        run.stdout
    );
}
