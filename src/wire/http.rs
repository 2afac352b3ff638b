//! The one HTTP client (Console and Slack share it) and the one way a request leaves through
//! it: counted, and for idempotent calls retried under the `retry::Policy`.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use super::count::{record, Api};
use super::retry::Policy;

/// Bounded timeouts; https is required by configuration validation, not here, so the local
/// doubles can speak plain http on loopback.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("costwarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with only timeouts set builds")
}

/// Whether a secret may cross the network to `url`: over https, or over plain http only to a
/// loopback address (the local doubles). A Console password, a bearer token or a webhook URL
/// never travels in clear.
pub fn secure(url: &reqwest::Url) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    }
}

/// Sends once, counted.
pub async fn send(api: Api, request: RequestBuilder) -> reqwest::Result<Response> {
    record(api);
    request.send().await
}

/// Sends, retrying 429, 5xx, timeouts and refused connections up to `policy.max_attempts`
/// attempts. Returns the last response whatever its status (the caller judges it), or the last
/// transport error.
pub async fn send_retrying(policy: Policy, api: Api, build: impl Fn() -> RequestBuilder) -> reqwest::Result<Response> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = send(api, build()).await;
        let retry = match &outcome {
            Ok(r) => r.status() == StatusCode::TOO_MANY_REQUESTS || r.status().is_server_error(),
            Err(e) => e.is_timeout() || e.is_connect(),
        };
        if !retry || attempt >= policy.max_attempts {
            return outcome;
        }
        tokio::time::sleep(Policy::backoff(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_travel_over_https_or_to_loopback_only() {
        for (url, ok) in [
            ("https://acme-1a2b3c4d.cloudstoragesecapp.com", true),
            ("https://hooks.slack.com/services/T/B/x", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.9.9.9", true),
            ("http://[::1]:9000", true),
            ("http://localhost:1234/hook", true),
            ("http://console.example.com", false),
            ("http://10.0.0.5", false),
            ("http://[::2]", false),
            ("ftp://console.example", false),
        ] {
            assert_eq!(secure(&url.parse().unwrap()), ok, "{url}");
        }
    }
}
