//! Antivirus for Amazon S3 Console (Cloud Storage Security): per-bucket, per-day scan volume.
//!
//! The token call is documented; the statistics endpoint is not, so its shape comes from
//! `[antivirus.api]` in thresholds.toml (see config::ConsoleApi).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use reqwest::{StatusCode, Url};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::{Antivirus, ConsoleApi, Paging};
use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, SOURCE_CONSOLE};
use crate::model::{Daily, SeriesKey};
use crate::secret::{ConsoleCredentials, Secret};
use crate::sources::SourceOutput;
use crate::wire::{http, Api, Policy};

/// Pages beyond this are refused: a Console that never stops paging must not run up a bill.
const MAX_PAGES: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Console {what}: {status}{detail}")]
    Status { what: String, status: StatusCode, detail: String },
    #[error("Console {what}: {message}")]
    Transport { what: String, message: String },
    #[error("Console {what}: response is not valid JSON: {message}")]
    Json { what: String, message: String },
    #[error("Console {what}: {message}")]
    Shape { what: String, message: String },
    #[error("Console credentials: {0}")]
    Credentials(#[from] crate::secret::SecretError),
}

pub struct ConsoleClient {
    http: reqwest::Client,
    base: Url,
    api: std::sync::Arc<ConsoleApi>,
    creds: ConsoleCredentials,
    token: Mutex<Option<Secret>>,
    policy: Policy,
}

/// One statistics record as the Console reports it, bytes already in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub bucket: String,
    pub date: NaiveDate,
    pub scan_type: Option<String>,
    pub bytes: f64,
    pub objects: f64,
}

impl ConsoleClient {
    pub fn new(
        http: reqwest::Client,
        base: Url,
        api: ConsoleApi,
        creds: ConsoleCredentials,
        policy: Policy,
    ) -> ConsoleClient {
        ConsoleClient { http, base, api: std::sync::Arc::new(api), creds, token: Mutex::new(None), policy }
    }

