//! `thresholds.toml`: parsed raw with serde (unknown fields rejected), then validated purely so
//! that every problem is reported at once with its path and line.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not a `source`: the reason is in the message already, and anyhow's chain would repeat it.
    #[error("cannot read {path}: {io}")]
    Read { path: String, io: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {} problem(s):\n{}", .problems.len(), render(.problems))]
    Invalid { path: String, problems: Vec<Problem> },
}

fn render(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// One validation finding, located by its TOML path and (when the path exists in the file) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (serde) shape. Defaults live here so that the validated Config is always complete.

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub collector: Collector,
    pub antivirus: Option<Antivirus>,
    pub guardduty: Option<GuardDuty>,
    pub cost: Option<Cost>,
    pub ecs: Option<Ecs>,
    #[serde(default)]
    pub rules: RuleDefaults,
    #[serde(default)]
    pub alerts: Alerts,
    /// Owning teams by name: where their notifications go.
    #[serde(default)]
    pub teams: std::collections::BTreeMap<String, Team>,
}

impl Config {
    /// The daemon schedule of a source that is configured and enabled: its own, else
    /// `collector.schedule`. None for a source that is absent or disabled.
    pub fn source_schedule(&self, id: crate::model::SourceId) -> Option<&str> {
        use crate::model::SourceId;
        let (enabled, own) = match id {
            SourceId::Antivirus => self.antivirus.as_ref().map(|c| (c.enabled, &c.schedule))?,
            SourceId::GuardDuty => self.guardduty.as_ref().map(|c| (c.enabled, &c.schedule))?,
            SourceId::Cost => self.cost.as_ref().map(|c| (c.enabled, &c.schedule))?,
            SourceId::Ecs => self.ecs.as_ref().map(|c| (c.enabled, &c.schedule))?,
        };
        enabled.then(|| own.as_deref().unwrap_or(&self.collector.schedule))
    }
}

/// Defaults of every rule; a series' `plan` (or an ECS service) may override some.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleDefaults {
    /// Warning when the level reaches planned × warn_tolerance.
    pub warn_tolerance: f64,
    /// Critical when the level reaches planned × crit_tolerance.
    pub crit_tolerance: f64,
    /// A growth WARNING / CRITICAL is kept until the 7-day mean falls below this × its threshold.
    pub growth_recovery: f64,
    /// The forecast warns when its projection crosses critical within this many days.
    pub horizon_days: u32,
    /// Days of history the forecast's trend is fitted on.
    pub trend_window_days: u32,
    /// The forecast warns only of a crossing within this multiple of the level (the lower of
    /// the trend's and the last 7 days' median).
    pub forecast_max_rise: f64,
    /// A forecast WARNING stays this many days after the last day that forecast a crossing.
    pub forecast_hold_days: u32,
    /// Spike / level-shift detection on every daily series.
    pub anomaly: bool,
    pub anomaly_z: f64,
    pub anomaly_ratio: f64,
    pub anomaly_new_high_days: u32,
    pub anomaly_hold_days: u32,
    /// Falls alert too, on every series; unset: on scanned volume, off on cost (see
    /// `alerts::route::DROPS_ON_VOLUME`).
    pub anomaly_drops: Option<bool>,
    pub anomaly_shift_days: u32,
    pub anomaly_shift_z: f64,
    pub anomaly_shift_ratio: f64,
    /// ECS task capacity ratios.
    pub capacity_warn: f64,
    pub capacity_crit: f64,
    pub capacity_recovery: f64,
}

