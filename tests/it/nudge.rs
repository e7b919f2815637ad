//! `tally nudge` on a hand-built fortnight (1-14 August 2026) with four teams,
//! a findings table written by the test, and a real HTTP server on loopback
//! that receives the webhooks with scripted answers.
//!
//! Expected figures, by hand from the rows below (`python3 -c` with `decimal` agrees):
//! - alpha: Compute i-alpha 100/day on the 1st-7th, 200/day on the 8th-14th, Storage 10/day:
//!   this week 7 * 210 = 1470, the week before 7 * 110 = 770, change +700 = +90.9% (700/770).
//!   Unallocated in its account 111: i-untagged 30/day * 14 = 420 (1 resource, 14 line items).
//!   Recommendations: f-idle 12000/month for 3 dev-days = 12000 * 5 / 3 = 20000 per dev-week (worth it);
//!   f-tier 800/month for 10 dev-days = 400 per dev-week (below the bar); f-small 100 < min_savings.
//! - beta: 50/day then 90/day: 630 vs 350, +280 (+80.0%): over min_change 250 and 10%.
//! - gamma (under ops): 20/day then 21/day: 147 vs 140, +7 (+5.0%), under the thresholds (shown,
//!   not news). Budget 600: actual 287, each weekday's mean (20 + 21) / 2 = 20.5, forecast
//!   287 + 17 * 20.5 = 635.5, (635.5 - 600) / 600 = 5.9% over, tolerance 2% (612): at risk, the news.
//!   Finding f-gamma 2000/month for 0.5 dev-days = 2000 * 5 / 0.5 = 20000 per dev-week.
//!   Anomaly f-spike: 600 over the expected (min_savings 500): told under Anomalies.
//! - delta: 40/day both weeks, no budget, no findings: nothing matters, no message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{August, Charge, Reply};
use crate::{Lake, Run, tally};

const BETA_SERVICE: &str = "<!channel> @here <http://evil|click> *bold*";
const GAMMA_SERVICE: &str = "[click](http://evil) <at>all</at>";

const ORG: &str = r#"
[nodes]
acme = {}
eng = { parent = "acme" }
ops = { parent = "acme" }

[teams.alpha]
parent = "eng"

[teams.beta]
parent = "eng"

[teams.delta]
parent = "eng"

[teams.gamma]
parent = "ops"
"#;

const RULES: &str = r#"
[[rule]]
id = "team-tag"
precedence = 100
team_from_tag = "team"
"#;

const BUDGETS: &str = r#"currency = "USD"

[[budget]]
owner = "gamma"
monthly = "600"
"#;

fn chat_toml(secrets: &Path) -> String {
    format!(
        r##"# test routes: alpha its own Slack, gamma through its org node, beta by the default
report = "https://finops.example.com/reports/{{as_of}}/teams/{{team}}.html"
secrets_file = "{}"

[delivery]
timeout_seconds = 5
max_attempts = 3
backoff_ms = 50
interval_ms = 0

[default]
kind = "webhook"
url_env = "NUDGE_DEFAULT_URL"
channel = "finops-bot"

[route.alpha]
kind = "slack"
url_env = "NUDGE_ALPHA_URL"
channel = "#alpha-cost"

[route.ops]
kind = "teams"
url_secret = "ops-teams"
channel = "Ops / Cost"
"##,
        secrets.display()
    )
}

struct Setup {
    lake: Lake,
    dir: tempfile::TempDir,
}

impl Setup {
    fn mappings(&self) -> String {
        self.dir.path().join("mappings").display().to_string()
    }

    fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets.toml")
    }
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut month = August::default();
    let mut row = |account: &str, day: u32, cost: u32, service: &str, resource: &str, team: Option<&str>| {
        let tags = team.map_or("{}".to_string(), |t| format!("{{\"team\":\"{t}\"}}"));
        let cost = cost.to_string();
        let (billed, effective) = (cost.as_str(), cost.as_str());
        month.push(Charge { account, day, category: "Usage", billed, effective, service, resource, tags: &tags });
    };
    for day in 1..=14 {
        let second_week = day > 7;
        row("111", day, if second_week { 200 } else { 100 }, "Compute", "i-alpha", Some("alpha"));
        row("111", day, 10, "Storage", "vol-alpha", Some("alpha"));
        row("111", day, 30, "Compute", "i-untagged", None);
        row("222", day, if second_week { 90 } else { 50 }, BETA_SERVICE, "db-beta", Some("beta"));
        row("333", day, if second_week { 21 } else { 20 }, GAMMA_SERVICE, "gamma-1", Some("gamma"));
        row("444", day, 40, "Compute", "i-delta", Some("delta"));
    }
    let file = dir.path().join("fortnight.csv");
    month.write(&file);
    let lake = Lake::new();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    let mappings = dir.path().join("mappings");
    crate::support::write_mappings(&mappings, &[("org.toml", ORG), ("rules.toml", RULES), ("budgets.toml", BUDGETS)]);
    let setup = Setup { lake, dir };
    std::fs::write(mappings.join("chat.toml"), chat_toml(&setup.secrets())).unwrap();
    let run = tally(&["attribute", "--lake", setup.lake.arg(), "--mappings", &setup.mappings(), "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    write_findings(&setup.lake.path, 800);
    setup
}

/// A `findings` table with the documented columns (src/findings/mod.rs) that nudges read.
fn write_findings(lake: &Path, tier_savings: i128) {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Decimal128Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;

    // (id, kind, team, title, savings in dollars, effort in hundredths of a dev-day, status)
    type FindingRow<'a> = (&'a str, &'a str, &'a str, &'a str, i128, Option<i128>, &'a str);
    let rows: [FindingRow; 6] = [
        ("f-idle", "idle", "alpha", "Idle instance i-0abc <!here> @channel", 12_000, Some(300), "open"),
        (
            "f-tier",
            "storage_tiering",
            "alpha",
            "Move vol-alpha snapshots to cold storage",
            tier_savings,
            Some(1000),
            "open",
        ),
        ("f-small", "orphan", "alpha", "Unattached volume vol-9", 100, Some(50), "open"),
        ("f-win", "realized_savings", "alpha", "Logs moved to infrequent access", 1_500, None, "verified"),
        ("f-spike", "anomaly", "beta", "Database spend 2x the expected since 2026-08-08", 600, Some(0), "open"),
        ("f-gamma", "commitment", "gamma", "<at>all</at> [buy](http://evil) a savings plan", 2_000, Some(50), "open"),
    ];
    let text =
        |f: &dyn Fn(&FindingRow) -> String| Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef;
    let scale20 = 10i128.pow(20);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("finding_id", text(&|r| r.0.to_string())),
        ("kind", text(&|r| r.1.to_string())),
        ("billing_period", text(&|_| "2026-08".to_string())),
        ("team", text(&|r| r.2.to_string())),
        ("org_path", text(&|_| String::new())),
        ("title", text(&|r| r.3.to_string())),
        ("currency", text(&|_| "USD".to_string())),
        (
            "monthly_savings",
            Arc::new(
                Decimal128Array::from_iter_values(rows.iter().map(|r| r.4 * scale20))
                    .with_precision_and_scale(38, 20)
                    .unwrap(),
            ),
        ),
        (
            "effort_dev_days",
            Arc::new(Decimal128Array::from_iter(rows.iter().map(|r| r.5)).with_precision_and_scale(10, 2).unwrap()),
        ),
        ("status", text(&|r| r.6.to_string())),
    ];
    let schema =
        Schema::new(columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>());
    assert!(schema.fields().iter().all(|f| f.data_type() != &DataType::Null));
    let batch = RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let dir = lake.join("findings");
    std::fs::create_dir_all(&dir).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(dir.join("2026-08.parquet")).unwrap(), batch.schema(), None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// tally with the environment a test gives (and none of the developer's).