    async fn token(&self, force: bool) -> Result<Secret, Error> {
        let mut guard = self.token.lock().await;
        if let (false, Some(t)) = (force, guard.as_ref()) {
            return Ok(t.clone());
        }
        let what = format!("POST {}", self.api.token_path);
        let url = self.url(&self.api.token_path, &[])?;
        let body = serde_json::json!({
            "username": self.creds.username,
            "password": self.creds.password.expose(),
        });
        let resp = self.send(&what, Api::ConsoleToken, || self.http.post(url.clone()).json(&body)).await?;
        if !resp.status().is_success() {
            return Err(status_error(&what, resp).await);
        }
        let value = json_body(&what, resp).await?;
        let token = value.get("accessToken").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::Shape { what: what.clone(), message: "no \"accessToken\" string in the response".into() }
        })?;
        let token = Secret::new(token);
        *guard = Some(token.clone());
        Ok(token)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, Error> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| Error::Shape { what: path.to_string(), message: format!("bad URL: {e}") })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends under the retry policy; a 401 is handed back (the caller renews the token), any
    /// other failure becomes an error.
    async fn send(
        &self,
        what: &str,
        api: Api,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        match http::send_retrying(self.policy, api, build).await {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::UNAUTHORIZED => Ok(r),
            Ok(r) => Err(status_error(what, r).await),
            Err(e) => Err(Error::Transport {
                what: what.to_string(),
                // without_url: the URL is not secret, but keep messages short and stable.
                message: format!("{}", e.without_url()),
            }),
        }
    }

    /// GET a statistics page with the bearer token (a 401 fetches a new token once and
    /// retries), then parse it on a blocking thread, so parsing overlaps the pages in flight.
    async fn get_page(&self, url: &Url, what: &str, page_no: usize) -> Result<Page, Error> {
        let mut token = self.token(false).await?;
        for renewed in [false, true] {
            let resp =
                self.send(what, Api::ConsoleStats, || self.http.get(url.clone()).bearer_auth(token.expose())).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                let bytes = resp.bytes().await.map_err(|e| Error::Transport {
                    what: what.to_string(),
                    message: format!("reading the body: {}", e.without_url()),
                })?;
                let (api, what) = (self.api.clone(), what.to_string());
                return tokio::task::spawn_blocking(move || Page::parse(&bytes, &api, page_no, &what))
                    .await
                    .map_err(|e| Error::Transport { what: "parsing a page".into(), message: e.to_string() })?;
            }
            if renewed {
                return Err(status_error(what, resp).await);
            }
            token = self.token(true).await?;
        }
        unreachable!("the loop returns on its second pass")
    }

    fn stats_url(&self, from: NaiveDate, to: NaiveDate, page: Option<u64>, cont: Option<&str>) -> Result<Url, Error> {
        let a = &self.api;
        let mut q = vec![
            (a.from_param.as_str(), from.format(&a.date_format).to_string()),
            (a.to_param.as_str(), to.format(&a.date_format).to_string()),
        ];
        match a.paging {
            Paging::Page => {
                q.push((a.page_param.as_str(), page.unwrap_or(1).to_string()));
                q.push((a.page_size_param.as_str(), a.page_size.to_string()));
            }
            Paging::Token => {
                if let Some(c) = cont {
                    q.push((a.token_param.as_str(), c.to_string()));
                }
            }
            Paging::None => {}
        }
        self.url(&a.stats_path, &q)
    }

    /// Every statistics page for [from, to] (both inclusive), parsed and handed to `each` in
    /// page order as it arrives, so only the pages in flight are held in memory. Page-numbered
    /// pages after the first are fetched concurrently, at most `concurrency` at a time.
    pub async fn fetch_pages(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        concurrency: usize,
        each: &mut (dyn FnMut(Page) + Send),
    ) -> Result<usize, Error> {
        use futures::StreamExt;
        let what = format!("GET {}", self.api.stats_path);
        match self.api.paging {
            Paging::None => {
                each(self.get_page(&self.stats_url(from, to, None, None)?, &what, 1).await?);
                Ok(1)
            }
            Paging::Page => {
                let mut first = self.get_page(&self.stats_url(from, to, Some(1), None)?, &what, 1).await?;
                let total = std::mem::replace(&mut first.total_pages, Ok(1))
                    .map_err(|message| Error::Shape { what: what.clone(), message })?;
                each(first);
                // Always `concurrency` requests in flight (a slow page must not hold back the
                // ones behind it), yet pages are applied in order, so that totals and problems
                // are the same on every run. Fetching runs at most `window` pages ahead of the
                // next one to apply, which bounds the pages held.
                let concurrency = concurrency.max(1);
                let window = 2 * concurrency as u64;
                let fetch = |p: u64| {
                    let what = format!("{what} page {p}");
                    async move {
                        let url = self.stats_url(from, to, Some(p), None)?;
                        self.get_page(&url, &what, p as usize).await.map(|page| (p, page))
                    }
                };
                let mut in_flight = futures::stream::FuturesUnordered::new();
                let mut arrived: BTreeMap<u64, Page> = BTreeMap::new();
                let (mut next_fetch, mut next_apply) = (2, 2);
                loop {
                    while in_flight.len() < concurrency && next_fetch <= total && next_fetch < next_apply + window {
                        in_flight.push(fetch(next_fetch));
                        next_fetch += 1;
                    }
                    let Some(done) = in_flight.next().await else { break };
                    let (p, page) = done?;
                    arrived.insert(p, page);
                    while let Some(page) = arrived.remove(&next_apply) {
                        each(page);
                        next_apply += 1;
                    }
                }
                Ok(next_apply as usize - 1)
            }
            Paging::Token => {
                let mut seen = BTreeSet::new();
                let mut cont: Option<String> = None;
                for n in 1.. {
                    let mut page = self.get_page(&self.stats_url(from, to, None, cont.as_deref())?, &what, n).await?;
                    let next = page.next_token.take();
                    each(page);
                    match next {
                        None => return Ok(n),
                        Some(t) if !seen.insert(t.clone()) || n as u64 >= MAX_PAGES => {
                            return Err(Error::Shape {
                                what,
                                message: format!(
                                    "paging does not end (token {t:?} repeated or over {MAX_PAGES} pages)"
                                ),
                            })
                        }
                        Some(t) => cont = Some(t),
                    }
                }
                unreachable!("the loop returns")
            }
        }
    }
}

/// One statistics page, parsed.
pub struct Page {
    pub items: Vec<Item>,
    pub problems: Vec<String>,
    total_pages: Result<u64, String>,
    next_token: Option<String>,
}