impl Default for RuleDefaults {
    fn default() -> Self {
        let p = crate::rules::Params::default();
        RuleDefaults {
            warn_tolerance: 1.2,
            crit_tolerance: 1.5,
            growth_recovery: p.growth_recovery,
            horizon_days: p.horizon_days,
            trend_window_days: p.trend_window_days,
            forecast_max_rise: p.forecast_max_rise,
            forecast_hold_days: p.forecast_hold_days,
            anomaly: true,
            anomaly_z: p.anomaly_z,
            anomaly_ratio: p.anomaly_ratio,
            anomaly_new_high_days: p.anomaly_new_high_days,
            anomaly_hold_days: p.anomaly_hold_days,
            anomaly_drops: None,
            anomaly_shift_days: p.anomaly_shift_days,
            anomaly_shift_z: p.anomaly_shift_z,
            anomaly_shift_ratio: p.anomaly_shift_ratio,
            capacity_warn: 0.7,
            capacity_crit: 1.0,
            capacity_recovery: p.capacity_recovery,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    pub enabled: bool,
    /// The team of series whose owner is not set.
    pub default_team: Option<String>,
    /// Linked from every notification.
    pub dashboard_url: Option<String>,
    /// How far back the last notified state is looked for (see README, "Alert state").
    pub state_lookback_hours: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts { enabled: true, default_team: None, dashboard_url: None, state_lookback_hours: 26 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Environment variable holding the Slack incoming-webhook URL.
    pub slack_webhook_env: Option<String>,
    /// Or a Secrets Manager secret whose SecretString is the webhook URL.
    pub slack_webhook_secret_id: Option<String>,
    pub sns_topic_arn: Option<String>,
    /// Environment variable holding the SNS topic ARN (instead of sns_topic_arn).
    pub sns_topic_arn_env: Option<String>,
    /// Datadog handle the generated monitors mention, e.g. "@slack-platform-alerts".
    pub datadog_handle: Option<String>,
}

/// The planned growth of a series: a baseline level on a day and a monthly growth rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Per day: bytes for a bucket ("40 GB", "1.5 TiB" or a number of bytes), USD for cost.
    pub baseline: Quantity,
    /// A TOML date (`2026-10-01`) or the same as a string (`"2026-10-01"`).
    pub since: PlanDate,
    /// 0.05 = +5% per month; must be above -1.
    #[serde(default)]
    pub monthly_growth: f64,
    pub warn_tolerance: Option<f64>,
    pub crit_tolerance: Option<f64>,
    pub horizon_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Number(f64),
    Text(String),
}

impl Quantity {
    /// The value in base units; "40 GB" = 40e9, "2 GiB" = 2 × 1024³.
    pub fn value(&self) -> Result<f64, String> {
        match self {
            Quantity::Number(n) => Ok(*n),
            Quantity::Text(t) => {
                let t = t.trim();
                let split = t
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == 'e' || c == '-' || c == '+'))
                    .unwrap_or(t.len());
                let (num, unit) = t.split_at(split);
                let n: f64 = num
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("{t:?} is not a number with an optional byte unit"))?;
                let f = match unit.trim() {
                    "" | "B" => 1.0,
                    "KB" => 1e3,
                    "MB" => 1e6,
                    "GB" => 1e9,
                    "TB" => 1e12,
                    "KiB" => 1024f64,
                    "MiB" => 1024f64.powi(2),
                    "GiB" => 1024f64.powi(3),
                    "TiB" => 1024f64.powi(4),
                    u => return Err(format!("unknown unit {u:?} (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")),
                };
                Ok(n * f)
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PlanDate {
    Date(toml::value::Datetime),
    Text(String),
}

/// The day a plan starts, if it is a plain date.
pub fn toml_date(d: &PlanDate) -> Option<chrono::NaiveDate> {
    match d {
        PlanDate::Date(d) => match (d.date, d.time) {
            (Some(date), None) => {
                chrono::NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
            }
            _ => None,
        },
        PlanDate::Text(t) => t.parse().ok(),
    }
}

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
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Antivirus {
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
    #[serde(default)]
    pub buckets: Vec<Bucket>,
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
    pub stats_path: String,
    pub from_param: String,
    pub to_param: String,
    pub date_format: String,
    pub paging: Paging,
    pub page_param: String,
    pub page_size_param: String,
    pub page_size: u32,
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
            stats_path: "/api/statistics/scans".into(),
            from_param: "from".into(),
            to_param: "to".into(),
            date_format: "%Y-%m-%d".into(),
            paging: Paging::Page,
            page_param: "page".into(),
            page_size_param: "pageSize".into(),
            page_size: 500,
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
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub owner: Option<String>,
    pub plan: Option<Plan>,
    /// Overrides `rules.anomaly_drops` for this bucket.
    pub anomaly_drops: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDuty {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    pub plan_id: String,
    #[serde(default = "d_gd_history")]
    pub history_days: u32,
    #[serde(default)]
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    /// The cost-allocation tag key that groups the scanner's resources.
    pub tag_key: String,
    #[serde(default = "d_ce_metric")]
    pub metric: String,
    #[serde(default = "d_ce_history")]
    pub history_days: u32,
    #[serde(default)]
    pub tags: Vec<TagValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagValue {
    pub value: String,
    pub owner: Option<String>,
    pub plan: Option<Plan>,
    /// USD per calendar month: month-to-date plus forecast is checked against it.
    pub monthly_budget: Option<f64>,
    /// Overrides `rules.anomaly_drops` for this tag value.
    pub anomaly_drops: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecs {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    #[serde(default)]
    pub count: TaskCount,
    #[serde(default)]
    pub services: Vec<EcsService>,
}

/// Which ECS count is compared with the maximum. `desired` is what the autoscaler asked for and
/// leads `running` by the task start time, so it warns a little earlier; `running` is the default
/// because it is what is actually scanning (and billed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskCount {
    #[default]
    Running,
    Desired,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    pub cluster: String,
    pub service: String,
    pub max_tasks: Option<u32>,
    pub owner: Option<String>,
    pub capacity_warn: Option<f64>,
    pub capacity_crit: Option<f64>,
}

fn d_true() -> bool {
    true
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
/// 60 days cover the anomaly baseline's 8 weeks; more costs Console pages and memory, and buys
/// last year's season for the forecast and a longer look-back for a spike's new high.
fn d_av_history() -> u32 {
    60
}
fn d_gd_history() -> u32 {
    90
}
fn d_ce_history() -> u32 {
    90
}
fn d_ce_metric() -> String {
    "UnblendedCost".into()
}
fn d_user_env() -> String {
    "CSS_CONSOLE_USERNAME".into()
}
fn d_pass_env() -> String {
    "CSS_CONSOLE_PASSWORD".into()
}

// ---------------------------------------------------------------------------------------------

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|io| ConfigError::Read { path: path.display().to_string(), io })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates; `origin` names the text in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_string(), message: describe_toml_error(text, &e) })?;
        let problems = locate(text, config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { path: origin.to_string(), problems })
        }
    }

