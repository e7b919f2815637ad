//! `tally run` end to end on the demo company: config, skipping unchanged
//! inputs, a restated month, a mappings change, locked periods, the run lock
//! (a concurrent run refused, a killed run's lock recovered) and SIGKILL at
//! several points, after which the next run writes the same bytes as an
//! uninterrupted one. Expected results come from plain `tally ingest` +
//! `tally attribute` over the same files, not from `tally run` itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Run, copy_dir, fixture, tally_ok};

/// A project folder: demo CUR exports, a copy of the demo mappings, a tally.toml.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let out = root.join("demo");
        tally_ok(&["demo", "-q", "--no-ingest", "--out", out.to_str().unwrap(), "--rows", "5000", "--months", "3"]);
        std::fs::rename(out.join("cur"), root.join("exports")).unwrap();
        copy_dir(Path::new(&fixture("demo-mappings")), &root.join("mappings"));
        let project = Project { _dir: dir, root };
        let init = project.tally(&["init"]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        project
    }

    fn path(&self, relative: &str) -> String {
        self.root.join(relative).display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
        command.args(args).current_dir(&self.root);
        for var in ["RUST_LOG", "TALLY_LAKE", "TALLY_MAPPINGS", "TALLY_CONFIG", "TALLY_RUN_PAUSE"] {
            command.env_remove(var);
        }
        command
    }

    /// Runs tally in the project folder.
    fn tally(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("tally runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `tally run --json` on `lake` (relative to the project), with the exit code expected.
    fn run(&self, lake: &str, code: i32) -> Value {
        let run = self.tally(&["run", "--json", "--lake", lake]);
        assert_eq!(run.code, code, "tally run\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    /// `tally run` on `lake` paused at `point` (TALLY_RUN_PAUSE), once it is there.
    fn run_paused(&self, lake: &str, point: &str) -> Child {
        let mut child = self
            .command(&["run", "-q", "--lake", lake])
            .env("TALLY_RUN_PAUSE", point)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let marker = self.root.join(lake).join("_run").join(format!("paused-{point}"));
        wait_for(&mut child, || marker.exists());
        child
    }

    /// The month folders of one account's exports, sorted.
    fn months(&self, account: &str) -> Vec<PathBuf> {
        let dir = self.root.join("exports").join(account).join("demo-cur");
        let mut months: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        months.sort();
        months
    }
}

/// Polls until `ready`, insisting that `child` is still running meanwhile.
fn wait_for(child: &mut Child, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(child.try_wait().unwrap().is_none(), "tally run ended before the point it was to be killed at");
        assert!(start.elapsed() < Duration::from_secs(60), "tally run never reached the point");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn kill9(mut child: Child) {
    assert!(child.try_wait().unwrap().is_none(), "the run finished before it could be killed");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
}

/// Every data file of the lake's line_items and attributed tables, with its bytes.
fn data_files(lake: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = crate::support::files_under(lake, &lake.join("line_items"));
    files.extend(crate::support::files_under(lake, &lake.join("attributed")));
    files
}

/// Files anywhere in the lake (names only): no partial file may be left behind.
fn all_files(lake: &Path) -> Vec<String> {
    crate::support::file_names_under(lake)
}

fn sql(lake: &str, query: &str) -> Vec<String> {
    let run = tally_ok(&["sql", "--lake", lake, "--format", "csv", query]);
    run.stdout.lines().map(str::to_string).collect()
}

/// Per period and team: both costs, exactly.
const BY_TEAM: &str = r#"SELECT billing_period, team, sum("BilledCost"), sum("EffectiveCost") FROM attributed GROUP BY 1, 2 ORDER BY 1, 2"#;

fn attributed_periods(summary: &Value) -> Vec<(String, String)> {
    summary["attribute"]["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["period"].as_str().unwrap().to_string(), p["reason"].as_str().unwrap().to_string()))
        .collect()
}

fn periods(p: &Project) -> Vec<String> {
    sql(&p.path("lake"), "SELECT DISTINCT billing_period FROM line_items ORDER BY 1").split_off(1)
}

#[test]
fn first_run_equals_plain_ingest_and_attribute_and_a_second_run_does_nothing() {
    let p = Project::new();
    let first = p.run("lake", 0);
    assert_eq!(first["status"], "ok");
    assert_eq!(first["ingest"]["files_read"], 6);
    assert_eq!(first["ingest"]["reconciled"], true);
    let all = periods(&p);
    assert_eq!(all.len(), 3);
    let new: Vec<(String, String)> = all.iter().map(|m| (m.clone(), "new".to_string())).collect();
    assert_eq!(attributed_periods(&first), new);

    // The same files through the separate commands: the same bytes.
    let plain = p.path("plain");
    tally_ok(&["ingest", "-q", &p.path("exports"), "--lake", &plain]);
    tally_ok(&["attribute", "-q", "--lake", &plain, "--mappings", &p.path("mappings")]);
    assert_eq!(data_files(&p.root.join("lake")), data_files(Path::new(&plain)));
    // The summary's money is the lake's, exactly, per billing currency (payments bills in EUR).
    let period = &all[0];
    for currency in ["EUR", "USD"] {
        let effective = sql(
            &plain,
            &format!(
                r#"SELECT sum("EffectiveCost") FROM line_items WHERE billing_period = '{period}' AND "BillingCurrency" = '{currency}'"#
            ),
        );
        let summarised = &first["attribute"]["periods"][0]["effective"][currency];
        assert_eq!(
            summarised.as_str().unwrap().trim_end_matches('0').trim_end_matches('.'),
            effective[1].trim_end_matches('0').trim_end_matches('.'),
            "{currency}"
        );
    }

    let before = (data_files(&p.root.join("lake")), all_files(&p.root.join("lake")));
    let second = p.run("lake", 0);
    assert_eq!(second["status"], "nothing new");
    assert_eq!(second["ingest"]["ran"], false);
    assert_eq!(second["ingest"]["local_unchanged"], 6);
    assert_eq!(attributed_periods(&second), vec![]);
    assert_eq!(second["attribute"]["unchanged"].as_array().unwrap().len(), 3);
    assert_eq!(
        before,
        (data_files(&p.root.join("lake")), all_files(&p.root.join("lake"))),
        "a run with nothing new wrote nothing"
    );
    let human = p.tally(&["run"]);
    assert_eq!(human.code, 0);
    assert!(human.stdout.contains("ingest: nothing new (6 local file(s) unchanged)"), "{}", human.stdout);
    assert!(human.stdout.contains("nothing new in"), "{}", human.stdout);
}

#[test]
fn a_restated_month_is_the_only_one_recomputed() {
    let p = Project::new();
    p.run("lake", 0);
    let all = periods(&p);
    // Account 418273645091's middle month is restated: a different file in the same folder.
    let other = tempfile::tempdir().unwrap();
    let out = other.path().join("d");
    tally_ok(&[
        "demo",
        "-q",
        "--no-ingest",
        "--out",
        out.to_str().unwrap(),
        "--rows",
        "3000",
        "--months",
        "3",
        "--seed",
        "7",
    ]);
    let month = p.months("418273645091")[1].clone();
    let unit_sql = format!(
        r#"SELECT count(*), sum("BilledCost") FROM line_items WHERE billing_period = '{}' AND "BillingAccountId" = '418273645091'"#,
        all[1]
    );
    let before = sql(&p.path("lake"), &unit_sql)[1].clone();
    let restated = out.join("cur").join("418273645091").join("demo-cur").join(month.file_name().unwrap());
    for f in std::fs::read_dir(&restated).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), month.join(f.file_name())).unwrap();
    }
    let second = p.run("lake", 0);
    assert_eq!(second["ingest"]["files_read"], 1, "only the restated month's folder is read");
    // The run says what the restatement replaced: the unit's line items and BilledCost before and after.
    let after = sql(&p.path("lake"), &unit_sql)[1].clone();
    let units = second["ingest"]["units"].as_array().unwrap();
    assert_eq!(units.len(), 1, "{second}");
    let u = &units[0];
    assert_eq!(u["unit"], format!("aws {} account 418273645091", all[1]));
    assert_eq!(u["action"], "replaced");
    assert_eq!(format!("{},{}", u["line_items_before"], u["billed_before"].as_str().unwrap()), before);
    assert_eq!(format!("{},{}", u["line_items_after"], u["billed_after"].as_str().unwrap()), after);
    assert_eq!(second["ingest"]["local_unchanged"], 5);
    assert_eq!(attributed_periods(&second), vec![(all[1].clone(), "line items changed".to_string())]);
    assert_eq!(second["attribute"]["unchanged"], serde_json::json!([all[0], all[2]]));

    // Same figures as ingesting and attributing the final files from scratch.
    let plain = p.path("plain");
    tally_ok(&["ingest", "-q", &p.path("exports"), "--lake", &plain]);
    tally_ok(&["attribute", "-q", "--lake", &plain, "--mappings", &p.path("mappings")]);
    assert_eq!(sql(&p.path("lake"), BY_TEAM), sql(&plain, BY_TEAM));
    let totals = r#"SELECT billing_period, count(*), sum("BilledCost"), sum("EffectiveCost") FROM line_items GROUP BY 1 ORDER BY 1"#;
    assert_eq!(sql(&p.path("lake"), totals), sql(&plain, totals));
    assert_eq!(p.run("lake", 0)["status"], "nothing new");
}

#[test]
fn a_mappings_change_recomputes_every_period_except_locked_ones() {
    let p = Project::new();
    p.run("lake", 0);
    let all = periods(&p);
    let rules = p.root.join("mappings").join("rules.toml");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, format!("{text}\n# reviewed\n")).unwrap();
    let second = p.run("lake", 0);
    let changed: Vec<(String, String)> = all.iter().map(|m| (m.clone(), "mappings changed".to_string())).collect();
    assert_eq!(attributed_periods(&second), changed);
    assert_eq!(second["ingest"]["ran"], false);

    // Locked: listed, never re-attributed, and the run still succeeds.
    let lake = p.path("lake");
    tally_ok(&["lock", "--lake", &lake, &all[0], "-m", "closed"]);
    let before =
        std::fs::read(p.root.join(format!("lake/attributed/billing_period={}/part-0.parquet", all[0]))).unwrap();
    std::fs::write(&rules, format!("{text}\n# reviewed twice\n")).unwrap();
    let third = p.run("lake", 0);
    assert_eq!(attributed_periods(&third), changed[1..].to_vec());
    assert_eq!(third["attribute"]["locked"][0]["period"], all[0].as_str());
    assert_eq!(third["attribute"]["locked"][0]["reason"], "mappings changed");
    let after =
        std::fs::read(p.root.join(format!("lake/attributed/billing_period={}/part-0.parquet", all[0]))).unwrap();
    assert_eq!(before, after);
    // Back to run two's mappings: the periods run three changed are redone.
    std::fs::write(&rules, format!("{text}\n# reviewed\n")).unwrap();
    let fourth = p.run("lake", 0);
    assert_eq!(attributed_periods(&fourth), changed[1..].to_vec());
    // Unlocked: all[0] was last attributed with these very mappings (run two), so it stays.
    tally_ok(&["unlock", "--lake", &lake, &all[0]]);
    tally_ok(&["attribute", "-q", "--lake", &lake, "--mappings", &p.path("mappings"), "--period", &all[2]]);
    let fifth = p.run("lake", 0);
    assert_eq!(attributed_periods(&fifth), vec![(all[2].clone(), "attributed changed outside tally run".to_string())]);
}

#[test]
fn a_concurrent_run_is_refused_and_a_killed_runs_lock_is_recovered() {
    let p = Project::new();
    let holder = p.run_paused("lake", "locked");
    let pid = holder.id();
    let second = p.tally(&["run", "--json", "--lake", "lake"]);
    assert_eq!(second.code, 6, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stderr.contains("another tally command holds the lake's lock"), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {pid} on ")), "{}", second.stderr);
    let json: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!((json["status"].as_str(), json["exit_code"].as_u64()), (Some("failed"), Some(6)));
    assert!(!p.root.join("lake/line_items").exists(), "the refused run wrote nothing");

    kill9(holder);
    let third = p.run("lake", 0);
    assert_eq!(third["recovered_lock"]["pid"], pid);
    assert_eq!(third["status"], "ok");
    // Released cleanly this time: nothing to recover.
    assert_eq!(p.run("lake", 0)["recovered_lock"], Value::Null);
}

#[test]
fn sigkill_at_any_step_then_the_next_run_writes_what_an_uninterrupted_run_writes() {
    let p = Project::new();
    p.run("reference", 0);
    let reference = data_files(&p.root.join("reference"));
    assert!(reference.len() == 9, "{:?}", reference.iter().map(|f| &f.0).collect::<Vec<_>>());

    let check = |lake: &str, killed_in: &str| {
        let again = p.run(lake, 0);
        assert_eq!(again["status"], "ok", "{killed_in}");
        assert!(again["recovered_lock"]["pid"].is_u64(), "{killed_in}: {again}");
        assert!(data_files(&p.root.join(lake)) == reference, "{killed_in}: not the bytes of an uninterrupted run");
        let leftovers: Vec<String> = all_files(&p.root.join(lake))
            .into_iter()
            .filter(|f| f.starts_with("_staging") || f.contains(".partial"))
            .collect();
        assert_eq!(leftovers, Vec::<String>::new(), "{killed_in}");
        assert_eq!(p.run(lake, 0)["status"], "nothing new", "{killed_in}");
    };
    // At the run's own steps.
    for point in ["locked", "ingested", "attributed"] {
        let lake = format!("lake-{point}");
        kill9(p.run_paused(&lake, point));
        check(&lake, point);
    }
    // Inside ingest and inside attribution: killed as soon as their staging appears.
    for (name, staging) in [("ingest", "line_items"), ("attribute", "attribute-")] {
        let lake = format!("lake-in-{name}");
        let mut child =
            p.command(&["run", "-q", "--lake", &lake]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let dir = p.root.join(&lake).join("_staging");
        wait_for(&mut child, || {
            std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok).any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if staging == "line_items" { e.path().join("line_items").exists() } else { name.starts_with(staging) }
            })
        });
        kill9(child);
        check(&lake, name);
    }
}

