//! Sources: each fetches (I/O) apart from parsing (pure) and returns samples plus the problems
//! it met; a problem with one item never hides the others.

pub mod antivirus;
pub mod cost_explorer;
pub mod ecs;
pub mod guardduty;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::model::{Daily, Sample};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceId {
    Antivirus,
    GuardDuty,
    Cost,
    Ecs,
}

impl SourceId {
    pub fn name(self) -> &'static str {
        match self {
            SourceId::Antivirus => "antivirus",
            SourceId::GuardDuty => "guardduty",
            SourceId::Cost => "cost",
            SourceId::Ecs => "ecs",
        }
    }
}

/// Every remote API costwarden calls, for request accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Api {
    ConsoleToken,
    ConsoleStats,
    GetMetricData,
    GetCostAndUsage,
    DescribeServices,
    DescribeScalableTargets,
    PutMetricData,
    GetSecretValue,
    ListMetrics,
    SnsPublish,
    SlackWebhook,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::ConsoleToken => "ConsoleToken",
            Api::ConsoleStats => "ConsoleStats",
            Api::GetMetricData => "GetMetricData",
            Api::GetCostAndUsage => "GetCostAndUsage",
            Api::DescribeServices => "DescribeServices",
            Api::DescribeScalableTargets => "DescribeScalableTargets",
            Api::PutMetricData => "PutMetricData",
            Api::GetSecretValue => "GetSecretValue",
            Api::ListMetrics => "ListMetrics",
            Api::SnsPublish => "SnsPublish",
            Api::SlackWebhook => "SlackWebhook",
        }
    }

    /// List price in USD of one request (0 where the API is free or billed otherwise).
    pub fn usd_per_request(self) -> f64 {
        match self {
            Api::GetCostAndUsage => 0.01,
            Api::PutMetricData | Api::GetMetricData | Api::ListMetrics => 0.00001,
            Api::SnsPublish => 0.0000005,
            Api::GetSecretValue => 0.000005,
            _ => 0.0,
        }
    }
}

/// Counts requests per API; cloned into every client so a failed source still reports its calls.
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Mutex<BTreeMap<Api, u64>>>);

impl Requests {
    pub fn add(&self, api: Api) {
        *self.0.lock().expect("counter lock").entry(api).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<Api, u64> {
        self.0.lock().expect("counter lock").clone()
    }
}

/// What one source delivered. `problems` are item-level failures (a malformed record, an unknown
/// service); they fail the run without discarding the good items.
#[derive(Debug, Default)]
pub struct SourceOutput {
    pub daily: Vec<Daily>,
    pub gauges: Vec<Sample>,
    pub problems: Vec<String>,
}

/// Runs `f` over `items` with at most `limit` in flight, keeping input order. Items are
/// taken from the iterator only as slots free up, so a lazy iterator stays lazy.
pub(crate) async fn bounded<I, T, F, Fut>(items: impl IntoIterator<Item = I>, limit: usize, f: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures::StreamExt;
    futures::stream::iter(items.into_iter().map(f)).buffered(limit.max(1)).collect().await
}

/// A human-readable message for an AWS SDK error: the service's code and message when it sent
/// one, else the whole error chain.
pub(crate) fn aws_message<E, R>(e: &aws_sdk_ecs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let Some(code) = e.as_service_error().and_then(|s| s.code()) {
        let message = e.as_service_error().and_then(|s| s.message()).unwrap_or("");
        return format!("{code}: {message}");
    }
    aws_sdk_ecs::error::DisplayErrorContext(e).to_string()
}