    /// Every problem found, by TOML path. Pure: no environment, no network.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut v = Validator::default();
        let c = &self.collector;
        v.non_empty("collector.region", &c.region);
        v.check(
            "collector.namespace",
            valid_namespace(&c.namespace),
            "must be 1-255 ASCII characters and not start with \"AWS/\"",
        );
        if let Err(e) = croner_check(&c.schedule) {
            v.push("collector.schedule", e);
        }
        let own = [
            ("antivirus.schedule", self.antivirus.as_ref().and_then(|a| a.schedule.as_ref())),
            ("guardduty.schedule", self.guardduty.as_ref().and_then(|g| g.schedule.as_ref())),
            ("cost.schedule", self.cost.as_ref().and_then(|x| x.schedule.as_ref())),
            ("ecs.schedule", self.ecs.as_ref().and_then(|e| e.schedule.as_ref())),
        ];
        for (path, schedule) in own {
            if let Some(Err(e)) = schedule.map(|s| croner_check(s)) {
                v.push(path, e);
            }
        }
        v.check("collector.concurrency", (1..=64).contains(&c.concurrency), "must be between 1 and 64");
        v.check(
            "collector.request_timeout_secs",
            (1..=900).contains(&c.request_timeout_secs),
            "must be between 1 and 900",
        );
        v.check("collector.max_attempts", (1..=10).contains(&c.max_attempts), "must be between 1 and 10");

