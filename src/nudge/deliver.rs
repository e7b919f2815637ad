//! Sending one payload to one webhook: a POST of JSON with a timeout, retried on
//! 429 and 5xx (and on timeouts and refused connections) with exponential
//! backoff, honouring Retry-After. Nothing here prints or logs the URL: errors
//! are built from the status and reqwest's error without its URL.

use std::time::Duration;

use super::config::{Delivery, redact};

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
                let text: String = redact(&text, url).chars().take(200).collect();
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
                error = redact(&e.without_url().to_string(), url);
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
}
