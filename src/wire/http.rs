//! The one HTTP client (Console and Slack share it) and the one way a request leaves through
//! it: counted, and for idempotent calls retried under the `retry::Policy`. A failure is said
//! for a person: a timeout names its phase, its limit and the attempt.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use super::count::{record, Api};
use super::retry::Policy;

/// The connect phase's own limit (the request's whole limit is `Policy::request_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bounded timeouts; https is required by configuration validation, not here, so the local
/// doubles can speak plain http on loopback. Redirects are never followed and no Referer is
/// ever sent: a redirect would carry the Console password or a webhook's body to wherever the
/// peer points, in clear if it says http, with the webhook URL (a secret) as the Referer.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("costwarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with only timeouts set builds")
}

/// A failed exchange, said for a person (no URL: a webhook's is a secret).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

/// The redirect `resp` answers with, as a refusal naming its status and only the target's
/// origin (its path or query may hold a token); None for any other response.
pub fn redirect(resp: &Response) -> Option<String> {
    let status = resp.status();
    if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return None;
    }
    let target = resp.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
    let origin = target.and_then(|l| resp.url().join(l).ok()).map(|u| u.origin().ascii_serialization());
    let to = match origin {
        Some(o) if o != "null" => format!("to {o}"),
        _ => "with no usable Location".to_string(),
    };
    Some(format!("HTTP {} redirect {to} not followed", status.as_u16()))
}

/// Sends once, counted.
pub async fn send(api: Api, request: RequestBuilder, timeout: Duration) -> Result<Response, Failure> {
    record(api);
    request.send().await.map_err(|e| failure(e, timeout, 1, 1))
}

/// Sends, retrying 429, 5xx, timeouts and refused connections up to `policy.max_attempts`
/// attempts. Returns the last response whatever its status (the caller judges it), or the last
/// transport failure.
pub async fn send_retrying(policy: Policy, api: Api, build: impl Fn() -> RequestBuilder) -> Result<Response, Failure> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        record(api);
        let outcome = build().send().await;
        let retry = match &outcome {
            Ok(r) => r.status() == StatusCode::TOO_MANY_REQUESTS || r.status().is_server_error(),
            Err(e) => e.is_timeout() || e.is_connect(),
        };
        if !retry || attempt >= policy.max_attempts {
            return outcome.map_err(|e| failure(e, policy.request_timeout, attempt, policy.max_attempts));
        }
        tokio::time::sleep(Policy::backoff(attempt)).await;
    }
}

/// The body, refused past `limit` bytes (read chunk by chunk: an endless body never fills
/// memory), its timeout said as one.
pub async fn body(mut resp: Response, limit: usize, timeout: Duration) -> Result<bytes::Bytes, Failure> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        let n = resp.content_length().unwrap_or(0);
        return Err(Failure(format!("the body is {n} bytes, over the limit of {}", mib(limit))));
    }
    let mut out = bytes::BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > limit {
                    return Err(Failure(format!("the body is over the limit of {}", mib(limit))));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out.freeze()),
            Err(e) if e.is_timeout() => {
                let secs = timeout.as_secs();
                return Err(Failure(format!(
                    "timed out after {secs} s reading the body ({} received)",
                    mib(out.len())
                )));
            }
            Err(e) => return Err(Failure(format!("reading the body: {}", chain(e)))),
        }
    }
}

fn mib(n: usize) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// A transport error with its phase; a timeout as "timed out after N s (attempt a of n)".
fn failure(e: reqwest::Error, timeout: Duration, attempt: u32, of: u32) -> Failure {
    let tried = format!("attempt {attempt} of {of}");
    Failure(if e.is_timeout() && e.is_connect() {
        format!("timed out after {} s connecting ({tried})", CONNECT_TIMEOUT.as_secs())
    } else if e.is_timeout() {
        format!("timed out after {} s waiting for the response ({tried})", timeout.as_secs())
    } else if e.is_connect() {
        format!("cannot connect: {} ({tried})", chain(e))
    } else {
        format!("{} ({tried})", chain(e))
    })
}

/// The error and its causes on one line, without the URL.
fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}
