//! The outbox: the lake's `outbox` table (`<lake>/outbox/<seq>-<pid>.parquet`),
//! one row per message and item it tells, per event. Events are only appended:
//!
//! | status | written |
//! |---|---|
//! | `pending` | before a new message is sent (so a crash never loses it) |
//! | `sent` | after the endpoint accepted it |
//! | `failed` | after this run's tries failed; it is retried, as recorded, on the next run |
//! | `acked`, `snoozed` | by `tally nudge ack` / `snooze` (message_id empty; `item_state` = until, for snoozes) |
//!
//! A message's state is its rows with the highest `seq`. Each file is written
//! with [`crate::lake::write_parquet_atomic`] (a kill leaves the old state or the
//! new, never a partial file). A message sent whose `sent` row was not written
//! (a kill between the two) is still `pending` and is sent once more on the next
//! run: tally errs towards one duplicate, never towards a silent drop.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use super::config::{Kind, SecretRef};
use super::message::Item;
use crate::lake::Lake;
use crate::lake::OUTBOX as OUTBOX_TABLE;
use crate::money::{PRECISION, SCALE};

const COLUMNS: [&str; 14] = [
    "recorded_at",
    "message_id",
    "as_of",
    "team",
    "destination",
    "kind",
    "channel",
    "secret_ref",
    "status",
    "last_error",
    "item_id",
    "item_kind",
    "item_state",
    "payload",
];

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![Field::new("seq", DataType::Int64, false)];
    fields.extend(COLUMNS.iter().map(|c| Field::new(*c, DataType::Utf8, true)));
    fields.push(Field::new("attempts", DataType::Int64, false));
    fields.push(Field::new("item_value", DataType::Decimal128(PRECISION, SCALE), true));
    Arc::new(Schema::new(fields))
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Sent,
    Failed,
    Acked,
    Snoozed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Acked => "acked",
            Status::Snoozed => "snoozed",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        [Status::Pending, Status::Sent, Status::Failed, Status::Acked, Status::Snoozed]
            .into_iter()
            .find(|s| s.name() == text)
    }
}

/// A message as the outbox keeps it: enough to send it again without the data it came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub message_id: String,
    pub as_of: NaiveDate,
    pub team: String,
    pub destination: String,
    pub kind: Kind,
    pub channel: String,
    pub secret: SecretRef,
    pub payload: Vec<u8>,
    pub items: Vec<Item>,
    pub attempts: i64,
    /// Why the last attempt failed, scrubbed of the webhook URL ([`super::deliver::scrub`]).
    pub last_error: String,
}

/// One event on an item: told (sent), acknowledged or snoozed.
#[derive(Debug, Clone)]
pub struct ItemEvent {
    pub status: Status,
    pub state: String,
    pub value: Option<i128>,
    pub as_of: Option<NaiveDate>,
}

/// What the outbox remembers.
#[derive(Debug, Default)]
pub struct Memory {
    pub next_seq: i64,
    /// Messages whose last event is `pending` or `failed`, oldest first.
    pub owed: Vec<Envelope>,
    /// (team, destination, as_of) of messages already sent or owed.
    pub told: HashMap<(String, String, NaiveDate), Status>,
    /// The last event per item id (sent, acked or snoozed).
    pub items: HashMap<String, ItemEvent>,
}

struct Row {
    seq: i64,
    text: BTreeMap<&'static str, Option<String>>,
    attempts: i64,
    item_value: Option<i128>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.text.get(column).and_then(|v| v.as_deref()).unwrap_or("")
    }
}

