//! What costwarden reads is untrusted and what it holds is secret: each probe of the trust issue
//! against loopback peers. Redirects point at a second origin on 127.0.0.2, which must receive
//! nothing; hostile names go through a whole run and come out escaped for each sink; pages,
//! problems, series and the run's reading time are bounded; a partial protection list makes
//! buckets "unknown", never "unscanned".

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use costwarden::config::ConsoleApi;
use costwarden::model::SourceId;
use costwarden::secret::{ConsoleCredentials, Secret};
use costwarden::sources::antivirus::ConsoleClient;
use costwarden::wire::{http, Policy};
use costwarden::Status;
use support::*;

/// A second origin: every request it receives, recorded. It must stay empty.
struct Catcher {
    origin: String,
    seen: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn catcher() -> Catcher {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(format!("{} {}", req.method(), req.uri()));
            Json(serde_json::json!({"accessToken": "stolen", "items": [], "totalPages": 1}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Catcher { origin, seen, _task: task }
}

use axum::Json;

/// A peer on 127.0.0.1 that answers `status` with a Location on `target` to every request,
/// except a token request when `token_ok` (then a token, so the next request carries it).
async fn redirector(status: u16, target: String, token_ok: bool) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let target = target.clone();
        async move {
            if token_ok && req.uri().path() == "/api/Token" {
                return Json(serde_json::json!({"accessToken": "tok-1"})).into_response();
            }
            let mut h = HeaderMap::new();
            h.insert("location", target.parse().unwrap());
            (StatusCode::from_u16(status).unwrap(), h).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (url, tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }))
}

/// moto (7 agents running) and the Console double, seeded for a full cycle.
async fn seeded() -> (Moto, Console) {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    (moto, console)
}

/// A cycle reading every source, due or not, and writing.
async fn forced(app: &costwarden::App) -> costwarden::RunReport {
    costwarden::run_cycle(app, chrono::Utc::now(), costwarden::Options { force: true, ..Default::default() }, None)
        .await
}

fn client_for(base: &str, api: ConsoleApi, policy: Policy) -> ConsoleClient {
    let creds = ConsoleCredentials { username: USERNAME.into(), password: Secret::new(PASSWORD) };
    ConsoleClient::new(http::client(policy.request_timeout), base.parse().unwrap(), api, creds, policy)
}

fn policy(attempts: u32, secs: u64) -> Policy {
    Policy { max_attempts: attempts, request_timeout: Duration::from_secs(secs) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_console_request_follows_a_redirect_to_another_origin() {
    let other = catcher().await;
    for status in [302, 307, 308] {
        // The target's path and query may carry a secret: the message names only its origin.
        let target = format!("{}/api/Token?session=s3cr3t-query", other.origin);
        // The token request redirected: the password is not re-sent anywhere.
        let (url, _task) = redirector(status, target.clone(), false).await;
        let err = client_for(&url, ConsoleApi::default(), policy(2, 5)).authenticate().await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "Console POST /api/Token: HTTP {status} redirect to {} not followed: set antivirus.base_url to the Console's final https address",
                other.origin
            )
        );
        // The statistics GET redirected, with a token in hand: the bearer goes nowhere else.
        let (url, _task) = redirector(status, target, true).await;
        let err = client_for(&url, ConsoleApi::default(), policy(2, 5))
            .fetch_pages(days_ago(3), days_ago(1), 2, &mut |_| ())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("HTTP {status} redirect to {} not followed", other.origin)), "{err}");
        assert!(!err.contains("s3cr3t") && !err.contains(PASSWORD), "{err}");
    }
    assert_eq!(*other.seen.lock().unwrap(), Vec::<String>::new(), "the other origin received nothing");
}

