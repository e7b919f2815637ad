//! Nudges: a short, specific message to each team in the chat it already uses
//! (Slack, Microsoft Teams, a generic JSON webhook), remembered in an outbox so
//! nothing is sent twice or silently dropped.

/// The lake table where every message sent (or still owed) is recorded.
pub const OUTBOX_TABLE: &str = "outbox";
