//! A report as data (headline figures, sections of text, charts and tables),
//! and its files: HTML and Markdown from `reports/templates/`, CSV and Parquet of
//! every table, all under one output folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use minijinja::{Environment, context};
use serde::Serialize;

use super::table::{Shown, Table};

const HTML_TEMPLATE: &str = include_str!("../../reports/templates/report.html");
const MARKDOWN_TEMPLATE: &str = include_str!("../../reports/templates/report.md");

/// A headline figure.
#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub label: String,
    /// For people: `$12,345.67`.
    pub value: String,
    /// The exact amount behind `value` (tests and scrapers compare it to the data).
    pub exact: String,
    pub change: String,
}

/// A link between report pages (`../teams/index.html`), made by tally from team and
/// node ids, which hold no `/` ([`crate::attribute::org::valid_id`]).
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub text: String,
    pub href: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Badge {
    pub team: String,
    pub label: String,
}

#[derive(Debug, Clone, Default)]
pub struct Section {
    pub id: &'static str,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub bullets: Vec<String>,
    pub badges: Vec<Badge>,
    /// Inline SVG drawn by [`super::chart`].
    pub charts: Vec<String>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone)]
pub struct Document {
    /// `weekly`, `leaderboard`, `unit-economics`, `quarterly`: the file stem.
    pub kind: &'static str,
    /// The report's last day.
    pub as_of: chrono::NaiveDate,
    pub title: String,
    pub subtitle: String,
    pub freshness: String,
    pub kpis: Vec<Kpi>,
    pub sections: Vec<Section>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct SectionView<'a> {
    id: &'static str,
    title: &'a str,
    paragraphs: &'a [String],
    bullets: &'a [String],
    badges: &'a [Badge],
    charts: &'a [String],
    tables: Vec<Shown>,
}

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    /// CSV and Parquet of every table.
    pub tables: Vec<PathBuf>,
    /// Pages beside the report: one per team and org node, and their index (weekly only).
    pub pages: Vec<PathBuf>,
}

/// A file name made only of `[a-z0-9_-]`: whatever text it came from, it names a
/// file directly inside the output folder (no `/`, no `..`, no hidden files).
pub fn safe_file_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    while name.starts_with(['-', '_']) {
        name.remove(0);
    }
    if name.is_empty() {
        name.push_str("table");
    }
    name.truncate(120);
    name
}

/// The `md` filter: every value in a Markdown report, from data or not, is text
/// ([`crate::output::markdown_escape`]).
fn markdown_escape(text: String) -> String {
    crate::output::markdown_escape(&text)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // `.html` templates are autoescaped for HTML; `.md` ones use the `md` filter.
    env.add_template("report.html", HTML_TEMPLATE).expect("valid HTML template");
    env.add_template("report.md", MARKDOWN_TEMPLATE).expect("valid Markdown template");
    env.add_filter("md", markdown_escape);
    env
}

impl Document {
    fn render(&self, template: &str) -> anyhow::Result<String> {
        self.render_page(template, &[], true)
    }

    /// `nav`: links shown above the title; `tables_beside`: whether the page's tables are
    /// written beside it as CSV and Parquet (a report's are; a team's page is HTML only).
    fn render_page(&self, template: &str, nav: &[Link], tables_beside: bool) -> anyhow::Result<String> {
        let sections: Vec<SectionView> = self
            .sections
            .iter()
            .map(|s| SectionView {
                id: s.id,
                title: &s.title,
                paragraphs: &s.paragraphs,
                bullets: &s.bullets,
                badges: &s.badges,
                charts: &s.charts,
                tables: s.tables.iter().map(Table::shown).collect(),
            })
            .collect();
        let env = environment();
        let text = env.get_template(template)?.render(context! {
            version => env!("CARGO_PKG_VERSION"),
            title => &self.title,
            subtitle => &self.subtitle,
            freshness => &self.freshness,
            kpis => &self.kpis,
            sections => sections,
            notes => &self.notes,
            nav => nav,
            tables_beside => tables_beside,
        })?;
        Ok(text)
    }