async fn read_rows(ctx: &SessionContext) -> datafusion::error::Result<Vec<Row>> {
    if !ctx.table_exist(OUTBOX_TABLE)? {
        return Ok(Vec::new());
    }
    let mut select = vec!["seq".to_string()];
    select.extend(COLUMNS.iter().map(|c| format!("\"{c}\"")));
    select.push("attempts".into());
    select.push("item_value".into());
    let sql = format!("SELECT {} FROM {OUTBOX_TABLE} ORDER BY seq, message_id, item_id", select.join(", "));
    let mut rows = Vec::new();
    for batch in crate::lake::sql::query(ctx, &sql).await?.collect().await? {
        let seq = cast(batch.column(0), &DataType::Int64)?;
        let seq = seq.as_primitive::<Int64Type>();
        let texts: Vec<StringArray> = (0..COLUMNS.len())
            .map(|i| Ok(cast(batch.column(i + 1), &DataType::Utf8)?.as_string::<i32>().clone()))
            .collect::<datafusion::error::Result<_>>()?;
        let attempts = cast(batch.column(COLUMNS.len() + 1), &DataType::Int64)?;
        let attempts = attempts.as_primitive::<Int64Type>();
        let value = cast(batch.column(COLUMNS.len() + 2), &DataType::Decimal128(PRECISION, SCALE))?;
        let value = value.as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            let text = COLUMNS
                .iter()
                .zip(&texts)
                .map(|(c, a)| (*c, (!a.is_null(i)).then(|| a.value(i).to_string())))
                .collect();
            rows.push(Row {
                seq: seq.value(i),
                text,
                attempts: attempts.value(i),
                item_value: (!value.is_null(i)).then(|| value.value(i)),
            });
        }
    }
    Ok(rows)
}

/// Reads the outbox (an empty memory when the lake has none).
pub async fn load(ctx: &SessionContext) -> datafusion::error::Result<Memory> {
    let rows = read_rows(ctx).await?;
    let mut memory = Memory { next_seq: rows.iter().map(|r| r.seq).max().unwrap_or(0) + 1, ..Memory::default() };
    // The last event of each message.
    let mut last_seq: HashMap<&str, i64> = HashMap::new();
    for row in rows.iter().filter(|r| !r.get("message_id").is_empty()) {
        let seq = last_seq.entry(row.get("message_id")).or_insert(row.seq);
        *seq = (*seq).max(row.seq);
    }
    let mut envelopes: BTreeMap<(i64, String), Envelope> = BTreeMap::new();
    let mut first_seq: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        let id = row.get("message_id");
        if !id.is_empty() {
            first_seq.entry(id.to_string()).or_insert(row.seq);
        }
    }
    for row in &rows {
        let status = Status::parse(row.get("status"));
        let as_of = NaiveDate::parse_from_str(row.get("as_of"), "%Y-%m-%d").ok();
        let id = row.get("message_id");
        if id.is_empty() {
            // acks and snoozes
            if let Some(status) = status {
                let event =
                    ItemEvent { status, state: row.get("item_state").to_string(), value: row.item_value, as_of };
                memory.items.insert(row.get("item_id").to_string(), event);
            }
            continue;
        }
        if last_seq.get(id) != Some(&row.seq) {
            continue;
        }
        let Some(status) = status else { continue };
        let Some(as_of) = as_of else { continue };
        memory.told.insert((row.get("team").to_string(), row.get("destination").to_string(), as_of), status);
        if !row.get("item_id").is_empty() && status == Status::Sent {
            let event = ItemEvent {
                status,
                state: row.get("item_state").to_string(),
                value: row.item_value,
                as_of: Some(as_of),
            };
            // Rows come in seq order: a later send replaces an earlier ack and vice versa.
            memory.items.insert(row.get("item_id").to_string(), event);
        }
        if matches!(status, Status::Pending | Status::Failed) {
            let key = (first_seq[id], id.to_string());
            let envelope = envelopes.entry(key).or_insert_with(|| Envelope {
                message_id: id.to_string(),
                as_of,
                team: row.get("team").to_string(),
                destination: row.get("destination").to_string(),
                kind: Kind::parse(row.get("kind")).unwrap_or(Kind::Webhook),
                channel: row.get("channel").to_string(),
                secret: SecretRef::parse(row.get("secret_ref")).unwrap_or(SecretRef::Env(String::new())),
                payload: row.get("payload").as_bytes().to_vec(),
                items: Vec::new(),
                attempts: row.attempts,
                last_error: row.get("last_error").to_string(),
            });
            if !row.get("item_id").is_empty() {
                envelope.items.push(Item {
                    id: row.get("item_id").to_string(),
                    kind: item_kind(row.get("item_kind")),
                    state: row.get("item_state").to_string(),
                    value: row.item_value,
                });
            }
        }
    }
    memory.owed = envelopes.into_values().collect();
    Ok(memory)
}

