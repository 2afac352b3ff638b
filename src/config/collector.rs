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
    /// Series a source may add in one run beyond what its last daily run wrote (resources named
    /// in this file are always kept): each is a billed stream. Beyond it the rest are neither
    /// written nor evaluated, and the run says how many and what they would cost.
    #[serde(default = "d_max_new_series")]
    pub max_new_series: usize,
    /// Seconds the sources may take to read, from the start of a run; then the sources still
    /// reading are stopped and reported, and what arrived is evaluated and written. Keep it a
    /// minute below the Lambda function's timeout (300 s in the shipped template).
    #[serde(default = "d_read_deadline")]
    pub read_deadline_secs: u64,
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
            max_new_series: d_max_new_series(),
            read_deadline_secs: d_read_deadline(),
        }
    }
}

impl Collector {
    pub(super) fn validate(&self, v: &mut Validator) {
        v.non_empty("collector.region", &self.region);
        if let Some(problem) = region_problem(&self.region) {
            v.push("collector.region", problem);
        }
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
            "collector.read_deadline_secs",
            (1..=840).contains(&self.read_deadline_secs),
            "must be between 1 and 840 (a Lambda function runs at most 900 s; writing needs the rest)",
        );
        v.check(
            "collector.settle_hours",
            self.settle_hours <= 23,
            "must be between 0 and 23: a delay of a day or more would skip a day's totals",
        );
    }
}

/// Shaped as the SDK's partitions name regions (`^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$` for
/// aws, `cn-…`, `us-gov-…`, `us-iso-…`): a typo such as `us-east-l` is refused here rather than
/// met as an endpoint that does not resolve. A new region of a known shape passes.
fn region_shaped(r: &str) -> bool {
    const FIRST: [&str; 10] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"];
    let parts: Vec<&str> = r.split('-').collect();
    let Some((last, middle)) = parts.split_last() else { return false };
    parts.len() >= 3
        && FIRST.contains(&parts[0])
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
        && middle[1..].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
}

/// The regions the SDK's partition table (aws-sdk 1.x, 2026-12) names.
const REGIONS: [&str; 46] = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "eusc-de-east-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// A region the partition table names is fine, and so is one of its shape made of its words (a
/// region newer than this build: `ap-southeast-8`). Any other name is refused, with the named
/// region it resembles (`us-east-l`, `us-eats-1`).
fn region_problem(r: &str) -> Option<String> {
    const WORDS: [&str; 13] = [
        "east",
        "west",
        "north",
        "south",
        "central",
        "northeast",
        "southeast",
        "northwest",
        "southwest",
        "gov",
        "iso",
        "isob",
        "isof",
    ];
    let numbered = |w: &str| w.chars().all(|c| c.is_ascii_digit());
    let words_known = || r.split('-').skip(1).filter(|w| !numbered(w)).all(|w| WORDS.contains(&w));
    if r.is_empty() || REGIONS.contains(&r) || (region_shaped(r) && words_known()) {
        return None;
    }
    // A letter for a digit (`us-east-l`) first, then the nearest name.
    let (head, last) = r.rsplit_once('-').unwrap_or(("", r));
    let digits: String = last.chars().map(|c| if matches!(c, 'l' | 'I') { '1' } else { c }).collect();
    let misread = REGIONS.iter().copied().find(|n| *n == format!("{head}-{digits}"));
    match misread.or_else(|| super::read::nearest(r, REGIONS.iter().copied())) {
        Some(meant) => Some(format!("{r:?} is not an AWS region; did you mean {meant:?}?")),
        None => {
            Some(format!("{r:?} is not an AWS region name (e.g. \"us-east-1\", \"eu-central-1\", \"ap-northeast-1\")"))
        }
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
/// 1,000 daily streams: about USD 12.50 a month to CloudWatch, and 44 to Datadog's crawler.
fn d_max_new_series() -> usize {
    1_000
}
/// A minute below the shipped Lambda function's 300 s.
fn d_read_deadline() -> u64 {
    240
}
fn d_attempts() -> u32 {
    5
}
/// Console statistics of a day are complete minutes after midnight; two hours leave room.
fn d_settle() -> u32 {
    2
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_region_is_shaped_as_the_sdks_partitions_name_them() {
        for ok in [
            "us-east-1",
            "eu-central-1",
            "ap-northeast-3",
            "us-gov-west-1",
            "cn-north-1",
            "us-iso-east-1",
            "mx-central-1",
        ] {
            assert!(super::region_shaped(ok), "{ok}");
        }
        for bad in ["us-east-l", "useast1", "us-east", "xx-east-1", "US-EAST-1", "us--1", "us-east-1 "] {
            assert!(!super::region_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn a_region_near_a_named_one_is_refused_with_the_one_meant_and_a_new_one_passes() {
        assert_eq!(super::region_problem("eu-west-1"), None);
        let meant = |r: &str| super::region_problem(r).unwrap_or_default();
        assert!(meant("us-east-l").ends_with("did you mean \"us-east-1\"?"), "{}", meant("us-east-l"));
        assert!(meant("us-eats-1").ends_with("did you mean \"us-east-1\"?"), "{}", meant("us-eats-1"));
        assert!(meant("eu-centrl-1").ends_with("did you mean \"eu-central-1\"?"), "{}", meant("eu-centrl-1"));
        assert!(meant("nowhere").starts_with("\"nowhere\" is not an AWS region name"));
        // Regions of a known shape and words this build does not name yet.
        assert_eq!(super::region_problem("sa-southwest-7"), None);
        assert_eq!(super::region_problem("ap-southeast-8"), None);
    }
}