        if let Some(av) = &self.antivirus {
            match reqwest::Url::parse(&av.base_url) {
                Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
                _ => v.push("antivirus.base_url", "must be an http(s) URL".into()),
            }
            v.days("antivirus.history_days", av.history_days);
            let a = &av.api;
            for (name, val) in [("token_path", &a.token_path), ("stats_path", &a.stats_path)] {
                v.check(&format!("antivirus.api.{name}"), val.starts_with('/'), "must start with '/'");
            }
            for (name, val) in [
                ("items_pointer", &a.items_pointer),
                ("total_pages_pointer", &a.total_pages_pointer),
                ("next_token_pointer", &a.next_token_pointer),
            ] {
                v.check(
                    &format!("antivirus.api.{name}"),
                    val.is_empty() || val.starts_with('/'),
                    "must be a JSON pointer (\"\" or starting with '/')",
                );
            }
            for (name, val) in [
                ("bucket_field", &a.bucket_field),
                ("date_field", &a.date_field),
                ("bytes_field", &a.bytes_field),
                ("objects_field", &a.objects_field),
                ("from_param", &a.from_param),
                ("to_param", &a.to_param),
            ] {
                v.non_empty(&format!("antivirus.api.{name}"), val);
            }
            if chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
                .map(|d| {
                    use std::fmt::Write;
                    let mut s = String::new();
                    write!(s, "{}", d.format(&a.date_format)).is_err() || s.is_empty()
                })
                .unwrap_or(true)
            {
                v.push("antivirus.api.date_format", "is not a valid strftime format".into());
            }
            v.check("antivirus.api.page_size", (1..=10_000).contains(&a.page_size), "must be between 1 and 10000");
            if av.credentials.secret_id.is_none() {
                v.non_empty("antivirus.credentials.username_env", &av.credentials.username_env);
                v.non_empty("antivirus.credentials.password_env", &av.credentials.password_env);
            }
            v.buckets("antivirus.buckets", &av.buckets);
        }
        if let Some(gd) = &self.guardduty {
            v.non_empty("guardduty.plan_id", &gd.plan_id);
            v.days("guardduty.history_days", gd.history_days);
            v.check(
                "guardduty.buckets",
                !gd.enabled || !gd.buckets.is_empty(),
                "must list at least one bucket when guardduty is enabled",
            );
            v.buckets("guardduty.buckets", &gd.buckets);
        }
        if let Some(ce) = &self.cost {
            v.non_empty("cost.tag_key", &ce.tag_key);
            v.check(
                "cost.tag_key",
                !ce.tag_key.contains('$'),
                "must not contain '$' (Cost Explorer uses it as the key$value separator)",
            );
            v.check(
                "cost.metric",
                CE_METRICS.contains(&ce.metric.as_str()),
                &format!("must be one of {}", CE_METRICS.join(", ")),
            );
            v.days("cost.history_days", ce.history_days);
            let mut seen = std::collections::HashSet::new();
            for (i, t) in ce.tags.iter().enumerate() {
                if !seen.insert(t.value.as_str()) {
                    v.push(&format!("cost.tags[{i}].value"), format!("duplicate tag value {:?}", t.value));
                }
            }
        }
        if let Some(ecs) = &self.ecs {
            let mut seen = std::collections::HashSet::new();
            for (i, s) in ecs.services.iter().enumerate() {
                v.non_empty(&format!("ecs.services[{i}].cluster"), &s.cluster);
                v.non_empty(&format!("ecs.services[{i}].service"), &s.service);
                if s.max_tasks == Some(0) {
                    v.push(&format!("ecs.services[{i}].max_tasks"), "must be at least 1".into());
                }
                if !seen.insert((s.cluster.as_str(), s.service.as_str())) {
                    v.push(&format!("ecs.services[{i}]"), format!("duplicate service {}/{}", s.cluster, s.service));
                }
            }
        }
        self.validate_rules(&mut v);
        let any = self.antivirus.as_ref().is_some_and(|a| a.enabled)
            || self.guardduty.as_ref().is_some_and(|g| g.enabled)
            || self.cost.as_ref().is_some_and(|c| c.enabled)
            || self.ecs.as_ref().is_some_and(|e| e.enabled);
        if !any {
            v.push(
                "",
                "no source is enabled: configure at least one of [antivirus], [guardduty], [cost], [ecs]".into(),
            );
        }
        v.0
    }
}

