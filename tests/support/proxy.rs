//! A loopback proxy in front of moto that adds a fixed latency to every AWS call and counts
//! the calls per API at the wire, so a benchmark sees real round trips and can check the
//! collector's own request accounting against what actually arrived. It can also answer the
//! next requests of one API with an error of its choosing (throttling), counted like the rest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

struct ProxyState {
    upstream: String,
    /// APIs sent elsewhere than `upstream` (e.g. CloudWatch to a faster double).
    routes: BTreeMap<String, String>,
    latency: Duration,
    http: reqwest::Client,
    counts: Mutex<BTreeMap<String, u64>>,
    /// The access key ids that signed each API's requests (from the SigV4 credential scope).
    keys: Mutex<BTreeMap<String, std::collections::BTreeSet<String>>>,
    /// Time from each request's arrival to its response, latency included, summed per API.
    busy: Mutex<BTreeMap<String, Duration>>,
    /// Per API: how many more requests get this (status, awsJson body) instead of the upstream.
    faults: Mutex<BTreeMap<String, (usize, u16, String)>>,
}

pub struct LatencyProxy {
    pub url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LatencyProxy {
    pub async fn start(upstream: &str, latency: Duration) -> LatencyProxy {
        LatencyProxy::with_routes(upstream, &[], latency).await
    }

    /// Like `start`, with the APIs named in `routes` forwarded to their own upstream.
    pub async fn with_routes(upstream: &str, routes: &[(&str, &str)], latency: Duration) -> LatencyProxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            routes: routes.iter().map(|(a, u)| (a.to_string(), u.to_string())).collect(),
            latency,
            http: reqwest::Client::builder().no_gzip().build().unwrap(),
            counts: Mutex::new(BTreeMap::new()),
            keys: Mutex::new(BTreeMap::new()),
            busy: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(BTreeMap::new()),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        LatencyProxy { url, state, task }
    }

    /// The access key ids each API's requests were signed with.
    pub fn access_keys(&self) -> BTreeMap<String, std::collections::BTreeSet<String>> {
        self.state.keys.lock().unwrap().clone()
    }

    /// Requests seen per API name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.state.counts.lock().unwrap().clone()
    }

    /// Mean round trip per API as the client saw it: the added latency plus the peer's time.
    pub fn mean_round_trip(&self) -> BTreeMap<String, Duration> {
        let counts = self.counts();
        let busy = self.state.busy.lock().unwrap();
        busy.iter().map(|(api, t)| (api.clone(), *t / counts.get(api).copied().unwrap_or(1).max(1) as u32)).collect()
    }

    /// The next `n` requests of `api` are answered `status` with `body` (an awsJson error such
    /// as `{"__type": "LimitExceededException"}`, or S3's XML) without reaching the upstream.
    /// `api` may name one resource: "GetBucketTagging /a-bucket" fails that bucket's only.
    pub fn fail_next(&self, api: &str, n: usize, status: u16, body: &str) {
        self.state.faults.lock().unwrap().insert(api.to_string(), (n, status, body.to_string()));
    }

    pub fn reset(&self) {
        self.state.counts.lock().unwrap().clear();
        self.state.busy.lock().unwrap().clear();
    }
}

/// The API an AWS request calls: RPC v2 CBOR names it in the path, the JSON protocols in
/// X-Amz-Target, awsQuery in the (possibly gzipped) form body's Action, S3 (path style) in its
/// sub-resource query.
fn api_name(path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> String {
    let sub = |name: &str| query.is_some_and(|q| q.split('&').any(|p| p == name || p.starts_with(&format!("{name}="))));
    let s3 = headers.get("x-amz-content-sha256").is_some();
    if s3 && sub("tagging") {
        return "GetBucketTagging".into();
    }
    if s3 && sub("location") {
        return "GetBucketLocation".into();
    }
    if s3 && path == "/" && headers.get("x-amz-target").is_none() && body.is_empty() {
        return "ListBuckets".into();
    }
    if let Some(op) = super::cbor::operation(path) {
        return op.to_string();
    }
    if let Some(t) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let text = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(body), &mut s);
        s
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    url::form_urlencoded::parse(text.as_bytes())
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "other".into())
}

async fn forward(State(s): State<Arc<ProxyState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let api = api_name(parts.uri.path(), parts.uri.query(), &parts.headers, &body);
    let upstream = s.routes.get(&api).unwrap_or(&s.upstream).clone();
    *s.counts.lock().unwrap().entry(api.clone()).or_default() += 1;
    let credential = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|a| {
        let scope = a.split("Credential=").nth(1)?;
        scope.split('/').next().map(str::to_string)
    });
    if let Some(key) = credential {
        s.keys.lock().unwrap().entry(api.clone()).or_default().insert(key);
    }
    if let Some(fault) =
        take_fault(&s, &format!("{api} {}", parts.uri.path().trim_end_matches('/'))).or_else(|| take_fault(&s, &api))
    {
        return fault;
    }
    let started = std::time::Instant::now();
    let response = relay(&s, parts, body, upstream).await;
    *s.busy.lock().unwrap().entry(api).or_default() += started.elapsed();
    response
}

fn take_fault(s: &ProxyState, api: &str) -> Option<Response> {
    let mut faults = s.faults.lock().unwrap();
    let (left, status, body) = faults.get_mut(api).filter(|(left, _, _)| *left > 0)?;
    *left -= 1;
    let status = StatusCode::from_u16(*status).unwrap();
    let kind = if body.starts_with('<') { "application/xml" } else { "application/x-amz-json-1.1" };
    Some((status, [("content-type", kind)], body.clone()).into_response())
}

async fn relay(s: &ProxyState, parts: axum::http::request::Parts, body: Bytes, upstream: String) -> Response {
    tokio::time::sleep(s.latency).await;
    super::cbor::relay(&s.http, parts, body, &upstream).await
}
