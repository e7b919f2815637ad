//! Sending one payload to one webhook: a POST of JSON with a timeout, retried on
//! 429 and 5xx (and on timeouts and refused connections) with exponential
//! backoff, honouring Retry-After. Nothing here prints or logs the URL: errors
//! are built from the status, the answer's body and reqwest's error without its
//! URL, and every one passes through [`scrub`] before anyone sees or stores it.

use std::time::Duration;

use super::config::Delivery;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub delivered: bool,
    /// Requests made.
    pub attempts: u32,
    /// Why it was not delivered (empty when it was).
    pub error: String,
}

pub fn client(delivery: &Delivery) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(delivery.timeout_ms))
        .connect_timeout(Duration::from_millis(delivery.timeout_ms))
        .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
        // A webhook that redirects is misconfigured; do not follow it elsewhere with the payload.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The wait a Retry-After header asks for: delay-seconds, or an HTTP date.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds().max(0);
    Some(Duration::from_millis(ms as u64))
}

/// Posts `body` to `url`, retrying as `delivery` says.
pub async fn send(client: &reqwest::Client, url: &str, body: &[u8], delivery: &Delivery, label: &str) -> Outcome {
    let mut attempts = 0;
    let mut error;
    loop {
        attempts += 1;
        let result = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_vec())
            .send()
            .await;
        let wait_hint = match result {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    tracing::debug!(destination = label, attempts, status = status.as_u16(), "delivered");
                    return Outcome { delivered: true, attempts, error: String::new() };
                }
                let hint = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, chrono::Utc::now()));
                let text = response.text().await.unwrap_or_default();
                // Scrubbed before it is cut short: a cut could split a secret past recognising.
                let text: String = scrub(&text, url).chars().take(200).collect();
                error = format!(
                    "HTTP {}{}",
                    status.as_u16(),
                    if text.trim().is_empty() { String::new() } else { format!(": {}", text.trim()) }
                );
                tracing::debug!(destination = label, attempts, status = status.as_u16(), "not delivered");
                if !(status.as_u16() == 429 || status.is_server_error()) {
                    // Any other answer will not change by asking again in this run.
                    return Outcome { delivered: false, attempts, error };
                }
                hint
            }
            Err(e) => {
                error = scrub(&error_chain(&e.without_url()), url);
                tracing::debug!(destination = label, attempts, error = %error, "not delivered");
                None
            }
        };
        if attempts >= delivery.max_attempts {
            return Outcome { delivered: false, attempts, error };
        }
        let backoff = Duration::from_millis(delivery.backoff_ms.saturating_mul(1 << (attempts - 1).min(16)));
        let wait = wait_hint.unwrap_or(backoff);
        if wait > Duration::from_millis(delivery.max_wait_ms) {
            error.push_str(&format!(" (Retry-After {}s is longer than max_wait_seconds)", wait.as_secs()));
            return Outcome { delivered: false, attempts, error };
        }
        tokio::time::sleep(wait).await;
    }
}

/// An error and its sources, `error sending request: client error (Connect): tcp connect
/// error: Connection refused`: reqwest's own text alone does not say what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Text from a webhook (its answer's body) or about it (an HTTP client error), made safe
/// to print, log and store in the outbox: the URL is the webhook's credential, and
/// servers echo it back ("Cannot POST /services/T000/B000/XXXX"), whole or in parts.
///
/// Replaced, longest first and ignoring ASCII case: the URL (`<webhook URL>`), its path
/// (`<webhook path>`), its query string, user and password, and each path segment and
/// query value longer than 8 characters, as written and percent-decoded (`<redacted>`).
/// The segments are there because an echo need not hold the whole path: a server may
/// quote only the token ("invalid token XXXX"), decode it, or cut it into a JSON error,
/// and tokens are long random strings (Slack's 24 characters, Teams' `sig=` 43,
/// Discord's 68). Shorter segments are left alone: they are the words of the route
/// (`services`, `hooks`, `api`, `v1`), and scrubbing every one would leave errors
/// that no longer say what was asked for.
pub fn scrub(text: &str, url: &str) -> String {
    const URL: &str = "<webhook URL>";
    const PATH: &str = "<webhook path>";
    const HIDDEN: &str = "<redacted>";
    let url = url.trim();
    let mut secrets: Vec<(String, &str)> = vec![(url.to_string(), URL)];
    if let Ok(parsed) = reqwest::Url::parse(url) {
        secrets.push((parsed.as_str().to_string(), URL));
        if parsed.path().len() > 1 {
            secrets.push((parsed.path().to_string(), PATH));
        }
        if let Some(query) = parsed.query() {
            secrets.push((query.to_string(), HIDDEN));
        }
        for part in [parsed.username(), parsed.password().unwrap_or("")] {
            secrets.push((part.to_string(), HIDDEN));
        }
        let segments = parsed.path_segments().into_iter().flatten().map(str::to_string);
        let values =
            parsed.query().unwrap_or("").split('&').filter_map(|p| p.split_once('=').map(|(_, v)| v.to_string()));
        for raw in segments.chain(values) {
            for part in [percent_decoded(&raw), raw] {
                if part.chars().count() > 8 {
                    secrets.push((part, HIDDEN));
                }
            }
        }
    }
    secrets.retain(|(needle, _)| !needle.is_empty());
    secrets.sort_by_key(|(needle, _)| std::cmp::Reverse(needle.len()));
    let mut text = text.to_string();
    for (needle, with) in &secrets {
        text = replace_ignoring_ascii_case(&text, needle, with);
    }
    text
}

