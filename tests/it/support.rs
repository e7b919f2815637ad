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
