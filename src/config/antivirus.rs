use serde::Deserialize;

use super::d_true;
use super::rules::{Plan, PlanSpec};
use super::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct Antivirus<P = Plan> {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    pub base_url: String,
    #[serde(default)]
    pub credentials: Credentials,
    #[serde(default = "d_av_history")]
    pub history_days: u32,
    #[serde(default)]
    pub api: ConsoleApi,
    /// Also write ScannedObjects per bucket. Off by default: the product is licensed by the GB,
    /// and each bucket's count is one more daily stream (USD 0.0125 a month).
    #[serde(default)]
    pub object_counts: bool,
    #[serde(default)]
    pub buckets: Vec<Bucket<P>>,
}

/// Where the Console API user's credentials come from: environment variables (default) or an
/// AWS Secrets Manager secret holding `{"username": ..., "password": ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default = "d_user_env")]
    pub username_env: String,
    #[serde(default = "d_pass_env")]
    pub password_env: String,
    pub secret_id: Option<String>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials { username_env: d_user_env(), password_env: d_pass_env(), secret_id: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paging {
    /// `page` / `page_size` query parameters; the response says how many pages there are.
    Page,
    /// The response carries a continuation token that the next request sends back.
    Token,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ByteUnit {
    #[serde(rename = "B")]
    B,
    #[serde(rename = "KB")]
    Kb,
    #[serde(rename = "MB")]
    Mb,
    #[serde(rename = "GB")]
    Gb,
    #[serde(rename = "KiB")]
    Kib,
    #[serde(rename = "MiB")]
    Mib,
    #[serde(rename = "GiB")]
    Gib,
}

impl ByteUnit {
    pub fn factor(self) -> f64 {
        match self {
            ByteUnit::B => 1.0,
            ByteUnit::Kb => 1e3,
            ByteUnit::Mb => 1e6,
            ByteUnit::Gb => 1e9,
            ByteUnit::Kib => 1024.0,
            ByteUnit::Mib => 1024.0 * 1024.0,
            ByteUnit::Gib => 1024.0 * 1024.0 * 1024.0,
        }
    }
}

/// The Console's statistics endpoint is not publicly documented, so every part of its shape is
/// configurable. Defaults match the project's own Console double (`tests/support/console.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleApi {
    pub token_path: String,
    /// Documented, unauthenticated; only `costwarden check` calls it.
    pub health_path: String,
    pub stats_path: String,
    pub from_param: String,
    pub to_param: String,
    pub date_format: String,
    pub paging: Paging,
    pub page_param: String,
    pub page_size_param: String,
    pub page_size: u32,
    /// A larger response is refused (it fails the source): at most `collector.concurrency`
    /// of them are held at once, so this bounds the run's memory (4 MiB: about 25,000 items of
    /// the default shape; the shipped 128 MB holds 8 such pages in flight, docs/scale.md).
    pub max_page_mib: u32,
    /// JSON pointer (RFC 6901) to the number of pages, for `paging = "page"`.
    pub total_pages_pointer: String,
    pub token_param: String,
    /// JSON pointer to the continuation token, for `paging = "token"`; absent/null/"" ends.
    pub next_token_pointer: String,
    /// JSON pointer to the list of statistics items in a page.
    pub items_pointer: String,
    pub bucket_field: String,
    pub date_field: String,
    pub bytes_field: String,
    pub objects_field: String,
    /// Optional: when the items are split by scan type (Event / Retro / API).
    pub scan_type_field: Option<String>,
    pub bytes_unit: ByteUnit,
}

impl Default for ConsoleApi {
    fn default() -> Self {
        ConsoleApi {
            token_path: "/api/Token".into(),
            health_path: "/api/health".into(),
            stats_path: "/api/statistics/scans".into(),
            from_param: "from".into(),
            to_param: "to".into(),
            date_format: "%Y-%m-%d".into(),
            paging: Paging::Page,
            page_param: "page".into(),
            page_size_param: "pageSize".into(),
            page_size: 500,
            max_page_mib: 4,
            total_pages_pointer: "/totalPages".into(),
            token_param: "continuationToken".into(),
            next_token_pointer: "/continuationToken".into(),
            items_pointer: "/items".into(),
            bucket_field: "bucketName".into(),
            date_field: "date".into(),
            bytes_field: "scannedBytes".into(),
            objects_field: "scannedObjects".into(),
            scan_type_field: Some("scanType".into()),
            bytes_unit: ByteUnit::B,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct Bucket<P = Plan> {
    pub name: String,
    pub owner: Option<String>,
    pub plan: Option<P>,
    /// Overrides `rules.anomaly_drops` for this bucket.
    pub anomaly_drops: Option<bool>,
    pub snooze: Option<super::Snooze>,
}

impl Antivirus<PlanSpec> {
    pub(super) fn resolve(self, v: &mut Validator) -> Antivirus {
        v.schedule("antivirus.schedule", self.schedule.as_deref());
        match reqwest::Url::parse(&self.base_url) {
            Ok(u) if crate::model::secure(&u) => {}
            _ => v.push(
                "antivirus.base_url",
                "must be an https URL (plain http only to a loopback address): the Console password crosses it".into(),
            ),
        }
        v.days("antivirus.history_days", self.history_days);
        self.api.validate(v);
        if self.credentials.secret_id.is_none() {
            v.non_empty("antivirus.credentials.username_env", &self.credentials.username_env);
            v.non_empty("antivirus.credentials.password_env", &self.credentials.password_env);
        }
        let buckets = resolve_buckets("antivirus.buckets", self.buckets, v);
        let Antivirus { enabled, schedule, base_url, credentials, history_days, api, object_counts, .. } = self;
        Antivirus { enabled, schedule, base_url, credentials, history_days, api, object_counts, buckets }
    }
}

impl ConsoleApi {
    fn validate(&self, v: &mut Validator) {
        for (name, val) in
            [("token_path", &self.token_path), ("health_path", &self.health_path), ("stats_path", &self.stats_path)]
        {
            v.check(&format!("antivirus.api.{name}"), val.starts_with('/'), "must start with '/'");
        }
        for (name, val) in [
            ("items_pointer", &self.items_pointer),
            ("total_pages_pointer", &self.total_pages_pointer),
            ("next_token_pointer", &self.next_token_pointer),
        ] {
            v.check(
                &format!("antivirus.api.{name}"),
                val.is_empty() || val.starts_with('/'),
                "must be a JSON pointer (\"\" or starting with '/')",
            );
        }
        for (name, val) in [
            ("bucket_field", &self.bucket_field),
            ("date_field", &self.date_field),
            ("bytes_field", &self.bytes_field),
            ("objects_field", &self.objects_field),
            ("from_param", &self.from_param),
            ("to_param", &self.to_param),
        ] {
            v.non_empty(&format!("antivirus.api.{name}"), val);
        }
        let formats = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).is_some_and(|d| {
            use std::fmt::Write;
            let mut s = String::new();
            write!(s, "{}", d.format(&self.date_format)).is_ok() && !s.is_empty()
        });
        v.check("antivirus.api.date_format", formats, "is not a valid strftime format");
        v.check("antivirus.api.page_size", (1..=10_000).contains(&self.page_size), "must be between 1 and 10000");
        v.check("antivirus.api.max_page_mib", (1..=64).contains(&self.max_page_mib), "must be between 1 and 64");
    }
}

/// A list of buckets (of the Console or GuardDuty): names valid and unique, owners known,
/// plans resolved.
pub(super) fn resolve_buckets(path: &str, buckets: Vec<Bucket<PlanSpec>>, v: &mut Validator) -> Vec<Bucket> {
    let mut seen = std::collections::HashSet::new();
    for (i, b) in buckets.iter().enumerate() {
        let p = format!("{path}[{i}].name");
        if b.name.trim().is_empty() {
            v.push(&p, "empty".into());
        } else if !crate::model::valid_bucket_name(&b.name) {
            v.push(&p, format!("{:?} is not a valid S3 bucket name", b.name));
        } else if !seen.insert(b.name.clone()) {
            v.push(&p, format!("duplicate bucket {:?}", b.name));
        }
    }
    let resolve = |(i, b): (usize, Bucket<PlanSpec>), v: &mut Validator| {
        v.team(&format!("{path}[{i}].owner"), &b.owner);
        let plan = b.plan.map(|p| p.resolve(&format!("{path}[{i}].plan"), v));
        super::Snooze::validate(&b.snooze, &format!("{path}[{i}]"), v);
        Bucket { name: b.name, owner: b.owner, plan, anomaly_drops: b.anomaly_drops, snooze: b.snooze }
    };
    buckets.into_iter().enumerate().map(|b| resolve(b, v)).collect()
}

/// 60 days cover the anomaly baseline's 8 weeks; more costs Console pages and memory, and buys
/// last year's season for the forecast and a longer look-back for a spike's new high.
fn d_av_history() -> u32 {
    60
}
fn d_user_env() -> String {
    "CSS_CONSOLE_USERNAME".into()
}
fn d_pass_env() -> String {
    "CSS_CONSOLE_PASSWORD".into()
}
