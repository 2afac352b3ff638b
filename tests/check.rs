//! `costwarden check` against moto and the project's doubles: a Console of another shape is
//! discovered and the suggested block reads it; a correct configuration passes every probe; each
//! broken part fails with its fix; no secret in any output.

mod support;

use costwarden::check::{CheckReport, Verdict};

/// `costwarden check` as `main` runs it: the Console client resolved by the app, handed over.
async fn check(app: &costwarden::App, today: chrono::NaiveDate, send_test: bool) -> CheckReport {
    costwarden::check::check(&app.config, &app.clients, app.console_if_enabled(), today, send_test).await
}
use costwarden::config::Config;
use support::*;

const GD_BUCKET: &str = "gd-bucket";

fn verdicts(r: &CheckReport) -> Vec<(String, Verdict)> {
    r.probes.iter().map(|p| (p.probe.clone(), p.verdict)).collect()
}

fn probe<'a>(r: &'a CheckReport, name: &str) -> &'a costwarden::check::Probe {
    r.probes.iter().find(|p| p.probe == name).unwrap_or_else(|| panic!("no probe {name:?} in {:#?}", r.probes))
}

/// Neither the human table nor the JSON holds the Console password, a bearer token or `more`.
fn assert_no_secret(r: &CheckReport, more: &[&str]) {
    let out = costwarden::check::human(r) + &serde_json::to_string(r).unwrap();
    for s in [PASSWORD, "tok-1", "tok-2"].iter().chain(more) {
        assert!(!out.contains(s), "{s:?} in the check's output:\n{out}");
    }
}

