//! Nudges: a short, specific message to each team in the chat it already uses
//! (Slack, Microsoft Teams, a generic JSON webhook), remembered in an outbox so
//! nothing is sent twice or silently dropped.
//!
//! - [`config`]: `chat.toml` in the mappings folder (routes, secrets by name, delivery, thresholds)
//! - [`drivers`]: `queries/week_drivers.sql`, this week against the week before (shared with reports)
//! - [`content`]: what each team is told, and whether it is told anything
//! - [`message`], [`escape`], [`render`]: the message, escaping of billing values, each kind's payload
//! - [`deliver`]: HTTP with timeouts, retries, Retry-After
//! - [`outbox`]: the lake's `outbox` table: what was sent to whom for which finding, what is still owed
//!
//! The library entry point is [`run`] (`tally nudge` and `tally run` call it):
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tally::lake::Lake;
//! use tally::nudge::{self, Options};
//! let mappings = std::sync::Arc::new(tally::attribute::Ownership::load("mappings".as_ref())?);
//! let summary = nudge::run(&Lake::new("lake"), &mappings, &Options { send: true, ..Options::default() }).await?;
//! if !summary.failed.is_empty() {
//!     // exit 7: kept in the outbox, retried on the next run
//! }
//! # Ok(()) }
//! ```
//!
//! Determinism: the as-of date is the data's last charge day unless given, and
//! payloads hold no clock time, so the same lake, mappings and outbox give the
//! same payloads byte for byte.

pub mod config;
pub mod content;
pub mod deliver;
pub mod drivers;
pub mod escape;
pub mod message;
pub mod outbox;
pub mod render;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::attribute::mappings::MappingError;
use crate::attribute::org::Org;
use crate::budget::{self, BudgetError};
use crate::calendar::Month;
use std::sync::Arc;

use crate::attribute::Ownership;
use crate::lake::Lake;
use config::{ChatConfig, Kind, SecretRef};
use outbox::{Envelope, Event, Memory, Status};

/// The lake table where every message sent (or still owed) is recorded.

