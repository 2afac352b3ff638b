//! The data every component speaks: a sample of one metric series, on one day or right now.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::metrics::Metric;

/// The sources costwarden reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceId {
    Antivirus,
    GuardDuty,
    Cost,
    Ecs,
    /// `[coverage] alert`: which buckets are scanned, once a day.
    Coverage,
    /// `[inventory] publish`: where the scanned bytes come from, every `every_days` days.
    Inventory,
}

impl SourceId {
    pub const ALL: [SourceId; 6] = [
        SourceId::Antivirus,
        SourceId::GuardDuty,
        SourceId::Cost,
        SourceId::Ecs,
        SourceId::Coverage,
        SourceId::Inventory,
    ];

    /// Whether its data are daily totals (read once a day when due); ECS's are gauges.
    pub fn is_daily(self) -> bool {
        !matches!(self, SourceId::Ecs)
    }

    pub fn name(self) -> &'static str {
        match self {
            SourceId::Antivirus => "antivirus",
            SourceId::GuardDuty => "guardduty",
            SourceId::Cost => "cost",
            SourceId::Ecs => "ecs",
            SourceId::Coverage => "coverage",
            SourceId::Inventory => "inventory",
        }
    }
}

/// The day a run reports: the UTC day before `today`, the last complete one. Daily totals are
/// published for it, and a daily datum stamped at `t` belongs to `day_before(t's day)`.
pub fn day_before(today: NaiveDate) -> NaiveDate {
    today.pred_opt().expect("a day before any date chrono can hold")
}

/// A day as the value of a marker metric (`DailyTotalsPublished`, `DigestSent`): `YYYYMMDD`.
pub fn day_code(d: NaiveDate) -> f64 {
    use chrono::Datelike;
    f64::from(d.year() as u32 * 10_000 + d.month() * 100 + d.day())
}

/// The day a marker's value names; None for a value that is no day (0, garbage).
pub fn from_day_code(v: f64) -> Option<NaiveDate> {
    let n = v as u32;
    NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100)
}

/// S3's naming rules for a bucket made today: 3-63 characters, lowercase letters, digits, dots
/// and hyphens, beginning and ending with a letter or digit.
pub fn valid_bucket_name(n: &str) -> bool {
    (3..=63).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
}

/// A name S3 may list: today's rules, or those of a bucket made in us-east-1 before March 2018
/// (up to 255 characters, uppercase letters and underscores too). Either way nothing a terminal,
/// Slack, Markdown or CloudWatch could read as markup or control.
pub fn possible_bucket_name(n: &str) -> bool {
    valid_bucket_name(n)
        || ((3..=255).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)))
}

/// Whether a secret may cross the network to `url`: over https, or over plain http only to a
/// loopback address (the local doubles). A Console password, a bearer token or a webhook URL
/// never travels in clear.
pub fn secure(url: &url::Url) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    }
}

/// The name part of an ARN (`arn:...:cluster/name` → `name`), or the name itself: ECS
/// clusters and services may be configured either way, and are reported by name.
pub fn short_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