/// One team's message with one change.
fn notification(resource: &str, message: &str, console_url: Option<String>) -> costwarden::notify::Message {
    use costwarden::rules::Level;
    let n = costwarden::notify::Notification {
        title: format!("[WARNING] {resource} growth raised"),
        kind: "raised",
        rule: "growth",
        level: Level::Warning,
        previous: Level::Ok,
        resource: resource.into(),
        series: format!("ScannedBytes{{Bucket={resource}}}"),
        team: Some("media".into()),
        value: Some(message.into()),
        threshold: None,
        planned: None,
        projected_breach: None,
        breach_uncertainty_days: None,
        day: None,
        message: message.into(),
        dashboard_url: None,
        console_url,
        replan: None,
        // The why and the price name buckets read from outside too.
        why: vec![format!("Top: {resource} +1.0 GB/day (100% of the rise)")],
        costs: Some(format!("About USD 3 a month ({message})")),
    };
    costwarden::notify::Message::new(Some("media"), None, vec![n])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_redirect_is_not_followed_and_leaks_nothing() {
    let other = catcher().await;
    for status in [302, 307, 308] {
        let (url, _task) = redirector(status, format!("{}/", other.origin), false).await;
        let hook = Secret::new(format!("{url}/services/T0001/B0001/s3cr3tW3bh00k"));
        let n = notification("uploads", "7-day mean 16.3 GB/day", None);
        let http = http::client(Duration::from_secs(5));
        let err = costwarden::notify::slack::send(&http, &hook, &n, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Slack webhook: HTTP {status} redirect to {} not followed: configure the webhook's final https address",
                other.origin
            )
        );
    }
    assert_eq!(*other.seen.lock().unwrap(), Vec::<String>::new(), "the other origin received nothing");
}

const ESC_NAME: &str = "evil\x1b[2J\x1b]0;pwned\x07";
const FAKE_LINE: &str = "a\ncostwarden run OK, nothing to see";
const MENTION: &str = "<!channel> <https://evil.example/login|Click to re-authenticate>";

