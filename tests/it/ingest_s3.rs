//! `tally ingest s3://...` against a real S3-compatible server on loopback:
//! moto's server (`pip install 'moto[server]'`; `.ci/run` installs it), one per
//! test, started on a free port and killed when the test ends.
//!
//! Expected figures come from the fixture files, summed with Python's decimal
//! module (see each test), never from tally.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::{Lake, Run, fixture, shared};

pub(crate) const BUCKET: &str = "billing";
const STALE: &str = "0f9d7c52-0a53-4b8e-9a63-6a1a4c1e0001";
const CURRENT: &str = "7e2b1d4a-5c6f-4e80-8d1f-2b3c4d5e0002";
const LEGACY_DIR: &str = "cur/daily/20231101-20231201";
const CUR2_DATA: &str = "exports/cur2/data/BILLING_PERIOD=2025-01";

/// A moto S3 server on a loopback port of its choosing, killed on drop.
pub(crate) struct Moto {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Moto {
    pub(crate) fn start() -> Moto {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        // Port 0: the kernel picks a free port and moto prints it, so parallel tests never collide.
        let mut child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            // Its own process group, so a launcher that forks (a pyenv shim) dies with the server.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}). The S3 tests need moto's S3 server: \
                     pip install 'moto[server]' (CI's .ci/run installs it), or set MOTO_SERVER to its path"
                )
            });
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        // Drains moto's request log for as long as it runs (a full pipe would stall it).
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
                if let Some(port) = line.split("Running on http://127.0.0.1:").nth(1) {
                    let _ = port_tx.send(port.trim().parse::<u16>().unwrap());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let Ok(port) = port_rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("{program} did not start within 60 s:\n{}", log.lock().unwrap());
        };
        let moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/moto-api/data.json", &[], b"").is_err() {
            assert!(
                Instant::now() < deadline,
                "{program} did not answer on port {port}:\n{}",
                moto.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn create_bucket(&self, bucket: &str) {
        let (status, body) = http(self.port, "PUT", &format!("/{bucket}"), &[S3_SCOPE], b"").unwrap();
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// An unchecked PUT: moto accepts it until IAM authentication is switched on.
    pub(crate) fn put(&self, key: &str, bytes: &[u8]) {
        let (status, body) = http(self.port, "PUT", &format!("/{BUCKET}/{key}"), &[S3_SCOPE], bytes).unwrap();
        assert_eq!(status, 200, "put {key}: {body}");
    }

    /// Creates an IAM user (and a role `auditor`) allowed everything, then makes
    /// moto check every request's signature. Returns the user's (access key id, secret).
    fn enable_authentication(&self) -> (String, String) {
        let iam = [
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            ),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let call = |body: &str| {
            let (status, text) =
                http(self.port, "POST", "/", &iam, format!("{body}&Version=2010-05-08").as_bytes()).unwrap();
            assert_eq!(status, 200, "{body}: {text}");
            text
        };
        call("Action=CreateUser&UserName=tally");
        let key = call("Action=CreateAccessKey&UserName=tally");
        let field = |name: &str| {
            let start = key.find(&format!("<{name}>")).unwrap() + name.len() + 2;
            key[start..start + key[start..].find('<').unwrap()].to_string()
        };
        let policy = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        call(&format!("Action=PutUserPolicy&UserName=tally&PolicyName=all&PolicyDocument={policy}"));
        // A role the user may assume (an `auditor` profile's role_arn), allowed everything too.
        let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22*%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        call(&format!("Action=CreateRole&RoleName=auditor&AssumeRolePolicyDocument={trust}"));
        call(&format!("Action=PutRolePolicy&RoleName=auditor&PolicyName=all&PolicyDocument={policy}"));
        let (status, text) = http(self.port, "POST", "/moto-api/reset-auth", &[], b"0").unwrap();
        assert_eq!(status, 200, "{text}");
        (field("AccessKeyId"), field("SecretAccessKey"))
    }
}

impl Moto {
    pub(crate) fn delete(&self, key: &str) {
        let (status, body) = http(self.port, "DELETE", &format!("/{BUCKET}/{key}"), &[S3_SCOPE], b"").unwrap();
        assert_eq!(status, 204, "delete {key}: {body}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto routes a request to a service by the credential scope of its
/// signature (unsigned ones by guessing from the body, which a gzip body can
/// fool). Until authentication is on, the signature itself is not checked.
const S3_SCOPE: (&str, &str) = (
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body text.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status =
        text.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| std::io::Error::other(text.clone()))?;
    Ok((status, text))
}

/// Runs tally with only the AWS settings given (nothing from the caller's
/// environment: no profile, no proxy, no real credentials).
fn tally_s3(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.args(args).env_remove("RUST_LOG").env_remove("TALLY_LAKE");
    for (key, _) in std::env::vars() {
        let upper = key.to_ascii_uppercase();
        if upper.starts_with("AWS_") || upper.ends_with("_PROXY") {
            command.env_remove(&key);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("tally runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const TEST_KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")];

fn ingest(lake: &Lake, moto: &Moto, url: &str, extra: &[&str]) -> Run {
    let endpoint = moto.endpoint();
    let mut args = vec!["ingest", url, "--lake", lake.arg(), "--s3-endpoint", &endpoint];
    args.extend_from_slice(extra);
    tally_s3(&args, &TEST_KEYS)
}

fn ingest_ok(lake: &Lake, moto: &Moto, url: &str, extra: &[&str]) -> Run {
    let run = ingest(lake, moto, url, extra);
    assert_eq!(run.code, 0, "ingest {url} failed\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    run
}

/// Every file in the lake with its bytes: "unchanged" means this is equal.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    crate::support::files_under(root, root)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// The public legacy CUR sample (header + 1281 rows, one row per line) as a
/// header and its data lines.
fn legacy_cur() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(shared("aws-cur/focus-converters-cur-2023-11.csv")).unwrap();
    let mut lines = text.split_inclusive('\n').map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// A legacy CUR month delivered twice: a stale assembly (the sample's first
/// 1000 rows) and the current one (all 1281 rows in two parts, each with the
/// header, as AWS splits them). The period-level manifest names the current one.
fn upload_legacy(moto: &Moto) {
    upload_legacy_listed_as(moto, LEGACY_DIR, LEGACY_DIR);
}

/// [`upload_legacy`] with its objects under `stored` and its manifests
/// naming them under `listed` (a report created without a prefix has both
/// start with `/`).
fn upload_legacy_listed_as(moto: &Moto, stored: &str, listed: &str) {
    let (header, rows) = legacy_cur();
    let part = |rows: &[String]| gzip(&(header.clone() + &rows.concat()));
    moto.put(&format!("{stored}/{STALE}/daily-1.csv.gz"), &part(&rows[..1000]));
    moto.put(&format!("{stored}/{CURRENT}/daily-1.csv.gz"), &part(&rows[..640]));
    moto.put(&format!("{stored}/{CURRENT}/daily-2.csv.gz"), &part(&rows[640..]));
    let stale_key = format!("{listed}/{STALE}/daily-1.csv.gz");
    let current_keys = [format!("{listed}/{CURRENT}/daily-1.csv.gz"), format!("{listed}/{CURRENT}/daily-2.csv.gz")];
    let manifest = |assembly: &str, keys: &[String]| {
        format!(
            r#"{{"assemblyId":"{assembly}","account":"123412340534","charset":"UTF-8","compression":"GZIP",
               "contentType":"text/csv","reportId":"r1","reportName":"daily","bucket":"{BUCKET}",
               "billingPeriod":{{"start":"20231101T000000.000Z","end":"20231201T000000.000Z"}},
               "reportKeys":{keys:?},"additionalArtifactKeys":[]}}"#
        )
    };
    // Each assembly keeps its own copy of its manifest; tally must not read those.
    moto.put(&format!("{stored}/{STALE}/daily-Manifest.json"), manifest(STALE, &[stale_key]).as_bytes());
    moto.put(&format!("{stored}/{CURRENT}/daily-Manifest.json"), manifest(CURRENT, &current_keys).as_bytes());
    moto.put(&format!("{stored}/daily-Manifest.json"), manifest(CURRENT, &current_keys).as_bytes());
}

/// A CUR 2.0 execution: `data` under `data/BILLING_PERIOD=2025-01/`, and its
/// manifest (in `folder` for Data Exports' "create new files" mode).
fn upload_cur2(moto: &Moto, execution: &str, folder: Option<&str>, file: &str, data: &[u8]) {
    upload_cur2_of(moto, ("2025-01", "2025-02"), execution, folder, file, data);
}

/// [`upload_cur2`] for the billing period from `start` to `end` (`YYYY-MM`).
fn upload_cur2_of(
    moto: &Moto,
    (start, end): (&str, &str),
    execution: &str,
    folder: Option<&str>,
    file: &str,
    data: &[u8],
) {
    let sub = folder.map(|f| format!("/{f}")).unwrap_or_default();
    let key = format!("exports/cur2/data/BILLING_PERIOD={start}{sub}/{file}");
    moto.put(&key, data);
    let manifest = format!(
        r#"{{"executionId":"{execution}","exportArn":"arn:aws:bcm-data-exports:us-east-1:111122223333:export/cur2-1",
           "exportName":"cur2","bucket":"{BUCKET}",
           "billingPeriod":{{"start":"{start}-01T00:00:00.000Z","end":"{end}-01T00:00:00.000Z"}},
           "dataFiles":["s3://{BUCKET}/{key}"],"columns":[{{"name":"bill_invoice_id","type":"string"}}]}}"#
    );
    moto.put(&format!("exports/cur2/metadata/BILLING_PERIOD={start}{sub}/cur2-Manifest.json"), manifest.as_bytes());
}

fn cur2_parquet() -> Vec<u8> {
    std::fs::read(fixture("aws-cur2/cur2-2025-01.parquet")).unwrap()
}

/// The hand-written CUR 2.0 CSV, optionally with an invoice id on every row
/// (`bill_invoice_id` is the third column) and without its last row (the
/// -2.50 credit).
fn cur2_csv(invoice: Option<&str>, drop_credit: bool) -> String {
    let text = std::fs::read_to_string(fixture("aws-cur2/cur2-2025-01.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if drop_credit {
        assert!(lines.pop().unwrap().contains(",Credit,"));
    }
    if let Some(invoice) = invoice {
        for line in lines.iter_mut().skip(1) {
            let second_comma = line.match_indices(',').nth(1).unwrap().0;
            assert_eq!(&line[second_comma..second_comma + 2], ",,", "bill_invoice_id is empty in the fixture");
            line.insert_str(second_comma + 1, invoice);
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn legacy_cur_reads_only_the_current_assembly() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing/cur", &[]);
    assert!(
        run.stdout.contains(&format!("read s3://billing/cur/daily 2023-11: assembly {CURRENT}, 2 file(s)")),
        "{}",
        run.stdout
    );

    // All 1281 rows once, none of the stale assembly's 1000: sum of
    // lineItem/UnblendedCost over the sample from Python's decimal module.
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
    // Per part: rows 1-640 sum to 0.6412203772, rows 641-1281 to 1.0410883202 (Python decimal).
    assert_eq!(
        lake.rows("SELECT source_file, rows_read, source_cost, landed_cost FROM ingests ORDER BY source_file"),
        vec![
            format!("s3://billing/{LEGACY_DIR}/{CURRENT}/daily-1.csv.gz,640,0.6412203772,0.6412203772"),
            format!("s3://billing/{LEGACY_DIR}/{CURRENT}/daily-2.csv.gz,641,1.0410883202,1.0410883202"),
        ]
    );
    assert_eq!(
        lake.value(r#"SELECT count(*) FROM line_items WHERE "x_SourceFile" LIKE '%0f9d7c52%'"#),
        "0",
        "nothing of the stale assembly"
    );
    assert_eq!(
        lake.rows("SELECT report, layout, billing_period, delivery_id, files, manifest FROM s3_deliveries"),
        vec![format!(
            "s3://billing/cur/daily,aws-cur,2023-11,{CURRENT},2,s3://billing/{LEGACY_DIR}/daily-Manifest.json"
        )]
    );
    assert!(
        !lake.path.join("_staging").exists() || snapshot(&lake.path.join("_staging")).is_empty(),
        "downloads are removed after the run"
    );
}

/// Where a report created without a report path prefix keeps its files.
const NO_PREFIX_DIR: &str = "/daily/20231101-20231201";

#[test]
fn report_created_without_a_prefix_is_read_at_its_keys_starting_with_a_slash() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    // AWS delivers such a report under `/daily/...`, and its manifests list `/daily/...` keys.
    upload_legacy_listed_as(&moto, NO_PREFIX_DIR, NO_PREFIX_DIR);
    let read_current = format!("read s3://billing//daily 2023-11: assembly {CURRENT}, 2 file(s)");
    // The sample's 1281 rows once, per part as in legacy_cur_reads_only_the_current_assembly (Python decimal).
    let parts = vec![
        format!("s3://billing/{NO_PREFIX_DIR}/{CURRENT}/daily-1.csv.gz,640,0.6412203772,0.6412203772"),
        format!("s3://billing/{NO_PREFIX_DIR}/{CURRENT}/daily-2.csv.gz,641,1.0410883202,1.0410883202"),
    ];
    let by_file = "SELECT source_file, rows_read, source_cost, landed_cost FROM ingests ORDER BY source_file";

    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(run.stdout.contains(&read_current), "{}", run.stdout);
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
    assert_eq!(lake.rows(by_file), parts);
    assert_eq!(
        lake.value("SELECT report, manifest FROM s3_deliveries"),
        format!("s3://billing//daily,s3://billing/{NO_PREFIX_DIR}/daily-Manifest.json")
    );
    assert!(
        !lake.path.join("_staging").exists() || snapshot(&lake.path.join("_staging")).is_empty(),
        "downloads are removed after the run"
    );

    // The daily run finds the same manifest (by its ETag) unchanged.
    let before = snapshot(&lake.path);
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(
        run.stdout.contains(&format!("skipped s3://billing//daily 2023-11: assembly {CURRENT} unchanged")),
        "{}",
        run.stdout
    );
    assert_eq!(snapshot(&lake.path), before);

    // Decoys at the same keys without the `/`: the stale assembly's first 1000 rows in
    // each. A request that lost the `/` would read these.
    let (header, rows) = legacy_cur();
    let stale = gzip(&(header + &rows[..1000].concat()));
    for part in ["daily-1.csv.gz", "daily-2.csv.gz"] {
        moto.put(&format!("daily/20231101-20231201/{CURRENT}/{part}"), &stale);
    }
    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(run.stdout.contains(&read_current), "{}", run.stdout);
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
    assert_eq!(lake.rows(by_file), parts);

    // s3://billing/daily (as the console shows the report's folder) finds it as well.
    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing/daily", &[]);
    assert!(run.stdout.contains(&read_current), "{}", run.stdout);
    assert_eq!(lake.rows(by_file), parts);
}

#[test]
fn slash_keys_of_a_manifest_over_objects_without_the_slash_are_read_without_it() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    // The manifests say `/daily/...`; the bucket holds only `daily/...` (manifests included).
    upload_legacy_listed_as(&moto, "daily/20231101-20231201", NO_PREFIX_DIR);
    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(run.stdout.contains(&format!("read s3://billing/daily 2023-11: assembly {CURRENT}")), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!(
            "s3://billing/daily/20231101-20231201/daily-Manifest.json lists s3://billing/{NO_PREFIX_DIR}/{CURRENT}/\
             daily-1.csv.gz, which is not in the bucket: reading s3://billing/daily/20231101-20231201/{CURRENT}/\
             daily-1.csv.gz, the same key without its leading /"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(lake.totals(), "1281,1.6823086974,1.6823086974");
    assert_eq!(
        lake.rows("SELECT source_file, rows_read FROM ingests ORDER BY source_file"),
        vec![
            format!("s3://billing/daily/20231101-20231201/{CURRENT}/daily-1.csv.gz,640"),
            format!("s3://billing/daily/20231101-20231201/{CURRENT}/daily-2.csv.gz,641"),
        ]
    );

    // Neither key: the run stops, naming both, and the lake is as it was.
    moto.delete(&format!("daily/20231101-20231201/{CURRENT}/daily-2.csv.gz"));
    let lake = Lake::new();
    let run = ingest(&lake, &moto, "s3://billing", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: s3://billing/daily/20231101-20231201/daily-Manifest.json: lists \
             s3://billing/{NO_PREFIX_DIR}/{CURRENT}/daily-2.csv.gz, which is not in the bucket nor \
             s3://billing/daily/20231101-20231201/{CURRENT}/daily-2.csv.gz"
        )),
        "{}",
        run.stderr
    );
    assert!(!lake.path.join("line_items").exists());
}

#[test]
fn cur2_export_beside_a_legacy_report_and_since() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    upload_cur2(&moto, "exec-1", None, "cur2-00001.snappy.parquet", &cur2_parquet());

    let lake = Lake::new();
    let run = ingest_ok(&lake, &moto, "s3://billing", &["--since", "2024-01"]);
    assert!(run.stdout.contains("skipped s3://billing/cur/daily 2023-11: before --since 2024-01"), "{}", run.stdout);
    // The hand-written CUR 2.0 month: billed 244.5428, amortized 30.1514 (fixtures/README.md).
    assert_eq!(lake.totals(), "8,244.5428,30.1514");
    assert_eq!(
        lake.value(r#"SELECT DISTINCT "x_SourceFile" FROM line_items"#),
        format!("s3://billing/{CUR2_DATA}/cur2-00001.snappy.parquet")
    );
    assert_eq!(lake.value("SELECT delivery_id, layout FROM s3_deliveries"), "exec-1,aws-cur2");

    // Without --since the legacy month comes too; the CUR 2.0 one is unchanged.
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(
        run.stdout.contains("skipped s3://billing/exports/cur2 2025-01: execution exec-1 unchanged"),
        "{}",
        run.stdout
    );
    // 1281 + 8 rows; 1.6823086974 + 244.5428 billed, 1.6823086974 + 30.1514 amortized.
    assert_eq!(lake.totals(), "1289,246.2251086974,31.8337086974");
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2023-11,1281,1.6823086974", "2025-01,8,244.5428"]
    );

    let bad = ingest(&lake, &moto, "s3://billing", &["--since", "2025-1"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("use YYYY-MM"), "{}", bad.stderr);
}

#[test]
fn since_leaves_out_rows_of_earlier_months_that_a_later_delivery_carries() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    // The lake holds January: the hand-written month, 8 rows, billed 244.5428 (fixtures/README.md).
    let lake = populated_lake();
    let january = lake.data_files();
    // February's delivery carries January's 8 rows again, then one February row: li-0001
    // moved to 2025-02, unblended (= billed) 4.608.
    let csv = cur2_csv(None, false);
    let february_row = csv
        .lines()
        .nth(1)
        .unwrap()
        .replace("li-0001", "li-0201")
        .replace("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")
        .replace("2025-01-02T00:00:00Z", "2025-02-02T00:00:00Z")
        .replace("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert!(february_row.contains(",2025-02-01T00:00:00Z,2025-03-01T00:00:00Z,") && february_row.contains(",4.608,"));
    let delivery = gzip(&format!("{csv}{february_row}\n"));
    upload_cur2_of(&moto, ("2025-02", "2025-03"), "exec-feb", None, "cur2-00001.csv.gz", &delivery);
    let file = "s3://billing/exports/cur2/data/BILLING_PERIOD=2025-02/cur2-00001.csv.gz";

    let run = ingest_ok(&lake, &moto, "s3://billing/exports", &["--since", "2025-02"]);
    assert!(
        run.stdout.contains("read s3://billing/exports/cur2 2025-02: execution exec-feb, 1 file(s)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "skipped 8 row(s) of billing periods before 2025-02 in BILLING_PERIOD=2025-02/cur2-00001.csv.gz \
             (2025-01; source cost 244.5428 USD): not committed, the lake's months before 2025-02 are untouched"
        ),
        "{}",
        run.stdout
    );
    // 9 rows read: 1 landed (4.608), 8 left out (244.5428); 244.5428 + 4.608 = 249.1508.
    assert_eq!(
        lake.value(&format!(
            "SELECT rows_read, rows_landed, rows_skipped, source_cost, landed_cost, skipped_cost FROM ingests \
             WHERE source_file = '{file}'"
        )),
        "9,1,8,249.1508,4.608,244.5428"
    );
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2025-01,8,244.5428", "2025-02,1,4.608"]
    );
    let january_now: Vec<_> =
        lake.data_files().into_iter().filter(|(path, _)| path.contains("billing_period=2025-01")).collect();
    assert_eq!(january_now, january, "January is byte-identical");
    assert_eq!(lake.value("SELECT billing_period, since FROM s3_deliveries"), "2025-02,2025-02");

    // The same --since again: the delivery is unchanged.
    let run = ingest_ok(&lake, &moto, "s3://billing/exports", &["--since", "2025-02"]);
    assert!(
        run.stdout.contains("skipped s3://billing/exports/cur2 2025-02: execution exec-feb unchanged"),
        "{}",
        run.stdout
    );
    // Without it, the rows left out are wanted: the delivery is read again, and
    // January's rows in February's file are refused as strays.
    let before = snapshot(&lake.path);
    let run = ingest(&lake, &moto, "s3://billing/exports", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: {file}: row 9, column bill_billing_period_start_date: billing period 2025-02 differs from the \
             file's 2025-01 (row 1)"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&lake.path), before);
}

#[test]
fn rerun_skips_unchanged_deliveries_and_reads_changed_ones() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    upload_cur2(&moto, "exec-1", None, "cur2-00001.snappy.parquet", &cur2_parquet());
    let lake = Lake::new();
    ingest_ok(&lake, &moto, "s3://billing", &[]);
    let before = snapshot(&lake.path);

    // The daily job with nothing new: two LISTs' worth of work, no byte written.
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(
        run.stdout.contains(&format!("skipped s3://billing/cur/daily 2023-11: assembly {CURRENT} unchanged")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("skipped s3://billing/exports/cur2 2025-01: execution exec-1 unchanged"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing new to ingest; the lake is unchanged"), "{}", run.stdout);
    assert_eq!(snapshot(&lake.path), before);

    // AWS delivers a new execution of January ("create new files": its own
    // folder) as CSV.gz, with the -2.50 credit withdrawn.
    upload_cur2(&moto, "exec-2", Some("exec-2"), "cur2-00001.csv.gz", &gzip(&cur2_csv(None, true)));
    let november =
        std::fs::read(lake.path.join("line_items/provider=aws/billing_period=2023-11/part-123412340534.parquet"))
            .unwrap();
    let run = ingest_ok(&lake, &moto, "s3://billing", &[]);
    assert!(
        run.stdout.contains("read s3://billing/exports/cur2 2025-01: execution exec-2, 1 file(s)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("skipped s3://billing/cur/daily 2023-11"), "{}", run.stdout);
    // 244.5428 + 2.50 billed and 30.1514 + 2.50 amortized over 7 rows.
    assert_eq!(
        lake.rows(r#"SELECT billing_period, count(*), sum("BilledCost"), sum("EffectiveCost") FROM line_items GROUP BY 1 ORDER BY 1"#),
        vec!["2023-11,1281,1.6823086974,1.6823086974", "2025-01,7,247.0428,32.6514"]
    );
    assert_eq!(
        std::fs::read(lake.path.join("line_items/provider=aws/billing_period=2023-11/part-123412340534.parquet"))
            .unwrap(),
        november
    );
    assert_eq!(
        lake.rows("SELECT billing_period, delivery_id FROM s3_deliveries ORDER BY ingested_at, billing_period"),
        vec!["2023-11,7e2b1d4a-5c6f-4e80-8d1f-2b3c4d5e0002", "2025-01,exec-1", "2025-01,exec-2"]
    );
}

#[test]
fn finality_is_recorded_and_restating_a_final_month_is_flagged() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let lake = Lake::new();
    let csv = |invoice, drop_credit| gzip(&cur2_csv(invoice, drop_credit));

    upload_cur2(&moto, "exec-1", None, "cur2-00001.csv.gz", &csv(None, false));
    let run = ingest_ok(&lake, &moto, "s3://billing/exports", &[]);
    assert!(!run.stdout.contains("final:"), "{}", run.stdout);

    // Invoiced: AWS fills bill_invoice_id on every row.
    upload_cur2(&moto, "exec-2", None, "cur2-00001.csv.gz", &csv(Some("INV-2025-01"), false));
    let run = ingest_ok(&lake, &moto, "s3://billing/exports", &[]);
    assert!(run.stdout.contains("final: aws 2025-01 account 111122223333 (invoice INV-2025-01)"), "{}", run.stdout);
    assert!(!run.stderr.contains("restated"), "{}", run.stderr);

    // A restatement after the invoice: applied, and flagged.
    upload_cur2(&moto, "exec-3", None, "cur2-00001.csv.gz", &csv(Some("INV-2025-01"), true));
    let run = ingest_ok(&lake, &moto, "s3://billing/exports", &[]);
    assert!(
        run.stderr.contains("aws 2025-01 (billing account 111122223333) was final (invoiced) and has been restated"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("(invoice INV-2025-01), restated after it was final"), "{}", run.stdout);
    assert_eq!(lake.totals(), "7,247.0428,32.6514");
    assert_eq!(
        lake.rows("SELECT billing_period, billing_account, rows, final, invoice_ids, previously_final, restated_final FROM periods ORDER BY ingested_at"),
        vec![
            "2025-01,111122223333,8,false,,false,false",
            "2025-01,111122223333,8,true,INV-2025-01,false,false",
            "2025-01,111122223333,7,true,INV-2025-01,true,true",
        ]
    );
}

/// A lake with something in it, to show a failed run leaves it as it was.
fn populated_lake() -> Lake {
    let lake = Lake::new();
    lake.ingest_ok(&[&fixture("aws-cur2/cur2-2025-01.csv")], &[]);
    lake
}

#[test]
fn wrong_credentials_are_refused_and_change_nothing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    let (key, secret) = moto.enable_authentication();
    let endpoint = moto.endpoint();
    let lake = populated_lake();
    let before = snapshot(&lake.path);
    // The whole bucket: moto miscomputes signatures of a prefix with an encoded '/' (boto3 too).
    let args = ["ingest", "s3://billing", "--lake", lake.arg(), "--s3-endpoint", &endpoint];

    for (id, secret, refusal) in [
        (key.as_str(), "not-the-secret", "SignatureDoesNotMatch"),
        ("AKIAUNKNOWN000000000", secret.as_str(), "InvalidAccessKeyId"),
    ] {
        let run = tally_s3(&args, &[("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("error: s3://billing: listing failed"), "{}", run.stderr);
        assert!(run.stderr.contains(refusal) && run.stderr.contains("the credentials were refused"), "{}", run.stderr);
        assert_eq!(snapshot(&lake.path), before);
    }

    // The right key works: the refusals were about the credentials.
    let run = tally_s3(&args, &[("AWS_ACCESS_KEY_ID", &key), ("AWS_SECRET_ACCESS_KEY", &secret)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE billing_period = '2023-11'"#), "1281");
}

#[test]
fn missing_bucket_and_missing_manifests_are_named() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    moto.put("cur/readme.txt", b"no reports here yet");
    let lake = populated_lake();
    let before = snapshot(&lake.path);

    let run = ingest(&lake, &moto, "s3://no-such-bucket/cur", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: s3://no-such-bucket/cur: listing failed"), "{}", run.stderr);
    assert!(run.stderr.contains("NoSuchBucket") && run.stderr.contains("the bucket does not exist"), "{}", run.stderr);

    let run = ingest(&lake, &moto, "s3://billing/cur", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("error: s3://billing/cur: no AWS billing manifest under this prefix (1 object(s) listed)"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&lake.path), before);
}

#[test]
fn unreachable_server_is_a_clear_error_and_changes_nothing() {
    let lake = populated_lake();
    let before = snapshot(&lake.path);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let run = tally_s3(&["ingest", "s3://billing/cur", "--lake", lake.arg(), "--s3-endpoint", &closed], &TEST_KEYS);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: s3://billing/cur: listing failed"), "{}", run.stderr);
    assert!(run.stderr.contains("the S3 endpoint could not be reached"), "{}", run.stderr);
    assert_eq!(snapshot(&lake.path), before);

    // Plain http leaves loopback only when asked to.
    let run = tally_s3(
        &["ingest", "s3://billing/cur", "--lake", lake.arg(), "--s3-endpoint", "http://10.9.8.7:9000"],
        &TEST_KEYS,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("refusing plain http to 10.9.8.7:9000"), "{}", run.stderr);
}

/// Forwards loopback TCP to moto until a request line contains `cut`; then
/// drops every connection and closes its port, like a server that goes down.
struct CuttingProxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start(upstream: u16, cut_at: &'static str) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let flag = Arc::clone(&cut);
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                open.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                let (flag, open) = (Arc::clone(&flag), Arc::clone(&open));
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n @ 1..) = from_client.read(&mut buf) {
                        let first_line = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string();
                        if first_line.contains(cut_at) {
                            flag.store(true, Ordering::SeqCst);
                            for s in open.lock().unwrap().iter() {
                                let _ = s.shutdown(Shutdown::Both);
                            }
                            return;
                        }
                        if to_server.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
                let (mut from_server, mut to_client) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Both);
                });
            }
            // Dropping the listener closes the port: reconnects are refused.
        });
        CuttingProxy { port, cut }
    }
}

#[test]
fn server_going_down_between_listing_and_download_changes_nothing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    let proxy = CuttingProxy::start(moto.port, "daily-2.csv.gz");
    let lake = populated_lake();
    let before = snapshot(&lake.path);

    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let run = tally_s3(&["ingest", "s3://billing/cur", "--lake", lake.arg(), "--s3-endpoint", &endpoint], &TEST_KEYS);
    assert!(proxy.cut.load(Ordering::SeqCst), "the listing and manifest were served, then the server went down");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("error: s3://billing/{LEGACY_DIR}/{CURRENT}/daily-")), "{}", run.stderr);
    assert!(run.stderr.contains("download failed"), "{}", run.stderr);
    assert_eq!(snapshot(&lake.path), before, "no partial download, log or data file is left");
}

#[test]
fn credentials_come_from_aws_profiles_as_the_cli_reads_them() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    upload_legacy(&moto);
    let (key, secret) = moto.enable_authentication();
    let endpoint = moto.endpoint();
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    // credential_process: a program that prints the keys as JSON, and leaves a mark that it ran.
    let mark = home.path().join("process-ran");
    let script = home.path().join("creds.py");
    std::fs::write(
        &script,
        format!(
            "import json, pathlib\npathlib.Path({mark:?}).write_text('yes')\n\
             print(json.dumps({{'Version': 1, 'AccessKeyId': {key:?}, 'SecretAccessKey': {secret:?}}}))\n",
            mark = mark.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile finance]\nregion = us-east-1\ncredential_process = python3 {}\n\n[profile wrong]\nregion = us-east-1\n\n\
             [profile auditor]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/auditor\n\
             source_profile = ledger\nendpoint_url = {endpoint}\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[ledger]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n[wrong]\n\
             aws_access_key_id = {key}\naws_secret_access_key = not-the-secret\n"
        ),
    )
    .unwrap();
    let home_env = home.path().to_str().unwrap();
    let run_as = |profile: &str| {
        let lake = Lake::new();
        let args = ["ingest", "s3://billing", "--lake", lake.arg(), "--s3-endpoint", &endpoint];
        let run = tally_s3(&args, &[("HOME", home_env), ("AWS_PROFILE", profile)]);
        (lake, run)
    };

    // Static keys of a profile in ~/.aws/credentials.
    let (lake, run) = run_as("ledger");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE billing_period = '2023-11'"#), "1281");

    // credential_process of a profile in ~/.aws/config.
    let (lake, run) = run_as("finance");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "yes");
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items"#), "1281");

    // The profile's keys are what is sent: a wrong secret is refused by the server.
    let (lake, run) = run_as("wrong");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("SignatureDoesNotMatch"), "{}", run.stderr);
    assert!(!lake.path.join("line_items").exists());

    // A role assumed through STS (moto's) with the keys of a source profile: the SDK's
    // network calls go through tally's own HTTP client.
    let (lake, run) = run_as("auditor");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items"#), "1281");

    // A profile that is in neither file is named, with the files read.
    let (lake, run) = run_as("nobody");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("AWS profile nobody ("), "{}", run.stderr);
    assert!(run.stderr.contains(&aws.join("config").display().to_string()), "{}", run.stderr);
    assert!(!lake.path.join("line_items").exists());
}