/// A series is a metric plus its dimensions (sorted by name, as CloudWatch identifies them).
/// The dimensions are shared: a key is cloned into every sample, finding and rule of its
/// series, and at 10,000 buckets deep copies were the largest part of a run's memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    pub metric: Metric,
    pub dims: std::sync::Arc<[(&'static str, String)]>,
}

impl SeriesKey {
    pub fn new(metric: Metric, mut dims: Vec<(&'static str, String)>) -> SeriesKey {
        dims.sort();
        SeriesKey { metric, dims: dims.into() }
    }

    pub fn dim(&self, name: &str) -> Option<&str> {
        self.dims.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.metric.def().name)?;
        let dims: Vec<String> = self.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{{{}}}", dims.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub key: SeriesKey,
    /// The UTC day a daily total belongs to; `None` for a reading taken now (a gauge).
    pub day: Option<NaiveDate>,
    pub value: f64,
    /// Cost Explorer marks recent days as estimates that may still be revised.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Sample {
    pub fn daily(key: SeriesKey, day: NaiveDate, value: f64) -> Sample {
        Sample { key, day: Some(day), value, estimated: false }
    }

    pub fn gauge(key: SeriesKey, value: f64) -> Sample {
        Sample { key, day: None, value, estimated: false }
    }
}

/// A daily series, dense from `start` (NaN marks a day without a value): the key is stored
/// once and each day costs 8 bytes, so 10,000 buckets × 90 days stay small.
#[derive(Debug, Clone, PartialEq)]
pub struct Daily {
    pub key: SeriesKey,
    pub start: NaiveDate,
    pub values: Vec<f64>,
    /// Days from this one on are estimates that may still be revised (Cost Explorer).
    pub estimated_from: Option<NaiveDate>,
}

impl Daily {
    pub fn new(key: SeriesKey, start: NaiveDate) -> Daily {
        Daily { key, start, values: Vec::new(), estimated_from: None }
    }

    fn index(&mut self, day: NaiveDate) -> usize {
        if self.values.is_empty() {
            self.start = day;
        }
        if day < self.start {
            let gap = (self.start - day).num_days() as usize;
            self.values.splice(0..0, std::iter::repeat_n(f64::NAN, gap));
            self.start = day;
        }
        let i = (day - self.start).num_days() as usize;
        if i >= self.values.len() {
            self.values.resize(i + 1, f64::NAN);
        }
        i
    }

    pub fn set(&mut self, day: NaiveDate, v: f64) {
        let i = self.index(day);
        self.values[i] = v;
    }

    /// Adds to the day's value (a missing day counts as 0).
    pub fn add(&mut self, day: NaiveDate, v: f64) {
        let i = self.index(day);
        let cur = self.values[i];
        self.values[i] = if cur.is_nan() { v } else { cur + v };
    }

    pub fn get(&self, day: NaiveDate) -> Option<f64> {
        let i = usize::try_from((day - self.start).num_days()).ok()?;
        self.values.get(i).copied().filter(|v| !v.is_nan())
    }

    pub fn points(&self) -> impl Iterator<Item = (NaiveDate, f64)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, v)| (self.start + chrono::Days::new(i as u64), *v))
    }

    pub fn last_day(&self) -> Option<NaiveDate> {
        self.points().last().map(|(d, _)| d)
    }

    pub fn is_estimated(&self, day: NaiveDate) -> bool {
        self.estimated_from.is_some_and(|e| day >= e)
    }
}

/// One bucket's scanned bytes by scan type as the Console names them (Event, Retro, API): the
/// mean a day over the 7 days to `day` and over the 7 before. Read by a warning's why, never
/// published (a stream per type would bill three times the streams).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanTypes {
    pub day: NaiveDate,
    /// (type, mean a day of the 7 days to `day`, of the 7 before).
    pub types: Vec<(String, f64, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metric;

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

    #[test]
    fn daily_is_dense_and_grows_both_ways() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let mut s = Daily::new(SeriesKey::new(Metric::Cost, vec![]), d("2026-01-05"));
        s.set(d("2026-01-05"), 1.0);
        s.add(d("2026-01-07"), 2.0);
        s.add(d("2026-01-07"), 0.5);
        s.set(d("2026-01-03"), 9.0);
        assert_eq!(s.start, d("2026-01-03"));
        assert_eq!(s.values.len(), 5);
        let pts: Vec<_> = s.points().collect();
        assert_eq!(pts, vec![(d("2026-01-03"), 9.0), (d("2026-01-05"), 1.0), (d("2026-01-07"), 2.5)]);
        assert_eq!(s.get(d("2026-01-04")), None);
        assert_eq!(s.get(d("2026-01-02")), None);
        assert_eq!(s.last_day(), Some(d("2026-01-07")));
    }
}
