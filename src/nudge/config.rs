//! `chat.toml` in the mappings folder: where each team's nudges go, how they are
//! delivered, and the thresholds below which a team hears nothing.
//!
//! Webhook URLs are secrets: chat.toml names an environment variable (`url_env`)
//! or a key of a secrets file (`url_secret`, the file named by `secrets_file` or
//! `$TALLY_CHAT_SECRETS`), and the URL is read only when a message is sent.
//! Errors name chat.toml and the line, never a secret's value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::attribute::mappings::{MappingError, line_at, parse_toml};
use crate::attribute::org::Org;
use crate::money::SCALE;
use crate::money::{Money, Percent};

pub const CHAT_FILE: &str = "chat.toml";
/// Environment variable naming the secrets file when chat.toml does not.
pub const SECRETS_ENV: &str = "TALLY_CHAT_SECRETS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Slack incoming webhook, Block Kit.
    Slack,
    /// Microsoft Teams webhook (Workflows or connector), an Adaptive Card.
    Teams,
    /// Any endpoint taking a JSON document (see `render::webhook`).
    Webhook,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "slack" => Some(Kind::Slack),
            "teams" => Some(Kind::Teams),
            "webhook" => Some(Kind::Webhook),
            _ => None,
        }
    }
}

/// Where a webhook URL comes from. Displays as `env:NAME` or `secret:KEY`: safe to
/// print and to record in the outbox; the URL itself never is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(key) => write!(f, "secret:{key}"),
        }
    }
}

impl SecretRef {
    pub fn parse(text: &str) -> Option<SecretRef> {
        if let Some(name) = text.strip_prefix("env:") {
            Some(SecretRef::Env(name.to_string()))
        } else {
            text.strip_prefix("secret:").map(|key| SecretRef::File(key.to_string()))
        }
    }
}

/// A destination: one channel (one webhook).
#[derive(Debug, Clone)]
pub struct Route {
    /// The owner it was configured for (a team, an org node) or `default`.
    pub name: String,
    pub kind: Kind,
    pub secret: SecretRef,
    /// A label for people (`#payments-cost`); shown in dry runs and the outbox.
    pub channel: String,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub timeout_ms: u64,
    /// Tries per message per run (the first send included).
    pub max_attempts: u32,
    /// Wait before the first retry when the server gives no Retry-After; doubled each retry.
    pub backoff_ms: u64,
    /// The longest Retry-After honoured; a longer one ends this run's tries (kept for the next run).
    pub max_wait_ms: u64,
    /// Messages sent per run at most; the rest wait, recorded, for the next run.
    pub max_messages: usize,
    /// Pause between two messages.
    pub interval_ms: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            timeout_ms: 10_000,
            max_attempts: 4,
            backoff_ms: 1_000,
            max_wait_ms: 60_000,
            max_messages: 50,
            interval_ms: 1_000,
        }
    }
}

