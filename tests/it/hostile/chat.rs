//! A chat endpoint that echoes the request back. Many servers do: "Cannot POST
//! /services/T000/B000/XXXX", or a JSON error quoting the URL or its token. The
//! webhook URL is a credential, so `tally nudge --send` must not print it (with or
//! without `-v`) nor keep it in the outbox's `last_error`, while still saying what
//! happened (the status, the server's words).
//!
//! Three teams, each 50/day in the week of 1-7 August 2026 and 90/day in 8-14 August:
//! +280 (+80.0%), over the default thresholds (250 and 10%), so each has a message.
//! alpha's webhook answers 404, beta's 500 (retried: 2 attempts), gamma's port is closed.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use crate::{Lake, Run, tally};

use crate::support::FOCUS_HEADER as HEADER;
use crate::support::Reply;

/// Each route's token: what must never be seen again.
const TOKENS: [&str; 3] = ["AlphaTOKENq7vXz2", "BetaTOKENw9kLm4p", "GammaTOKENr3nBv8"];

const ORG: &str = "[nodes]\nacme = {}\n\n[teams.alpha]\nparent = \"acme\"\n\n[teams.beta]\nparent = \"acme\"\n\n[teams.gamma]\nparent = \"acme\"\n";

const RULES: &str = "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n";

const CHAT: &str = r#"[delivery]
timeout_seconds = 5
max_attempts = 2
backoff_ms = 10
interval_ms = 0

[route.alpha]
kind = "webhook"
url_env = "HOSTILE_ALPHA_URL"

[route.beta]
kind = "webhook"
url_env = "HOSTILE_BETA_URL"

[route.gamma]
kind = "webhook"
url_env = "HOSTILE_GAMMA_URL"
"#;

/// A loopback server answering `/alpha/...` with 404 and everything else with 500, each
/// body echoing what it was sent to: the path, and the URL rebuilt from the Host header.
/// It stops by itself after 20 requests or a minute.
fn echoing_server() -> String {
    crate::support::serve(20, Duration::from_secs(60), |request| {
        let (path, url) = (&request.path, format!("http://{}{}", request.host, request.path));
        if path.starts_with("/alpha/") {
            Reply::new(404, format!("Cannot POST {path} (full URL: {url})"))
        } else {
            let token = path.rsplit('/').next().unwrap_or("");
            Reply::new(500, format!("{{\"message\":\"hook {token} failed\",\"url\":\"{url}\"}}"))
        }
    })
}

fn tally_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.args(args);
    for name in ["RUST_LOG", "TALLY_LAKE", "TALLY_MAPPINGS", "TALLY_CONFIG", "TALLY_CHAT_SECRETS"] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(n, v)| (n, v)));
    let output = command.output().expect("tally runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_webhook_echoing_its_url_never_gets_the_token_printed_or_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = format!("{HEADER}\n");
    for day in 1..=14 {
        let cost = if day > 7 { 90 } else { 50 };
        for (account, team) in [("111", "alpha"), ("222", "beta"), ("333", "gamma")] {
            csv.push_str(&format!(
                "payer,{account},USD,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-{day:02}T00:00:00Z,2026-08-{:02}T00:00:00Z,Usage,{cost},{cost},Compute,i-{team},\"{{\"\"team\"\":\"\"{team}\"\"}}\"\n",
                day + 1
            ));
        }
    }
    let file = dir.path().join("fortnight.csv");
    std::fs::write(&file, csv).unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[file.to_str().unwrap()], &[]);
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).unwrap();
    for (name, text) in [("org.toml", ORG), ("rules.toml", RULES), ("chat.toml", CHAT)] {
        std::fs::write(mappings.join(name), text).unwrap();
    }
    let mappings = mappings.to_str().unwrap();
    let run = tally(&["attribute", "--lake", lake.arg(), "--mappings", mappings, "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let server = echoing_server();
    // A port with nothing behind it: the connection is refused, and reqwest's error names the URL.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let env = vec![
        ("HOSTILE_ALPHA_URL", format!("{server}/alpha/services/T000/B000/{}", TOKENS[0])),
        ("HOSTILE_BETA_URL", format!("{server}/beta/services/T000/B000/{}", TOKENS[1])),
        ("HOSTILE_GAMMA_URL", format!("{closed}/gamma/services/T000/B000/{}", TOKENS[2])),
    ];
    let send = ["nudge", "--send", "--lake", lake.arg(), "--mappings", mappings];
    let first = tally_env(&send, &env);
    // The second run retries the three owed messages, logging at debug level.
    let second = tally_env(&[&send[..], &["-vv"]].concat(), &env);
    let outbox = tally(&[
        "sql",
        "--lake",
        lake.arg(),
        "--format",
        "json",
        "SELECT team, attempts, last_error FROM outbox WHERE status = 'failed' ORDER BY seq, team",
    ]);
    assert_eq!(outbox.code, 0, "{}", outbox.stderr);
    for run in [&first, &second] {
        assert_eq!(run.code, 7, "{}\n{}", run.stdout, run.stderr);
    }
    for (what, text) in [
        ("stdout", &first.stdout),
        ("stderr", &first.stderr),
        ("-vv stderr", &second.stderr),
        ("outbox", &outbox.stdout),
    ] {
        for secret in TOKENS.iter().copied().chain(["/services/T000/B000"]) {
            assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
        }
    }

    // What happened is still said: the status and the server's words, the URL named by its place.
    let alpha = "HTTP 404: Cannot POST <webhook path> (full URL: <webhook URL>)";
    let beta = r#"HTTP 500: {"message":"hook <redacted> failed","url":"<webhook URL>"}"#;
    for run in [&first, &second] {
        for expected in [
            format!(
                "not delivered to alpha (webhook, env:HOSTILE_ALPHA_URL) for alpha: {alpha} (kept for the next run)"
            ),
            format!("not delivered to beta (webhook, env:HOSTILE_BETA_URL) for beta: {beta} (kept for the next run)"),
            "not delivered to gamma (webhook, env:HOSTILE_GAMMA_URL) for gamma: error sending request".to_string(),
        ] {
            assert!(run.stderr.contains(&expected), "{expected}\nnot in:\n{}", run.stderr);
        }
    }
    let rows: Vec<serde_json::Value> = serde_json::from_str(&outbox.stdout).expect("JSON rows");
    assert_eq!(rows.len(), 6, "{}", outbox.stdout);
    for (i, row) in rows.iter().enumerate() {
        let (attempts, error) = (row["attempts"].as_i64().unwrap(), row["last_error"].as_str().unwrap());
        match row["team"].as_str().unwrap() {
            // Not retried within a run: a 404 does not change by asking again.
            "alpha" => assert_eq!((attempts, error), ((i as i64 / 3) + 1, alpha)),
            "beta" => assert_eq!((attempts, error), (2 * (i as i64 / 3) + 2, beta)),
            "gamma" => {
                assert_eq!(attempts, 2 * (i as i64 / 3) + 2);
                assert!(error.starts_with("error sending request"), "{error}");
                assert!(error.contains("Connection refused"), "the refusal is said: {error}");
            }
            other => panic!("unexpected team {other}"),
        }
    }
}