#[test]
fn slack_payloads_neither_mention_nor_link_from_a_name() {
    use costwarden::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
    use costwarden::model::SeriesKey;
    let key = SeriesKey::new(Metric::ScannedBytes, vec![(DIM_SOURCE, "console".into()), (DIM_BUCKET, MENTION.into())]);
    let url = costwarden::alerts::route::console_url(&key, "us-east-1");
    let p = costwarden::notify::slack::payload(&notification(MENTION, &format!("{MENTION} {ESC_NAME}"), url));
    let text = p.to_string();
    assert!(!text.contains("<!channel>"), "a mention was formed: {text}");
    assert!(!text.contains("<https://evil"), "a link was formed: {text}");
    assert!(!text.contains('\u{1b}') && !text.contains("\\u001b"), "an escape went through: {text}");
    assert!(p["blocks"][1]["text"]["text"].as_str().unwrap().ends_with(
        "\n<https://s3.console.aws.amazon.com/s3/buckets/%3C%21channel%3E%20%3Chttps%3A%2F%2Fevil.example%2Flogin%7CClick%20to%20re-authenticate%3E?region=us-east-1|AWS console>"
    ));
    let section = p["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(section.contains("&lt;!channel&gt; &lt;https://evil.example/login|Click"));
    assert!(section.contains("\n> Top: &lt;!channel&gt; &lt;https://evil.example/login|Click"), "{section}");
}

/// Asserts `out` holds no byte a terminal acts on, and no line that a name started.
fn assert_terminal_safe(out: &str) {
    for c in ['\x1b', '\x07', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(c), "{c:?} reached the terminal:\n{out}");
    }
    assert!(!out.lines().any(|l| l.starts_with("costwarden run OK, nothing")), "a name started a line:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_skipped_or_escaped_in_every_output_and_refused_alone_by_the_sink() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed_base(&moto, &console).await;
    let long = "b".repeat(5000);
    let mut items = console_items();
    for name in [ESC_NAME, FAKE_LINE, MENTION, long.as_str()] {
        items.push(console::item(name, days_ago(1), "Event", 1, 1));
    }
    console.set_items(items);
    // Cost Explorer's tag values are anyone's text: one with controls, one too long for CloudWatch.
    let tags = [("scanner-agents", "12.50"), (ESC_NAME, "1.00"), (long.as_str(), "2.00"), (FAKE_LINE, "3.00")];
    moto.preset_cost_and_usage(serde_json::json!([{
        "ResultsByTime": [ce_day(days_ago(1), false, &tags)],
        "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}],
    }]))
    .await;
    let app = app(&moto, config(&console.url, "")).await;
    let report = forced(&app).await;
    let human = costwarden::report::human(&report);
    assert_terminal_safe(&human);
    assert_terminal_safe(&costwarden::report::status_table(&report, &app.config));
    assert_terminal_safe(&costwarden::report::datums(&report));
    // Each hostile Console name: a located problem, skipped; the good buckets written.
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    let skipped: Vec<&String> =
        av.problems.iter().filter(|p| p.contains("is not an S3 bucket name; skipped")).collect();
    assert_eq!(skipped.len(), 4, "{:?}", av.problems);
    assert!(skipped.iter().any(|p| p.contains("\"bbbbbbbb") && p.contains("… (5000 characters)")), "{skipped:?}");
    assert!(skipped.iter().all(|p| p.len() < 200), "each problem one short line: {skipped:?}");
    // The tag values CloudWatch would refuse are refused alone, located; the rest is written.
    assert_eq!(report.sink.failed, 0, "{human}");
    assert!(report.sink.written > 10, "{human}");
    let refused: Vec<&String> = report.rejected.iter().filter(|r| r.contains("with dimension TagValue")).collect();
    assert_eq!(refused.len(), 3, "the three hostile tag values, each refused once: {:?}", report.rejected);
    assert!(refused.iter().any(|r| r.contains("5000 characters; CloudWatch takes 1 to 1,024")), "{refused:?}");
    assert!(refused.iter().any(|r| r.contains("control characters")), "{refused:?}");
    let agents = read_metric(
        &moto,
        NAMESPACE,
        "Cost",
        &[("TagKey", TAG_KEY), ("TagValue", "scanner-agents")],
        aws_sdk_cloudwatch::types::StandardUnit::None,
    )
    .await;
    assert_eq!(agents, Some(12.5), "the good tag value is written beside the refused ones");
}

/// A peer that accepts and never answers (`stall_body: false`), or sends headers and part of
/// a body and then nothing.
async fn silent_peer(stall_body: bool) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            if stall_body {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"acc";
                let _ = sock.write_all(head.as_bytes()).await;
            }
            held.push(sock);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_said_as_timeouts_with_the_attempt() {
    let (url, _t) = silent_peer(false).await;
    let err = client_for(&url, ConsoleApi::default(), policy(2, 1)).authenticate().await.unwrap_err().to_string();
    assert_eq!(err, "Console POST /api/Token: timed out after 1 s waiting for the response (attempt 2 of 2)");
    let (url, _t) = silent_peer(true).await;
    let err = client_for(&url, ConsoleApi::default(), policy(2, 1)).authenticate().await.unwrap_err().to_string();
    assert_eq!(err, "Console POST /api/Token: timed out after 1 s reading the body (0.0 MiB received)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_bound_fails_its_source_with_the_setting_to_change() {
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    // 10,000 items a page of about 130 bytes each: 1.3 MB, over a bound of 1 MiB.
    let items = (0..10_000u64).map(|i| console::item(&format!("bucket-{i:05}"), days_ago(1), "Event", i, 1));
    console.set_items(items.collect());
    let api = ConsoleApi { page_size: 10_000, max_page_mib: 1, ..ConsoleApi::default() };
    let err = client_for(&console.url, api, policy(1, 10))
        .fetch_pages(days_ago(3), days_ago(1), 2, &mut |_| ())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("Console GET /api/statistics/scans: the body is 1"), "{err}");
    assert!(
        err.ends_with(
            " bytes, over the limit of 1.0 MiB (antivirus.api.max_page_mib; or a smaller antivirus.api.page_size)"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_items_are_a_hundred_problems_and_a_count() {
    let (moto, console) = seeded().await;
    let mut items = console_items();
    items.extend((0..1000).map(|i| {
        serde_json::json!({"bucketName": format!("bad-{i:04}"), "date": days_ago(1).to_string(), "scannedBytes": -1, "scannedObjects": 1})
    }));
    // Items dated ahead of today and years back: counted as one problem, not dropped in silence.
    items.push(console::item("uploads-prod", days_ago(0) + chrono::Days::new(400), "Event", 1, 1));
    items.push(console::item("uploads-prod", days_ago(3650), "Event", 1, 1));
    console.set_items(items);
    let mut config = config(&console.url, "");
    config.antivirus.as_mut().unwrap().api.page_size = 500;
    // The double filters by the window; a Console that ignores it sends them anyway.
    console.state.ignore_window.store(true, std::sync::atomic::Ordering::SeqCst);
    let app = app(&moto, config).await;
    let report = costwarden::run_once(&app, chrono::Utc::now(), true).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Partial);
    assert_eq!(av.problems.len(), 101, "{:?}", &av.problems[..3]);
    assert!(av.problems[0].starts_with("2 item(s) dated outside the window asked for ("), "{}", av.problems[0]);
    assert_eq!(av.problems[100], "... and 901 more problems (1001 in all; the first 100 are above)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_series_over_the_bound_are_not_written_and_say_what_they_would_cost() {
    let (moto, console) = seeded().await;
    let mut items = console_items();
    items.extend((0..6).map(|i| console::item(&format!("new-{i}"), days_ago(1), "Event", 1_000, 1)));
    console.set_items(items);
    let mut config = config(&console.url, "");
    config.collector.max_new_series = 4;
    let app = app(&moto, config).await;
    let report = forced(&app).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    // 8 buckets: uploads-prod is configured; of the 7 others, 4 are held while reading (the
    // items of the last 3 are not kept), and of their 8 series 4 are written.
    assert_eq!(av.series, 6, "{:?}", av.problems);
    assert!(
        av.problems[0].starts_with("4 new series over the bound (collector.max_new_series 4, beyond the 0 written last time) were not written nor evaluated: they would add about USD 0.05 a month to CloudWatch and USD 0.18 to Datadog's crawler"),
        "{}",
        av.problems[0]
    );
    assert!(
        av.problems[1].starts_with("3 item(s) of buckets not in thresholds.toml, beyond the 4 new ones a run may hold, were not read (collector.max_new_series); the first: bucket \"new-3\""),
        "{}",
        av.problems[1]
    );
    let bytes = |b: &'static str| {
        let moto = &moto;
        async move {
            read_metric(
                moto,
                NAMESPACE,
                "ScannedBytes",
                &[("Bucket", b), ("Source", "console")],
                aws_sdk_cloudwatch::types::StandardUnit::Bytes,
            )
            .await
        }
    };
    assert_eq!(bytes("uploads-prod").await, Some(4e9), "the configured bucket is kept");
    assert_eq!(bytes("new-5").await, None, "a new one over the bound is not written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_deadline_stops_a_slow_source_and_the_rest_is_written() {
    let (moto, console) = seeded().await;
    *console.state.delay.lock().unwrap() = Duration::from_secs(30);
    let mut config = config(&console.url, "");
    config.collector.read_deadline_secs = 2;
    let app = app(&moto, config).await;
    let report = forced(&app).await;
    let av = report.sources.iter().find(|s| s.source == SourceId::Antivirus).unwrap();
    assert_eq!(av.status, Status::Failed);
    assert_eq!(
        av.error.as_deref(),
        Some("antivirus not read: timed out after 2 s, the run's read deadline (collector.read_deadline_secs); what the other sources read is written, this one is read again next run")
    );
    let cost = report.sources.iter().find(|s| s.source == SourceId::Cost).unwrap();
    assert_eq!(cost.status, Status::Ok);
    assert!(report.sink.written > 0 && report.sink.failed == 0, "{}", costwarden::report::human(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_reads_every_page_of_the_protection_list_and_never_calls_a_missed_bucket_unscanned() {
    use costwarden::coverage::{self, collect::Volumes, Scanned};
    let moto = Moto::start(&[]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed_base(&moto, &console).await;
    let s3 = s3_client(&moto.sdk_config().await);
    let names: Vec<String> = (0..5).map(|i| format!("scanned-{i}")).collect();
    for n in &names {
        s3.create_bucket().bucket(n).send().await.unwrap();
        console.state.protection.lock().unwrap().push(console::protection_item(n, true, &[], &[]));
    }
    // The Console pages its list two at a time.
    *console.state.protection_page_size.lock().unwrap() = Some(2);
    let scanned = |cfg_extra: &'static str| {
        let (moto, console) = (&moto, &console);
        async move {
            let app = app(moto, config(&console.url, cfg_extra)).await;
            let inputs = coverage::collect::collect(
                &app.config,
                &app.clients,
                app.console_if_enabled().await,
                today(),
                Volumes::Skip,
                &|_| {},
            )
            .await
            .unwrap();
            let rows = coverage::rows(&app.config, &inputs);
            let states: Vec<Scanned> =
                rows.iter().filter(|r| r.bucket.starts_with("scanned-")).map(|r| r.scanned).collect();
            (states, inputs.problems)
        }
    };
    // Read as one page: the first page's buckets are scanned; the page says more follow, so the
    // others are unknown, not unscanned, and the command exits 1 with the cause.
    let (states, problems) = scanned("").await;
    assert_eq!(states, [Scanned::Yes, Scanned::Yes, Scanned::Unknown, Scanned::Unknown, Scanned::Unknown]);
    assert_eq!(
        problems,
        ["Console GET /api/buckets/protection: the list says more pages follow: set coverage.console_api.paging"]
    );
    // Paged as the Console pages it: every bucket scanned, no problem.
    let (states, problems) = scanned("[coverage.console_api]\npaging = \"page\"\npage_size = 2\n").await;
    assert_eq!((states, problems), (vec![Scanned::Yes; 5], Vec::<String>::new()));
    // The last page fails: the buckets it held are unknown, not unscanned, and raise no alert.
    *console.state.protection_fail_page.lock().unwrap() = Some(3);
    let app = app(&moto, config(&console.url, "[coverage.console_api]\npaging = \"page\"\npage_size = 2\n")).await;
    let inputs = coverage::collect::collect(
        &app.config,
        &app.clients,
        app.console_if_enabled().await,
        today(),
        Volumes::Skip,
        &|_| {},
    )
    .await
    .unwrap();
    let rows = coverage::rows(&app.config, &inputs);
    let states: Vec<(&str, Scanned)> = rows.iter().map(|r| (r.bucket.as_str(), r.scanned)).collect();
    assert_eq!(
        states,
        [
            ("scanned-0", Scanned::Yes),
            ("scanned-1", Scanned::Yes),
            ("scanned-2", Scanned::Yes),
            ("scanned-3", Scanned::Yes),
            ("scanned-4", Scanned::Unknown),
        ]
    );
    assert_eq!(inputs.problems.len(), 1, "{:?}", inputs.problems);
    assert!(inputs.problems[0].contains("page 3: 500 Internal Server Error"), "{:?}", inputs.problems);
    let unscanned = coverage::observations(&rows).iter().filter(|s| s.value > 0.0).count();
    assert_eq!(unscanned, 0, "no bucket is counted unscanned, so no coverage alert");
}