/// Amounts at [`SCALE`], percentages in ten-thousandths of a percent.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// A week-over-week change (or a driver's) worth telling, in money...
    pub min_change: i128,
    /// ...and as a share of last week's spend.
    pub min_change_pct: Percent,
    pub min_unallocated: i128,
    /// Monthly savings of a recommendation worth telling.
    pub min_savings: i128,
    /// The effort bar: a recommendation is "worth it" when its monthly savings per
    /// dev-week of effort reach this.
    pub worth_per_dev_week: i128,
    /// Lines per section at most.
    pub max_items: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        let dollars = |n: i128| n * 10i128.pow(SCALE as u32);
        Thresholds {
            min_change: dollars(250),
            min_change_pct: Percent(10 * 10_000),
            min_unallocated: dollars(100),
            min_savings: dollars(500),
            worth_per_dev_week: dollars(10_000),
            max_items: 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub file: PathBuf,
    pub default: Option<Route>,
    /// By owner: a team or an org node.
    pub routes: BTreeMap<String, Route>,
    pub delivery: Delivery,
    pub thresholds: Thresholds,
    /// Link (or path) to the full report; `{team}`, `{as_of}` and `{month}` are filled in.
    pub report: Option<String>,
    /// The secrets file, if one is named.
    pub secrets_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatSpec {
    secrets_file: Option<Spanned<String>>,
    report: Option<Spanned<String>>,
    #[serde(default)]
    delivery: DeliverySpec,
    #[serde(default)]
    thresholds: ThresholdsSpec,
    default: Option<Spanned<RouteSpec>>,
    #[serde(default)]
    route: BTreeMap<Spanned<String>, Spanned<RouteSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverySpec {
    timeout_seconds: Option<u64>,
    max_attempts: Option<u32>,
    backoff_ms: Option<u64>,
    max_wait_seconds: Option<u64>,
    max_messages: Option<usize>,
    interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsSpec {
    min_change: Option<Money>,
    min_change_pct: Option<Percent>,
    min_unallocated: Option<Money>,
    min_savings: Option<Money>,
    worth_per_dev_week: Option<Money>,
    max_items: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    kind: Kind,
    url_env: Option<String>,
    url_secret: Option<String>,
    #[serde(default)]
    channel: String,
}

impl ChatConfig {
    /// Reads `<mappings>/chat.toml`; `Ok(None)` when there is none.
    pub fn load(mappings: &Path, org: &Org) -> Result<Option<ChatConfig>, MappingError> {
        let file = mappings.join(CHAT_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(MappingError::new(file.display().to_string(), None, format!("cannot read: {e}"))),
        };
        ChatConfig::parse(&file, &text, org).map(Some)
    }

    /// Parses chat.toml's text; `file` names it in errors and anchors a relative `secrets_file`.
    pub fn parse(file: &Path, text: &str, org: &Org) -> Result<ChatConfig, MappingError> {
        let path = file.display().to_string();
        let at = |offset: usize, message: String| MappingError::new(&path, Some(line_at(text, offset)), message);
        let spec: ChatSpec = parse_toml(&path, text)?;
        let route = |name: &str, spec: &Spanned<RouteSpec>| -> Result<Route, MappingError> {
            let r = spec.get_ref();
            let secret = match (&r.url_env, &r.url_secret) {
                (Some(env), None) if valid_name(env) => SecretRef::Env(env.clone()),
                (None, Some(key)) if valid_name(key) => SecretRef::File(key.clone()),
                (Some(_), Some(_)) => {
                    return Err(at(spec.span().start, format!("route `{name}`: give url_env or url_secret, not both")));
                }
                (None, None) => {
                    return Err(at(
                        spec.span().start,
                        format!(
                            "route `{name}` has no webhook: name an environment variable (url_env = \"SLACK_{}_URL\") \
                             or a key of the secrets file (url_secret = \"{name}\"); URLs are secrets and do not \
                             belong in chat.toml",
                            name.to_uppercase().replace('-', "_")
                        ),
                    ));
                }
                _ => {
                    return Err(at(
                        spec.span().start,
                        format!("route `{name}`: url_env/url_secret is a name (letters, digits, _ - .), not a URL"),
                    ));
                }
            };
            Ok(Route { name: name.to_string(), kind: r.kind, secret, channel: r.channel.clone() })
        };
        let default = spec.default.as_ref().map(|d| route("default", d)).transpose()?;
        let mut routes = BTreeMap::new();
        for (owner, r) in &spec.route {
            let name = owner.get_ref();
            if !org.is_node(name) {
                return Err(at(owner.span().start, format!("route `{name}`: no such team or org node in org.toml")));
            }
            routes.insert(name.clone(), route(name, r)?);
        }
        let d = Delivery::default();
        let ds = &spec.delivery;
        let delivery = Delivery {
            timeout_ms: ds.timeout_seconds.map_or(d.timeout_ms, |s| s * 1000),
            max_attempts: ds.max_attempts.unwrap_or(d.max_attempts).max(1),
            backoff_ms: ds.backoff_ms.unwrap_or(d.backoff_ms),
            max_wait_ms: ds.max_wait_seconds.map_or(d.max_wait_ms, |s| s * 1000),
            max_messages: ds.max_messages.unwrap_or(d.max_messages),
            interval_ms: ds.interval_ms.unwrap_or(d.interval_ms),
        };
        let t = Thresholds::default();
        let ts = &spec.thresholds;
        let thresholds = Thresholds {
            min_change: ts.min_change.map_or(t.min_change, |m| m.0),
            min_change_pct: ts.min_change_pct.unwrap_or(t.min_change_pct),
            min_unallocated: ts.min_unallocated.map_or(t.min_unallocated, |m| m.0),
            min_savings: ts.min_savings.map_or(t.min_savings, |m| m.0),
            worth_per_dev_week: ts.worth_per_dev_week.map_or(t.worth_per_dev_week, |m| m.0),
            max_items: ts.max_items.unwrap_or(t.max_items).max(1),
        };
        if let Some(report) = &spec.report
            && report.get_ref().contains(['<', '>', '|', '\n'])
        {
            return Err(at(report.span().start, "report: a link cannot contain <, > or |".to_string()));
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let secrets_file = spec.secrets_file.as_ref().map(|s| base.join(s.get_ref()));
        Ok(ChatConfig {
            file: file.to_path_buf(),
            default,
            routes,
            delivery,
            thresholds,
            report: spec.report.map(|r| r.into_inner()),
            secrets_file,
        })
    }

    /// The route of `team`: its own, else the nearest org node above it on `day`
    /// that has one, else `[default]`.
    pub fn route_for(&self, org: &Org, team: &str, day: NaiveDate) -> Option<&Route> {
        let path = org.path(team, day);
        path.rsplit('/').find_map(|owner| self.routes.get(owner)).or(self.default.as_ref())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Resolves a webhook URL. The error names where it looked, never a value.
pub fn resolve_secret(
    secret: &SecretRef,
    secrets_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match secret {
        SecretRef::Env(name) => env(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().to_string())
            .ok_or_else(|| format!("environment variable {name} is not set")),
        SecretRef::File(key) => {
            let file = match secrets_file {
                Some(f) => f.to_path_buf(),
                None => env(SECRETS_ENV).map(PathBuf::from).ok_or_else(|| {
                    format!("url_secret `{key}`: no secrets file (set secrets_file in chat.toml or ${SECRETS_ENV})")
                })?,
            };
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("secrets file {}: cannot read: {}", file.display(), e.kind()))?;
            // Parse errors could quote the file's text (a URL): say only where.
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                format!(
                    "secrets file {}:{}: not valid TOML (key = \"url\" lines)",
                    file.display(),
                    e.span().map_or(0, |s| line_at(&text, s.start))
                )
            })?;
            match table.get(key) {
                Some(toml::Value::String(url)) if !url.trim().is_empty() => Ok(url.trim().to_string()),
                Some(_) => Err(format!("secrets file {}: `{key}` is not a string", file.display())),
                None => Err(format!("secrets file {}: no key `{key}`", file.display())),
            }
        }
    }
}
