//! Test support: moto for AWS, the project's own loopback doubles for the Console, and helpers
//! to seed them and read back what costwarden wrote. Shared by tests, examples and benches.
#![allow(dead_code)] // each test binary uses its own subset

pub mod cbor;
pub mod ce_tags;
pub mod cloudwatch;
pub mod console;
pub mod guardduty_plans;
pub mod lambda_api;
pub mod metric_streams;
pub mod moto;
pub mod proxy;
pub mod slack;

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StandardUnit};
use chrono::{NaiveDate, Utc};
use costwarden::config::Config;
use costwarden::wire::Policy;
use costwarden::{App, Clients};

#[allow(unused_imports)]
pub use console::{Console, Fault, Paging};
#[allow(unused_imports)]
pub use moto::{sdk_config, Moto};

pub const NAMESPACE: &str = "Costwarden/Test";
pub const CLUSTER: &str = "CloudStorageSecCluster-t1";
pub const AGENTS: &str = "CloudStorageSecAgentService-t1";
pub const RETRO: &str = "CloudStorageSecRetroAgentService-t1";
pub const TAG_KEY: &str = "costwarden:component";
pub const SECRET_ID: &str = "costwarden/console";
pub const USERNAME: &str = "api-user";
pub const PASSWORD: &str = "hunter2-Secret!";

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn days_ago(n: u64) -> NaiveDate {
    today() - chrono::Days::new(n)
}

/// A thresholds.toml for the test peers. `extra` is appended (more sections or overrides).
pub fn config_text(console_url: &str, extra: &str) -> String {
    format!(
        r#"
[collector]
namespace = "{NAMESPACE}"
max_attempts = 2
# Due at any hour of the day the tests run (the default 2 h would skip the daily sources before
# 02:00 UTC); the cadence tests put the default back.
settle_hours = 0

[antivirus]
base_url = "{console_url}"
history_days = 10
credentials = {{ secret_id = "{SECRET_ID}" }}

[antivirus.api]
page_size = 2

[[antivirus.buckets]]
name = "uploads-prod"
owner = "media"

[cost]
tag_key = "{TAG_KEY}"
history_days = 10

[ecs]

[[ecs.services]]
cluster = "{CLUSTER}"
service = "{AGENTS}"

[[ecs.services]]
cluster = "{CLUSTER}"
service = "{RETRO}"
max_tasks = 4

[teams.media]
{extra}"#
    )
}

pub fn config(console_url: &str, extra: &str) -> Config {
    Config::parse(&config_text(console_url, extra), "test.toml").unwrap()
}

pub async fn app(moto: &Moto, config: Config) -> App {
    let policy = Policy { request_timeout: Duration::from_secs(5), ..Policy::of(&config.collector) };
    let clients = Clients::new(&moto.sdk_config().await, policy);
    App::new(config, clients)
}

/// The Console's statistics: two buckets, two scan types, yesterday and the day before.
pub fn console_items() -> Vec<serde_json::Value> {
    use console::item;
    vec![
        item("uploads-prod", days_ago(1), "Event", 3_000_000_000, 3_000),
        item("uploads-prod", days_ago(1), "Retro", 1_000_000_000, 500),
        item("uploads-prod", days_ago(2), "Event", 2_000_000_000, 2_000),
        item("avatars", days_ago(1), "Event", 500_000_000, 10_000),
        item("avatars", days_ago(2), "API", 400_000_000, 9_000),
    ]
}

/// moto (7 agents running) and the Console double, seeded for a full cycle, with a counting
/// proxy in front of moto for the clients.
pub struct Peers {
    pub moto: Moto,
    pub console: Console,
    pub proxy: proxy::LatencyProxy,
}

pub async fn peers_behind_proxy() -> Peers {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    let proxy = proxy::LatencyProxy::start(&moto.url, Duration::ZERO).await;
    Peers { moto, console, proxy }
}

/// Everything a full cycle reads, in moto and the Console double.
pub async fn seed(moto: &Moto, console: &Console) {
    seed_base(moto, console).await;
    preset_cost(moto).await;
}