impl Page {
    fn parse(bytes: &[u8], api: &ConsoleApi, page_no: usize, what: &str) -> Result<Page, Error> {
        let doc: &RawValue = serde_json::from_slice(bytes)
            .map_err(|e| Error::Json { what: what.to_string(), message: e.to_string() })?;
        let (items, problems) =
            parse_page(doc, api, page_no).map_err(|message| Error::Shape { what: what.to_string(), message })?;
        Ok(Page { items, problems, total_pages: total_pages(doc, api), next_token: next_token(doc, api) })
    }
}

async fn json_body(what: &str, resp: reqwest::Response) -> Result<Value, Error> {
    let bytes = resp.bytes().await.map_err(|e| Error::Transport {
        what: what.to_string(),
        message: format!("reading the body: {}", e.without_url()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json { what: what.to_string(), message: e.to_string() })
}

/// An RFC 7807 problem body becomes ": title: detail"; anything else is left out.
async fn status_error(what: &str, resp: reqwest::Response) -> Error {
    let status = resp.status();
    let body: Option<Value> = resp.json().await.ok();
    let field = |k: &str| body.as_ref().and_then(|b| b.get(k)).and_then(Value::as_str).map(str::to_string);
    let detail = [field("title"), field("detail")].into_iter().flatten().collect::<Vec<_>>().join(": ");
    Error::Status {
        what: what.to_string(),
        status,
        detail: if detail.is_empty() { String::new() } else { format!(": {detail}") },
    }
}

pub fn total_pages(page: &RawValue, api: &ConsoleApi) -> Result<u64, String> {
    match pointer(page, &api.total_pages_pointer) {
        Some(v) => match serde_json::from_str::<u64>(v.get()) {
            Ok(0) => Ok(1),
            Ok(n) if n <= MAX_PAGES => Ok(n),
            Ok(n) => Err(format!("{} = {n} is over the limit of {MAX_PAGES} pages", api.total_pages_pointer)),
            Err(_) => Err(format!("{} is not a page count: {v}", api.total_pages_pointer)),
        },
        None => Err(format!("no page count at {}", api.total_pages_pointer)),
    }
}

fn next_token(page: &RawValue, api: &ConsoleApi) -> Option<String> {
    let raw = pointer(page, &api.next_token_pointer)?;
    serde_json::from_str::<Text>(raw.get()).ok().map(|t| t.0.into_owned()).filter(|s| !s.is_empty())
}

/// A JSON string, borrowed from the page unless it holds escapes.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The value at an RFC 6901 pointer. Only the objects and arrays on the path are parsed, each to
/// a map or list of raw values: a page's 500 items are never built into a `serde_json::Value`.
fn pointer<'a>(doc: &'a RawValue, pointer: &str) -> Option<&'a RawValue> {
    let mut cur = doc;
    if pointer.is_empty() {
        return Some(cur);
    }
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        cur = match cur.get().trim_start().as_bytes().first()? {
            b'{' => {
                let map: HashMap<Cow<'a, str>, &'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                *map.get(token.as_str())?
            }
            b'[' => {
                let list: Vec<&'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                *list.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Parses one page: items that are malformed become problems, the rest are returned.
/// A page whose item list is missing is an error: its totals would be silently incomplete.
pub fn parse_page(page: &RawValue, api: &ConsoleApi, page_no: usize) -> Result<(Vec<Item>, Vec<String>), String> {
    let items: Vec<&RawValue> = pointer(page, &api.items_pointer)
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| format!("page {page_no}: no item list at {:?}", api.items_pointer))?;
    let names = Names::of(api);
    let mut out = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        match parse_item(raw, api, &names) {
            Ok(item) => out.push(item),
            Err(msg) => problems.push(format!("page {page_no} item {i}: {msg}")),
        }
    }
    Ok((out, problems))
}

/// The configured field names of an item, in the order `Fields` returns them.
struct Names<'c>([Option<&'c str>; 5]);

impl<'c> Names<'c> {
    const BUCKET: usize = 0;
    const DATE: usize = 1;
    const BYTES: usize = 2;
    const OBJECTS: usize = 3;
    const SCAN_TYPE: usize = 4;