impl Config {
    fn validate_rules(&self, v: &mut Validator) {
        let r = &self.rules;
        v.tolerances("rules", Some(r.warn_tolerance), Some(r.crit_tolerance), r);
        v.check(
            "rules.growth_recovery",
            r.growth_recovery > 0.0 && r.growth_recovery <= 1.0,
            "must be above 0 and at most 1",
        );
        v.check("rules.horizon_days", (1..=365).contains(&r.horizon_days), "must be between 1 and 365");
        v.check(
            "rules.trend_window_days",
            (21..=400).contains(&r.trend_window_days),
            "must be between 21 and 400 (the forecast needs 21 days)",
        );
        v.check("rules.forecast_max_rise", r.forecast_max_rise > 1.0, "must be above 1");
        v.check("rules.forecast_hold_days", r.forecast_hold_days <= 56, "must be between 0 and 56");
        v.check("rules.anomaly_z", r.anomaly_z > 0.0, "must be above 0");
        v.check("rules.anomaly_ratio", r.anomaly_ratio >= 1.0, "must be at least 1");
        v.check(
            "rules.anomaly_new_high_days",
            (7..=430).contains(&r.anomaly_new_high_days),
            "must be between 7 and 430",
        );
        v.check("rules.anomaly_hold_days", r.anomaly_hold_days <= 56, "must be between 0 and 56");
        v.check("rules.anomaly_shift_days", r.anomaly_shift_days <= 28, "must be between 0 (off) and 28");
        v.check("rules.anomaly_shift_z", r.anomaly_shift_z > 0.0, "must be above 0");
        v.check("rules.anomaly_shift_ratio", r.anomaly_shift_ratio >= 1.0, "must be at least 1");
        v.ratios("rules", r.capacity_warn, r.capacity_crit);
        v.check(
            "rules.capacity_recovery",
            r.capacity_recovery > 0.0 && r.capacity_recovery <= 1.0,
            "must be above 0 and at most 1",
        );

        let team = |v: &mut Validator, path: &str, owner: &Option<String>| {
            if let Some(o) = owner {
                if !self.teams.contains_key(o) {
                    v.push(path, format!("unknown team {o:?}: define it as [teams.{o}]"));
                }
            }
        };
        team(v, "alerts.default_team", &self.alerts.default_team);
        v.check(
            "alerts.state_lookback_hours",
            (1..=336).contains(&self.alerts.state_lookback_hours),
            "must be between 1 and 336 (CloudWatch ListMetrics sees two weeks)",
        );
        if let Some(u) = &self.alerts.dashboard_url {
            v.check("alerts.dashboard_url", u.starts_with("https://"), "must be an https:// URL");
        }
        for (name, t) in &self.teams {
            let p = format!("teams.{name}");
            if t.slack_webhook_env.is_some() && t.slack_webhook_secret_id.is_some() {
                v.push(&p, "set slack_webhook_env or slack_webhook_secret_id, not both".into());
            }
            if t.sns_topic_arn.is_some() && t.sns_topic_arn_env.is_some() {
                v.push(&p, "set sns_topic_arn or sns_topic_arn_env, not both".into());
            }
            if let Some(arn) = &t.sns_topic_arn {
                v.check(
                    &format!("{p}.sns_topic_arn"),
                    arn.starts_with("arn:") && arn.contains(":sns:"),
                    "must be an SNS topic ARN (arn:aws:sns:...)",
                );
            }
            if let Some(h) = &t.datadog_handle {
                v.check(&format!("{p}.datadog_handle"), h.starts_with('@') && h.len() > 1, "must start with '@'");
            }
        }
        let buckets = self
            .antivirus
            .iter()
            .map(|a| ("antivirus.buckets", &a.buckets))
            .chain(self.guardduty.iter().map(|g| ("guardduty.buckets", &g.buckets)));
        for (path, list) in buckets {
            for (i, b) in list.iter().enumerate() {
                team(v, &format!("{path}[{i}].owner"), &b.owner);
                if let Some(plan) = &b.plan {
                    v.plan(&format!("{path}[{i}].plan"), plan, r);
                }
            }
        }
        if let Some(ce) = &self.cost {
            for (i, t) in ce.tags.iter().enumerate() {
                team(v, &format!("cost.tags[{i}].owner"), &t.owner);
                if let Some(plan) = &t.plan {
                    v.plan(&format!("cost.tags[{i}].plan"), plan, r);
                }
                if let Some(b) = t.monthly_budget {
                    v.check(&format!("cost.tags[{i}].monthly_budget"), b > 0.0, "must be above 0");
                }
            }
        }
        if let Some(ecs) = &self.ecs {
            for (i, s) in ecs.services.iter().enumerate() {
                team(v, &format!("ecs.services[{i}].owner"), &s.owner);
                v.ratios(
                    &format!("ecs.services[{i}]"),
                    s.capacity_warn.unwrap_or(r.capacity_warn),
                    s.capacity_crit.unwrap_or(r.capacity_crit),
                );
            }
        }
    }
}

pub const CE_METRICS: &[&str] =
    &["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"];

fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty() && ns.len() <= 255 && ns.is_ascii() && !ns.starts_with("AWS/") && !ns.starts_with(':')
}

fn croner_check(expr: &str) -> Result<(), String> {
    // tokio-cron-scheduler parses with croner, seconds field first.
    let parts = expr.split_whitespace().count();
    if !(6..=7).contains(&parts) {
        return Err(format!(
            "{expr:?} has {parts} fields; expected 6 (sec min hour day month weekday), e.g. \"0 */15 * * * *\""
        ));
    }
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))
}

