//! A loopback double of the Antivirus for Amazon S3 Console API, faithful to what is known of
//! the real one: `POST /api/Token` → bearer token, 401 with an RFC 7807 body when the token is
//! missing or expired, ASP.NET-style problem bodies on errors, `GET /api/health`. The statistics
//! endpoint's shape is the project's default (config::ConsoleApi). Failures on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Page,
    Token,
}

/// What a test can make the next statistics responses do.
#[derive(Debug, Clone)]
pub enum Fault {
    /// An RFC 7807 error with this status.
    Status(u16),
    /// A 200 whose body is cut off mid-JSON.
    Truncated,
    /// Reject the (valid) token as expired: 401, as the real Console does.
    ExpireToken,
}

#[derive(Debug, Default)]
pub struct Log {
    pub token_requests: usize,
    pub stats_requests: usize,
    /// The most statistics requests being answered at once.
    pub peak_in_flight: usize,
    /// Every Authorization header and body seen, to prove what was (not) sent.
    pub seen: Vec<String>,
    /// Statistics requests refused with 401.
    pub unauthorized: usize,
}

pub struct ConsoleState {
    pub username: String,
    pub password: String,
    pub items: Mutex<Vec<Value>>,
    pub paging: Paging,
    pub faults: Mutex<VecDeque<Fault>>,
    pub delay: Mutex<Duration>,
    /// Page p waits `delay` × (1 + p·7 mod 4) instead: pages then finish out of order.
    pub varied_delay: std::sync::atomic::AtomicBool,
    in_flight: std::sync::atomic::AtomicUsize,
    pub log: Mutex<Log>,
    tokens: Mutex<Vec<String>>,
    next_token: Mutex<u64>,
    /// When set, a token expires after this many statistics requests (as a short-lived token
    /// would while pages are in flight).
    pub token_uses: Mutex<Option<usize>>,
    uses: Mutex<std::collections::HashMap<String, usize>>,
    /// The bucket-protection settings `GET /api/buckets/protection` lists (`protection`).
    pub protection: Mutex<Vec<Value>>,
    /// When set, the protection list is paged as the statistics are (`page`, `pageSize` at
    /// most this, `totalPages` in each page), as a Console of another version might page it.
    pub protection_page_size: Mutex<Option<usize>>,
    /// This page of the protection list answers 500.
    pub protection_fail_page: Mutex<Option<usize>>,
    /// Serve items dated outside the window asked for too, as a Console ignoring it would.
    pub ignore_window: std::sync::atomic::AtomicBool,
    /// Serve another shape than the project's default, as a Console of another version might:
    /// items under `/data/results`, other field names, sizes in GB, the page count under
    /// `/pagination/pageCount` (see `other_item`).
    pub other_shape: std::sync::atomic::AtomicBool,
    /// The items of the last (from, to, bucket) asked for: large benches page through it.
    range_cache: Mutex<Option<(String, Arc<Vec<Value>>)>>,
    /// Page bodies rendered ahead by `prerender`, by query: a bench's timed run then measures
    /// the client, not this double's JSON encoding on the same cores.
    rendered: Mutex<HashMap<String, axum::body::Bytes>>,
}

pub struct Console {
    pub url: String,
    pub state: Arc<ConsoleState>,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self._task.abort();
    }
}