    fn of(api: &'c ConsoleApi) -> Self {
        Names([
            Some(api.bucket_field.as_str()),
            Some(api.date_field.as_str()),
            Some(api.bytes_field.as_str()),
            Some(api.objects_field.as_str()),
            api.scan_type_field.as_deref(),
        ])
    }
}

/// Reads one item object keeping only the named fields, as raw JSON; the rest is skipped.
struct Fields<'n, 'c>(&'n Names<'c>);

impl<'de> serde::de::DeserializeSeed<'de> for Fields<'_, '_> {
    type Value = [Option<&'de RawValue>; 5];

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Fields<'_, '_> {
    type Value = [Option<&'de RawValue>; 5];

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = [None; 5];
        while let Some(Text(key)) = map.next_key()? {
            match self.0 .0.iter().position(|n| *n == Some(key.as_ref())) {
                Some(i) => out[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

fn parse_item(raw: &RawValue, api: &ConsoleApi, names: &Names) -> Result<Item, String> {
    use serde::de::DeserializeSeed;
    let not_object = || "not a JSON object".to_string();
    if !raw.get().trim_start().starts_with('{') {
        return Err(not_object());
    }
    let fields =
        Fields(names).deserialize(&mut serde_json::Deserializer::from_str(raw.get())).map_err(|_| not_object())?;
    let text = |i: usize| -> Result<Cow<str>, String> {
        fields[i]
            .and_then(|v| serde_json::from_str::<Text>(v.get()).ok())
            .map(|t| t.0)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("field {:?} missing or not a non-empty string", names.0[i].unwrap_or_default()))
    };
    let bucket = text(Names::BUCKET)?;
    // Built only for a bad item: 600,000 good ones a run must not pay for it.
    let label = || format!("bucket {bucket:?}");
    let date_text = text(Names::DATE).map_err(|m| format!("{}: {m}", label()))?;
    let date = parse_date(&date_text, &api.date_format).ok_or_else(|| {
        format!("{}: {:?} = {date_text:?} is not a date ({})", label(), api.date_field, api.date_format)
    })?;
    let number = |i: usize| -> Result<f64, String> {
        let field = names.0[i].unwrap_or_default();
        let v = fields[i].ok_or_else(|| format!("{} on {date}: field {field:?} missing", label()))?;
        let n = serde_json::from_str::<f64>(v.get())
            .map_err(|_| format!("{} on {date}: {field:?} = {v} is not a number", label()))?;
        if n < 0.0 || !n.is_finite() {
            return Err(format!("{} on {date}: {field:?} = {v} is negative", label()));
        }
        Ok(n)
    };
    let bytes = number(Names::BYTES)? * api.bytes_unit.factor();
    let objects = number(Names::OBJECTS)?;
    let scan_type =
        fields[Names::SCAN_TYPE].and_then(|v| serde_json::from_str::<Text>(v.get()).ok()).map(|t| t.0.into_owned());
    Ok(Item { bucket: bucket.into_owned(), date, scan_type, bytes, objects })
}

/// The configured format, else an ISO 8601 date-time (ASP.NET serialises DateTime that way).
fn parse_date(s: &str, format: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, format)
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
        .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|d| d.date()))
}

/// Per-bucket daily totals, accumulated page by page: 9 bytes a bucket-day (bytes, and which
/// scan types were seen, to catch a record reported twice when paging shifts under us).
pub struct Totals {
    start: NaiveDate,
    /// The first day not accumulated (today: its partial day is not a daily total yet).
    before: NaiveDate,
    report_day: NaiveDate,
    buckets: HashMap<String, Acc>,
    pub problems: Vec<String>,
}

struct Acc {
    bytes: Vec<f64>,
    types: Vec<u8>,
    /// Objects only for the published day: no rule reads their history.
    report_objects: f64,
}

fn type_bit(t: Option<&str>) -> u8 {
    match t.map(str::to_ascii_lowercase).as_deref() {
        None => 1,
        Some("event") => 2,
        Some("retro") => 4,
        Some("api") => 8,
        // Other names cannot be told apart in the bitmask: never reported as repeats.
        Some(_) => 0,
    }
}

impl Totals {
    pub fn new(start: NaiveDate, before: NaiveDate) -> Totals {
        let report_day = before.pred_opt().unwrap_or(before);
        Totals { start, before, report_day, buckets: HashMap::new(), problems: Vec::new() }
    }

    pub fn add(&mut self, it: Item) {
        if it.date >= self.before || it.date < self.start {
            return;
        }
        let days = (self.before - self.start).num_days() as usize;
        let i = (it.date - self.start).num_days() as usize;
        if !self.buckets.contains_key(&it.bucket) {
            let fresh = Acc { bytes: vec![f64::NAN; days], types: vec![0; days], report_objects: f64::NAN };
            self.buckets.insert(it.bucket.clone(), fresh);
        }
        let acc = self.buckets.get_mut(&it.bucket).expect("inserted above");
        let bit = type_bit(it.scan_type.as_deref());
        if bit != 0 && acc.types[i] & bit != 0 {
            self.problems.push(format!(
                "bucket {:?} on {}{}: reported twice; counted once",
                it.bucket,
                it.date,
                it.scan_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default()
            ));
            return;
        }
        acc.types[i] |= bit;
        acc.bytes[i] = if acc.bytes[i].is_nan() { it.bytes } else { acc.bytes[i] + it.bytes };
        if it.date == self.report_day {
            acc.report_objects = if acc.report_objects.is_nan() { it.objects } else { acc.report_objects + it.objects };
        }
    }

    /// ScannedBytes history per bucket, and ScannedObjects for the published day.
    pub fn into_series(self) -> Vec<Daily> {
        let mut out = Vec::with_capacity(self.buckets.len() * 2);
        let mut buckets: Vec<(String, Acc)> = self.buckets.into_iter().collect();
        buckets.sort_by(|a, b| a.0.cmp(&b.0));
        for (bucket, acc) in buckets {
            let key =
                |m| SeriesKey::new(m, vec![(DIM_SOURCE, SOURCE_CONSOLE.to_string()), (DIM_BUCKET, bucket.clone())]);
            let mut bytes = Daily::new(key(Metric::ScannedBytes), self.start);
            bytes.values = acc.bytes;
            out.push(bytes);
            let mut objects = Daily::new(key(Metric::ScannedObjects), self.report_day);
            if !acc.report_objects.is_nan() {
                objects.set(self.report_day, acc.report_objects);
            }
            out.push(objects);
        }
        out
    }
}

/// One collection: every page of the history window, parsed and summed per bucket and day as
/// the pages arrive.
pub async fn collect(
    client: &ConsoleClient,
    cfg: &Antivirus,
    today: NaiveDate,
    concurrency: usize,
) -> Result<SourceOutput, Error> {
    let from = today - chrono::Days::new(u64::from(cfg.history_days));
    let to = today.pred_opt().unwrap_or(today);
    let mut totals = Totals::new(from, today);
    let mut item_problems = Vec::new();
    client
        .fetch_pages(from, to, concurrency, &mut |page| {
            item_problems.extend(page.problems);
            for it in page.items {
                totals.add(it);
            }
        })
        .await?;
    let mut problems = item_problems;
    problems.append(&mut totals.problems);
    let present: BTreeSet<String> = totals.buckets.keys().cloned().collect();
    for b in &cfg.buckets {
        if !present.contains(&b.name) {
            tracing::info!(bucket = %b.name, "the Console reported no scans for this bucket in the window");
        }
    }
    Ok(SourceOutput { daily: totals.into_series(), gauges: Vec::new(), problems })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parse_page_keeps_good_items_and_names_bad_ones() {
        let api = ConsoleApi::default();
        let page = json!({"items": [
            {"bucketName": "uploads", "date": "2026-11-20", "scanType": "Event", "scannedBytes": 1000, "scannedObjects": 2},
            {"bucketName": "uploads", "date": "2026-11-20T00:00:00Z", "scanType": "Retro", "scannedBytes": 500, "scannedObjects": 1},
            {"bucketName": "bad-neg", "date": "2026-11-20", "scannedBytes": -5, "scannedObjects": 1},
            {"bucketName": "bad-str", "date": "2026-11-20", "scannedBytes": "lots", "scannedObjects": 1},
            {"bucketName": "bad-date", "date": "20/11/2026", "scannedBytes": 1, "scannedObjects": 1},
            "nonsense"
        ]});
        let (items, problems) = parse_page(&raw(page), &api, 1).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].date, day("2026-11-20"));
        assert_eq!(
            problems,
            vec![
                "page 1 item 2: bucket \"bad-neg\" on 2026-11-20: \"scannedBytes\" = -5 is negative",
                "page 1 item 3: bucket \"bad-str\" on 2026-11-20: \"scannedBytes\" = \"lots\" is not a number",
                "page 1 item 4: bucket \"bad-date\": \"date\" = \"20/11/2026\" is not a date (%Y-%m-%d)",
                "page 1 item 5: not a JSON object",
            ]
        );
    }

    #[test]
    fn parse_page_without_item_list_is_an_error() {
        let api = ConsoleApi::default();
        assert_eq!(parse_page(&raw(json!({"data": []})), &api, 3).unwrap_err(), "page 3: no item list at \"/items\"");
    }

    #[test]
    fn byte_unit_and_field_names_come_from_config() {
        let api = ConsoleApi {
            items_pointer: "/result/rows".into(),
            bucket_field: "bucket".into(),
            bytes_field: "sizeMb".into(),
            objects_field: "count".into(),
            bytes_unit: crate::config::ByteUnit::Mib,
            ..ConsoleApi::default()
        };
        let page = json!({"result": {"rows": [{"bucket": "b1", "date": "2026-11-01", "sizeMb": 2.5, "count": 7}]}});
        let (items, problems) = parse_page(&raw(page), &api, 1).unwrap();
        assert!(problems.is_empty());
        assert_eq!(items[0].bytes, 2.5 * 1024.0 * 1024.0);
        assert_eq!(items[0].objects, 7.0);
    }

    #[test]
    fn pointers_descend_objects_and_arrays_and_escapes_are_read() {
        let api = ConsoleApi { items_pointer: "/data/1/a~1b".into(), ..ConsoleApi::default() };
        let text = r#"{"data": [{}, {"a/b": [{"bucketN\u0061me": "up\"loads", "extra": {"deep": [1, 2]},
            "date": "2026-11-01", "scannedBytes": 1e3, "scannedObjects": 1}]}]}"#;
        let page = RawValue::from_string(text.to_string()).unwrap();
        let (items, problems) = parse_page(&page, &api, 1).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(items[0].bucket, "up\"loads");
        assert_eq!(items[0].bytes, 1000.0);
        assert!(parse_page(&page, &ConsoleApi { items_pointer: "/data/7".into(), ..api }, 1).is_err());
    }

    #[test]
    fn totals_sum_scan_types_drop_today_and_report_duplicates() {
        let item = |b: &str, d: &str, t: &str, bytes: f64| Item {
            bucket: b.into(),
            date: day(d),
            scan_type: Some(t.into()),
            bytes,
            objects: 1.0,
        };
        let mut totals = Totals::new(day("2026-11-01"), day("2026-11-21"));
        for it in [
            item("a-bucket", "2026-11-20", "Event", 100.0),
            item("a-bucket", "2026-11-20", "Retro", 50.0),
            item("a-bucket", "2026-11-20", "Retro", 50.0),
            item("a-bucket", "2026-11-21", "Event", 7.0),
            item("a-bucket", "2026-10-31", "Event", 7.0),
            item("a-bucket", "2026-11-19", "Event", 30.0),
        ] {
            totals.add(it);
        }
        assert_eq!(totals.problems, vec!["bucket \"a-bucket\" on 2026-11-20 (Retro): reported twice; counted once"]);
        let series = totals.into_series();
        assert_eq!(series[0].key.to_string(), "ScannedBytes{Bucket=a-bucket,Source=console}");
        let bytes: Vec<_> = series[0].points().collect();
        assert_eq!(bytes, vec![(day("2026-11-19"), 30.0), (day("2026-11-20"), 150.0)]);
        let objects: Vec<_> = series[1].points().collect();
        assert_eq!(objects, vec![(day("2026-11-20"), 2.0)]);
    }

    #[test]
    fn total_pages_rejects_nonsense() {
        let api = ConsoleApi::default();
        assert_eq!(total_pages(&raw(json!({"totalPages": 3})), &api), Ok(3));
        assert_eq!(total_pages(&raw(json!({"totalPages": 0})), &api), Ok(1));
        assert!(total_pages(&raw(json!({"totalPages": "x"})), &api).is_err());
        assert!(total_pages(&raw(json!({})), &api).is_err());
    }
}
