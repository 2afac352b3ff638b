//! The Console's HTTP side: the token (renewed on 401), retries under the policy, and every
//! statistics page of a window fetched in order (page-numbered pages concurrently).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use super::page::Page;
use super::{Error, MAX_PAGES};
use crate::config::{ConsoleApi, Paging, ProtectionApi};
use crate::secret::{ConsoleCredentials, Secret};
use crate::wire::{http, Api, Policy};

pub struct ConsoleClient {
    http: reqwest::Client,
    base: Url,
    api: std::sync::Arc<ConsoleApi>,
    creds: ConsoleCredentials,
    token: Mutex<Option<Secret>>,
    /// Whether any token of this client has been accepted: a Console that has never accepted
    /// one (a user outside the Api group, say) is not asked again and again.
    accepted: AtomicBool,
    policy: Policy,
}

impl ConsoleClient {
    pub fn new(
        http: reqwest::Client,
        base: Url,
        api: ConsoleApi,
        creds: ConsoleCredentials,
        policy: Policy,
    ) -> ConsoleClient {
        ConsoleClient {
            http,
            base,
            api: std::sync::Arc::new(api),
            creds,
            token: Mutex::new(None),
            accepted: AtomicBool::new(false),
            policy,
        }
    }

    /// The current token, or a new one when `stale` (the token a request was just refused with)
    /// is still the current one. One refresh serves every request that saw the same stale token:
    /// the others find a newer token here and use it.
    async fn token(&self, stale: Option<&Secret>) -> Result<Secret, Error> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref().filter(|t| stale != Some(*t)) {
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
        let value = self.json_body(&what, resp).await?;
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
            Ok(r) => match http::redirect(&r) {
                Some(refused) => Err(Error::Transport {
                    what: what.to_string(),
                    message: format!("{refused}: set antivirus.base_url to the Console's final https address"),
                }),
                None => Err(status_error(what, r).await),
            },
            Err(e) => Err(Error::Transport { what: what.to_string(), message: e.to_string() }),
        }
    }

    /// GET with the bearer token. A 401 renews the token (one renewal shared by the requests
    /// in flight that saw the same token) and retries: tokens expiring under pages in flight are
    /// renewed as often as that takes, up to `RENEWALS`; a Console that has accepted no token at
    /// all fails after one renewal, with its own message.
    async fn get_authorized(&self, url: &Url, what: &str, api: Api) -> Result<bytes::Bytes, Error> {
        const RENEWALS: usize = 20;
        let mut token = self.token(None).await?;
        for renewal in 0..=RENEWALS {
            let resp = self.send(what, api, || self.http.get(url.clone()).bearer_auth(token.expose())).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                self.accepted.store(true, Ordering::Relaxed);
                return self.body(what, resp).await;
            }
            if renewal == RENEWALS || (renewal >= 1 && !self.accepted.load(Ordering::Relaxed)) {
                return Err(status_error(what, resp).await);
            }
            token = self.token(Some(&token)).await?;
        }
        unreachable!("the last pass returns")
    }

    /// A response's body, bounded by `antivirus.api.max_page_mib` (pages in flight times that
    /// bound is what a run may hold of the Console's answers).
    async fn body(&self, what: &str, resp: reqwest::Response) -> Result<bytes::Bytes, Error> {
        let limit = self.api.max_page_mib as usize * 1024 * 1024;
        http::body(resp, limit, self.policy.request_timeout).await.map_err(|e| Error::Transport {
            what: what.to_string(),
            message: if e.0.contains("over the limit") {
                format!("{e} (antivirus.api.max_page_mib; or a smaller antivirus.api.page_size)")
            } else {
                e.to_string()
            },
        })
    }

    async fn json_body(&self, what: &str, resp: reqwest::Response) -> Result<Value, Error> {
        let bytes = self.body(what, resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json { what: what.to_string(), message: e.to_string() })
    }

    /// A statistics page, parsed on a blocking thread so parsing overlaps the pages in flight.
    async fn get_page(&self, url: &Url, what: &str, page_no: usize) -> Result<Page, Error> {
        let bytes = self.get_authorized(url, what, Api::ConsoleStats).await?;
        let (api, what) = (self.api.clone(), what.to_string());
        tokio::task::spawn_blocking(move || Page::parse(&bytes, &api, page_no, &what))
            .await
            .map_err(|e| Error::Transport { what: "parsing a page".into(), message: e.to_string() })?
    }

    /// `GET health_path` (unauthenticated): the status the Console reports, e.g. "Healthy".
    pub async fn health(&self) -> Result<String, Error> {
        let what = format!("GET {}", self.api.health_path);
        let url = self.url(&self.api.health_path, &[])?;
        let resp = self.send(&what, Api::ConsoleHealth, || self.http.get(url.clone())).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(status_error(&what, resp).await);
        }
        let body = self.json_body(&what, resp).await.ok();
        Ok(body
            .as_ref()
            .and_then(|b| b.get("status"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_string))
    }

    /// A token for the API user (kept for the requests that follow).
    pub async fn authenticate(&self) -> Result<(), Error> {
        self.token(None).await.map(|_| ())
    }

    /// The first statistics page of [from, to] as the Console sent it, for `costwarden check`
    /// to read with the configured shape and, when that fails, to discover the real one.
    pub async fn first_page(&self, from: NaiveDate, to: NaiveDate) -> Result<Value, Error> {
        let what = format!("GET {}", self.api.stats_path);
        let bytes = self.get_authorized(&self.stats_url(from, to, Some(1), None)?, &what, Api::ConsoleStats).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json { what, message: e.to_string() })
    }

    /// Every page of the bucket-protection settings (for `coverage`), in order, as JSON; and
    /// why the list is incomplete, when it is: a page that failed, paging that does not end, or
    /// a single page (`paging = "none"`) that says more pages follow.
    pub async fn protection_pages(&self, api: &ProtectionApi) -> (Vec<Value>, Option<Error>) {
        let what = format!("GET {}", api.path);
        let mut pages: Vec<Value> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut cont: Option<String> = None;
        for n in 1..=MAX_PAGES {
            let mut q = Vec::new();
            match api.paging {
                Paging::Page => {
                    q.push((api.page_param.as_str(), n.to_string()));
                    q.push((api.page_size_param.as_str(), api.page_size.to_string()));
                }
                Paging::Token => q.extend(cont.take().map(|c| (api.token_param.as_str(), c))),
                Paging::None => {}
            }
            let page = match self.url(&api.path, &q) {
                Ok(url) => self.get_authorized(&url, &format!("{what} page {n}"), Api::ConsoleProtection).await,
                Err(e) => Err(e),
            };
            let page = page.and_then(|b| {
                serde_json::from_slice::<Value>(&b)
                    .map_err(|e| Error::Json { what: what.clone(), message: e.to_string() })
            });
            let page = match page {
                Ok(p) => p,
                Err(e) => return (pages, Some(e)),
            };
            let more_pages = page.pointer(&api.total_pages_pointer).and_then(Value::as_u64);
            let next = page.pointer(&api.next_token_pointer).and_then(Value::as_str).filter(|t| !t.is_empty());
            let next = next.map(str::to_string);
            pages.push(page);
            let shape = |message: String| Some(Error::Shape { what: what.clone(), message });
            match api.paging {
                Paging::None => {
                    let more = more_pages.is_some_and(|t| t > 1) || next.is_some();
                    let why = "the list says more pages follow: set coverage.console_api.paging";
                    return (pages, if more { shape(why.into()) } else { None });
                }
                Paging::Page if more_pages.is_none() => {
                    let why = format!(
                        "no page count at {} (coverage.console_api.total_pages_pointer)",
                        api.total_pages_pointer
                    );
                    return (pages, shape(why));
                }
                Paging::Page if more_pages.is_some_and(|t| n >= t) => return (pages, None),
                Paging::Page => {}
                Paging::Token => match next {
                    None => return (pages, None),
                    Some(t) if !seen.insert(t.clone()) => {
                        return (
                            pages,
                            shape(format!("paging does not end (token {} repeated)", crate::text::quoted(&t, 40))),
                        )
                    }
                    Some(t) => cont = Some(t),
                },
            }
        }
        (pages, Some(Error::Shape { what, message: format!("paging does not end within {MAX_PAGES} pages") }))
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
