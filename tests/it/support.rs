//! Setup the integration tests share (as ripgrep keeps `tests/util.rs`): files under a
//! folder, the small FOCUS CSV that hand-built lakes are written in, a mappings folder
//! from its files' texts. The harness itself (`tally`, `Lake`, `Run`) is in `main.rs`.

use std::path::Path;

/// Every file under `dir`, recursively, as (path relative to `base`, bytes), sorted by path.
/// Comparing two of these is how a test shows a lake (or part of it) is byte-identical.
pub fn files_under(base: &Path, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(base).unwrap().display().to_string(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// The names of every file under `dir`, relative to it, sorted.
pub fn file_names_under(dir: &Path) -> Vec<String> {
    files_under(dir, dir).into_iter().map(|(name, _)| name).collect()
}

/// The FOCUS columns hand-built test months are written with.
pub const FOCUS_HEADER: &str = "BillingAccountId,SubAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,ResourceId,Tags";

/// A FOCUS CSV of August 2026 (billing account `payer`, USD), written a day-long charge
/// at a time.
pub struct August {
    csv: String,
}

impl Default for August {
    fn default() -> Self {
        August { csv: format!("{FOCUS_HEADER}\n") }
    }
}

/// One charge of an [`August`] file.
pub struct Charge<'a> {
    pub account: &'a str,
    pub day: u32,
    pub category: &'a str,
    pub billed: &'a str,
    pub effective: &'a str,
    pub service: &'a str,
    pub resource: &'a str,
    /// FOCUS `Tags`: a JSON object (`{}` for none).
    pub tags: &'a str,
}

impl August {
    pub fn push(&mut self, c: Charge) {
        let end = if c.day == 31 { "2026-09-01".to_string() } else { format!("2026-08-{:02}", c.day + 1) };
        let quoted = |text: &str| {
            if text.contains([',', '"']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
        };
        let (account, day, category, billed, effective) = (c.account, c.day, c.category, c.billed, c.effective);
        self.csv.push_str(&format!(
            "payer,{account},USD,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-{day:02}T00:00:00Z,{end}T00:00:00Z,\
             {category},{billed},{effective},{},{},{}\n",
            quoted(c.service),
            quoted(c.resource),
            quoted(c.tags)
        ));
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.csv).unwrap();
    }
}

/// The org of the hand-built month: alpha, beta (alias `beta-svc`) and gamma under eng;
/// gamma moves to ops-org on 2026-08-15.
pub const ORG: &str = r#"
[nodes]
acme = {}
eng = { parent = "acme" }
ops-org = { parent = "acme" }

[teams.alpha]
parent = "eng"

[teams.beta]
parent = "eng"
aliases = ["beta-svc"]

[teams.gamma]
parent = "eng"
moves = [{ from = 2026-08-15, parent = "ops-org" }]
"#;

/// A mappings folder holding `files` (name, text); folders in names are made.
pub fn write_mappings(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A request a [`serve`] server received.
pub struct Request {
    pub path: String,
    /// The `Host` header: with `path`, the URL the client was given.
    pub host: String,
    pub body: String,
    pub arrived: std::time::Instant,
}

/// What a [`serve`] server answers: status, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, headers: Vec::new(), body: body.into() }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 (a real socket for tally's real client), standing in for
/// a chat webhook: answers each request with `respond`, at most `max` requests and for at
/// most `lifetime`, then stops by itself. Returns its URL, `http://127.0.0.1:<port>`.
pub fn serve(
    max: usize,
    lifetime: std::time::Duration,
    respond: impl Fn(&Request) -> Reply + Send + 'static,
) -> String {
    use std::time::{Duration, Instant};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + lifetime;
        let mut served = 0;
        while Instant::now() < deadline && served < max {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            let _ = answer(stream, &respond);
        }
    });
    url
}

fn answer(stream: std::net::TcpStream, respond: &impl Fn(&Request) -> Reply) -> std::io::Result<()> {
    use std::io::{BufRead, Read, Write};
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut length, mut host) = (0, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("host") {
                host = value.trim().to_string();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request =
        Request { path, host, body: String::from_utf8_lossy(&body).into_owned(), arrived: std::time::Instant::now() };
    let reply = respond(&request);
    let mut response =
        format!("HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n", reply.status, reply.body.len());
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&reply.body);
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()
}
