//! Payloads, exactly as sent: Slack Block Kit, a Teams Adaptive Card, or a
//! generic JSON document. Pretty-printed JSON (readable in a dry run, accepted by
//! every endpoint), keys in a fixed order, so the same message gives the same bytes.

use serde_json::{Value, json};

use super::config::Kind;
use super::escape;
use super::message::{Line, Message, Span, plain_line};

/// Slack allows 3,000 characters in a section's text and 150 in a header.
const SLACK_SECTION_MAX: usize = 2900;
const SLACK_HEADER_MAX: usize = 150;

pub fn render(kind: Kind, message: &Message) -> Vec<u8> {
    let value = match kind {
        Kind::Slack => slack(message),
        Kind::Teams => teams(message),
        Kind::Webhook => webhook(message),
    };
    let mut bytes = serde_json::to_vec_pretty(&value).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

fn slack_line(line: &Line) -> String {
    line.iter()
        .map(|span| match span {
            Span::Text(t) => escape::slack_trusted(t),
            Span::Bold(t) => format!("*{}*", escape::slack_trusted(t)),
            Span::Data(d) => escape::slack(d),
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn slack(message: &Message) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&escape::clean(&message.title), SLACK_HEADER_MAX), "emoji": false },
    })];
    for section in &message.sections {
        let mut text = format!("*{}*", escape::slack_trusted(&section.heading));
        for line in &section.lines {
            text.push_str("\n• ");
            text.push_str(&slack_line(line));
        }
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": truncate(&text, SLACK_SECTION_MAX) },
        }));
    }
    if let Some(report) = &message.report {
        let text = if is_url(report) {
            format!("<{report}|Full report>")
        } else {
            format!("Full report: {}", escape::slack(report))
        };
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": text }] }));
    }
    json!({
        // The notification text; the blocks are what people read.
        "text": escape::slack_trusted(&message.title),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

fn teams_line(line: &Line) -> String {
    line.iter()
        .map(|span| match span {
            Span::Text(t) => t.clone(),
            Span::Bold(t) => format!("**{t}**"),
            Span::Data(d) => escape::teams(d),
        })
        .collect()
}

fn teams(message: &Message) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": escape::teams(&message.title), "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    for section in &message.sections {
        body.push(json!({ "type": "TextBlock", "text": format!("**{}**", section.heading), "wrap": true, "spacing": "Medium" }));
        let lines: Vec<String> = section.lines.iter().map(|l| format!("- {}", teams_line(l))).collect();
        body.push(json!({ "type": "TextBlock", "text": lines.join("\r"), "wrap": true }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(report) = &message.report {
        if is_url(report) {
            card["actions"] = json!([{ "type": "Action.OpenUrl", "title": "Full report", "url": report }]);
        } else {
            card["body"].as_array_mut().expect("body is an array").push(
                json!({ "type": "TextBlock", "text": format!("Full report: {}", escape::teams(report)), "wrap": true }),
            );
        }
    }
    json!({
        "type": "message",
        "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card }],
    })
}

fn webhook(message: &Message) -> Value {
    let sections: Vec<Value> = message
        .sections
        .iter()
        .map(|s| json!({ "heading": s.heading, "lines": s.lines.iter().map(plain_line).collect::<Vec<_>>() }))
        .collect();
    let items: Vec<Value> = message
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "kind": i.kind,
                "state": i.state,
                "value": i.value.map(|v| crate::money::format(v, crate::money::SCALE as u32)),
            })
        })
        .collect();
    json!({
        "source": "tally",
        "team": message.team,
        "org_path": message.org_path,
        "as_of": message.as_of.to_string(),
        "title": escape::clean(&message.title),
        "text": message.plain_text(),
        "sections": sections,
        "items": items,
        "report": message.report,
    })
}

fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}
