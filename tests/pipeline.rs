//! The collection pipeline end to end: moto for AWS, the Console double, real wire protocols.

mod support;

use aws_sdk_cloudwatch::types::StandardUnit;
use costwarden::sources::SourceId;
use costwarden::wire::Api;
use costwarden::{run_once, Status};
use support::*;

fn status(report: &costwarden::RunReport, id: SourceId) -> Status {
    report.sources.iter().find(|s| s.source == id).unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_cycle_writes_every_metric_with_exact_names_dimensions_values_and_units() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    // Every optional stream too.
    let text = config_text(&console.url, "")
        .replace("max_attempts = 2\n", "max_attempts = 2\napi_metrics = true\n")
        .replace("[ecs]\n", "[ecs]\ntask_details = true\n")
        .replace("[antivirus]\n", "[antivirus]\nobject_counts = true\n");
    let app = app(&moto, costwarden::config::Config::parse(&text, "t.toml").unwrap()).await;

    let report = run_once(&app, chrono::Utc::now(), false).await;
    assert!(report.ok(), "{}", costwarden::report::human(&report));

    let ns = NAMESPACE;
    let b = StandardUnit::Bytes;
    let c = StandardUnit::Count;
    let up = [("Bucket", "uploads-prod"), ("Source", "console")];
    let av = [("Bucket", "avatars"), ("Source", "console")];
    assert_eq!(read_metric(&moto, ns, "ScannedBytes", &up, b.clone()).await, Some(4e9));
    assert_eq!(read_metric(&moto, ns, "ScannedObjects", &up, c.clone()).await, Some(3500.0));
    assert_eq!(read_metric(&moto, ns, "ScannedBytes", &av, b.clone()).await, Some(5e8));
    assert_eq!(read_metric(&moto, ns, "ScannedObjects", &av, c.clone()).await, Some(10_000.0));
    // Wrong unit reads as nothing: the unit is part of what is asserted.
    assert_eq!(read_metric(&moto, ns, "ScannedBytes", &up, c.clone()).await, None);

    let tag = |v| [("TagKey", TAG_KEY), ("TagValue", v)];
    let none = StandardUnit::None;
    assert_eq!(read_metric(&moto, ns, "Cost", &tag("scanner-agents"), none.clone()).await, Some(20.25));
    assert_eq!(read_metric(&moto, ns, "Cost", &tag("scanner-console"), none.clone()).await, Some(3.1));
    assert_eq!(read_metric(&moto, ns, "Cost", &tag("untagged"), none.clone()).await, Some(0.0));

    let svc = |s| [("Cluster", CLUSTER), ("Service", s)];
    for (name, service, unit, want) in [
        ("RunningTaskCount", AGENTS, c.clone(), 7.0),
        ("DesiredTaskCount", AGENTS, c.clone(), 10.0),
        ("PendingTaskCount", AGENTS, c.clone(), 3.0),
        ("MaxTaskCount", AGENTS, c.clone(), 10.0),
        ("TaskCapacityUtilization", AGENTS, StandardUnit::Percent, 70.0),
        ("RunningTaskCount", RETRO, c.clone(), 3.0),
        ("DesiredTaskCount", RETRO, c.clone(), 3.0),
        ("PendingTaskCount", RETRO, c.clone(), 0.0),
        ("MaxTaskCount", RETRO, c.clone(), 4.0),
        ("TaskCapacityUtilization", RETRO, StandardUnit::Percent, 75.0),
    ] {
        assert_eq!(read_metric(&moto, ns, name, &svc(service), unit).await, Some(want), "{name} {service}");
    }

    for source in ["antivirus", "cost", "ecs"] {
        assert_eq!(read_metric(&moto, ns, "SourceUp", &[("Source", source)], c.clone()).await, Some(1.0), "{source}");
    }
    for (api, want) in [
        ("ConsoleToken", 1.0),
        ("ConsoleStats", 3.0), // 5 items, page size 2
        ("GetSecretValue", 1.0),
        ("GetMetricData", 2.0), // which daily totals are due (nothing published before); the ECS task-hours
        ("GetCostAndUsage", 2.0), // one query, two pages
        ("DescribeServices", 1.0),
        ("DescribeScalableTargets", 1.0), // only the service without max_tasks
        ("PutMetricData", 2.0),           // the datums, then the published-day markers
        ("ListMetrics", 1.0),             // the alert state: nothing alerted before
    ] {
        assert_eq!(read_metric(&moto, ns, "ApiRequests", &[("Api", api)], c.clone()).await, Some(want), "{api}");
    }
    assert_eq!(
        read_metric(&moto, ns, "ApiCostEstimate", &[("Api", "GetCostAndUsage")], none.clone()).await,
        Some(0.02)
    );
    // Both services are at or above 70% of their maximum: capacity WARNING, told to nobody
    // (no owner, no default team: the log), so remembered as delivered.
    for (service, pct) in [(AGENTS, 70.0), (RETRO, 75.0)] {
        let dims =
            [("Rule", "capacity"), ("Series", "TaskCapacityUtilization"), ("Cluster", CLUSTER), ("Service", service)];
        assert_eq!(read_metric(&moto, ns, "AlertState", &dims, c.clone()).await, Some(1.0), "{service}");
        let util = read_metric(&moto, ns, "ThresholdUtilization", &dims, StandardUnit::Percent).await;
        assert_eq!(util, Some(pct), "{service}");
    }
    assert_eq!(report.alerts.transitions.len(), 2);
    assert_eq!(read_metric(&moto, ns, "NotificationsFailed", &[], c.clone()).await, Some(0.0));
    // 17 data datums (4 scan, 3 cost, 10 ECS), 4 rule datums (2 AlertState, 2 utilisation)
    // + 25 health (3 SourceUp, 9 APIs x 2, 4 totals) + the daily-run records (3 of the
    // Console's, 4 of Cost Explorer's).
    assert_eq!(read_metric(&moto, ns, "DatumsWritten", &[], c.clone()).await, Some(53.0));
    assert_eq!(report.datums, 53);
    assert_eq!(report.sink.written, 53);
    let yesterday = days_ago(1).format("%Y%m%d").to_string().parse::<f64>().unwrap();
    for source in ["antivirus", "cost"] {
        let marker = read_metric(&moto, ns, "DailyTotalsPublished", &[("Source", source)], none.clone()).await;
        assert_eq!(marker, Some(yesterday), "{source}");
    }
    let projected = read_metric(&moto, ns, "SelfCostMonthly", &[], none.clone()).await;
    assert_eq!(projected, Some(report.self_cost.monthly_usd));

    let estimated = read_metric(&moto, ns, "DailyTotalsEstimated", &[("Source", "cost")], c.clone()).await;
    assert_eq!(estimated, Some(1.0), "yesterday's cost is Estimated: re-read later");
    let listed = list_metrics(&moto, ns).await;
    assert_eq!(listed.len(), 53, "{listed:#?}");
    assert_eq!(report.requests.get(&Api::GetCostAndUsage), Some(&2));
    // Daily history is kept for evaluation although only yesterday is published.
    let agents = report
        .observations
        .daily
        .values()
        .find(|d| d.key.to_string() == "Cost{TagKey=costwarden:component,TagValue=scanner-agents}")
        .unwrap();
    assert_eq!(agents.points().collect::<Vec<_>>(), vec![(days_ago(2), 12.5), (days_ago(1), 20.25)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_console_does_not_stop_the_other_sources() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    // Every attempt (max_attempts = 2) fails with an RFC 7807 body.
    console.fault(Fault::Status(503));
    console.fault(Fault::Status(503));
    let app = app(&moto, config(&console.url, "")).await;

    let report = run_once(&app, chrono::Utc::now(), false).await;
    assert!(!report.ok());
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Failed);
    assert_eq!(
        av.error.as_deref(),
        Some("Console GET /api/statistics/scans: 503 Service Unavailable: Service Unavailable: Injected failure.")
    );
    assert_eq!(status(&report, SourceId::Cost), Status::Ok);
    assert_eq!(status(&report, SourceId::Ecs), Status::Ok);
    let c = StandardUnit::Count;
    let svc = [("Cluster", CLUSTER), ("Service", AGENTS)];
    assert_eq!(read_metric(&moto, NAMESPACE, "RunningTaskCount", &svc, c.clone()).await, Some(7.0));
    assert_eq!(read_metric(&moto, NAMESPACE, "SourceUp", &[("Source", "antivirus")], c.clone()).await, Some(0.0));
    let up = [("Bucket", "uploads-prod"), ("Source", "console")];
    assert_eq!(read_metric(&moto, NAMESPACE, "ScannedBytes", &up, StandardUnit::Bytes).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once_and_the_run_succeeds() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    console.fault(Fault::ExpireToken);
    let app = app(&moto, config(&console.url, "")).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    assert!(report.ok(), "{}", costwarden::report::human(&report));
    let (tokens, stats) = {
        let log = console.log();
        (log.token_requests, log.stats_requests)
    };
    assert_eq!(tokens, 2);
    assert_eq!(stats, 4); // 3 pages + the one refused
    let up = [("Bucket", "uploads-prod"), ("Source", "console")];
    assert_eq!(read_metric(&moto, NAMESPACE, "ScannedBytes", &up, StandardUnit::Bytes).await, Some(4e9));

    // The token is kept across runs (a daemon or a warm Lambda): no new token request.
    let again = run_once(&app, chrono::Utc::now(), false).await;
    assert!(again.ok());
    assert_eq!(console.log().token_requests, 2);
    assert_eq!(again.requests.get(&Api::ConsoleToken), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_console_password_is_a_clear_error_that_never_shows_the_password() {
    let moto = Moto::start(&[]).await;
    let console = Console::start(USERNAME, "the-real-one", Paging::Page).await;
    seed(&moto, &console).await;
    let app = app(&moto, config(&console.url, "")).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(
        av.error.as_deref(),
        Some("Console POST /api/Token: 401 Unauthorized: Unauthorized: Incorrect username or password.")
    );
    let all = format!("{}{}", costwarden::report::human(&report), serde_json::to_string(&report).unwrap());
    assert!(!all.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_console_json_fails_the_source_and_writes_no_partial_totals() {
    let moto = Moto::start(&[]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    console.fault(Fault::Truncated);
    let app = app(&moto, config(&console.url, "")).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Failed);
    let err = av.error.as_deref().unwrap();
    assert!(
        err.starts_with("Console GET /api/statistics/scans: response is not valid JSON: EOF while parsing"),
        "{err}"
    );
    assert_eq!(status(&report, SourceId::Ecs), Status::Ok);
    assert!(!report.published.iter().any(|s| s.key.to_string().starts_with("ScannedBytes")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_console_items_are_reported_and_the_good_ones_written() {
    let moto = Moto::start(&[]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Token).await;
    seed(&moto, &console).await;
    let mut items = console_items();
    items.push(serde_json::json!({"bucketName": "negative", "date": days_ago(1).to_string(), "scannedBytes": -1, "scannedObjects": 1}));
    items.push(serde_json::json!({"bucketName": "textual", "date": days_ago(1).to_string(), "scannedBytes": "12 GB", "scannedObjects": 1}));
    console.set_items(items);
    let extra = "";
    let text = config_text(&console.url, extra)
        .replace("[antivirus.api]\npage_size = 2", "[antivirus.api]\npaging = \"token\"");
    let app = app(&moto, costwarden::config::Config::parse(&text, "t").unwrap()).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Partial);
    let y = days_ago(1);
    assert_eq!(
        av.problems,
        vec![
            format!("page 2 item 0: bucket \"negative\" on {y}: \"scannedBytes\" = -1 is negative"),
            format!("page 2 item 1: bucket \"textual\" on {y}: \"scannedBytes\" = \"12 GB\" is not a number"),
        ]
    );
    assert!(!report.ok());
    // 7 items at 2 per page: 4 pages through continuation tokens.
    assert_eq!(report.requests.get(&Api::ConsoleStats), Some(&4));
    let up = [("Bucket", "uploads-prod"), ("Source", "console")];
    assert_eq!(read_metric(&moto, NAMESPACE, "ScannedBytes", &up, StandardUnit::Bytes).await, Some(4e9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ecs_service_is_named_and_the_known_ones_written() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    let extra = format!("\n[[ecs.services]]\ncluster = \"{CLUSTER}\"\nservice = \"NoSuchService\"\nmax_tasks = 2\n");
    let app = app(&moto, config(&console.url, &extra)).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let ecs = report.sources.iter().find(|s| s.source == SourceId::Ecs).unwrap();
    assert_eq!(ecs.status, Status::Partial);
    assert_eq!(
        ecs.problems,
        vec![format!("ECS service NoSuchService in cluster {CLUSTER}: MISSING (no such service; check ecs.services)")]
    );
    let svc = [("Cluster", CLUSTER), ("Service", AGENTS)];
    assert_eq!(read_metric(&moto, NAMESPACE, "RunningTaskCount", &svc, StandardUnit::Count).await, Some(7.0));
    assert_eq!(read_metric(&moto, NAMESPACE, "SourceUp", &[("Source", "ecs")], StandardUnit::Count).await, Some(0.0));

    // Only unknown services: problems and nothing read is FAILED, not PARTIAL.
    let text = config_text(&console.url, "")
        .replace(&format!("service = \"{AGENTS}\""), "service = \"Gone1\"")
        .replace(&format!("service = \"{RETRO}\""), "service = \"Gone2\"");
    let gone = support::app(&moto, costwarden::config::Config::parse(&text, "t.toml").unwrap()).await;
    let report = run_once(&gone, chrono::Utc::now(), false).await;
    let ecs = report.sources.iter().find(|s| s.source == SourceId::Ecs).unwrap();
    assert_eq!(
        (ecs.status, ecs.samples, ecs.problems.len()),
        (Status::Failed, 0, 2),
        "{}",
        costwarden::report::human(&report)
    );
    assert!(costwarden::report::human(&report).contains("collected FAILED: ecs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_page_missing_fields_is_reported_without_inventing_zeros() {
    let moto = Moto::start(&[]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed_base(&moto, &console).await;
    let y = days_ago(1);
    moto
        .preset_cost_and_usage(serde_json::json!([{
            "ResultsByTime": [
                {"TimePeriod": {"Start": y.to_string(), "End": today().to_string()}, "Estimated": true,
                 "Groups": [
                    {"Keys": [format!("{TAG_KEY}$scanner-agents")], "Metrics": {}},
                    {"Keys": [format!("{TAG_KEY}$scanner-queues")], "Metrics": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}}
                 ]},
                {"Estimated": false, "Groups": []}
            ]
        }]))
        .await;
    let app = app(&moto, config(&console.url, "")).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let ce = report.sources.iter().find(|s| s.source == SourceId::Cost).unwrap();
    assert_eq!(ce.status, Status::Partial);
    assert_eq!(
        ce.problems,
        vec![
            format!(
                "page 1 ResultsByTime[0] Groups[0] ({y}): tag value \"scanner-agents\" has no UnblendedCost metric"
            ),
            "page 1 ResultsByTime[1]: TimePeriod.Start missing or not a date".to_string(),
        ]
    );
    let tag = |v| [("TagKey", TAG_KEY), ("TagValue", v)];
    assert_eq!(read_metric(&moto, NAMESPACE, "Cost", &tag("scanner-queues"), StandardUnit::None).await, Some(1.5));
    assert_eq!(read_metric(&moto, NAMESPACE, "Cost", &tag("scanner-agents"), StandardUnit::None).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardduty_daily_volume_is_read_from_its_cloudwatch_metrics() {
    let moto = Moto::start(&[]).await;
    let sdk = moto.sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let noon = |d: chrono::NaiveDate| {
        aws_sdk_cloudwatch::primitives::DateTime::from_secs(d.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp())
    };
    for (day, bytes) in [(days_ago(1), 7e9), (days_ago(2), 6e9)] {
        for (name, value) in [("CompletedScanBytes", bytes), ("CompletedScanCount", 100.0)] {
            // Two datums a day: GuardDuty reports per scan batch; the daily value is their Sum.
            for _ in 0..2 {
                cw.put_metric_data()
                    .namespace("AWS/GuardDuty/MalwareProtection")
                    .metric_data(
                        aws_sdk_cloudwatch::types::MetricDatum::builder()
                            .metric_name(name)
                            .dimensions(
                                aws_sdk_cloudwatch::types::Dimension::builder()
                                    .name("Malware Protection Plan Id")
                                    .value("plan-1")
                                    .build(),
                            )
                            .dimensions(
                                aws_sdk_cloudwatch::types::Dimension::builder()
                                    .name("Resource Name")
                                    .value("gd-bucket")
                                    .build(),
                            )
                            .timestamp(noon(day))
                            .value(value / 2.0)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    let text = format!(
        "[collector]\nnamespace = \"{NAMESPACE}\"\nsettle_hours = 0\n[guardduty]\nplan_id = \"plan-1\"\nhistory_days = 5\n[[guardduty.buckets]]\nname = \"gd-bucket\"\n"
    );
    let app = app(&moto, costwarden::config::Config::parse(&text, "t").unwrap()).await;
    let report = run_once(&app, chrono::Utc::now(), false).await;
    assert!(report.ok(), "{}", costwarden::report::human(&report));
    let dims = [("Bucket", "gd-bucket"), ("Source", "guardduty")];
    assert_eq!(read_metric(&moto, NAMESPACE, "ScannedBytes", &dims, StandardUnit::Bytes).await, Some(7e9));
    assert_eq!(read_metric(&moto, NAMESPACE, "ScannedObjects", &dims, StandardUnit::Count).await, Some(100.0));
    let history: Vec<(chrono::NaiveDate, f64)> = report
        .observations
        .daily
        .values()
        .filter(|d| d.key.metric == costwarden::metrics::Metric::ScannedBytes)
        .flat_map(|d| d.points())
        .collect();
    assert_eq!(history, vec![(days_ago(2), 6e9), (days_ago(1), 7e9)]);
    // GuardDuty's metrics, and which daily totals are due.
    assert_eq!(report.requests.get(&Api::GetMetricData), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_are_fetched_a_bounded_number_at_a_time_and_applied_in_order() {
    use costwarden::secret::{ConsoleCredentials, Secret};
    use costwarden::sources::antivirus::ConsoleClient;
    use costwarden::wire::{counted, http, Policy};
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    // 40 records at 2 a page: 20 pages, which the double answers out of order.
    let items = (0..40u64).map(|i| console::item(&format!("b{:02}", i / 2), days_ago(1 + i % 2), "Event", 1, 1));
    console.set_items(items.collect());
    *console.state.delay.lock().unwrap() = std::time::Duration::from_millis(20);
    console.state.varied_delay.store(true, std::sync::atomic::Ordering::SeqCst);
    let api = costwarden::config::ConsoleApi { page_size: 2, ..Default::default() };
    let creds = ConsoleCredentials { username: USERNAME.into(), password: Secret::new(PASSWORD) };
    let policy = Policy { max_attempts: 1, request_timeout: std::time::Duration::from_secs(10) };
    let client =
        ConsoleClient::new(http::client(policy.request_timeout), console.url.parse().unwrap(), api, creds, policy);
    let mut applied = Vec::new();
    let (pages, sent) = counted(client.fetch_pages(days_ago(3), days_ago(1), 3, &mut |page| {
        applied.extend(page.items.into_iter().map(|i| i.bucket))
    }))
    .await;
    assert_eq!(pages.unwrap(), 20);
    assert_eq!(sent.get(Api::ConsoleStats), 20);
    assert_eq!(applied.len(), 40);
    assert!(applied.windows(2).all(|w| w[0] <= w[1]), "pages applied out of order: {applied:?}");
    let log = console.log();
    assert_eq!(log.stats_requests, 20);
    assert_eq!(log.peak_in_flight, 3, "the concurrency bound is 3");
}

/// A Console client on the double, 8 pages in flight, tokens from the double's credentials.
fn console_client(console: &Console) -> costwarden::sources::antivirus::ConsoleClient {
    use costwarden::secret::{ConsoleCredentials, Secret};
    use costwarden::wire::{http, Policy};
    let api = costwarden::config::ConsoleApi { page_size: 2, ..Default::default() };
    let creds = ConsoleCredentials { username: USERNAME.into(), password: Secret::new(PASSWORD) };
    let policy = Policy { max_attempts: 1, request_timeout: std::time::Duration::from_secs(10) };
    costwarden::sources::antivirus::ConsoleClient::new(
        http::client(policy.request_timeout),
        console.url.parse().unwrap(),
        api,
        creds,
        policy,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_while_pages_are_in_flight_are_renewed_once_for_all_of_them() {
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    // 40 records at 2 a page: 20 pages, 8 in flight, each token good for 4 requests.
    let items = (0..40u64).map(|i| console::item(&format!("b{:02}", i / 2), days_ago(1 + i % 2), "Event", 1, 1));
    console.set_items(items.collect());
    *console.state.delay.lock().unwrap() = std::time::Duration::from_millis(20);
    *console.state.token_uses.lock().unwrap() = Some(4);
    let client = console_client(&console);
    let mut applied = 0;
    let pages = client.fetch_pages(days_ago(3), days_ago(1), 8, &mut |page| applied += page.items.len()).await;
    let log = console.log();
    assert_eq!(pages.unwrap(), 20, "every page read");
    assert_eq!(applied, 40);
    assert!(log.unauthorized >= 8, "tokens did expire under the pages: {} 401s", log.unauthorized);
    // One token request per stale token, not per 401.
    eprintln!("{} token requests for {} 401s", log.token_requests, log.unauthorized);
    assert!(
        log.token_requests * 2 <= log.unauthorized + 1,
        "{} token requests for {} 401s",
        log.token_requests,
        log.unauthorized
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_refuses_every_token_fails_fast_with_its_message() {
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    console.set_items(console_items());
    *console.state.token_uses.lock().unwrap() = Some(0);
    let err = console_client(&console).fetch_pages(days_ago(3), days_ago(1), 8, &mut |_| ()).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "Console GET /api/statistics/scans: 401 Unauthorized: Unauthorized: The access token is missing or expired."
    );
    let log = console.log();
    assert_eq!((log.stats_requests, log.token_requests), (2, 2), "the first page, renewed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_over_plain_http_to_another_host_is_refused_before_any_credential_is_read() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    let mut app = app(&moto, config(&console.url, "")).await;
    // As if COSTWARDEN_CONSOLE_URL pointed elsewhere in clear: nothing is sent to it.
    app.console_url = Some("http://console.example.com".parse().unwrap());
    let report = run_once(&app, chrono::Utc::now(), false).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Failed);
    assert_eq!(
        av.error.as_deref(),
        Some("Console console.example.com: refusing to send the Console credentials in clear: use https")
    );
    // Not even the secret was read.
    assert_eq!(report.requests.get(&Api::GetSecretValue), None);
    assert_eq!(status(&report, SourceId::Cost), Status::Ok);
}
