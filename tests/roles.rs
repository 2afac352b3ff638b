//! A role per source: a section with `role` reaches its API with the credentials STS gave for
//! that role (moto's AssumeRole hands out `ASIA…` keys), checked at the wire; the others keep the
//! base credentials; each role is assumed once, not once a run.

mod support;

use std::time::Duration;

use chrono::Utc;
use costwarden::wire::Policy;
use costwarden::{run_once, App, Clients};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_section_with_a_role_reaches_its_api_with_the_assumed_credentials() {
    let Peers { moto: _moto, console, proxy } = peers_behind_proxy().await;
    // Roles in moto's own account: moto keeps each account's resources apart, so a role in
    // another account would (rightly) find no cluster and no cost there.
    let roles = r#"
[cost.role]
arn = "arn:aws:iam::123456789012:role/costwarden-cost-explorer"
external_id = "costwarden-test"

[ecs.role]
arn = "arn:aws:iam::123456789012:role/costwarden-ecs"
"#;
    let config = costwarden::config::Config::parse(&config_text(&console.url, roles), "roles.toml").unwrap();
    let sdk = sdk_config(&proxy.url).await;
    let policy = Policy { request_timeout: Duration::from_secs(5), ..Policy::of(&config.collector) };
    let clients = Clients::with_roles(&sdk, &config, policy).await;
    assert_eq!(proxy.counts().get("AssumeRole"), None, "building the clients calls nothing");
    let app = App::new(config, clients);
    for minute in [0, 1] {
        let r = run_once(&app, Utc::now() + chrono::Duration::minutes(minute), false).await;
        assert!(r.ok(), "{}", costwarden::report::human(&r));
    }

    let keys = proxy.access_keys();
    let of = |api: &str| keys.get(api).cloned().unwrap_or_default();
    let ce = of("GetCostAndUsage");
    let ecs = of("DescribeServices");
    assert_eq!(ce.len(), 1, "{keys:#?}");
    assert!(ce.iter().all(|k| k.starts_with("ASIA")), "{keys:#?}");
    assert_eq!(ecs.len(), 1, "{keys:#?}");
    assert!(ecs.iter().all(|k| k.starts_with("ASIA")) && ecs != ce, "two roles, two sets: {keys:#?}");
    assert_eq!(of("DescribeScalableTargets"), ecs, "Auto Scaling with ECS's role");
    // No role for CloudWatch or STS itself: the base credentials.
    for api in ["PutMetricData", "GetMetricData", "AssumeRole"] {
        assert_eq!(of(api).into_iter().collect::<Vec<_>>(), ["testing"], "{api}: {keys:#?}");
    }
    // Two runs, ECS read in both: each role assumed once.
    assert_eq!(proxy.counts().get("AssumeRole"), Some(&2), "{:?}", proxy.counts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarddutys_metrics_are_read_with_the_base_credentials_not_the_collectors_role() {
    let Peers { moto: _moto, console, proxy } = peers_behind_proxy().await;
    // [collector.role] is where costwarden writes; GuardDuty's metrics live with the buckets.
    let extra = r#"
[collector.role]
arn = "arn:aws:iam::123456789012:role/costwarden-metrics"

[guardduty]
plan_id = "plan-1"
[[guardduty.buckets]]
name = "gd-bucket"
"#;
    let config = costwarden::config::Config::parse(&config_text(&console.url, extra), "roles.toml").unwrap();
    let sdk = sdk_config(&proxy.url).await;
    let policy = Policy { request_timeout: Duration::from_secs(5), ..Policy::of(&config.collector) };
    let app = App::new(config.clone(), Clients::with_roles(&sdk, &config, policy).await);
    let r = run_once(&app, Utc::now(), false).await;
    assert!(r.sink.failed == 0, "{}", costwarden::report::human(&r));

    let keys = proxy.access_keys();
    let of = |api: &str| keys.get(api).cloned().unwrap_or_default();
    let written = of("PutMetricData");
    assert_eq!(written.len(), 1, "{keys:#?}");
    assert!(written.iter().all(|k| k.starts_with("ASIA")), "written with the collector's role: {keys:#?}");
    // GetMetricData: the collector's own records with its role, GuardDuty's with the base keys.
    let read = of("GetMetricData");
    let expected: std::collections::BTreeSet<String> = written.iter().cloned().chain(["testing".to_string()]).collect();
    assert_eq!(read, expected, "{keys:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_lists_the_buckets_with_coverage_role_and_its_account() {
    let Peers { moto, console, proxy } = peers_behind_proxy().await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    s3.create_bucket().bucket("uploads-prod").send().await.unwrap();
    let extra = "\n[coverage.role]\narn = \"arn:aws:iam::123456789012:role/costwarden-inventory\"\n";
    let config = costwarden::config::Config::parse(&config_text(&console.url, extra), "roles.toml").unwrap();
    let policy = Policy { request_timeout: Duration::from_secs(5), ..Policy::of(&config.collector) };
    let app = App::new(config.clone(), Clients::with_roles(&sdk_config(&proxy.url).await, &config, policy).await);
    let inputs = costwarden::coverage::collect::collect(
        &app.config,
        &app.clients,
        app.console_if_enabled().await,
        Utc::now().date_naive(),
        costwarden::coverage::collect::Volumes::Read,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(inputs.buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["uploads-prod"]);
    assert_eq!(inputs.account, "123456789012");
    let keys = proxy.access_keys();
    for api in ["ListBuckets", "GetBucketLocation", "GetBucketTagging"] {
        let k = keys.get(api).cloned().unwrap_or_default();
        assert!(k.len() == 1 && k.iter().all(|k| k.starts_with("ASIA")), "{api} with the role: {keys:#?}");
    }
}