fn item_kind(text: &str) -> &'static str {
    match text {
        "budget" => "budget",
        "week" => "week",
        "unallocated" => "unallocated",
        "recommendation" => "recommendation",
        "anomaly" => "anomaly",
        "win" => "win",
        _ => "other",
    }
}

/// One event to append.
pub struct Event<'a> {
    pub envelope: &'a Envelope,
    pub status: Status,
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Appends events as one file of the `outbox` table.
pub fn append(lake: &Lake, seq: i64, events: &[Event]) -> std::io::Result<()> {
    let recorded_at = now();
    let mut rows: Vec<OutRow> = Vec::new();
    for event in events {
        let e = event.envelope;
        let payload = String::from_utf8_lossy(&e.payload).into_owned();
        let items: Vec<Option<&Item>> =
            if e.items.is_empty() { vec![None] } else { e.items.iter().map(Some).collect() };
        for item in items {
            let text = [
                Some(recorded_at.clone()),
                Some(e.message_id.clone()),
                Some(e.as_of.to_string()),
                Some(e.team.clone()),
                Some(e.destination.clone()),
                Some(e.kind.name().to_string()),
                Some(e.channel.clone()),
                Some(e.secret.to_string()),
                Some(event.status.name().to_string()),
                Some(e.last_error.clone()),
                item.map(|i| i.id.clone()),
                item.map(|i| i.kind.to_string()),
                item.map(|i| i.state.clone()),
                Some(payload.clone()),
            ];
            rows.push((text, e.attempts, item.and_then(|i| i.value)));
        }
    }
    write_rows(lake, seq, &rows)
}

/// Records an acknowledgement or a snooze of an item (`finding:<id>`).
pub fn append_item_event(
    lake: &Lake,
    seq: i64,
    item_id: &str,
    status: Status,
    state: &str,
    value: Option<i128>,
    note: &str,
) -> std::io::Result<()> {
    let text = [
        Some(now()),
        Some(String::new()),
        None,
        None,
        None,
        None,
        None,
        None,
        Some(status.name().to_string()),
        Some(note.to_string()),
        Some(item_id.to_string()),
        Some("recommendation".to_string()),
        Some(state.to_string()),
        None,
    ];
    write_rows(lake, seq, &[(text, 0, value)])
}

/// A row to write: the text columns in `COLUMNS` order, attempts, item_value.
type OutRow = ([Option<String>; 14], i64, Option<i128>);

fn write_rows(lake: &Lake, seq: i64, rows: &[OutRow]) -> std::io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![seq; rows.len()]))];
    for i in 0..COLUMNS.len() {
        columns.push(Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0[i].clone()))));
    }
    columns.push(Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))));
    columns.push(Arc::new(
        Decimal128Array::from_iter(rows.iter().map(|r| r.2))
            .with_precision_and_scale(PRECISION, SCALE)
            .map_err(std::io::Error::other)?,
    ));
    let batch = RecordBatch::try_new(SCHEMA.clone(), columns).map_err(std::io::Error::other)?;
    let path = lake.table_file(OUTBOX_TABLE, &format!("{seq:010}-{}", std::process::id()));
    crate::lake::write_parquet_atomic(&path, &[batch])
}