#[derive(Default)]
struct Validator(Vec<(String, String)>);

impl Validator {
    fn push(&mut self, path: &str, msg: String) {
        self.0.push((path.to_string(), msg));
    }
    fn check(&mut self, path: &str, ok: bool, msg: &str) {
        if !ok {
            self.push(path, msg.to_string());
        }
    }
    fn non_empty(&mut self, path: &str, s: &str) {
        self.check(path, !s.trim().is_empty(), "empty");
    }
    fn days(&mut self, path: &str, d: u32) {
        self.check(path, (1..=430).contains(&d), "must be between 1 and 430 days");
    }
    fn tolerances(&mut self, path: &str, warn: Option<f64>, crit: Option<f64>, d: &RuleDefaults) {
        let (w, c) = (warn.unwrap_or(d.warn_tolerance), crit.unwrap_or(d.crit_tolerance));
        if w <= 0.0 {
            self.push(&format!("{path}.warn_tolerance"), "must be above 0".into());
        } else if w >= c {
            let at = if warn.is_some() { "warn_tolerance" } else { "crit_tolerance" };
            self.push(&format!("{path}.{at}"), format!("warning ({w}) must be below critical ({c})"));
        }
    }
    fn ratios(&mut self, path: &str, warn: f64, crit: f64) {
        if !(warn > 0.0 && warn < crit) {
            self.push(
                &format!("{path}.capacity_warn"),
                format!("capacity warning ({warn}) must be above 0 and below critical ({crit})"),
            );
        }
    }
    fn plan(&mut self, path: &str, p: &Plan, d: &RuleDefaults) {
        match p.baseline.value() {
            Ok(b) if b > 0.0 => {}
            Ok(_) => self.push(&format!("{path}.baseline"), "must be above 0".into()),
            Err(e) => self.push(&format!("{path}.baseline"), e),
        }
        if toml_date(&p.since).is_none() {
            self.push(&format!("{path}.since"), "must be a date (YYYY-MM-DD)".into());
        }
        self.check(
            &format!("{path}.monthly_growth"),
            p.monthly_growth > -1.0 && p.monthly_growth.is_finite(),
            "must be above -1 (a decline of more than 100% a month is impossible)",
        );
        // Defaults are checked once, at [rules]; a plan is checked only where it overrides them.
        if p.warn_tolerance.is_some() || p.crit_tolerance.is_some() {
            self.tolerances(path, p.warn_tolerance, p.crit_tolerance, d);
        }
        if let Some(h) = p.horizon_days {
            self.check(&format!("{path}.horizon_days"), (1..=365).contains(&h), "must be between 1 and 365");
        }
    }
    fn buckets(&mut self, path: &str, buckets: &[Bucket]) {
        let mut seen = std::collections::HashSet::new();
        for (i, b) in buckets.iter().enumerate() {
            let p = format!("{path}[{i}].name");
            if b.name.trim().is_empty() {
                self.push(&p, "empty".into());
            } else if !valid_bucket_name(&b.name) {
                self.push(&p, format!("{:?} is not a valid S3 bucket name", b.name));
            } else if !seen.insert(b.name.as_str()) {
                self.push(&p, format!("duplicate bucket {:?}", b.name));
            }
        }
    }
}

fn valid_bucket_name(n: &str) -> bool {
    (3..=63).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
}

/// serde's message already carries line and column; keep it to one readable line.
fn describe_toml_error(_text: &str, e: &toml::de::Error) -> String {
    e.to_string().trim_end().replace('\n', " ").replace("  ", " ")
}

/// Attaches the source line of each path (`a.b[2].c`) by walking the span-keeping document.
fn locate(text: &str, problems: Vec<(String, String)>) -> Vec<Problem> {
    let doc = toml_edit::Document::parse(text).ok();
    let mut located: Vec<Problem> = problems
        .into_iter()
        .map(|(path, message)| {
            let line = doc
                .as_ref()
                .and_then(|d| span_of(d.as_item(), &path))
                .map(|offset| text[..offset].matches('\n').count() + 1);
            Problem { path, line, message }
        })
        .collect();
    // In file order, so the list reads top to bottom; unlocated ones last.
    located.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    located
}

enum Node<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
}

