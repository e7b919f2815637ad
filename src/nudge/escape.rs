//! Escaping of values that come from billing data (service names, resource ids,
//! finding titles...), so that they show as text and can never mention people
//! (`<!channel>`, `@here`, `<at>`), link (`<http://evil|click>`) or format.
//!
//! Text tally writes itself is trusted; every value from the lake goes through
//! the escape of the destination's markup.

/// U+200B ZERO WIDTH SPACE: breaks a mention or an emphasis marker while the text
/// still reads the same.
const ZWSP: char = '\u{200B}';

/// Slack mrkdwn: `&`, `<`, `>` as the entities Slack documents (so `<!channel>` and
/// `<http://evil|click>` arrive as text), and a zero-width space after `@` (no `@here`)
/// and before the emphasis, strike and code markers `* _ ~ \``.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            '*' | '_' | '~' | '`' => {
                out.push(ZWSP);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text tally wrote itself, for Slack mrkdwn: only `&`, `<`, `>` need escaping.
pub fn slack_trusted(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Microsoft Teams (Adaptive Card TextBlock markdown): markdown punctuation and
/// `<` `>` backslash-escaped, and a zero-width space after `@`.
pub fn teams(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in clean(text).chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '!' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            c => out.push(c),
        }
    }
    out
}

/// Plain text (the generic webhook, dry-run previews): control characters and
/// line breaks become spaces, so a value cannot forge extra lines. JSON encoding
/// does the rest.
pub fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_mentions_and_links_stay_text() {
        assert_eq!(slack("<!channel>"), "&lt;!channel&gt;");
        assert_eq!(slack("<http://evil|click>"), "&lt;http://evil|click&gt;");
        assert_eq!(slack("@here"), "@\u{200B}here");
        assert_eq!(slack("*bold* a&b"), "\u{200B}*bold\u{200B}* a&amp;b");
        assert_eq!(slack("line\nbreak"), "line break");
    }

    #[test]
    fn teams_markdown_is_escaped() {
        assert_eq!(teams("[click](http://evil)"), "\\[click\\]\\(http://evil\\)");
        assert_eq!(teams("<at>Everyone</at>"), "\\<at\\>Everyone\\</at\\>");
        assert_eq!(teams("@channel"), "@\u{200B}channel");
    }
}