/// `%2F` -> `/`, and `+` -> space as forms write it; invalid escapes are kept as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: &u8| (*b as char).to_digit(16).map(|d| d as u8);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex))
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every occurrence of `needle` in `text`, in any ASCII case, replaced by `with`.
fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    // ASCII lowercasing keeps every byte offset, so matches in the lowered copy are
    // matches at the same offsets (and char boundaries) in the text.
    let (lower, needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_or_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-08-14T10:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Fri, 14 Aug 2026 10:00:05 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("Fri, 14 Aug 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    const SLACK: &str = "https://hooks.slack.example/services/T0A1B2C3D/B0E4F5G6H/Xq7TOKENqV2sNp9LmR4tY8wZ";

    #[test]
    fn scrub_hides_the_url_its_path_and_its_long_segments() {
        // The echo most servers give, and the URL as clients print it.
        assert_eq!(
            scrub("Cannot POST /services/T0A1B2C3D/B0E4F5G6H/Xq7TOKENqV2sNp9LmR4tY8wZ", SLACK),
            "Cannot POST <webhook path>"
        );
        assert_eq!(
            scrub(&format!("error sending request for url ({SLACK})"), SLACK),
            "error sending request for url (<webhook URL>)"
        );
        // Parts of the path, in another case, percent-encoded.
        assert_eq!(scrub("invalid_token: xq7tokenqv2snp9lmr4ty8wz", SLACK), "invalid_token: <redacted>");
        assert_eq!(
            scrub("no hook B0E4F5G6H%2FXq7TOKENqV2sNp9LmR4tY8wZ in T0A1B2C3D", SLACK),
            "no hook <redacted>%2F<redacted> in <redacted>"
        );
        // Short segments are words of the route and stay; so does the host.
        assert_eq!(scrub("hooks.slack.example: no such services", SLACK), "hooks.slack.example: no such services");
        assert_eq!(scrub("HTTP 500", SLACK), "HTTP 500");
    }

    #[test]
    fn scrub_hides_query_strings_their_values_and_credentials() {
        let teams = "https://prod.example/workflows/0f1e2d3c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
        assert_eq!(
            scrub(
                "bad request to /workflows/0f1e2d3c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
                teams
            ),
            "bad request to <webhook path>?<redacted>"
        );
        assert_eq!(
            scrub(
                "{\"error\":\"signature AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde expired\",\"sp\":\"/triggers/manual/run\"}",
                teams
            ),
            "{\"error\":\"signature <redacted> expired\",\"sp\":\"<redacted>\"}"
        );
        assert_eq!(
            scrub("auth failed for hunter2hunter2", "https://bot:hunter2hunter2@chat.example/hook"),
            "auth failed for <redacted>"
        );
        // Text that is not a URL is still hidden whole.
        assert_eq!(scrub("got not-a-url-secret back", "not-a-url-secret"), "got <webhook URL> back");
        assert_eq!(scrub("unchanged", ""), "unchanged");
    }

    #[test]
    fn error_chain_says_what_went_wrong() {
        #[derive(Debug)]
        struct Wrapped(&'static str, Option<std::io::Error>);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_ref().map(|e| e as _)
            }
        }
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        assert_eq!(
            error_chain(&Wrapped("error sending request", Some(refused))),
            "error sending request: Connection refused"
        );
        assert_eq!(error_chain(&Wrapped("timed out", None)), "timed out");
    }
}