    pub fn html(&self) -> anyhow::Result<String> {
        self.render("report.html")
    }

    /// The HTML of a page beside a report (a team's, an org's, their index): no files of
    /// its own but itself, `nav` linking back to the others.
    pub fn page_html(&self, nav: &[Link]) -> anyhow::Result<String> {
        self.render_page("report.html", nav, false)
    }

    pub fn markdown(&self) -> anyhow::Result<String> {
        Ok(format!("{}\n", self.render("report.md")?.trim_end()))
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.sections.iter().flat_map(|s| s.tables.iter())
    }

    /// Writes `<kind>.html`, `<kind>.md` and `<table>.csv` / `<table>.parquet` into `out`.
    pub fn write(&self, out: &Path) -> anyhow::Result<Written> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let write = |name: String, bytes: &[u8]| -> anyhow::Result<PathBuf> {
            let path = out.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        let stem = safe_file_name(self.kind);
        let html = write(format!("{stem}.html"), self.html()?.as_bytes())?;
        let markdown = write(format!("{stem}.md"), self.markdown()?.as_bytes())?;
        let mut tables = Vec::new();
        for table in self.tables() {
            let name = safe_file_name(&table.file);
            tables.push(write(format!("{name}.csv"), table.to_csv().as_bytes())?);
            let parquet = out.join(format!("{name}.parquet"));
            table.write_parquet(&parquet).with_context(|| format!("writing {}", parquet.display()))?;
            tables.push(parquet);
        }
        Ok(Written { html, markdown, tables, pages: Vec::new() })
    }

    /// Headline, text and tables for the terminal.
    pub fn terminal(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.title, self.subtitle, self.freshness);
        for kpi in &self.kpis {
            let change = if kpi.change.is_empty() { String::new() } else { format!(", {}", kpi.change) };
            out.push_str(&format!("  {}: {}{change}\n", kpi.label, kpi.value));
        }
        for section in &self.sections {
            out.push_str(&format!("\n== {} ==\n", section.title));
            for p in &section.paragraphs {
                out.push_str(&format!("{p}\n"));
            }
            for b in &section.bullets {
                out.push_str(&format!("  - {b}\n"));
            }
            for b in &section.badges {
                out.push_str(&format!("  * {} {}\n", b.team, b.label));
            }
            // Chart data stays in the files.
            for table in section.tables.iter().filter(|t| !t.detail) {
                out.push('\n');
                out.push_str(&table.to_terminal());
            }
        }
        for note in &self.notes {
            out.push_str(&format!("\nnote: {note}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::{Kind, col};

    #[test]
    fn file_names_stay_inside_the_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "etc_passwd");
        assert_eq!(safe_file_name("<script>alert(1)</script>"), "script_alert_1___script_");
        assert_eq!(safe_file_name("..."), "table");
        assert_eq!(safe_file_name("Weekly by Team"), "weekly_by_team");
        assert!(!safe_file_name("/abs/path").contains('/'));
    }

    #[test]
    fn html_escapes_data_and_markdown_escapes_cells() {
        let mut table = Table::new("t", "T", vec![col("team", "Team", Kind::Text)], "USD");
        table.push(vec!["<img src=x onerror=alert(1)>".into()]);
        table.push(vec!["a|b".into()]);
        let doc = Document {
            kind: "weekly",
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            title: "<b>title</b>".into(),
            subtitle: String::new(),
            freshness: String::new(),
            kpis: vec![],
            sections: vec![Section { id: "s", title: "S".into(), tables: vec![table], ..Default::default() }],
            notes: vec![],
        };
        let html = doc.html().unwrap();
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;b&gt;title&lt;") && !html.contains("<b>title"), "{html}");
        let md = doc.markdown().unwrap();
        assert!(md.contains("| &lt;img src=x onerror=alert(1)&gt; |"), "{md}");
        assert!(md.contains("| a\\|b |"), "{md}");
    }
}