fn tally_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.args(args);
    for name in ["RUST_LOG", "TALLY_LAKE", "TALLY_MAPPINGS", "TALLY_CONFIG", "TALLY_CHAT_SECRETS"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("tally runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn nudge(setup: &Setup, extra: &[&str], env: &[(&str, String)]) -> Run {
    let mut args = vec!["nudge", "--lake", setup.lake.arg(), "--mappings"];
    let mappings = setup.mappings();
    args.push(&mappings);
    args.extend_from_slice(extra);
    tally_env(&args, env)
}

/// Payload files written by `--dry-run --out DIR`, by name.
fn dry_run_files(setup: &Setup, extra: &[&str]) -> Vec<(String, String)> {
    let out = setup.dir.path().join(format!("out-{}", extra.join("_").replace(['-', ' '], "")));
    let mut args = vec!["--dry-run", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = nudge(setup, &args, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Compares with tests/it/snapshots/nudge/<name>, reviewed by hand;
/// `UPDATE_SNAPSHOTS=1` rewrites them.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots/nudge").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no snapshot {}", path.display()));
    assert_eq!(actual, expected, "payload {name} differs from its snapshot");
}

#[test]
fn dry_run_prints_each_payload_exactly_and_quiet_teams_get_none() {
    let setup = setup();
    let files = dry_run_files(&setup, &[]);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    // delta has nothing that matters: no message.
    assert_eq!(names, ["01-alpha-slack.json", "02-beta-webhook.json", "03-gamma-teams.json"]);
    for (name, payload) in &files {
        assert_snapshot(name, payload);
    }
    // stdout holds the same bytes, each after a header line naming the destination (not the URL).
    let run = nudge(&setup, &["--dry-run"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: String = [
        ("alpha -> slack #alpha-cost via env:NUDGE_ALPHA_URL", &files[0].1),
        ("beta -> webhook finops-bot via env:NUDGE_DEFAULT_URL", &files[1].1),
        ("gamma -> teams Ops / Cost via secret:ops-teams", &files[2].1),
    ]
    .iter()
    .map(|(h, p)| format!("# {h}\n{p}"))
    .collect();
    assert_eq!(run.stdout, expected);
    assert!(run.stderr.contains("would send 3, 1 team(s) with nothing that matters"), "{}", run.stderr);
    // Deterministic: the same inputs give the same bytes, and a dry run records nothing.
    assert_eq!(dry_run_files(&setup, &[]), files);
    assert!(!setup.lake.path.join("outbox").exists());
}

#[test]
fn billing_values_cannot_mention_link_or_format() {
    let setup = setup();
    let files = dry_run_files(&setup, &[]);
    let slack = &files[0].1;
    assert!(slack.contains("Idle instance i-0abc &lt;!here&gt; @\u{200B}channel"), "{slack}");
    let webhook = &files[1].1;
    let teams = &files[2].1;
    for payload in [slack, teams] {
        for raw in ["<!channel>", "<!here>", "<http://evil|click>", "<at>", "](http://evil)", "@here", "@channel"] {
            assert!(!payload.contains(raw), "{raw} unescaped in\n{payload}");
        }
    }
    // (JSON text: each backslash of the markdown escape is written twice)
    assert!(teams.contains(r#"\\[click\\]\\(http://evil\\) \\<at\\>all\\</at\\>"#), "{teams}");
    // The generic webhook is data, not markup: the value arrives as the text it is.
    assert!(webhook.contains("<!channel> @here <http://evil|click> *bold*"), "{webhook}");
}

/// A scripted HTTP server on 127.0.0.1: per path prefix, the answers in order
/// (the last repeats). Records each request's path, body and arrival time.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<(String, String, Instant)>>>,
}

type Answer = (u16, &'static [(&'static str, &'static str)]);

impl Server {
    fn start(script: Vec<(&'static str, Vec<Answer>)>) -> Server {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let url = crate::support::serve(60, Duration::from_secs(120), move |request| {
            let mut seen = seen.lock().unwrap();
            let path = &request.path;
            let before = seen
                .iter()
                .filter(|r: &&(String, String, Instant)| path.starts_with(r.0.as_str()) || r.0 == *path)
                .count();
            seen.push((path.clone(), request.body.clone(), request.arrived));
            let answers = script.iter().find(|(prefix, _)| path.starts_with(prefix)).map(|(_, a)| a.clone());
            let (status, headers) = answers.map_or((404, &[][..]), |a| a[before.min(a.len() - 1)]);
            Reply {
                status,
                headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
                body: "ok".into(),
            }
        });
        Server { url, requests }
    }
    fn paths(&self) -> Vec<String> {
        self.requests.lock().unwrap().iter().map(|r| r.0.clone()).collect()
    }

    fn bodies(&self, prefix: &str) -> Vec<String> {
        self.requests.lock().unwrap().iter().filter(|r| r.0.starts_with(prefix)).map(|r| r.1.clone()).collect()
    }

    fn times(&self, prefix: &str) -> Vec<Instant> {
        self.requests.lock().unwrap().iter().filter(|r| r.0.starts_with(prefix)).map(|r| r.2).collect()
    }
}

fn outbox(setup: &Setup) -> Vec<String> {
    setup.lake.rows(
        "SELECT team, destination, status, attempts, string_agg(item_id, ' ' ORDER BY item_id) FROM outbox \
         WHERE message_id <> '' GROUP BY seq, team, destination, status, attempts ORDER BY seq, team",
    )
}

#[test]
fn send_retries_honours_retry_after_keeps_failures_and_never_resends() {
    let setup = setup();
    let dry = dry_run_files(&setup, &[]);
    let server = Server::start(vec![
        ("/flaky", vec![(500, &[]), (200, &[])]),
        ("/busy", vec![(429, &[("retry-after", "1")]), (200, &[])]),
        ("/down", vec![(503, &[])]),
        ("/ok", vec![(200, &[])]),
    ]);
    std::fs::write(setup.secrets(), format!("ops-teams = \"{}/busy/SECRET-OPS-7731\"\n", server.url)).unwrap();
    let env = |default: &str| {
        vec![
            ("NUDGE_ALPHA_URL", format!("{}/flaky/SECRET-ALPHA-4412", server.url)),
            ("NUDGE_DEFAULT_URL", format!("{}/{default}/SECRET-DEFAULT-9090", server.url)),
        ]
    };

    // First run: alpha after a 500, gamma after a 429 and its Retry-After, beta never (503 three times).
    let run = nudge(&setup, &["--send", "-vv"], &env("down"));
    assert_eq!(run.code, 7, "{}\n{}", run.stdout, run.stderr);
    for secret in ["SECRET-ALPHA-4412", "SECRET-OPS-7731", "SECRET-DEFAULT-9090", &server.url] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{secret} printed:\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains("not delivered to default (webhook, env:NUDGE_DEFAULT_URL) for beta: HTTP 503"),
        "{}",
        run.stderr
    );
    assert_eq!(server.bodies("/flaky"), vec![dry[0].1.clone(), dry[0].1.clone()]);
    assert_eq!(server.bodies("/busy"), vec![dry[2].1.clone(), dry[2].1.clone()]);
    assert_eq!(server.bodies("/down"), vec![dry[1].1.clone(); 3]);
    let busy = server.times("/busy");
    assert!(busy[1] - busy[0] >= Duration::from_secs(1), "Retry-After: 1 not honoured");
    assert_eq!(
        outbox(&setup),
        vec![
            "alpha,alpha,pending,0,finding:f-idle finding:f-tier finding:f-win unallocated:alpha:111:2026-08 week:alpha:USD",
            "beta,default,pending,0,finding:f-spike week:beta:USD",
            "gamma,ops,pending,0,budget:gamma:2026-08 finding:f-gamma",
            "alpha,alpha,sent,2,finding:f-idle finding:f-tier finding:f-win unallocated:alpha:111:2026-08 week:alpha:USD",
            "beta,default,failed,3,finding:f-spike week:beta:USD",
            "gamma,ops,sent,2,budget:gamma:2026-08 finding:f-gamma",
        ]
    );

    // Second run, endpoint still down: only beta's message is tried again.
    let run = nudge(&setup, &["--send"], &env("down"));
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert_eq!(server.bodies("/down").len(), 6);
    assert_eq!(server.bodies("/flaky").len() + server.bodies("/busy").len(), 4);

    // Third run, the endpoint is back: the owed message arrives as it was first made.
    let run = nudge(&setup, &["--send"], &env("ok"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.bodies("/ok"), vec![dry[1].1.clone()]);

    // Fourth run, same day: nothing new to send, nothing sent.
    let before = server.paths().len();
    let run = nudge(&setup, &["--send"], &env("ok"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nudges as of 2026-08-14: sent 0"), "{}", run.stderr);
    assert_eq!(server.paths().len(), before);
}

#[test]
fn acknowledged_and_snoozed_findings_stay_quiet_until_they_change_or_wake() {
    let setup = setup();
    let alpha = |extra: &[&str]| dry_run_files(&setup, extra).into_iter().find(|(n, _)| n.contains("alpha")).unwrap().1;
    assert!(alpha(&[]).contains("Move vol-alpha snapshots"));
    let run = tally(&["nudge", "ack", "f-tier", "--lake", setup.lake.arg(), "-m", "planned for Q4"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("acknowledged f-tier (monthly savings $800.00)"), "{}", run.stdout);
    let run = tally(&["nudge", "snooze", "f-idle", "--until", "2026-08-20", "--lake", setup.lake.arg()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let now = alpha(&[]);
    assert!(!now.contains("Move vol-alpha snapshots") && !now.contains("Idle instance"), "{now}");
    // The snooze is over on the 20th; the acknowledgement holds while the finding is unchanged.
    let later = alpha(&["--as-of", "2026-08-20"]);
    assert!(later.contains("Idle instance") && !later.contains("Move vol-alpha snapshots"), "{later}");
    // A material change (800 -> 2000 a month: more than 20% and min_savings 500) is news again.
    write_findings(&setup.lake.path, 2_000);
    assert!(alpha(&[]).contains("Move vol-alpha snapshots to cold storage: saves $2,000.00/month"));
    // The acknowledgement is in the outbox for anyone to see.
    assert_eq!(
        setup
            .lake
            .rows("SELECT item_id, status, item_state, last_error FROM outbox WHERE message_id = '' ORDER BY seq"),
        vec!["finding:f-tier,acked,,planned for Q4", "finding:f-idle,snoozed,2026-08-20,"]
    );
}

#[test]
fn chat_toml_errors_name_file_and_line_and_never_echo_a_url() {
    let setup = setup();
    let chat = Path::new(&setup.mappings()).join("chat.toml");
    let cases = [
        (
            "[route.nobody]\nkind = \"slack\"\nurl_env = \"X\"\n",
            ":1: route `nobody`: no such team or org node in org.toml",
        ),
        ("\n[default]\nkind = \"slack\"\nurl = \"https://hooks.example/T0/SECRET\"\n", ":4: unknown field `url`"),
        (
            "[default]\nkind = \"slack\"\nurl_env = \"https://hooks.example/T0/SECRET\"\n",
            "chat.toml:1: route `default`: url_env/url_secret is a name",
        ),
        ("[default]\nkind = \"irc\"\nurl_env = \"X\"\n", ":2: unknown variant `irc`"),
    ];
    for (text, expected) in cases {
        std::fs::write(&chat, text).unwrap();
        let run = nudge(&setup, &["--dry-run"], &[]);
        assert_eq!(run.code, 1, "{text}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{text}: {}", run.stderr);
        assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    }
    // A team with something to say and no route is named, not dropped in silence.
    std::fs::write(&chat, "[route.alpha]\nkind = \"slack\"\nurl_env = \"X\"\n").unwrap();
    let run = nudge(&setup, &["--dry-run"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("no route in chat.toml for: beta, gamma"), "{}", run.stderr);
    // A secret that cannot be found fails the send (exit 7), naming the variable, and is kept.
    let run = nudge(&setup, &["--send"], &[]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(run.stderr.contains("environment variable X is not set"), "{}", run.stderr);
    assert_eq!(setup.lake.rows("SELECT DISTINCT status FROM outbox WHERE seq = 2"), vec!["failed"]);
}

#[test]
fn the_demo_chat_toml_routes_the_demo_company() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = tally(&["demo", "--out", out.to_str().unwrap(), "--rows", "20000", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mappings = dir.path().join("mappings");
    crate::copy_dir(std::path::Path::new(&crate::fixture("demo-mappings")), &mappings);
    let lake = out.join("lake");
    let run =
        tally(&["nudge", "--dry-run", "--lake", lake.to_str().unwrap(), "--mappings", mappings.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nudges as of "), "{}", run.stderr);
    assert!(!run.stderr.contains("no route"), "{}", run.stderr);
    // payments-api is billed in EUR (the payments family) and reported in USD: its week says
    // what was billed in euros, at which rate, and what that is in dollars. DuckDB's sums over
    // the lake's rows, rounded to the cent half away from zero:
    let week = crate::support::duckdb(&format!(
        r#"SELECT printf('%.2f', round(sum("EffectiveCost"), 2)), printf('%.2f', round(sum("x_ReportingEffectiveCost"), 2)),
                  CAST(min("x_ExchangeRate") AS DOUBLE)
           FROM read_parquet('{}/attributed/*/*.parquet')
           WHERE team = 'payments-api' AND "BillingCurrency" = 'EUR'
             AND CAST("ChargePeriodStart" AS DATE) BETWEEN DATE '2026-10-25' AND DATE '2026-10-31'"#,
        lake.display()
    ));
    let euros: f64 = week[0][0].parse().unwrap();
    let line = format!(
        "of which billed in EUR: €{} at {} USD per EUR = ${}",
        thousands(&week[0][0]),
        week[0][2],
        thousands(&week[0][1])
    );
    assert!(euros > 100.0, "{week:?}");
    assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
}

/// `1234.50` -> `1,234.50`.
fn thousands(amount: &str) -> String {
    let (units, cents) = amount.split_once('.').unwrap();
    let digits: Vec<char> = units.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    format!("{out}.{cents}")
}