/// The Console secret, the Console's items and ECS; Cost Explorer left to the test.
pub async fn seed_base(moto: &Moto, console: &Console) {
    let sdk = moto.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    sm.create_secret()
        .name(SECRET_ID)
        .secret_string(serde_json::json!({"username": USERNAME, "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    console.set_items(console_items());
    seed_ecs(&sdk).await;
}

/// One datum of GuardDuty's own metric `name` for `bucket` under plan-1, at `at` (epoch seconds;
/// None: now), as GuardDuty Malware Protection writes it.
pub async fn guardduty_datum(sdk: &aws_config::SdkConfig, name: &str, bucket: &str, value: f64, at: Option<i64>) {
    use aws_sdk_cloudwatch::types::MetricDatum;
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let datum = MetricDatum::builder()
        .metric_name(name)
        .dimensions(dim("Malware Protection Plan Id", "plan-1"))
        .dimensions(dim("Resource Name", bucket))
        .set_timestamp(at.map(aws_sdk_cloudwatch::primitives::DateTime::from_secs))
        .value(value)
        .build();
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_data()
        .namespace("AWS/GuardDuty/MalwareProtection")
        .metric_data(datum)
        .send()
        .await
        .unwrap();
}

/// An S3 client for moto: by path (a bucket's virtual host under 127.0.0.1 does not resolve).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// Agents: desired 10, running 7 (moto's MOTO_ECS_SERVICE_RUNNING), max 10 from Application
/// Auto Scaling. Retro: desired = running = 3 (UpdateService), max_tasks 4 from the config.
pub async fn seed_ecs(sdk: &aws_config::SdkConfig) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
    ecs.create_service().cluster(CLUSTER).service_name(AGENTS).desired_count(10).send().await.unwrap();
    ecs.create_service().cluster(CLUSTER).service_name(RETRO).desired_count(1).send().await.unwrap();
    ecs.update_service().cluster(CLUSTER).service(RETRO).desired_count(3).send().await.unwrap();
    aws_sdk_applicationautoscaling::Client::new(sdk)
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(format!("service/{CLUSTER}/{AGENTS}"))
        .min_capacity(1)
        .max_capacity(10)
        .send()
        .await
        .unwrap();
}

pub fn ce_day(day: NaiveDate, estimated: bool, groups: &[(&str, &str)]) -> serde_json::Value {
    serde_json::json!({
        "TimePeriod": {"Start": day.to_string(), "End": (day + chrono::Days::new(1)).to_string()},
        "Total": {},
        "Groups": groups.iter().map(|(k, a)| serde_json::json!({
            "Keys": [format!("{TAG_KEY}${k}")],
            "Metrics": {"UnblendedCost": {"Amount": a, "Unit": "USD"}}
        })).collect::<Vec<_>>(),
        "Estimated": estimated,
    })
}

/// Two pages: the first ends with a NextPageToken, the second (its own request) finishes.
pub async fn preset_cost(moto: &Moto) {
    moto.preset_cost_and_usage(serde_json::json!([
        {
            "ResultsByTime": [ce_day(days_ago(2), false, &[("scanner-agents", "12.50"), ("", "0.40")])],
            "NextPageToken": "page-2",
            "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}],
        },
        {
            "ResultsByTime": [ce_day(days_ago(1), true, &[("scanner-agents", "20.25"), ("scanner-console", "3.10")])],
            "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}],
        }
    ]))
    .await;
}

/// Reads one datum back from moto's CloudWatch: the Maximum over the last hours of the series
/// with exactly these dimensions and this unit (moto filters on the unit, so a wrong unit reads
/// as nothing).
pub async fn read_metric(
    moto: &Moto,
    namespace: &str,
    name: &str,
    dims: &[(&str, &str)],
    unit: StandardUnit,
) -> Option<f64> {
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build()).collect()))
        .build();
    let now = Utc::now().timestamp();
    let out = cw
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q")
                .metric_stat(MetricStat::builder().metric(metric).period(3600 * 4).stat("Maximum").unit(unit).build())
                .build(),
        )
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now - 3600 * 2))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now + 3600))
        .send()
        .await
        .unwrap();
    out.metric_data_results().first().and_then(|r| r.values().first().copied())
}

/// Every metric in the namespace as `Name{Dim=Value,...}`, sorted.
pub async fn list_metrics(moto: &Moto, namespace: &str) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = cw.list_metrics().namespace(namespace).set_next_token(token).send().await.unwrap();
        for m in page.metrics() {
            let mut dims: Vec<String> = m
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect();
            dims.sort();
            out.push(format!("{}{{{}}}", m.metric_name().unwrap_or(""), dims.join(",")));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs scripts/check_slack.py (slack_sdk's Block Kit models) on the payloads.
pub fn slack_sdk_check(payloads: &[serde_json::Value]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let f = dir.path().join(format!("payload-{i}.json"));
            std::fs::write(&f, p.to_string()).unwrap();
            f
        })
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "run scripts/setup first (it installs slack_sdk into .venv)");
    let out =
        std::process::Command::new(python).arg(root.join("scripts/check_slack.py")).args(&files).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The loopback Slack receiver, its webhook URL stored in moto's Secrets Manager as `secret_id`
/// (what `slack_webhook_secret_id` names).
pub async fn slack_behind_secret(moto: &Moto, secret_id: &str) -> slack::Slack {
    let slack = slack::Slack::start().await;
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
        .create_secret()
        .name(secret_id)
        .secret_string(&slack.url)
        .send()
        .await
        .unwrap();
    slack
}

/// The costwarden binary `bin` (a test's `env!("CARGO_BIN_EXE_costwarden")`) with `config`,
/// reaching AWS at `aws_url` (moto, or a proxy in front of it) with test credentials, no
/// profile and no configuration from the environment.
pub fn costwarden_at(bin: &str, aws_url: &str, config: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--config")
        .arg(config)
        .env_remove("COSTWARDEN_CONFIG")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", aws_url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    cmd
}

/// The header of a team's sheet in `coverage-<team>.xlsx`, as a team receives it.
pub const COVERAGE_HEADER: [&str; 14] = [
    "account",
    "region",
    "bucket",
    "scanned",
    "engine",
    "scanned paths",
    "skipped paths",
    "scan mode",
    "GB",
    "estimated cost USD",
    "note",
    "decision",
    "comment",
    "reviewed by",
];