#[test]
fn config_file_errors_name_the_line_and_other_commands_read_the_lake_from_it() {
    let p = Project::new();
    let again = p.tally(&["init"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("tally.toml exists; --force overwrites it"), "{}", again.stderr);
    assert!(std::fs::read_to_string(p.root.join("tally.toml")).unwrap().contains("[sources]"));

    p.run("lake", 0);
    // --lake and --mappings from tally.toml: here, and from elsewhere with TALLY_CONFIG.
    let count = p.tally(&["sql", "--format", "csv", "SELECT count(DISTINCT billing_period) FROM attributed"]);
    assert_eq!((count.code, count.stdout.lines().nth(1)), (0, Some("3")), "{}", count.stderr);
    let elsewhere = tempfile::tempdir().unwrap();
    let output = p
        .command(&["check", "-q"])
        .current_dir(elsewhere.path())
        .env("TALLY_CONFIG", p.root.join("tally.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // A flag still wins.
    let flag = p.tally(&["sql", "--lake", "nowhere", "SELECT count(*) FROM attributed"]);
    assert_ne!(flag.code, 0);

    let text = std::fs::read_to_string(p.root.join("tally.toml")).unwrap();
    std::fs::write(p.root.join("tally.toml"), text.replace("[sources]\n", "[sources]\nfolders = [\"x\"]\n")).unwrap();
    let line = text.lines().position(|l| l == "[sources]").unwrap() + 2;
    let broken = p.tally(&["run"]);
    assert_eq!(broken.code, 2);
    assert!(broken.stderr.contains(&format!("tally.toml:{line}: unknown field `folders`")), "{}", broken.stderr);
    std::fs::write(p.root.join("tally.toml"), "lake = \"lake\"\n").unwrap();
    let no_mappings = p.tally(&["run"]);
    assert_eq!(no_mappings.code, 2);
    assert!(
        no_mappings.stderr.contains("no mappings: set `mappings = \"...\"` in tally.toml or pass --mappings"),
        "{}",
        no_mappings.stderr
    );
}

#[test]
fn quarantined_rows_stop_the_run_with_exit_3_and_nothing_is_committed() {
    let p = Project::new();
    let header = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName";
    let row = |day: u32, cost: &str| {
        format!(
            "1,USD,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-{day:02}T00:00:00Z,2025-01-{:02}T00:00:00Z,Usage,{cost},1.00,EC2\n",
            day + 1
        )
    };
    std::fs::create_dir_all(p.root.join("exports/focus")).unwrap();
    let file = p.root.join("exports/focus/focus.csv");
    std::fs::write(&file, format!("{header}\n{}{}", row(1, "1.00"), row(2, "one dollar"))).unwrap();
    let first = p.run("lake", 3);
    assert_eq!(first["status"], "quarantined");
    assert_eq!((first["ingest"]["rows_quarantined"].as_u64(), first["exit_code"].as_u64()), (Some(1), Some(3)));
    assert_eq!(attributed_periods(&first), vec![]);
    assert!(!p.root.join("lake/line_items").exists() && !p.root.join("lake/attributed").exists());

    std::fs::write(&file, format!("{header}\n{}{}", row(1, "1.00"), row(2, "2.00"))).unwrap();
    let fixed = p.run("lake", 0);
    let done: Vec<String> = attributed_periods(&fixed).into_iter().map(|(period, _)| period).collect();
    assert_eq!(done.len(), 4, "{done:?}");
    assert_eq!(done[0], "2025-01");
    assert_eq!(fixed["attribute"]["periods"][0]["billed"]["USD"], "3");
}

/// The project's tally.toml pointed at a lake in moto's S3, with `cache` as the local copy.
fn use_s3_lake(p: &Project, moto: &crate::ingest_s3::Moto, cache: &str) {
    let toml = format!(
        "lake = \"s3://{}/tally\"\nlake_cache = \"{cache}\"\ns3_endpoint = \"{}\"\nmappings = \"mappings\"\n\n[sources]\npaths = [\"exports/\"]\n",
        crate::ingest_s3::BUCKET,
        moto.endpoint()
    );
    std::fs::write(p.root.join("tally.toml"), toml).unwrap();
}

/// `tally run --json` with moto's test credentials and nothing else from AWS's environment.
fn run_s3(p: &Project, extra_env: &[(&str, &str)], code: i32) -> (Value, String) {
    let mut command = p.command(&["run", "--json"]);
    for (key, _) in std::env::vars() {
        if key.to_ascii_uppercase().starts_with("AWS_") || key.to_ascii_uppercase().ends_with("_PROXY") {
            command.env_remove(&key);
        }
    }
    command.envs([("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")]);
    command.envs(extra_env.iter().copied());
    let output = command.output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert_eq!(output.status.code(), Some(code), "tally run\nstdout:\n{stdout}\nstderr:\n{stderr}");
    (serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")), stderr)
}

fn lock_body(age_seconds: i64) -> Vec<u8> {
    let started = chrono::Utc::now().timestamp() - age_seconds;
    format!("{{\"pid\":4242,\"host\":\"ci-runner-7\",\"started_at\":{started}}}").into_bytes()
}

#[test]
fn a_lake_in_s3_is_pulled_run_on_a_local_copy_and_pushed() {
    let moto = crate::ingest_s3::Moto::start();
    moto.create_bucket(crate::ingest_s3::BUCKET);
    let p = Project::new();
    // The reference: the same project on a local lake.
    p.run("local", 0);

    use_s3_lake(&p, &moto, "copy-a");
    let (first, _) = run_s3(&p, &[], 0);
    assert_eq!(first["status"], "ok");
    assert_eq!(first["remote"]["pulled"]["files"], 0);
    let pushed = first["remote"]["pushed"]["files"].as_u64().unwrap();
    assert_eq!(pushed as usize, all_files(&p.root.join("copy-a")).iter().filter(|f| !f.starts_with("_run/")).count());

    // A fresh machine (another copy): pulls everything, ingests nothing, and what it
    // re-attributes has the same bytes, so nothing is pushed.
    use_s3_lake(&p, &moto, "copy-b");
    let (fresh, _) = run_s3(&p, &[], 0);
    assert_eq!(fresh["remote"]["pulled"]["files"].as_u64().unwrap(), pushed);
    assert_eq!(fresh["ingest"]["ran"], false);
    assert_eq!(fresh["remote"]["pushed"]["files"], 0);
    assert_eq!(fresh["remote"]["pushed"]["deleted"], 0);
    let attributed = |lake: &str| {
        data_files(&p.root.join(lake)).into_iter().filter(|(f, _)| f.starts_with("attributed/")).collect::<Vec<_>>()
    };
    assert_eq!(attributed("copy-a"), attributed("local"));
    assert_eq!(attributed("copy-b"), attributed("local"));
    assert_eq!(data_files(&p.root.join("copy-b")), data_files(&p.root.join("copy-a")));

    // The first machine again: its copy is current, nothing moves.
    use_s3_lake(&p, &moto, "copy-a");
    let (again, _) = run_s3(&p, &[], 0);
    assert_eq!(again["status"], "nothing new");
    assert_eq!(
        (again["remote"]["pulled"]["files"].as_u64(), again["remote"]["pushed"]["files"].as_u64()),
        (Some(0), Some(0))
    );

    // Another machine's run holds the lake: refused with exit 6, naming it.
    moto.put("tally/_run/lock.json", &lock_body(60));
    let (held, _) = run_s3(&p, &[], 6);
    let error = held["error"].as_str().unwrap();
    assert!(error.contains("pid 4242 on ci-runner-7"), "{error}");
    // A lock over 6 hours old is a dead run's: taken over, with a warning.
    moto.put("tally/_run/lock.json", &lock_body(7 * 3600));
    let (recovered, stderr) = run_s3(&p, &[], 0);
    assert_eq!(recovered["status"], "nothing new");
    assert!(stderr.contains("taking it over"), "{stderr}");

    // Killed while pushing: the next run (once the dead run's lock is gone) pushes first.
    use_s3_lake(&p, &moto, "copy-c");
    let mut child = p
        .command(&["run", "-q"])
        .envs([("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("TALLY_RUN_PAUSE", "pushing")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = p.root.join("copy-c/_run/paused-pushing");
    wait_for(&mut child, || marker.exists());
    // Make the copy ahead of S3, as a run with new data would be.
    std::fs::create_dir_all(p.root.join("copy-c/notes")).unwrap();
    std::fs::write(p.root.join("copy-c/notes/handover.txt"), "ahead of S3").unwrap();
    kill9(child);
    let (refused, _) = run_s3(&p, &[], 6);
    assert!(refused["error"].as_str().unwrap().contains("lock.json"));
    moto.delete("tally/_run/lock.json");
    let (resumed, _) = run_s3(&p, &[], 0);
    assert_eq!(resumed["remote"]["resumed_push"], true);
    assert_eq!(resumed["remote"]["pushed"]["files"], 1);
    // Published: a fresh copy now has it.
    use_s3_lake(&p, &moto, "copy-d");
    run_s3(&p, &[], 0);
    assert_eq!(std::fs::read_to_string(p.root.join("copy-d/notes/handover.txt")).unwrap(), "ahead of S3");
}

/// A webhook receiver on loopback answering 200 to every POST; counts them. Stops with the test.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    let url = crate::support::serve(500, Duration::from_secs(600), move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        crate::support::Reply::new(200, "ok")
    });
    (format!("{url}/hook"), count)
}

/// The demo's chat routes all pointed at `url`; quick retries so a dead endpoint fails fast.
fn chat_env(p: &Project, url: &str) -> Vec<(String, String)> {
    let chat = p.root.join("mappings/chat.toml");
    let secrets = p.root.join("chat-secrets.toml");
    let text = std::fs::read_to_string(&chat)
        .unwrap()
        .replace("/etc/tally/chat-secrets.toml", &secrets.display().to_string())
        .replace("backoff_ms = 1000", "backoff_ms = 10")
        .replace("interval_ms = 1000", "interval_ms = 0")
        .replace("max_attempts = 4", "max_attempts = 2")
        .replace("timeout_seconds = 10", "timeout_seconds = 2");
    std::fs::write(&chat, text).unwrap();
    std::fs::write(&secrets, format!("payments-slack = \"{url}\"\ndata-teams = \"{url}\"\nfraud-slack = \"{url}\"\n"))
        .unwrap();
    vec![("TALLY_SLACK_FINOPS".into(), url.into()), ("TALLY_PLATFORM_WEBHOOK".into(), url.into())]
}

fn run_with_env(p: &Project, env: &[(String, String)], code: i32) -> Value {
    let output = p.command(&["run", "--json"]).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "tally run\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn budgets_findings_report_and_nudges_follow_attribution() {
    let p = Project::new();
    let toml = std::fs::read_to_string(p.root.join("tally.toml")).unwrap().replace("send = false", "send = true");
    std::fs::write(p.root.join("tally.toml"), toml).unwrap();
    // First run: nobody listens on the chat port, so every message fails, is kept, and the run exits 7.
    let closed = format!(
        "http://127.0.0.1:{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let env = chat_env(&p, &closed);
    let first = run_with_env(&p, &env, 7);
    let derived = &first["derived"];
    let as_of = derived["as_of"].as_str().unwrap().to_string();
    let failed = derived["nudges"]["failed"].as_u64().unwrap();
    assert!(failed > 0, "{derived}");
    assert_eq!(derived["nudges"]["sent"], 0);
    assert!(first["error"].as_str().unwrap().contains("kept in the outbox"), "{first}");

    // What the run wrote equals the separate commands over a lake built by ingest + attribute.
    let plain = p.path("plain");
    let mappings = p.path("mappings");
    tally_ok(&["ingest", "-q", &p.path("exports"), "--lake", &plain]);
    tally_ok(&["attribute", "-q", "--lake", &plain, "--mappings", &mappings]);
    tally_ok(&["findings", "--lake", &plain, "--mappings", &mappings, "--format", "csv"]);
    let month = &as_of[..7];
    tally_ok(&["budget", "status", "--lake", &plain, "--mappings", &mappings, "--month", month, "--as-of", &as_of]);
    let read = |lake: &str, rel: &str| std::fs::read(p.root.join(lake).join(rel)).unwrap();
    assert_eq!(read("lake", "findings/findings.parquet"), read("plain", "findings/findings.parquet"));
    let budgets = format!("budgets/{month}.parquet");
    assert_eq!(read("lake", &budgets), read("plain", &budgets));
    assert_eq!(
        derived["findings"]["findings"].as_u64().unwrap() as usize,
        sql(&plain, "SELECT finding_id FROM findings").len() - 1
    );
    let report = p.root.join("reports").join(&as_of).join("weekly.html");
    assert!(derived["report"].as_str().unwrap().ends_with(&format!("reports/{as_of}/weekly.html")), "{derived}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"), "the weekly report has its charts");

    // Second run, chat back: nothing else changed, so only the owed messages go out.
    let (url, received) = webhook_receiver();
    let env = chat_env(&p, &url);
    let second = run_with_env(&p, &env, 0);
    assert_eq!(second["status"], "nothing new");
    assert_eq!(second["derived"]["unchanged"], true);
    assert!(second["derived"].get("findings").is_none_or(Value::is_null), "{second}");
    assert_eq!(second["derived"]["nudges"]["sent"].as_u64(), Some(failed));
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst) as u64, failed);
    // Third run: nothing owed, nothing new to tell.
    let third = run_with_env(&p, &env, 0);
    assert_eq!(third["derived"]["nudges"]["sent"], 0);
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst) as u64, failed);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), html);
}