#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("{0}")]
    Input(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The last day the messages look at [default: the data's last charge day].
    pub as_of: Option<NaiveDate>,
    /// Send (and record in the outbox); otherwise only plan (a dry run changes nothing).
    pub send: bool,
}

/// One message to deliver: new, or owed from an earlier run (`retry`).
#[derive(Debug, Clone)]
pub struct Planned {
    pub envelope: Envelope,
    pub retry: bool,
}

impl Planned {
    pub fn file_name(&self, index: usize) -> String {
        let team: String =
            self.envelope.team.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        format!("{:02}-{team}-{}.json", index + 1, self.envelope.kind.name())
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub team: String,
    pub destination: String,
    pub error: String,
}

/// What a run planned and did.
#[derive(Debug, Default)]
pub struct NudgeSummary {
    pub as_of: Option<NaiveDate>,
    /// Messages to deliver, owed ones first, in order.
    pub planned: Vec<Planned>,
    /// Teams with nothing that matters this time.
    pub quiet: usize,
    /// Teams whose message for this as-of date was already sent (or is owed).
    pub already_told: Vec<String>,
    /// Teams with something to say and no route (no own, org-level or default route).
    pub unrouted: Vec<String>,
    pub sent: usize,
    /// Delivery failed; kept in the outbox for the next run.
    pub failed: Vec<Failure>,
    /// Left for the next run by the per-run limit.
    pub deferred: usize,
}

/// Plans (and with `send`, delivers) every team's nudge. See the module docs.
pub async fn run(lake: &Lake, mappings: &Arc<Ownership>, options: &Options) -> Result<NudgeSummary, NudgeError> {
    run_with_env(lake, mappings, options, &|name| std::env::var(name).ok()).await
}

/// [`run`] reading secrets through `env` instead of the process environment.
pub async fn run_with_env(
    lake: &Lake,
    compiled: &Arc<Ownership>,
    options: &Options,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<NudgeSummary, NudgeError> {
    let (mappings, org) = (compiled.mappings.dir.as_path(), &compiled.org);
    let config = ChatConfig::load(mappings, org)?.ok_or_else(|| {
        MappingError::new(
            mappings.join(config::CHAT_FILE).display().to_string(),
            None,
            "no chat.toml: it routes each team's nudges (see tally nudge --help)",
        )
    })?;
    if !lake.has_table(crate::lake::ATTRIBUTED) {
        return Err(NudgeError::Input(format!(
            "lake {} has no attributed spend: run `tally attribute` first",
            lake.root().display()
        )));
    }
    let ctx = compiled.session(lake).await?;
    let memory = outbox::load(&ctx).await?;
    let Some(as_of) = (match options.as_of {
        Some(day) => Some(day),
        None => crate::lake::attributed::last_charge_day(&ctx).await?,
    }) else {
        return Err(NudgeError::Input("the lake's attributed table has no charges".into()));
    };
    let budgets = if mappings.join(budget::file::BUDGETS_FILE).exists() {
        let loaded = budget::load(lake, compiled).await?;
        budget::status(&loaded, Some(Month::of(as_of)), as_of).await?
    } else {
        Vec::new()
    };
    let findings = match content::findings(&ctx, as_of).await {
        Ok(rows) => rows,
        Err(e) => {
            // The findings table is another command's output: a nudge without recommendations beats none.
            tracing::warn!("findings table not read, messages have no recommendations: {e}");
            Vec::new()
        }
    };
    let inputs = content::Inputs {
        as_of,
        drivers: drivers::week_drivers(&ctx, as_of).await?,
        budgets,
        unallocated: content::unallocated(&ctx, as_of).await?,
        findings,
        billed_in: match &compiled.currency {
            Some(currency) => crate::lake::billed_in::read(&ctx, currency.reporting, as_of).await?,
            None => Vec::new(),
        },
    };
    let messages = content::build(&inputs, org, &config, &memory);

    let mut summary = NudgeSummary { as_of: Some(as_of), ..NudgeSummary::default() };
    let teams_with_data = count_teams(&inputs, org);
    summary.quiet = teams_with_data.saturating_sub(messages.len());
    summary.planned.extend(memory.owed.iter().map(|e| Planned { envelope: e.clone(), retry: true }));
    for message in messages {
        let Some(route) = config.route_for(org, &message.team, as_of) else {
            summary.unrouted.push(message.team.clone());
            continue;
        };
        if memory.told.contains_key(&(message.team.clone(), route.name.clone(), as_of)) {
            summary.already_told.push(message.team.clone());
            continue;
        }
        let payload = render::render(route.kind, &message);
        let envelope = Envelope {
            message_id: message_id(&message.team, &route.name, as_of, &payload),
            as_of,
            team: message.team.clone(),
            destination: route.name.clone(),
            kind: route.kind,
            channel: route.channel.clone(),
            secret: route.secret.clone(),
            payload,
            items: message.items.clone(),
            attempts: 0,
            last_error: String::new(),
        };
        summary.planned.push(Planned { envelope, retry: false });
    }
    if options.send {
        deliver_all(lake, &config, memory, &mut summary, env).await?;
    }
    Ok(summary)
}

fn count_teams(inputs: &content::Inputs, org: &Org) -> usize {
    let mut teams = std::collections::BTreeSet::new();
    teams.extend(inputs.drivers.iter().map(|d| d.team.as_str()));
    teams.extend(inputs.budgets.iter().filter(|b| b.kind == "team").map(|b| b.owner.as_str()));
    teams.extend(inputs.unallocated.iter().map(|u| u.team.as_str()));
    teams.extend(inputs.findings.iter().map(|f| f.team.as_str()));
    teams.into_iter().filter(|t| org.is_team(t)).count()
}

/// `sha256(team, destination, as_of, payload)`, 16 hex digits.
fn message_id(team: &str, destination: &str, as_of: NaiveDate, payload: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [team.as_bytes(), destination.as_bytes(), as_of.to_string().as_bytes(), payload] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    crate::hashing::hex(&hash.finalize()[..8])
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> NudgeError + '_ {
    move |source| NudgeError::Io { path: path.display().to_string(), source }
}

async fn deliver_all(
    lake: &Lake,
    config: &ChatConfig,
    mut memory: Memory,
    summary: &mut NudgeSummary,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), NudgeError> {
    let outbox_dir = lake.table_dir(crate::lake::OUTBOX);
    // New messages are recorded as owed before anything is sent: a crash from here on
    // never loses one.
    let new: Vec<Event> = summary
        .planned
        .iter()
        .filter(|p| !p.retry)
        .map(|p| Event { envelope: &p.envelope, status: Status::Pending })
        .collect();
    if !new.is_empty() {
        outbox::append(lake, memory.next_seq, &new).map_err(io_error(&outbox_dir))?;
        memory.next_seq += 1;
    }
    let client = deliver::client(&config.delivery)
        .map_err(|e| NudgeError::Input(format!("HTTP client: {}", e.without_url())))?;
    let mut sent_any = false;
    for (index, planned) in summary.planned.iter().enumerate() {
        if index >= config.delivery.max_messages {
            summary.deferred += 1;
            continue;
        }
        if sent_any && config.delivery.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(config.delivery.interval_ms)).await;
        }
        let mut envelope = planned.envelope.clone();
        let label = format!("{} ({}, {})", envelope.destination, envelope.kind.name(), envelope.secret);
        let outcome = match config::resolve_secret(&envelope.secret, config.secrets_file.as_deref(), env) {
            Ok(url) => {
                sent_any = true;
                deliver::send(&client, &url, &envelope.payload, &config.delivery, &label).await
            }
            Err(error) => deliver::Outcome { delivered: false, attempts: 0, error },
        };
        envelope.attempts += i64::from(outcome.attempts);
        envelope.last_error = outcome.error.clone();
        let status = if outcome.delivered { Status::Sent } else { Status::Failed };
        outbox::append(lake, memory.next_seq, &[Event { envelope: &envelope, status }])
            .map_err(io_error(&outbox_dir))?;
        memory.next_seq += 1;
        if outcome.delivered {
            tracing::info!(team = %envelope.team, destination = %label, "sent");
            summary.sent += 1;
        } else {
            tracing::warn!(team = %envelope.team, destination = %label, error = %outcome.error, "not delivered, kept for the next run");
            summary.failed.push(Failure { team: envelope.team.clone(), destination: label, error: outcome.error });
        }
    }
    Ok(())
}

/// Acknowledges (`until` None) or snoozes a finding: it is not told again until it
/// changes materially (acknowledged) or until the date (snoozed). Returns the
/// finding's current monthly savings when the findings table has it.
pub async fn ack(
    lake: &Lake,
    finding_id: &str,
    until: Option<NaiveDate>,
    note: &str,
) -> Result<Option<(i128, String)>, NudgeError> {
    if finding_id.trim().is_empty() {
        return Err(NudgeError::Input("a finding id is needed (see `tally sql` on the findings table)".into()));
    }
    let ctx = lake.session().await?;
    let memory = outbox::load(&ctx).await?;
    let far = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
    let value = match content::findings(&ctx, far).await {
        Ok(rows) => rows
            .into_iter()
            .find(|f| f.finding_id == finding_id)
            .and_then(|f| f.monthly_savings.map(|v| (v, f.currency))),
        Err(_) => None,
    };
    let (status, state) = match until {
        Some(day) => (Status::Snoozed, day.to_string()),
        None => (Status::Acked, String::new()),
    };
    let dir: PathBuf = lake.table_dir(crate::lake::OUTBOX);
    let savings = value.as_ref().map(|(v, _)| *v);
    outbox::append_item_event(lake, memory.next_seq, &format!("finding:{finding_id}"), status, &state, savings, note)
        .map_err(io_error(&dir))?;
    Ok(value)
}

/// The payload's destination, for people: `slack #payments-cost via env:SLACK_PAYMENTS`.
pub fn describe(kind: Kind, channel: &str, secret: &SecretRef) -> String {
    if channel.is_empty() {
        format!("{} via {secret}", kind.name())
    } else {
        format!("{} {channel} via {secret}", kind.name())
    }
}