/// moto and the Console seeded for a full cycle, the cost tag key listed with `status`.
async fn peers(status: &str) -> (Moto, Console) {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    moto.set_cost_allocation_tags(&[(TAG_KEY, status)]);
    (moto, console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_of_another_shape_is_discovered_and_the_suggested_block_reads_it() {
    let (moto, console) = peers("Active").await;
    console.state.other_shape.store(true, std::sync::atomic::Ordering::SeqCst);

    let r = check(&app(&moto, config(&console.url, "")).await, today(), false).await;
    let stats = probe(&r, "console statistics");
    assert_eq!(stats.verdict, Verdict::Fail, "{stats:?}");
    assert_eq!(
        stats.detail,
        "the configured shape does not read the page: not found: items_pointer \"/items\", bucket_field \"bucketName\", date_field \"date\", bytes_field \"scannedBytes\", objects_field \"scannedObjects\", scan_type_field \"scanType\""
    );
    assert!(!r.ok);
    let d = r.discovery.as_ref().expect("a discovery");
    assert_eq!((d.items_pointer.as_deref(), d.items), (Some("/data/results"), 2));
    let fields: Vec<(&str, &str)> = d.fields.iter().map(|f| (f.name.as_str(), f.kind)).collect();
    assert_eq!(
        fields,
        [
            ("day", "string"),
            ("fileCount", "number (integer)"),
            ("s3BucketName", "string"),
            ("scanKind", "string"),
            ("sizeGb", "number (fraction)")
        ]
    );
    for line in [
        "items_pointer = \"/data/results\"",
        "bucket_field = \"s3BucketName\"",
        "date_field = \"day\"",
        "bytes_field = \"sizeGb\"",
        "objects_field = \"fileCount\"",
        "scan_type_field = \"scanKind\"",
        "bytes_unit = \"GB\"  # guess: from the field's name",
        "paging = \"page\"  # guess: a page count\ntotal_pages_pointer = \"/pagination/pageCount\"",
    ] {
        assert!(d.suggestion.contains(line), "{line:?} not in:\n{}", d.suggestion);
    }
    let table = costwarden::check::human(&r);
    assert!(table.contains("  items at \"/data/results\" (2 in this page); the first one's fields:\n"), "{table}");
    assert!(table.contains("    sizeGb        number (fraction)  0.4\n"), "{table}");
    assert_no_secret(&r, &[]);

    // The suggested block as it is (only the test's page size kept): it validates, the check
    // passes, and a run reads the GB sizes as bytes.
    let text = config_text(&console.url, "")
        .replace("[antivirus.api]\npage_size = 2\n", &format!("{}page_size = 2\n", d.suggestion));
    let fixed = Config::parse(&text, "suggested.toml").unwrap_or_else(|e| panic!("{e}"));
    let app = app(&moto, fixed).await;
    let r = check(&app, today(), false).await;
    let stats = probe(&r, "console statistics");
    assert_eq!(stats.verdict, Verdict::Ok, "{:#?}", r.probes);
    assert_eq!(
        stats.detail,
        format!("page 1 of 3: 2 items read with the configured shape, e.g. avatars on {}: 400.0 MB", days_ago(2))
    );
    assert!(r.discovery.is_none());
    let opts = costwarden::Options { dry_run: true, force: true, daily_series: None };
    let run = costwarden::run_cycle(&app, chrono::Utc::now(), opts, None).await;
    let uploads = run
        .published
        .iter()
        .find(|s| s.key.to_string() == "ScannedBytes{Bucket=uploads-prod,Source=console}")
        .expect("uploads-prod's volume");
    assert_eq!(uploads.value, 4e9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_configuration_passes_every_probe_and_send_test_reaches_each_channel() {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed_base(&moto, &console).await;
    // Yesterday, as Cost Explorer answers a one-day query: one page.
    let groups = [("scanner-agents", "20.25"), ("scanner-console", "3.10")];
    moto.preset_cost_and_usage(serde_json::json!([{
        "ResultsByTime": [ce_day(days_ago(1), true, &groups)],
        "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}],
    }]))
    .await;
    moto.set_cost_allocation_tags(&[("other", "Inactive"), (TAG_KEY, "Active")]);
    guardduty_datum(&moto.sdk_config().await, "CompletedScanBytes", GD_BUCKET, 5e9, None).await;
    let slack = support::slack::Slack::start().await;
    let sdk = moto.sdk_config().await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("costwarden/slack-media")
        .secret_string(&slack.url)
        .send()
        .await
        .unwrap();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name("media-alerts").send().await.unwrap().topic_arn.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs.create_queue().queue_name("media-inbox").send().await.unwrap().queue_url.unwrap();
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:media-inbox";
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    let extra = format!(
        "slack_webhook_secret_id = \"costwarden/slack-media\"\nsns_topic_arn = \"{topic}\"\n\n[guardduty]\nplan_id = \"plan-1\"\n[[guardduty.buckets]]\nname = \"{GD_BUCKET}\"\n\n[cost.role]\narn = \"arn:aws:iam::123456789012:role/costwarden-cost-explorer\"\n"
    );
    let config = config(&console.url, &extra);
    let policy = costwarden::wire::Policy::of(&config.collector);
    let app = costwarden::App::new(config.clone(), costwarden::Clients::with_roles(&sdk, &config, policy).await);

    let r = check(&app, today(), true).await;
    let all_ok = |names: &[&str]| names.iter().map(|n| (n.to_string(), Verdict::Ok)).collect::<Vec<_>>();
    assert_eq!(
        verdicts(&r),
        all_ok(&[
            "identity base",
            "identity cost.role",
            "console health",
            "console token",
            "console statistics",
            // The sources in the order of sources::ALL, as `status` and a run report them.
            "guardduty metrics",
            "cost tag key",
            "cost query",
            &format!("ecs {AGENTS}"),
            &format!("ecs {RETRO}"),
            "cloudwatch namespace",
            "team media slack",
            "team media sns",
        ]),
        "{}",
        costwarden::check::human(&r)
    );
    assert!(r.ok);
    let detail = |n: &str| probe(&r, n).detail.clone();
    assert_eq!(detail("identity base"), "arn:aws:sts::123456789012:user/moto (account 123456789012)");
    assert!(
        detail("identity cost.role")
            .starts_with("arn:aws:sts::123456789012:assumed-role/costwarden-cost-explorer/costwarden-cost"),
        "{}",
        detail("identity cost.role")
    );
    assert_eq!(detail("console health"), "GET /api/health: Healthy");
    assert_eq!(detail("cost tag key"), format!("{TAG_KEY:?} is active (UserDefined)"));
    assert_eq!(
        detail("cost query"),
        format!("GetCostAndUsage for {}: 2 tag values, USD 23.35 UnblendedCost, Estimated", days_ago(1))
    );
    assert_eq!(
        detail(&format!("ecs {AGENTS}")),
        format!("cluster {CLUSTER}: 7 running, maximum 10 (Application Auto Scaling)")
    );
    assert_eq!(detail(&format!("ecs {RETRO}")), format!("cluster {CLUSTER}: 3 running, maximum 4 (max_tasks)"));
    assert_eq!(detail("guardduty metrics"), "plan plan-1: metrics for 1 of 1 buckets");
    assert_eq!(
        detail("team media sns"),
        format!("{topic}: exists, 1 subscription(s) confirmed; test message published")
    );

    // The test messages: one on Slack, one through SNS into the subscribed queue.
    let posted: Vec<String> = slack.received().iter().map(|m| m["text"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(posted, ["[OK] costwarden check: test message for team media"]);
    let got = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("test message for team media"), "{}", bodies[0]);

    // The price: two Cost Explorer requests; nothing written to CloudWatch.
    use costwarden::wire::Api;
    assert_eq!(
        (r.requests[&Api::ListCostAllocationTags], r.requests[&Api::GetCostAndUsage]),
        (1, 1),
        "{:?}",
        r.requests
    );
    assert!(!r.requests.contains_key(&Api::PutMetricData));
    assert!((r.usd - 0.02).abs() < 1e-3, "{}", r.usd);
    assert!(costwarden::check::human(&r).contains("13 probes: 13 ok, 0 warnings, 0 failed."));
    assert_no_secret(&r, &[&slack.url]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_part_fails_with_its_fix() {
    let (moto, console) = peers("Inactive").await;
    guardduty_datum(&moto.sdk_config().await, "CompletedScanBytes", GD_BUCKET, 5e9, None).await;
    let missing_topic = "arn:aws:sns:us-east-1:123456789012:nobody-made-me";
    let extra = format!(
        "sns_topic_arn = \"{missing_topic}\"\n\n[teams.silent]\n\n[guardduty]\nplan_id = \"plan-1\"\n[[guardduty.buckets]]\nname = \"{GD_BUCKET}\"\n[[guardduty.buckets]]\nname = \"never-scanned\"\n\n[[ecs.services]]\ncluster = \"{CLUSTER}\"\nservice = \"gone\"\n[[ecs.services]]\ncluster = \"{CLUSTER}\"\nservice = \"{AGENTS}-old\"\n"
    );
    // Retro runs 3 tasks: a max_tasks of 2 is wrong.
    let text = config_text(&console.url, &extra).replace("max_tasks = 4", "max_tasks = 2");
    let r = check(&app(&moto, Config::parse(&text, "t.toml").unwrap()).await, today(), false).await;
    assert!(!r.ok);
    let retro = probe(&r, &format!("ecs {RETRO}"));
    assert_eq!(
        (retro.verdict, retro.detail.clone()),
        (Verdict::Warn, format!("cluster {CLUSTER}: 3 running, maximum 2 (max_tasks)"))
    );
    let tag = probe(&r, "cost tag key");
    assert_eq!(
        (tag.verdict, tag.detail.as_str()),
        (Verdict::Fail, &*format!("{TAG_KEY:?} is Inactive: Cost Explorer does not group by it"))
    );
    assert!(tag
        .fix
        .as_deref()
        .unwrap()
        .starts_with("activate it in Billing and Cost Management > Cost allocation tags"));
    let gone = probe(&r, "ecs gone");
    assert_eq!(gone.verdict, Verdict::Fail);
    assert!(gone.detail.contains("MISSING (no such service; check ecs.services)"), "{}", gone.detail);
    // A missing service whose name holds a found one's: each keeps its own verdict.
    let old = probe(&r, &format!("ecs {AGENTS}-old"));
    assert_eq!(old.verdict, Verdict::Fail);
    assert!(
        old.detail.starts_with(&format!("ECS service {AGENTS}-old in cluster {CLUSTER}: MISSING")),
        "{}",
        old.detail
    );
    assert_eq!(probe(&r, &format!("ecs {AGENTS}")).verdict, Verdict::Ok, "{:#?}", r.probes);
    let gd = probe(&r, "guardduty metrics");
    assert_eq!(
        (gd.verdict, gd.detail.as_str()),
        (Verdict::Warn, "plan plan-1: metrics for 1 of 2 buckets; none for never-scanned")
    );
    let topic = probe(&r, "team media sns");
    assert_eq!(topic.verdict, Verdict::Fail);
    assert!(topic.detail.starts_with(missing_topic) && topic.detail.contains("NotFound"), "{}", topic.detail);
    let silent = probe(&r, "team silent");
    assert_eq!((silent.verdict, silent.detail.as_str()), (Verdict::Warn, "no channel: its alerts are only logged"));

    // A tag key CE has never seen, and a Console user it refuses.
    moto.set_cost_allocation_tags(&[]);
    let wrong = support::config_text(&console.url, "")
        .replace(&format!("secret_id = \"{SECRET_ID}\""), "secret_id = \"costwarden/wrong\"");
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
        .create_secret()
        .name("costwarden/wrong")
        .secret_string(serde_json::json!({"username": USERNAME, "password": "not-it"}).to_string())
        .send()
        .await
        .unwrap();
    let r = check(&app(&moto, Config::parse(&wrong, "t.toml").unwrap()).await, today(), false).await;
    let tag = probe(&r, "cost tag key");
    assert_eq!(tag.detail, format!("Cost Explorer has never seen the tag key {TAG_KEY:?}"));
    let token = probe(&r, "console token");
    assert_eq!(token.verdict, Verdict::Fail);
    assert_eq!(
        token.detail,
        "Console POST /api/Token: 401 Unauthorized: Unauthorized: Incorrect username or password."
    );
    assert!(r.probes.iter().all(|p| p.probe != "console statistics"), "no page read without a token");
    assert_no_secret(&r, &["not-it"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_coverage_alert_the_buckets_and_the_consoles_settings_are_probed() {
    let (moto, console) = peers("Active").await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    for b in ["uploads-prod", "exports"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    console.state.protection.lock().unwrap().push(console::protection_item("uploads-prod", true, &[], &[]));
    let config = config(&console.url, "\n[coverage]\nalert = true\n");
    let r = check(&app(&moto, config.clone()).await, today(), false).await;
    let (b, c) = (probe(&r, "coverage buckets"), probe(&r, "coverage console"));
    assert_eq!((b.verdict, b.detail.as_str()), (Verdict::Ok, "S3 ListBuckets: 2 buckets"));
    assert_eq!(
        (c.verdict, c.detail.as_str()),
        (Verdict::Ok, "GET /api/buckets/protection: 1 bucket settings in 1 page(s)")
    );
    console.state.protection.lock().unwrap().push(serde_json::json!({"bucketName": "exports"}));
    let r = check(&app(&moto, config).await, today(), false).await;
    let c = probe(&r, "coverage console");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.detail,
        "1 of 2 not read: Console bucket settings page 1 item 1: bucket \"exports\": \"protected\" is not true or false; skipped"
    );
}

/// With `[datadog] reading = "metric_stream"`, `check` looks for a running metric stream that
/// includes the namespace (the double stands in for CloudWatch's, which moto lacks): none, one
/// stopped, and one running are each said with their fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_metric_stream_check_finds_it_running_or_says_what_to_do() {
    let (moto, console) = peers("Active").await;
    let streaming = app(&moto, config(&console.url, "\n[datadog]\nreading = \"metric_stream\"\n")).await;
    let ns = streaming.config.collector.namespace.clone();
    let stream = |r: &CheckReport| probe(r, "datadog metric stream").clone();

    let p = stream(&check(&streaming, today(), false).await);
    assert_eq!(p.verdict, Verdict::Fail, "{p:?}");
    assert!(p.detail.starts_with(&format!("no metric stream includes {ns}")), "{p:?}");
    assert!(p.fix.as_deref().unwrap_or_default().contains("deploy/metric-stream.yaml"), "{p:?}");

    use support::metric_streams::stream as s;
    moto.set_metric_streams(vec![
        s("other-team", "running", &["AWS/EC2"]),
        s("costwarden-to-datadog", "stopped", &[&ns]),
    ]);
    let p = stream(&check(&streaming, today(), false).await);
    assert_eq!(p.verdict, Verdict::Fail, "{p:?}");
    assert_eq!(p.detail, format!("costwarden-to-datadog includes {ns} but is stopped"));
    assert_eq!(p.fix.as_deref(), Some("start it: aws cloudwatch start-metric-streams --names costwarden-to-datadog"));

    moto.set_metric_streams(vec![
        s("other-team", "running", &["AWS/EC2"]),
        s("costwarden-to-datadog", "running", &[&ns]),
    ]);
    let r = check(&streaming, today(), false).await;
    let p = stream(&r);
    assert_eq!(p.verdict, Verdict::Ok, "{p:?}");
    assert_eq!(p.detail, format!("costwarden-to-datadog: running, includes {ns} (opentelemetry0.7)"));
    assert_eq!(r.requests.get(&costwarden::wire::Api::GetMetricStream), Some(&2), "{:?}", r.requests);

    // Read by polling: no such probe.
    let polling = app(&moto, config(&console.url, "")).await;
    assert!(check(&polling, today(), false).await.probes.iter().all(|p| p.probe != "datadog metric stream"));
}