#[test]
fn json_logs_are_one_object_per_line_with_step_fields() {
    let p = Project::new();
    let output = p.command(&["run", "--log-format", "json", "--no-report"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let events: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect();
    let step =
        |name: &str| events.iter().find(|e| e["step"] == name).unwrap_or_else(|| panic!("no {name} event: {stderr}"));
    let ingest = step("ingest");
    assert_eq!((ingest["level"].as_str(), ingest["files_read"].as_u64()), (Some("INFO"), Some(6)));
    assert!(ingest["timestamp"].is_string(), "{ingest}");
    assert_eq!(step("attribute")["periods"], 3);
    assert!(step("derived")["findings"].as_u64().unwrap() > 0);
    // --no-report: tally.toml asks for reports/, this run writes none.
    assert!(!p.root.join("reports").exists());
}

#[test]
fn nudge_send_is_refused_while_a_run_holds_the_lake() {
    let p = Project::new();
    let child = p.run_paused("lake", "locked");
    let sent = p.tally(&["nudge", "--send", "--lake", &p.path("lake"), "--mappings", &p.path("mappings")]);
    assert_eq!(sent.code, 6, "{}", sent.stderr);
    assert!(sent.stderr.contains("another tally command holds the lake's lock"), "{}", sent.stderr);
    kill9(child);
    // A dry run writes nothing, so it needs no lock.
    let dry = p.tally(&["nudge", "--dry-run", "--lake", &p.path("lake"), "--mappings", &p.path("mappings")]);
    assert_ne!(dry.code, 6, "{}", dry.stderr);
}

#[test]
fn a_copy_of_an_export_in_the_sources_is_read_once_then_left_alone() {
    let p = Project::new();
    p.run("lake", 0);
    let totals = r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#;
    let before = sql(&p.path("lake"), totals);
    // Someone copies a month's part next to itself ("... (1).csv.gz", as a browser names a second download).
    let month = p.months("418273645091")[1].clone();
    let part = std::fs::read_dir(&month).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    let copy = month.join(format!("{} (1).csv.gz", part.file_stem().unwrap().to_string_lossy()));
    std::fs::copy(&part, &copy).unwrap();
    let second = p.run("lake", 0);
    assert_eq!(sql(&p.path("lake"), totals), before, "the copy added nothing");
    assert_eq!(second["status"], "ok", "{second}");
    assert_eq!(
        sql(&p.path("lake"), "SELECT format FROM ingests WHERE format LIKE 'copy of %'"),
        vec!["format".to_string(), format!("copy of {}", part.display())]
    );
    assert_eq!(p.run("lake", 0)["status"], "nothing new");
}

#[test]
fn a_run_that_fails_does_not_say_nothing_new() {
    let p = Project::new();
    std::fs::write(p.root.join("exports/payroll.csv"), "employee,salary\nada,100\n").unwrap();
    let run = p.tally(&["run", "--lake", "lake"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("ingest: nothing committed (the run stopped, see below)"), "{text}");
    assert!(text.contains("attribute: nothing committed (the run stopped, see below)"), "{text}");
    assert!(!text.contains("nothing new"), "{text}");
    assert!(text.contains("payroll.csv: unknown billing format"), "{text}");
}

#[test]
fn since_leaves_out_earlier_rows_until_a_run_without_it_reads_them() {
    let p = Project::new();
    let header = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName";
    let row = |start: &str, end: &str, cost: &str| {
        format!(
            "focus-1,USD,{start}-01T00:00:00Z,{end}-01T00:00:00Z,{start}-05T00:00:00Z,{start}-06T00:00:00Z,Usage,{cost},{cost},EC2\n"
        )
    };
    std::fs::create_dir_all(p.root.join("exports/focus")).unwrap();
    // November 2.00 and January 3.00 of account focus-1 (by hand); the demo months are later.
    let file = p.root.join("exports/focus/focus.csv");
    std::fs::write(
        &file,
        format!("{header}\n{}{}", row("2024-11", "2024-12", "2.00"), row("2025-01", "2025-02", "3.00")),
    )
    .unwrap();
    let toml = std::fs::read_to_string(p.root.join("tally.toml")).unwrap();
    assert!(toml.contains("# since = \"2025-01\"\n"));
    std::fs::write(p.root.join("tally.toml"), toml.replace("# since = \"2025-01\"\n", "since = \"2025-01\"\n"))
        .unwrap();
    let focus = r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items WHERE "BillingAccountId" = 'focus-1' GROUP BY 1 ORDER BY 1"#;

    let first = p.run("lake", 0);
    assert_eq!(first["ingest"]["rows_skipped"], 1);
    assert_eq!(first["ingest"]["cost"]["USD"]["before_since"], "2");
    assert_eq!(sql(&p.path("lake"), focus)[1..], ["2025-01,1,3".to_string()]);

    // The same since: nothing new.
    let second = p.run("lake", 0);
    assert_eq!(second["ingest"]["ran"], false);

    // Without it, November is wanted: the file is read again, whole.
    std::fs::write(p.root.join("tally.toml"), toml).unwrap();
    let third = p.run("lake", 0);
    assert_eq!((third["ingest"]["ran"].as_bool(), third["ingest"]["rows_skipped"].as_u64()), (Some(true), Some(0)));
    assert_eq!(sql(&p.path("lake"), focus)[1..], ["2024-11,1,2".to_string(), "2025-01,1,3".to_string()]);
}

/// Drops every line after `last_usage` but the commitment fees from every export of
/// `period` (`20261001-20261101`), so the data's last Usage day comes before its last
/// charge day.
fn end_usage_early(p: &Project, period: &str, last_usage: &str) {
    for payer in std::fs::read_dir(p.root.join("exports")).unwrap() {
        let dir = payer.unwrap().path().join("demo-cur").join(period);
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let gz = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
            let mut reader = csv::Reader::from_reader(gz);
            let header = reader.headers().unwrap().clone();
            let at = |name: &str| header.iter().position(|c| c == name).unwrap();
            let (kind, start) = (at("lineItem/LineItemType"), at("lineItem/UsageStartDate"));
            let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let mut writer = csv::Writer::from_writer(gz);
            writer.write_record(&header).unwrap();
            for record in reader.records() {
                let record = record.unwrap();
                // Commitment fees are charged every day: after `last_usage`, only they stay.
                if !record[kind].ends_with("Fee") && &record[start][..10] > last_usage {
                    continue;
                }
                writer.write_record(&record).unwrap();
            }
            std::fs::write(&path, writer.into_inner().unwrap().finish().unwrap()).unwrap();
        }
    }
}

#[test]
fn every_step_of_a_run_is_as_of_the_same_day() {
    let p = Project::new();
    let toml = std::fs::read_to_string(p.root.join("tally.toml")).unwrap().replace("send = false", "send = true");
    std::fs::write(p.root.join("tally.toml"), toml).unwrap();
    let (url, _received) = webhook_receiver();
    let env = chat_env(&p, &url);
    // The last month's folder, `20261001-20261101`: its last day, and three days before.
    let months = p.months("418273645091");
    let last = months.last().unwrap().file_name().unwrap().to_str().unwrap().to_string();
    let end = chrono::NaiveDate::parse_from_str(&last[9..], "%Y%m%d").unwrap();
    let (as_of, last_usage) = ((end - chrono::Days::new(1)).to_string(), (end - chrono::Days::new(4)).to_string());
    let as_of = as_of.as_str();
    end_usage_early(&p, &last, &last_usage);
    let summary = run_with_env(&p, &env, 0);
    let lake = p.path("lake");
    let day = |sql_text: &str| sql(&lake, sql_text)[1].clone();
    let usage = r#"SELECT max(CAST("ChargePeriodStart" AS DATE)) FROM line_items WHERE "ChargeCategory" = 'Usage'"#;
    assert_eq!(day(usage), last_usage);
    assert_eq!(day(r#"SELECT max(CAST("ChargePeriodStart" AS DATE)) FROM line_items"#), as_of);

    // The run's one day: the last charge day.
    assert_eq!(summary["derived"]["as_of"], as_of, "{summary}");
    assert_eq!(sql(&lake, "SELECT DISTINCT CAST(as_of AS VARCHAR) AS as_of FROM budgets"), ["as_of", as_of]);
    assert!(summary["derived"]["report"].as_str().unwrap().ends_with(&format!("reports/{as_of}/weekly.html")));
    assert_eq!(sql(&lake, "SELECT DISTINCT as_of FROM outbox WHERE as_of <> ''"), ["as_of", as_of]);
    // Findings: the run's table is the one `tally findings --as-of <that day>` writes, and not
    // the one of the last Usage day (the day findings used on their own before).
    let mappings = p.path("mappings");
    let findings = |day: &str| {
        let plain = p.path(&format!("plain-{day}"));
        copy_dir(Path::new(&lake), Path::new(&plain));
        std::fs::remove_dir_all(Path::new(&plain).join("findings")).unwrap();
        tally_ok(&["findings", "--lake", &plain, "--mappings", &mappings, "--as-of", day, "--format", "csv"]);
        std::fs::read(Path::new(&plain).join("findings/findings.parquet")).unwrap()
    };
    let run_findings = std::fs::read(Path::new(&lake).join("findings/findings.parquet")).unwrap();
    assert_eq!(run_findings, findings(as_of));
    assert_ne!(run_findings, findings(&last_usage));
}
