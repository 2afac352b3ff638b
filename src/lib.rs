//! costwarden: collects the malware scanner's cost drivers, writes them as CloudWatch custom
//! metrics, and warns the owning team before the cost runs away.

pub mod alerts;
pub mod backtest;
pub mod config;
pub mod datadog;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod report;
pub mod rules;
pub mod run;
pub mod secret;
pub mod sink;
pub mod sources;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::metrics::{Metric, DIM_API, DIM_SOURCE};
use crate::model::{Sample, SeriesKey};
use crate::sink::cloudwatch::{self, SinkReport};
use crate::sources::{antivirus, cost_explorer, ecs, guardduty, Api, Requests, SourceId, SourceOutput};

/// The AWS and HTTP clients, built once (per Lambda container / daemon) and injected, so tests
/// can point every one of them at loopback peers.
#[derive(Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub cost_explorer: aws_sdk_costexplorer::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    pub http: reqwest::Client,
}

impl Clients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, http_timeout: Duration) -> Clients {
        Clients {
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            cost_explorer: aws_sdk_costexplorer::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            http: antivirus::http_client(http_timeout),
        }
    }

    /// The standard AWS chain (env, profile, IMDS/ECS/Lambda role); `AWS_ENDPOINT_URL` is
    /// honoured by the SDK itself, which is how the local run and the tests reach moto.
    pub async fn from_env(config: &Config) -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.collector.region.clone()))
            .load()
            .await;
        Clients::from_sdk_config(&sdk, Duration::from_secs(config.collector.request_timeout_secs))
    }
}

pub struct App {
    pub config: Config,
    pub clients: Clients,
    /// Overrides `antivirus.base_url` (`COSTWARDEN_CONSOLE_URL`), e.g. for the local double.
    pub console_url: Option<reqwest::Url>,
    console: tokio::sync::OnceCell<antivirus::ConsoleClient>,
}

impl App {
    pub fn new(config: Config, clients: Clients) -> App {
        App { config, clients, console_url: None, console: tokio::sync::OnceCell::new() }
    }

