//! costwarden: collects the malware scanner's cost drivers, writes them as CloudWatch custom
//! metrics, and warns the owning team before the cost runs away. ARCHITECTURE.md maps the
//! modules; this file declares them, the injected clients and the run's report.

pub mod alerts;
pub mod backtest;
pub mod check;
pub mod config;
pub mod coverage;
pub mod datadog;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod report;
pub mod rules;
pub mod run;
pub mod schedule;
pub mod secret;
pub mod selfcost;
pub mod sink;
pub mod sources;
pub mod text;
pub mod wire;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::model::{Sample, SourceId};
pub use crate::run::cycle::{run_cycle, run_once, run_sources, Options};
use crate::sink::cloudwatch::SinkReport;
use crate::sources::antivirus;
use crate::wire::Api;

/// The AWS and HTTP clients, built once (per Lambda container / daemon) by `wire` and injected,
/// so tests can point every one of them at loopback peers.
#[derive(Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Reads GuardDuty's metrics, in the account of the protected buckets: the base credentials
    /// (not `[collector.role]`, which is where costwarden writes), unless `[guardduty.role]`.
    pub guardduty_metrics: aws_sdk_cloudwatch::Client,
    pub cost_explorer: aws_sdk_costexplorer::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    /// `coverage`: the buckets (`[coverage.role]`) and GuardDuty's plans (`[guardduty.role]`).
    pub s3: aws_sdk_s3::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    /// One STS client per set of credentials ("base", then "<section>.role"), for `check`.
    pub identities: Vec<(String, aws_sdk_sts::Client)>,
    pub http: reqwest::Client,
    /// The retry policy the AWS clients were built with; the Console client uses it too.
    pub policy: wire::Policy,
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
    async fn console(&self) -> Result<&antivirus::ConsoleClient, antivirus::Error> {
        let av = self.config.antivirus.as_ref().expect("called only with [antivirus]");
        self.console
            .get_or_try_init(|| async {
                let base: reqwest::Url = match &self.console_url {
                    Some(u) => u.clone(),
                    None => av.base_url.parse().map_err(|e| antivirus::Error::Shape {
                        what: "antivirus.base_url".into(),
                        message: format!("{e}"),
                    })?,
                };
                if !wire::http::secure(&base) {
                    return Err(antivirus::Error::Shape {
                        what: base.host_str().unwrap_or("?").to_string(),
                        message: "refusing to send the Console credentials in clear: use https".into(),
                    });
                }
                let creds = secret::console_credentials(&av.credentials, &self.clients.secrets).await?;
                Ok(antivirus::ConsoleClient::new(
                    self.clients.http.clone(),
                    base,
                    av.api.clone(),
                    creds,
                    self.clients.policy,
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
    /// Not read this run: its daily totals are not due (`run::cadence`).
    Skipped,
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
    /// List price of those requests, USD.
    #[serde(skip)]
    pub requests_usd: f64,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why the source was not read this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl SourceReport {
    pub fn skipped(source: SourceId, why: String) -> SourceReport {
        SourceReport {
            source,
            status: Status::Skipped,
            series: 0,
            samples: 0,
            latest_day: None,
            requests: 0,
            requests_usd: 0.0,
            duration_ms: 0,
            error: None,
            problems: Vec::new(),
            skipped: Some(why),
        }
    }
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
    /// Every request the cycle made, counted at the wire, retries included.
    pub requests: BTreeMap<Api, u64>,
    pub estimated_usd: f64,
    /// This configuration's AWS bill a month, projected from this run (and the daily runs'
    /// records).
    pub self_cost: selfcost::Projection,
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
        self.sources.iter().all(|s| matches!(s.status, Status::Ok | Status::Skipped))
            && self.sink.failed == 0
            && self.rejected.is_empty()
            && self.alerts.ok()
    }
}