impl Console {
    pub async fn start(username: &str, password: &str, paging: Paging) -> Console {
        let state = Arc::new(ConsoleState {
            username: username.into(),
            password: password.into(),
            items: Mutex::new(Vec::new()),
            paging,
            faults: Mutex::new(VecDeque::new()),
            delay: Mutex::new(Duration::ZERO),
            varied_delay: Default::default(),
            in_flight: Default::default(),
            log: Mutex::new(Log::default()),
            tokens: Mutex::new(Vec::new()),
            next_token: Mutex::new(0),
            token_uses: Mutex::new(None),
            uses: Mutex::default(),
            other_shape: Default::default(),
            protection: Mutex::new(Vec::new()),
            protection_page_size: Mutex::new(None),
            ignore_window: Default::default(),
            protection_fail_page: Mutex::new(None),
            range_cache: Mutex::new(None),
            rendered: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/api/Token", post(token))
            .route("/api/health", get(|| async { Json(json!({"status": "Healthy"})) }))
            .route("/api/statistics/scans", get(stats))
            .route("/api/buckets/protection", get(protection))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Console { url, state, _task: task }
    }

    /// Replaces the statistics; kept sorted (a real paged API has a stable order).
    pub fn set_items(&self, mut items: Vec<Value>) {
        items.sort_by(|a, b| {
            let key = |i: &Value| (i["bucketName"].to_string(), i["date"].to_string(), i["scanType"].to_string());
            key(a).cmp(&key(b))
        });
        *self.state.items.lock().unwrap() = items;
        *self.state.range_cache.lock().unwrap() = None;
        self.state.rendered.lock().unwrap().clear();
    }

    /// Renders every page of [from, to] at `size` items a page now, ahead of the requests.
    pub fn prerender(&self, from: chrono::NaiveDate, to: chrono::NaiveDate, size: usize) {
        let items = in_range(&self.state, from, to, None);
        let total_pages = items.len().div_ceil(size).max(1);
        let mut rendered = self.state.rendered.lock().unwrap();
        for page in 1..=total_pages {
            rendered.insert(page_key(from, to, page, size), page_body(&items, page, size, total_pages).into());
        }
    }

    pub fn fault(&self, f: Fault) {
        self.state.faults.lock().unwrap().push_back(f);
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.state.log.lock().unwrap()
    }
}

/// The daily statistics item of the double's default shape.
pub fn item(bucket: &str, date: chrono::NaiveDate, scan_type: &str, bytes: u64, objects: u64) -> Value {
    json!({
        "bucketName": bucket,
        "date": date.format("%Y-%m-%d").to_string(),
        "scanType": scan_type,
        "scannedBytes": bytes,
        "scannedObjects": objects,
    })
}

/// One bucket's protection settings as the double lists them (the defaults of
/// config::ProtectionApi); empty `scan` paths: the whole bucket.
pub fn protection_item(bucket: &str, on: bool, scan: &[&str], skip: &[&str]) -> Value {
    json!({"bucketName": bucket, "protected": on, "scanPaths": scan, "skipPaths": skip, "scanMode": "Event"})
}

async fn protection(
    State(s): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    if !s.tokens.lock().unwrap().iter().any(|t| t == token) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "The access token is missing or expired.");
    }
    let all = s.protection.lock().unwrap().clone();
    let Some(max) = *s.protection_page_size.lock().unwrap() else {
        return Json(json!({"items": all})).into_response();
    };
    let size: usize = q.get("pageSize").and_then(|p| p.parse().ok()).unwrap_or(max).clamp(1, max);
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    if *s.protection_fail_page.lock().unwrap() == Some(page) {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "Injected failure.");
    }
    let chunk: Vec<&Value> = all.iter().skip((page - 1) * size).take(size).collect();
    Json(json!({"items": chunk, "page": page, "totalPages": all.len().div_ceil(size).max(1)})).into_response()
}

/// An item of the default shape in the other one: bytes as (fractional) GB.
fn other_item(i: &Value) -> Value {
    json!({
        "s3BucketName": i["bucketName"],
        "day": format!("{}T00:00:00Z", i["date"].as_str().unwrap_or("")),
        "sizeGb": i["scannedBytes"].as_f64().unwrap_or(0.0) / 1e9,
        "fileCount": i["scannedObjects"],
        "scanKind": i["scanType"],
    })
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": "/api",
    });
    (status, [("content-type", "application/problem+json")], body.to_string()).into_response()
}

async fn token(State(s): State<Arc<ConsoleState>>, body: String) -> Response {
    {
        let mut log = s.log.lock().unwrap();
        log.token_requests += 1;
        log.seen.push(body.clone());
    }
    let creds: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if creds.get("username").and_then(Value::as_str) != Some(s.username.as_str())
        || creds.get("password").and_then(Value::as_str) != Some(s.password.as_str())
    {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Incorrect username or password.");
    }
    let mut n = s.next_token.lock().unwrap();
    *n += 1;
    let token = format!("tok-{}", *n);
    s.tokens.lock().unwrap().push(token.clone());
    Json(json!({"accessToken": token, "expiresIn": 3600, "tokenType": "Bearer"})).into_response()
}

