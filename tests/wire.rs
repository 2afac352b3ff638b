//! Request counts are taken at the wire: what a run reports (and publishes as its self-cost)
//! equals what a counting proxy in front of moto saw, retries included.

mod support;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::StandardUnit;
use costwarden::wire::{Api, Policy};
use costwarden::{run_once, App, Clients};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_requests_equal_the_wire_with_cost_explorer_throttled_and_retried() {
    let Peers { moto, console, proxy } = peers_behind_proxy().await;
    // Cost Explorer's throttle; the client's retry policy (3 attempts) retries it twice.
    proxy.fail_next("GetCostAndUsage", 2, 400, r#"{"__type": "LimitExceededException", "message": "Rate exceeded"}"#);
    let mut config = config(&console.url, "");
    config.collector.max_attempts = 3;
    config.collector.api_metrics = true;
    let sdk = sdk_config(&proxy.url).await;
    let clients = Clients::new(&sdk, Policy::of(&config.collector));
    let app = App::new(config, clients);

    let report = run_once(&app, chrono::Utc::now(), false).await;
    assert!(report.ok(), "{}", costwarden::report::human(&report));

    let wire = proxy.counts();
    // Two pages, the first one throttled twice.
    assert_eq!(wire.get("GetCostAndUsage"), Some(&4), "{wire:?}");
    let aws: BTreeMap<String, u64> = report
        .requests
        .iter()
        .filter(|(api, _)| !matches!(api, Api::ConsoleToken | Api::ConsoleStats | Api::SlackWebhook))
        .map(|(api, n)| (api.name().to_string(), *n))
        .collect();
    assert_eq!(aws, wire, "reported (left) vs seen at the wire (right)");
    let (tokens, pages) = {
        let log = console.log();
        (log.token_requests as u64, log.stats_requests as u64)
    };
    assert_eq!(report.requests.get(&Api::ConsoleToken).copied(), Some(tokens));
    assert_eq!(report.requests.get(&Api::ConsoleStats).copied(), Some(pages));
    let cost = report.sources.iter().find(|s| s.source == costwarden::sources::SourceId::Cost).unwrap();
    // Its four pages, and the ECS task-hours read for its why (one GetMetricData).
    assert_eq!(cost.requests, 5);
    // The self-cost published with the run counts the retries too: 4 x USD 0.01.
    let ce = [("Api", "GetCostAndUsage")];
    assert_eq!(read_metric(&moto, NAMESPACE, "ApiRequests", &ce, StandardUnit::Count).await, Some(4.0));
    assert_eq!(read_metric(&moto, NAMESPACE, "ApiCostEstimate", &ce, StandardUnit::None).await, Some(0.04));
    // And the month's projection prices the daily run with them: 4 x USD 0.01 a day, plus
    // fractions of a cent for its secret and datums.
    let daily = &report.self_cost.lines[3];
    let a_day = daily.usd / costwarden::price::DAYS_PER_MONTH;
    assert!((0.04..0.0401).contains(&a_day), "{daily:?}");
}
