use serde::Deserialize;

use super::validate::{valid_namespace, Validator};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    #[serde(default = "d_region")]
    pub region: String,
    #[serde(default = "d_namespace")]
    pub namespace: String,
    /// Cron with a leading seconds field (tokio-cron-scheduler), used by `costwarden daemon`.
    #[serde(default = "d_schedule")]
    pub schedule: String,
    /// Upper bound on requests in flight per API, so that no peer sees a thundering herd.
    #[serde(default = "d_concurrency")]
    pub concurrency: usize,
    #[serde(default = "d_timeout")]
    pub request_timeout_secs: u64,
    /// Attempts per request to any peer, the first included (throttling, 5xx and transport
    /// errors are retried with jittered exponential backoff; see `wire::retry`).
    #[serde(default = "d_attempts")]
    pub max_attempts: u32,
    /// How often the daily totals (scanned volume, cost) are read, evaluated and written.
    #[serde(default)]
    pub daily_totals: DailyTotals,
    /// Hours after UTC midnight before the day that ended is read (its late scans and costs
    /// arrive first).
    #[serde(default = "d_settle")]
    pub settle_hours: u32,
    /// Also write ApiRequests and ApiCostEstimate per API every run (about 16 streams, USD 0.30
    /// a month each); off by default, SelfCostMonthly carries the sum that matters.
    #[serde(default)]
    pub api_metrics: bool,
    /// The role the CloudWatch client (metrics, alert state) assumes; default: none.
    pub role: Option<super::Role>,
}

/// `once`: a day's totals are read, evaluated and written by the first run after the day has
/// closed and settled, and by no other run that day: a daily total changes once a day, and each
/// datum is a billed metric stream for every hour it is sent in. `every_run`: every run reads
/// the whole history and writes yesterday's totals again (the behaviour before `once`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyTotals {
    #[default]
    Once,
    EveryRun,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            region: d_region(),
            namespace: d_namespace(),
            schedule: d_schedule(),
            concurrency: d_concurrency(),
            request_timeout_secs: d_timeout(),
            max_attempts: d_attempts(),
            daily_totals: DailyTotals::default(),
            settle_hours: d_settle(),
            api_metrics: false,
            role: None,
        }
    }
}

impl Collector {
    pub(super) fn validate(&self, v: &mut Validator) {
        v.non_empty("collector.region", &self.region);
        v.check(
            "collector.namespace",
            valid_namespace(&self.namespace),
            "must be 1-255 ASCII characters and not start with \"AWS/\"",
        );
        v.schedule("collector.schedule", Some(&self.schedule));
        super::Role::check(&self.role, "collector", v);
        v.check("collector.concurrency", (1..=64).contains(&self.concurrency), "must be between 1 and 64");
        v.check(
            "collector.request_timeout_secs",
            (1..=900).contains(&self.request_timeout_secs),
            "must be between 1 and 900",
        );
        v.check("collector.max_attempts", (1..=10).contains(&self.max_attempts), "must be between 1 and 10");
        v.check(
            "collector.settle_hours",
            self.settle_hours <= 23,
            "must be between 0 and 23: a delay of a day or more would skip a day's totals",
        );
    }
}

fn d_region() -> String {
    "us-east-1".into()
}
fn d_namespace() -> String {
    "Costwarden/Scanner".into()
}
fn d_schedule() -> String {
    "0 */15 * * * *".into()
}
fn d_concurrency() -> usize {
    8
}
fn d_timeout() -> u64 {
    30
}
fn d_attempts() -> u32 {
    5
}
/// Console statistics of a day are complete minutes after midnight; two hours leave room.
fn d_settle() -> u32 {
    2
}