    /// The Console client is built on first use and kept, so its token survives across runs of
    /// a daemon or warm Lambda invocations. A failure (e.g. missing credentials) is retried on
    /// the next run.
    async fn console(&self, requests: &Requests) -> Result<&antivirus::ConsoleClient, antivirus::Error> {
        let av = self.config.antivirus.as_ref().expect("called only with [antivirus]");
        self.console
            .get_or_try_init(|| async {
                let creds = secret::console_credentials(&av.credentials, &self.clients.secrets, requests).await?;
                let base = match &self.console_url {
                    Some(u) => u.clone(),
                    None => av.base_url.parse().map_err(|e| antivirus::Error::Shape {
                        what: "antivirus.base_url".into(),
                        message: format!("{e}"),
                    })?,
                };
                Ok(antivirus::ConsoleClient::new(
                    self.clients.http.clone(),
                    base,
                    av.api.clone(),
                    creds,
                    self.config.collector.max_attempts,
                ))
            })
            .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Read, but some items or services had problems.
    Partial,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub source: SourceId,
    pub status: Status,
    pub series: usize,
    pub samples: usize,
    /// The most recent day with a daily total (None for gauges or when nothing arrived).
    pub latest_day: Option<NaiveDate>,
    pub requests: u64,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub started: DateTime<Utc>,
    /// The day whose totals were published (the UTC day before `started`).
    pub report_day: NaiveDate,
    pub dry_run: bool,
    pub sources: Vec<SourceReport>,
    pub datums: usize,
    pub sink: SinkReport,
    pub requests: BTreeMap<Api, u64>,
    pub estimated_usd: f64,
    /// Samples refused before writing (non-finite values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    /// Every rule's verdict on every watched series.
    pub findings: Vec<rules::Finding>,
    pub alerts: alerts::deliver::AlertReport,
    /// What was (or, with --dry-run, would have been) written.
    #[serde(skip)]
    pub published: Vec<Sample>,
    /// Everything collected, daily history included: the input of evaluation.
    #[serde(skip)]
    pub observations: rules::Observations,
}

impl RunReport {
    /// True when every source was read completely, every datum written, every alert delivered.
    pub fn ok(&self) -> bool {
        self.sources.iter().all(|s| s.status == Status::Ok)
            && self.sink.failed == 0
            && self.rejected.is_empty()
            && self.alerts.ok()
    }
}

/// Jittered exponential backoff: about 200 ms, 400 ms, 800 ms ... capped at 10 s; the jitter
/// (half to full delay) keeps many collectors from retrying in step.
pub fn backoff(attempt: u32) -> Duration {
    let full = 200u64.saturating_mul(1 << attempt.saturating_sub(1).min(6)).min(10_000);
    Duration::from_millis(full / 2 + fastrand::u64(0..=full / 2))
}

/// What is written to CloudWatch: every gauge, and each daily series' total for `report_day`
/// (the previous UTC day), stamped at collection time. So the day a datum belongs to is always
/// the UTC day before its timestamp, and Datadog (which does not backfill) sees every datum.
pub fn publishable(obs: &rules::Observations, report_day: NaiveDate) -> Vec<Sample> {
    let mut out = Vec::with_capacity(obs.daily.len() + obs.gauges.len());
    for d in obs.daily.values() {
        if let Some(v) = d.get(report_day) {
            let mut s = Sample::daily(d.key.clone(), report_day, v);
            s.estimated = d.is_estimated(report_day);
            out.push(s);
        }
    }
    out.extend(obs.gauges.iter().map(|(k, v)| Sample::gauge(k.clone(), *v)));
    out
}

type Collected = (SourceId, Result<SourceOutput, String>, Requests, Duration);

async fn timed<F>(id: SourceId, requests: Requests, f: F) -> Collected
where
    F: std::future::Future<Output = Result<SourceOutput, String>>,
{
    let t = Instant::now();
    let res = f.await;
    (id, res, requests, t.elapsed())
}

/// One full cycle: every enabled source concurrently (each may fail alone), then one write.
pub async fn run_once(app: &App, now: DateTime<Utc>, dry_run: bool) -> RunReport {
    run_sources(app, now, dry_run, None).await
}

/// A cycle over some sources only (the daemon's per-source schedules); None = all enabled.
pub async fn run_sources(app: &App, now: DateTime<Utc>, dry_run: bool, only: Option<&[SourceId]>) -> RunReport {
    let wanted = |id: SourceId| only.is_none_or(|o| o.contains(&id));
    let started = Instant::now();
    let cfg = &app.config;
    let today = now.date_naive();
    let report_day = today.pred_opt().expect("a day before today");
    let conc = cfg.collector.concurrency;

    let av = async {
        let c = cfg.antivirus.as_ref().filter(|c| c.enabled && wanted(SourceId::Antivirus))?;
        let req = Requests::default();
        Some(
            timed(SourceId::Antivirus, req.clone(), async {
                let client = app.console(&req).await.map_err(|e| e.to_string())?;
                antivirus::collect(client, c, today, conc, &req).await.map_err(|e| e.to_string())
            })
            .await,
        )
    };
    let gd = async {
        let c = cfg.guardduty.as_ref().filter(|c| c.enabled && wanted(SourceId::GuardDuty))?;
        let req = Requests::default();
        Some(
            timed(SourceId::GuardDuty, req.clone(), async {
                guardduty::collect(&app.clients.cloudwatch, c, today, &req, conc).await.map_err(|e| e.to_string())
            })
            .await,
        )
    };
    let ce = async {
        let c = cfg.cost.as_ref().filter(|c| c.enabled && wanted(SourceId::Cost))?;
        let req = Requests::default();
        Some(
            timed(SourceId::Cost, req.clone(), async {
                cost_explorer::collect(&app.clients.cost_explorer, c, today, &req, cfg.collector.max_attempts)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await,
        )
    };
    let ecs_fut = async {
        let c = cfg.ecs.as_ref().filter(|c| c.enabled && wanted(SourceId::Ecs))?;
        let req = Requests::default();
        let clients = ecs::EcsClients { ecs: app.clients.ecs.clone(), autoscaling: app.clients.autoscaling.clone() };
        Some(timed(SourceId::Ecs, req.clone(), async { Ok(ecs::collect(&clients, c, &req, conc).await) }).await)
    };
    // Boxed: the four sources' futures nest deep enough to strain the compiler's layout queries.
    let (a, g, c, e) = tokio::join!(Box::pin(av), Box::pin(gd), Box::pin(ce), Box::pin(ecs_fut));

    let mut obs = rules::Observations::default();
    let mut reports = Vec::new();
    let mut requests: BTreeMap<Api, u64> = BTreeMap::new();
    for (id, res, req, elapsed) in [a, g, c, e].into_iter().flatten() {
        let snap = req.snapshot();
        for (api, n) in &snap {
            *requests.entry(*api).or_default() += n;
        }
        let mut rep = SourceReport {
            source: id,
            status: Status::Ok,
            series: 0,
            samples: 0,
            latest_day: None,
            requests: snap.values().sum(),
            duration_ms: elapsed.as_millis() as u64,
            error: None,
            problems: Vec::new(),
        };
        match res {
            Ok(out) => {
                rep.series = out.daily.len() + out.gauges.len();
                rep.samples = out.daily.iter().map(|d| d.points().count()).sum::<usize>() + out.gauges.len();
                rep.latest_day = out.daily.iter().filter_map(|d| d.last_day()).max();
                if !out.problems.is_empty() {
                    rep.status = Status::Partial;
                }
                for p in &out.problems {
                    tracing::warn!(source = id.name(), problem = %p, "source problem");
                }
                rep.problems = out.problems;
                obs.extend(out.daily, out.gauges);
            }
            Err(err) => {
                tracing::error!(source = id.name(), error = %err, "source failed");
                rep.status = Status::Failed;
                rep.error = Some(err);
            }
        }
        reports.push(rep);
    }

    // Evaluate, tell the teams what changed, and turn the verdicts into metrics too.
    let watched = alerts::route::series_rules(cfg, &obs);
    let alert_req = Requests::default();
    let told = alerts::deliver::told(app, now, dry_run, &alert_req).await;
    let phase = Instant::now();
    let findings = rules::evaluate(&watched, &obs, now, &told.0);
    tracing::debug!(
        series = watched.len(),
        findings = findings.len(),
        ms = phase.elapsed().as_millis() as u64,
        "evaluated"
    );
    // Not needed past here, and 300 bytes a series at 10,000 buckets: gone before the write peaks.
    drop(watched);
    let phase = Instant::now();
    let (alert_report, rule_samples) = alerts::deliver::run(app, &findings, told, &alert_req).await;
    tracing::debug!(transitions = alert_report.transitions.len(), ms = phase.elapsed().as_millis() as u64, "alerted");
    let phase = Instant::now();
    for (api, n) in alert_req.snapshot() {
        *requests.entry(api).or_default() += n;
    }

    let mut published = publishable(&obs, report_day);
    published.extend(rule_samples);
    let rejected = cloudwatch::check(&published).1;
    published.retain(|s| s.value.is_finite());

    // Health metrics ride in the same requests, so the write stays at the floor of
    // ⌈datums/1000⌉ calls. They report the planned PutMetricData calls (retries show in the
    // run report): the count must be known before the write that carries it.
    if !dry_run {
        requests.insert(Api::PutMetricData, 0);
    }
    let elapsed = started.elapsed();
    let draft = health_samples(&reports, &requests, 0, elapsed, alert_report.failed);
    let total = published.len() + draft.len();
    if !dry_run {
        let sizes = published.iter().chain(&draft).map(|s| cloudwatch::encoded_size_bound(&cloudwatch::datum(s, now)));
        requests.insert(Api::PutMetricData, cloudwatch::count_batches(sizes) as u64);
    }
    let health = health_samples(&reports, &requests, total, elapsed, alert_report.failed);
    published.extend(health);

    let datum_count = published.len();
    let sink = if dry_run {
        SinkReport::default()
    } else {
        let req = Requests::default();
        // Datums are built batch by batch as the sender has room: 20,000 of them never coexist.
        let rep = cloudwatch::put(
            &app.clients.cloudwatch,
            &cfg.collector.namespace,
            cloudwatch::lazy_batches(&published, now),
            &req,
            conc,
            cfg.collector.max_attempts,
        )
        .await;
        for e in &rep.errors {
            tracing::error!(error = %e, "CloudWatch write failed");
        }
        tracing::debug!(datums = rep.written, ms = phase.elapsed().as_millis() as u64, "written");
        rep
    };
    for r in &rejected {
        tracing::warn!(problem = %r, "datum refused");
    }
    if !dry_run {
        // The report states what was actually sent, retries included.
        requests.insert(Api::PutMetricData, sink.requests as u64);
    }
    let estimated_usd = requests.iter().map(|(api, n)| api.usd_per_request() * *n as f64).sum();
    RunReport {
        started: now,
        report_day,
        dry_run,
        sources: reports,
        datums: datum_count,
        sink,
        requests,
        estimated_usd,
        rejected,
        findings,
        alerts: alert_report,
        published,
        observations: obs,
    }
}

fn health_samples(
    reports: &[SourceReport],
    requests: &BTreeMap<Api, u64>,
    datums: usize,
    elapsed: Duration,
    notifications_failed: usize,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for r in reports {
        let key = SeriesKey::new(Metric::SourceUp, vec![(DIM_SOURCE, r.source.name().to_string())]);
        out.push(Sample::gauge(key, if r.status == Status::Ok { 1.0 } else { 0.0 }));
    }
    for (api, n) in requests {
        let key = |m| SeriesKey::new(m, vec![(DIM_API, api.name().to_string())]);
        out.push(Sample::gauge(key(Metric::ApiRequests), *n as f64));
        out.push(Sample::gauge(key(Metric::ApiCostEstimate), api.usd_per_request() * *n as f64));
    }
    out.push(Sample::gauge(SeriesKey::new(Metric::DatumsWritten, vec![]), datums as f64));
    out.push(Sample::gauge(SeriesKey::new(Metric::RunDuration, vec![]), elapsed.as_secs_f64()));
    out.push(Sample::gauge(SeriesKey::new(Metric::NotificationsFailed, vec![]), notifications_failed as f64));
    out
}
