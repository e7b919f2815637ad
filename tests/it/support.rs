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

/// One row of a hand-written `findings` table (the contract in src/findings/mod.rs).
pub struct FindingRow<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub team: &'a str,
    pub title: &'a str,
    /// Whole dollars a month.
    pub savings: i128,
    pub expected: i128,
    /// Dev-days in hundredths.
    pub effort_centidays: Option<i128>,
    pub status: &'a str,
}

/// Writes `rows` as the lake's `findings` table (October 2026, USD), as `tally findings` would.
pub fn write_findings(lake: &Path, rows: &[FindingRow]) {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Decimal128Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    let text = |f: &dyn Fn(&FindingRow) -> String| {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef
    };
    let decimal = |f: &dyn Fn(&FindingRow) -> Option<i128>| {
        Arc::new(
            Decimal128Array::from(rows.iter().map(f).collect::<Vec<_>>()).with_precision_and_scale(38, 20).unwrap(),
        ) as ArrayRef
    };
    let whole = |v: i128| Some(v * 10i128.pow(20));
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("finding_id", text(&|r| r.id.into())),
        ("kind", text(&|r| r.kind.into())),
        ("billing_period", text(&|_| "2026-10".into())),
        ("team", text(&|r| r.team.into())),
        ("org_path", text(&|r| format!("acme/eng/{}", r.team))),
        ("title", text(&|r| r.title.into())),
        ("currency", text(&|_| "USD".into())),
        ("monthly_cost", decimal(&|_| whole(0))),
        ("monthly_savings", decimal(&|r| whole(r.savings))),
        ("expected_monthly_savings", decimal(&|r| whole(r.expected))),
        ("effort_dev_days", decimal(&|r| r.effort_centidays.map(|d| d * 10i128.pow(18)))),
        ("status", text(&|r| r.status.into())),
    ];
    let schema =
        Schema::new(columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let dir = lake.join("findings");
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("2026-10.parquet")).unwrap();
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Runs `sql` in DuckDB (Python's `duckdb`, session time zone UTC) and returns its rows as
/// text. DECIMAL values come back as a person reads them on a page: `$1,234.50`, `-$3.00`
/// (to the cent, half away from zero), so a test compares a page with DuckDB's own sums.
pub fn duckdb(sql: &str) -> Vec<Vec<String>> {
    const SCRIPT: &str = r#"
import decimal, sys
import duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
def show(v):
    if isinstance(v, decimal.Decimal):
        q = abs(v).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
        return ("-" if v < 0 and q != 0 else "") + "$" + f"{q:,}"
    return "" if v is None else str(v)
for row in con.execute(sys.argv[1]).fetchall():
    print("\t".join(show(v) for v in row))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT, sql])
        .output()
        .expect("python3 runs (with duckdb from PyPI: .ci/run installs it)");
    assert!(out.status.success(), "DuckDB failed on {sql}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

/// The cells of the HTML table `<table id="table-{id}">` in `html`, row by row, as text
/// (tags inside a cell, such as a link, dropped; entities left as written).
pub fn html_table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!("<table id=\"table-{id}\">")).unwrap_or_else(|| panic!("no table {id}"));
    let table = &html[start..start + html[start..].find("</table>").expect("table ends")];
    let body = &table[table.find("<tbody>").expect("a body")..];
    let cell = regex::Regex::new(r"(?s)<td[^>]*>(.*?)</td>").unwrap();
    let tag = regex::Regex::new(r"<[^>]+>").unwrap();
    body.split("<tr>")
        .skip(1)
        .map(|row| cell.captures_iter(row).map(|c| tag.replace_all(&c[1], "").to_string()).collect())
        .collect()
}

/// Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's `--screenshot` writes)
/// into `(width, height, channels, pixels)`. Written here on flate2, which tally already
/// builds, rather than taken from the `png` crate: as a dev-dependency it turns on default
/// features of crates DataFusion shares (crc32fast, miniz_oxide), and cargo then builds
/// DataFusion a second time for the tests, 16 more minutes on a fresh 2-core clone.
pub fn decode_png(bytes: &[u8]) -> (usize, usize, usize, Vec<u8>) {
    use std::io::Read;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let (mut at, mut header, mut data) = (8, None, Vec::new());
    while at + 8 <= bytes.len() {
        let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let (kind, body) = (&bytes[at + 4..at + 8], &bytes[at + 8..at + 8 + length]);
        match kind {
            b"IHDR" => header = Some(body.to_vec()),
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + length;
    }
    let header = header.expect("an IHDR chunk");
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
    let channels = match (header[8], header[9], header[12]) {
        (8, 2, 0) => 3,
        (8, 6, 0) => 4,
        other => panic!("unsupported PNG (bit depth, colour type, interlace) = {other:?}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..]).read_to_end(&mut raw).unwrap();
    // Undo each scanline's filter (PNG specification, section 9): each byte is predicted from
    // the one to its left (a), above (b) and above-left (c).
    let stride = width * channels;
    let mut pixels = vec![0u8; stride * height];
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels { pixels[y * stride + x - channels] } else { 0 };
            let b = if y > 0 { pixels[(y - 1) * stride + x] } else { 0 };
            let c = if x >= channels && y > 0 { pixels[(y - 1) * stride + x - channels] } else { 0 };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("PNG filter {other}"),
            };
            pixels[y * stride + x] = line[x].wrapping_add(predicted);
        }
    }
    (width, height, channels, pixels)
}