/// Byte offset of the last key on `path` (`a.b[2].c`) that exists in the document.
fn span_of(root: &toml_edit::Item, path: &str) -> Option<usize> {
    let mut node = Node::Item(root);
    let mut best = None;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let mut parts = seg.split(['[', ']']).filter(|s| !s.is_empty());
        let key = parts.next()?;
        let table: &dyn toml_edit::TableLike = match node {
            Node::Item(i) => i.as_table_like(),
            Node::Table(t) => Some(t as &dyn toml_edit::TableLike),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike),
        }?;
        let Some((k, child)) = table.get_key_value(key) else {
            return best;
        };
        best = k.span().map(|s| s.start).or(best);
        node = Node::Item(child);
        for idx in parts.filter_map(|p| p.parse::<usize>().ok()) {
            let next = match node {
                Node::Item(toml_edit::Item::ArrayOfTables(a)) => a.get(idx).map(Node::Table),
                Node::Item(toml_edit::Item::Value(toml_edit::Value::Array(a)))
                | Node::Value(toml_edit::Value::Array(a)) => a.get(idx).map(Node::Value),
                _ => None,
            };
            let Some(next) = next else { return best };
            let start = match &next {
                Node::Table(t) => t.iter().next().and_then(|(k, _)| t.key(k)).and_then(|k| k.span()),
                Node::Value(v) => v.span(),
                Node::Item(i) => i.span(),
            };
            best = start.map(|s| s.start).or(best);
            node = next;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_thresholds_toml_is_valid() {
        let text = include_str!("../thresholds.toml");
        Config::parse(text, "thresholds.toml").unwrap();
    }

    #[test]
    fn plan_dates_may_be_toml_dates_or_strings() {
        let text = |since: &str| {
            format!(
                "[cost]\ntag_key = \"t\"\n[[cost.tags]]\nvalue = \"x\"\nplan = {{ baseline = 5.0, since = {since} }}\n"
            )
        };
        let day = |t: &str| {
            let c = Config::parse(&text(t), "t").unwrap();
            toml_date(&c.cost.unwrap().tags[0].plan.as_ref().unwrap().since)
        };
        assert_eq!(day("2026-10-01"), "2026-10-01".parse().ok());
        assert_eq!(day("\"2026-10-01\""), "2026-10-01".parse().ok());
        let err = Config::parse(&text("\"Oct 1st\""), "t").unwrap_err().to_string();
        assert!(err.contains("line 5: cost.tags[0].plan.since: must be a date (YYYY-MM-DD)"), "{err}");
    }

    #[test]
    fn problems_are_located_by_path_and_line() {
        let text = "[collector]\nnamespace = \"AWS/EC2\"\n\n[antivirus]\nbase_url = \"https://x.example\"\n\n[[antivirus.buckets]]\nname = \"ok-bucket\"\n\n[[antivirus.buckets]]\nname = \"\"\n";
        let err = Config::parse(text, "t.toml").unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else { panic!("expected Invalid, got {err:?}") };
        assert_eq!(
            problems,
            vec![
                Problem {
                    path: "collector.namespace".into(),
                    line: Some(2),
                    message: "must be 1-255 ASCII characters and not start with \"AWS/\"".into()
                },
                Problem { path: "antivirus.buckets[1].name".into(), line: Some(11), message: "empty".into() },
            ]
        );
    }

    #[test]
    fn rule_parameters_are_checked_and_located() {
        let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/thresholds.toml")).unwrap();
        let cases = [
            ("anomaly_new_high_days", "364", ["3", "431"], "must be between 7 and 430"),
            ("forecast_max_rise", "1.5", ["1.0", "nan"], "must be above 1"),
            ("growth_recovery", "0.95", ["0.0", "1.01"], "must be above 0 and at most 1"),
            ("capacity_recovery", "0.85", ["-1", "2"], "must be above 0 and at most 1"),
            ("forecast_hold_days", "7", ["57", "100"], "must be between 0 and 56"),
        ];
        for (key, default, bads, message) in cases {
            let line = format!("{key} = {default}");
            assert!(shipped.contains(&line), "{line}");
            for bad in bads {
                let text = shipped.replace(&line, &format!("{key} = {bad}"));
                let ConfigError::Invalid { problems, .. } = Config::parse(&text, "t.toml").unwrap_err() else {
                    panic!("expected Invalid")
                };
                let at = text.lines().position(|l| l.starts_with(&format!("{key} ="))).unwrap() + 1;
                assert_eq!(
                    problems,
                    vec![Problem { path: format!("rules.{key}"), line: Some(at), message: message.into() }]
                );
            }
        }
    }
}