async fn stats(
    State(s): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    {
        let mut log = s.log.lock().unwrap();
        log.stats_requests += 1;
        log.seen.push(auth.clone());
    }
    use std::sync::atomic::Ordering::SeqCst;
    let now = s.in_flight.fetch_add(1, SeqCst) + 1;
    {
        let mut log = s.log.lock().unwrap();
        log.peak_in_flight = log.peak_in_flight.max(now);
    }
    let mut delay = *s.delay.lock().unwrap();
    if s.varied_delay.load(SeqCst) {
        let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        delay *= 1 + page * 7 % 4;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    s.in_flight.fetch_sub(1, SeqCst);
    let token = auth.strip_prefix("Bearer ").unwrap_or("").to_string();
    let mut valid = s.tokens.lock().unwrap().contains(&token);
    if let (true, Some(limit)) = (valid, *s.token_uses.lock().unwrap()) {
        let mut uses = s.uses.lock().unwrap();
        let used = uses.entry(token.clone()).or_default();
        *used += 1;
        if *used > limit {
            s.tokens.lock().unwrap().retain(|k| *k != token);
            valid = false;
        }
    }
    if !valid {
        s.log.lock().unwrap().unauthorized += 1;
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "The access token is missing or expired.");
    }
    let fault = s.faults.lock().unwrap().pop_front();
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap();
            return problem(status, status.canonical_reason().unwrap_or("Error"), "Injected failure.");
        }
        Some(Fault::Truncated) => {
            return (StatusCode::OK, [("content-type", "application/json")], "{\"items\": [{\"bucketName\": \"a\"")
                .into_response();
        }
        Some(Fault::ExpireToken) => {
            s.tokens.lock().unwrap().clear();
            return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "The access token expired.");
        }
        None => {}
    }
    let date = |k: &str| q.get(k).and_then(|d| d.parse::<chrono::NaiveDate>().ok());
    let (Some(from), Some(to)) = (date("from"), date("to")) else {
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "from and to are required dates (yyyy-MM-dd).");
    };
    // `bucket` narrows to one bucket (what a per-bucket client asks for).
    let bucket = q.get("bucket").cloned();
    let size: usize = q.get("pageSize").and_then(|p| p.parse().ok()).unwrap_or(100).clamp(1, 10_000);
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    if s.paging == Paging::Page && bucket.is_none() {
        if let Some(body) = s.rendered.lock().unwrap().get(&page_key(from, to, page, size)) {
            return ([("content-type", "application/json")], body.clone()).into_response();
        }
    }
    let items = in_range(&s, from, to, bucket.as_deref());
    match s.paging {
        Paging::Page if s.other_shape.load(SeqCst) => {
            let total_pages = items.len().div_ceil(size).max(1);
            let chunk: Vec<Value> = items.iter().skip((page - 1) * size).take(size).map(other_item).collect();
            let body = json!({"data": {"results": chunk}, "pagination": {"page": page, "pageCount": total_pages}});
            Json(body).into_response()
        }
        Paging::Page => {
            let total_pages = items.len().div_ceil(size).max(1);
            ([("content-type", "application/json")], page_body(&items, page, size, total_pages)).into_response()
        }
        Paging::Token => {
            const SIZE: usize = 2;
            let start: usize =
                q.get("continuationToken").and_then(|t| t.strip_prefix("c").and_then(|n| n.parse().ok())).unwrap_or(0);
            let chunk: Vec<Value> = items.iter().skip(start).take(SIZE).cloned().collect();
            let next = (start + SIZE < items.len()).then(|| format!("c{}", start + SIZE));
            Json(json!({"items": chunk, "continuationToken": next})).into_response()
        }
    }
}

/// The items dated within [from, to] (and of `bucket`, if given), cached for the next page.
fn in_range(s: &ConsoleState, from: chrono::NaiveDate, to: chrono::NaiveDate, bucket: Option<&str>) -> Arc<Vec<Value>> {
    let cache_key = format!("{from}/{to}/{bucket:?}");
    if let Some((_, v)) = s.range_cache.lock().unwrap().as_ref().filter(|(k, _)| *k == cache_key) {
        return v.clone();
    }
    let v: Arc<Vec<Value>> = Arc::new(
        s.items
            .lock()
            .unwrap()
            .iter()
            .filter(|i| {
                i.get("date")
                    .and_then(Value::as_str)
                    .and_then(|d| d.get(..10))
                    .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
                    .is_none_or(|d| (d >= from && d <= to) || s.ignore_window.load(std::sync::atomic::Ordering::SeqCst))
                    && bucket.is_none_or(|b| i["bucketName"] == b)
            })
            .cloned()
            .collect(),
    );
    *s.range_cache.lock().unwrap() = Some((cache_key, v.clone()));
    v
}

fn page_key(from: chrono::NaiveDate, to: chrono::NaiveDate, page: usize, size: usize) -> String {
    format!("{from}/{to}/{page}/{size}")
}

fn page_body(items: &[Value], page: usize, size: usize, total_pages: usize) -> Vec<u8> {
    let chunk: Vec<&Value> = items.iter().skip((page - 1) * size).take(size).collect();
    serde_json::to_vec(&json!({"items": chunk, "page": page, "pageSize": size, "totalPages": total_pages}))
        .expect("JSON values serialise")
}
