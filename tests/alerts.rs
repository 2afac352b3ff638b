//! One notification per breach: repeated runs, escalation, a Slack outage, a restart. Slack is
//! the loopback receiver, SNS is moto's (read through an SQS subscription), the memory is
//! moto's CloudWatch.

mod support;

use chrono::{DateTime, Duration, Utc};
use costwarden::rules::{Level, RuleKind};
use costwarden::{run_once, App};
use support::slack::Slack;
use support::*;

const SLACK_SECRET: &str = "costwarden/slack/media";

/// Runs a minute apart (CloudWatch keeps one state per minute), on today's date.
fn at(minute: i64) -> DateTime<Utc> {
    today().and_hms_opt(12, 0, 0).unwrap().and_utc() + Duration::minutes(minute)
}

/// uploads-prod scans a mean of 3 GB/day (4 GB yesterday, 2 GB before): with a plan of
/// `baseline` bytes/day it is WARNING from 2.5 GB (×1.2) and CRITICAL from 3.125 GB (×1.5).
/// Every run reads the daily totals (`daily_totals = "every_run"`): these tests change the
/// data between runs of one day to drive the alert state.
fn config_with(console: &str, baseline: f64, sns_topic: Option<&str>) -> costwarden::config::Config {
    costwarden::config::Config::parse(&config_text_with(console, baseline, sns_topic), "alerts.toml").unwrap()
}

fn config_text_with(console: &str, baseline: f64, sns_topic: Option<&str>) -> String {
    let base = config_text(console, "");
    base.replace("max_attempts = 2\n", "max_attempts = 2\ndaily_totals = \"every_run\"\n")
        .replace(
            "name = \"uploads-prod\"\nowner = \"media\"",
            &format!(
                "name = \"uploads-prod\"\nowner = \"media\"\nplan = {{ baseline = {baseline}, since = 2026-01-01 }}"
            ),
        )
        .replace(
            "[teams.media]\n",
            &format!(
                "[teams.media]\nslack_webhook_secret_id = \"{SLACK_SECRET}\"\n{}",
                sns_topic.map(|t| format!("sns_topic_arn = \"{t}\"\n")).unwrap_or_default()
            ),
        )
}

async fn peers() -> (Moto, Console, Slack) {
    peers_with(true).await
}

/// With `cost` false, Cost Explorer answers whatever the test presets (moto answers presets
/// in the order they were made).
async fn peers_with(cost: bool) -> (Moto, Console, Slack) {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "1")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed_base(&moto, &console).await;
    if cost {
        preset_cost(&moto).await;
    }
    let slack = slack_behind_secret(&moto, SLACK_SECRET).await;
    (moto, console, slack)
}

fn growth_messages(slack: &Slack) -> Vec<String> {
    slack.received().iter().map(|m| m["text"].as_str().unwrap().to_string()).filter(|t| t.contains("growth")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_breach_is_notified_once_an_escalation_once_more() {
    let (moto, console, slack) = peers().await;
    let sdk = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns.create_topic().name("media-alerts").send().await.unwrap().topic_arn.unwrap();
    let queue = sqs.create_queue().queue_name("media-inbox").send().await.unwrap().queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();

    let app = app(&moto, config_with(&console.url, 2.2e9, Some(&topic))).await;
    for minute in 0..3 {
        let r = run_once(&app, at(minute), false).await;
        assert!(r.ok(), "{}", costwarden::report::human(&r));
    }
    assert_eq!(growth_messages(&slack), vec!["[WARNING] bucket uploads-prod (console) growth raised"]);

    // Yesterday grows to 6 GB: a mean of 4 GB is CRITICAL. One more message, then quiet.
    let mut items = console_items();
    items[0] = console::item("uploads-prod", days_ago(1), "Event", 5_000_000_000, 3_000);
    console.set_items(items);
    for minute in 3..5 {
        assert!(run_once(&app, at(minute), false).await.ok());
    }
    assert_eq!(
        growth_messages(&slack),
        vec![
            "[WARNING] bucket uploads-prod (console) growth raised",
            "[CRITICAL] bucket uploads-prod (console) growth escalated"
        ]
    );
    let critical = &slack.received()[1];
    let text = critical.to_string();
    for needed in [
        "Current*\\n4.0 GB",
        "Threshold*\\n3.3 GB",
        "Planned*\\n2.2 GB",
        "Owner*\\nmedia",
        "AWS console",
        "s3.console.aws.amazon.com/s3/buckets/uploads-prod",
    ] {
        assert!(text.contains(needed), "{needed:?} not in {text}");
    }

    // SNS got the same two, one publish each (a team's changes of a run in one), as JSON with
    // filterable attributes.
    let msgs = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let bodies: Vec<serde_json::Value> =
        msgs.messages().iter().map(|m| serde_json::from_str(m.body().unwrap()).unwrap()).collect();
    let notes: Vec<serde_json::Value> =
        bodies.iter().map(|b| serde_json::from_str(b["Message"].as_str().unwrap()).unwrap()).collect();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    let levels: Vec<(&str, &str)> = notes
        .iter()
        .flat_map(|n| n["transitions"].as_array().unwrap())
        .filter(|t| t["rule"] == "growth")
        .map(|t| (t["rule"].as_str().unwrap(), t["level"].as_str().unwrap()))
        .collect();
    assert_eq!(levels, vec![("growth", "WARNING"), ("growth", "CRITICAL")]);
    assert_eq!(bodies[1]["MessageAttributes"]["severity"]["Value"], "CRITICAL");
    assert_eq!(bodies[1]["MessageAttributes"]["team"]["Value"], "media");
    assert_eq!(bodies[1]["MessageAttributes"]["rule"]["Type"], "String.Array");
    assert!(bodies[1]["MessageAttributes"]["rule"]["Value"].as_str().unwrap().contains("\"growth\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_outage_is_retried_on_the_next_run_and_a_restart_does_not_resend() {
    let (moto, console, slack) = peers().await;
    let cfg = config_with(&console.url, 1e9, None);
    let first = app(&moto, cfg.clone()).await;

    slack.outage(500);
    let r = run_once(&first, at(0), false).await;
    assert!(!r.ok(), "an undelivered notification fails the run:\n{}", costwarden::report::human(&r));
    assert_eq!(r.alerts.failed, 1);
    let t = r.alerts.transitions.iter().find(|t| t.rule == costwarden::rules::RuleKind::Growth).unwrap();
    assert_eq!(t.error.as_deref(), Some("Slack webhook: HTTP 500: rollup_error"));
    assert!(growth_messages(&slack).is_empty());
    // The webhook URL is a secret: not in the report, the summary or the error.
    let printed = format!("{}{}", costwarden::report::human(&r), serde_json::to_string(&r).unwrap());
    assert!(!printed.contains("s3cr3tW3bh00kT0k3n"), "{printed}");

    let r = run_once(&first, at(1), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(growth_messages(&slack), vec!["[CRITICAL] bucket uploads-prod (console) growth raised"]);

    // A new process (a new Lambda container, a restarted daemon) remembers through CloudWatch.
    drop(first);
    let second: App = app(&moto, cfg).await;
    for minute in 2..4 {
        assert!(run_once(&second, at(minute), false).await.ok());
    }
    assert_eq!(growth_messages(&slack).len(), 1);

    // Recovery is one more message, and only one.
    let mut items = console_items();
    for i in items.iter_mut() {
        i["scannedBytes"] = serde_json::json!(100_000_000);
    }
    console.set_items(items);
    for minute in 4..6 {
        assert!(run_once(&second, at(minute), false).await.ok());
    }
    assert_eq!(
        growth_messages(&slack),
        vec![
            "[CRITICAL] bucket uploads-prod (console) growth raised",
            "[OK] bucket uploads-prod (console) growth recovered"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_changes_of_a_run_are_one_message_retried_whole_until_told() {
    let (moto, console, slack) = peers().await;
    // Two of media's buckets over plan: uploads-prod (4 GB against 1 GB) and avatars (0.45 GB
    // against 0.1 GB), each CRITICAL on growth, with whatever else their rules say.
    let mut cfg = config_with(&console.url, 1e9, None);
    let avatars: costwarden::config::Config = costwarden::config::Config::parse(
        &format!(
            "{}\n[[antivirus.buckets]]\nname = \"avatars\"\nowner = \"media\"\nplan = {{ baseline = 1e8, since = 2026-01-01 }}\n",
            config_text(&console.url, "")
        ),
        "t.toml",
    )
    .unwrap();
    cfg.antivirus.as_mut().unwrap().buckets.extend(avatars.antivirus.unwrap().buckets.into_iter().skip(1));
    let app = app(&moto, cfg).await;
    let media = |r: &costwarden::RunReport| {
        r.alerts.transitions.iter().filter(|t| t.team.as_deref() == Some("media")).cloned().collect::<Vec<_>>()
    };

    slack.outage(500);
    let r = run_once(&app, at(0), false).await;
    let told = media(&r);
    assert!(told.len() >= 2, "{}", costwarden::report::human(&r));
    assert!(told.iter().all(|t| !t.delivered), "one message: it failed for every change in it");
    assert_eq!(*slack.state.attempts.lock().unwrap(), 1, "one request for the team's changes");

    let r = run_once(&app, at(1), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    let sent = slack.received();
    assert_eq!(sent.len(), 1, "one Slack message for all of media's changes: {sent:#?}");
    let retried = media(&r);
    assert_eq!(retried.len(), told.len(), "every change not told is sent again, and only those");
    assert!(retried.iter().all(|t| t.delivered));
    let text = sent[0].to_string();
    for bucket in
        ["*bucket uploads-prod (console)*\\n*growth* raised (OK → CRITICAL): mean of", "*bucket avatars (console)*"]
    {
        assert!(text.contains(bucket), "{bucket} not in {text}");
    }
    assert_eq!(sent[0]["text"], format!("[CRITICAL] {} changes for team media", told.len()));
    // Worst first: a CRITICAL series heads the message.
    assert!(sent[0]["blocks"][1]["text"]["text"].as_str().unwrap().starts_with(":red_circle:"));

    // Told: the next run sends nothing.
    let r = run_once(&app, at(2), false).await;
    assert!(r.ok() && media(&r).is_empty(), "{}", costwarden::report::human(&r));
    assert_eq!(slack.received().len(), 1);
}

/// Two weeks: uploads-prod's Retro triples (1 → 3 GB/day) beside a flat 3 GB/day of Event
/// scans, avatars' Event scans rise a little (1 → 1.2 GB/day), and the agents' cost doubles
/// (USD 10 → 20 a day) against a flat plan of USD 10: its growth warning says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_warning_names_the_bucket_and_scan_type_that_drove_it_with_its_share() {
    use support::console::item;
    let (moto, console, slack) = peers_with(false).await;
    let mut items = Vec::new();
    for back in 1..=14u64 {
        let newer = back <= 7;
        items.push(item("uploads-prod", days_ago(back), "Event", 3_000_000_000, 3_000));
        items.push(item(
            "uploads-prod",
            days_ago(back),
            "Retro",
            if newer { 3_000_000_000 } else { 1_000_000_000 },
            900,
        ));
        items.push(item("avatars", days_ago(back), "Event", if newer { 1_200_000_000 } else { 1_000_000_000 }, 100));
    }
    console.set_items(items);
    let days: Vec<serde_json::Value> = (1..=14u64)
        .map(|back| ce_day(days_ago(back), false, &[("scanner-agents", if back <= 7 { "20.00" } else { "10.00" })]))
        .collect();
    moto.preset_cost_and_usage(
        serde_json::json!([{"ResultsByTime": days, "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}]}]),
    )
    .await;
    // uploads-prod planned at 2 GB/day: over it, priced.
    let text = config_text_with(&console.url, 2e9, None).replace("history_days = 10", "history_days = 20")
        + &format!(
            "\n[[cost.tags]]\nvalue = \"scanner-agents\"\nowner = \"media\"\nplan = {{ baseline = 10.0, since = {} }}\n",
            days_ago(60)
        );
    let cfg = costwarden::config::Config::parse(&text, "why.toml").unwrap();
    // The agents ran 2 tasks an hour the week before, 4 the last week (what costwarden wrote).
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let dim = |n: &str, v: &str| aws_sdk_cloudwatch::types::Dimension::builder().name(n).value(v).build();
    let hours: Vec<aws_sdk_cloudwatch::types::MetricDatum> = (1..=14u64)
        .flat_map(|back| (0..24).map(move |h| (back, h)))
        .map(|(back, h)| {
            let at = days_ago(back).and_hms_opt(h, 30, 0).unwrap().and_utc().timestamp();
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("RunningTaskCount")
                .dimensions(dim("Cluster", CLUSTER))
                .dimensions(dim("Service", AGENTS))
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(at))
                .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                .value(if back <= 7 { 4.0 } else { 2.0 })
                .build()
        })
        .collect();
    for chunk in hours.chunks(500) {
        cw.put_metric_data().namespace(NAMESPACE).set_metric_data(Some(chunk.to_vec())).send().await.unwrap();
    }
    let r = run_once(&app(&moto, cfg).await, at(0), false).await;
    let summary = costwarden::report::human(&r);
    let growth = r
        .alerts
        .transitions
        .iter()
        .find(|t| t.rule == RuleKind::Growth && t.label.contains("scanner-agents"))
        .unwrap_or_else(|| panic!("no growth change on the agents' cost: {summary}"));
    assert_eq!(growth.to, Level::Critical, "{summary}");
    let why = growth.why.join("\n");
    // Rises: uploads-prod +2 GB/day, avatars +0.2: shares 91% and 9% of the 2.2 GB/day.
    let first =
        why.find("Top: uploads-prod +2.0 GB/day (91% of the rise, +50%; Retro +2.0 GB/day (×3.0))").expect(&why);
    assert!(first < why.find("avatars +200.0 MB/day (9% of the rise").expect(&why), "{why}");
    // 4 × 24 × 7 task-hours against 2 × 24 × 7: all the rise is the agents'.
    assert!(
        why.contains(&format!(
            "ECS task-hours over the same 7 days: 672, +100% on the 7 before. Top: {AGENTS} +336 (100% of the rise)."
        )),
        "{why}"
    );
    // USD 20 / 7.2 GB against USD 10 / 5 GB.
    assert!(why.contains("Cost per GB scanned: USD 2.7778 (the 7 before: USD 2.0000)"), "{why}");
    // The same why reaches the team's Slack message, under the series, escaped.
    let sent = slack.received();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let body = sent[0].to_string();
    assert!(body.contains("\\n> Scanned volume of the 2 bucket(s) it pays for"), "{body}");
    assert!(body.contains("Retro +2.0 GB/day"), "{body}");
    // The buckets' warnings carry their price (no console_usd_per_gb: the measured cost per GB).
    assert!(summary.contains("a month at the current level"), "{summary}");
    assert!(summary.contains("the measured cost per GB scanned of costwarden:component = scanner-agents"), "{summary}");
}

/// Five weeks of 3 GB/day scanned; the agents' cost steps from USD 10 to 15 a day for the
/// last week: the cost per GB scanned rises 50% on flat volume, and its warning says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_per_gb_rising_on_flat_volume_warns_its_team_and_is_written() {
    use support::console::item;
    let (moto, console, slack) = peers_with(false).await;
    console.set_items(
        (1..=35u64).map(|back| item("uploads-prod", days_ago(back), "Event", 3_000_000_000, 3_000)).collect(),
    );
    let days: Vec<serde_json::Value> = (1..=35u64)
        .map(|back| ce_day(days_ago(back), false, &[("scanner-agents", if back <= 7 { "15.00" } else { "10.00" })]))
        .collect();
    moto.preset_cost_and_usage(
        serde_json::json!([{"ResultsByTime": days, "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}]}]),
    )
    .await;
    let text = config_text_with(&console.url, 1e12, None).replace("history_days = 10", "history_days = 40")
        + "\n[[cost.tags]]\nvalue = \"scanner-agents\"\nowner = \"media\"\n";
    let cfg = costwarden::config::Config::parse(&text, "unit.toml").unwrap();
    // Now: the datum is read back from the last hours.
    let r = run_once(&app(&moto, cfg).await, Utc::now(), false).await;
    let summary = costwarden::report::human(&r);
    let t = r
        .alerts
        .transitions
        .iter()
        .find(|t| t.rule == RuleKind::UnitCost)
        .unwrap_or_else(|| panic!("no unit_cost change: {summary}"));
    assert_eq!((t.to, t.team.as_deref()), (Level::Warning, Some("media")), "{summary}");
    assert_eq!(
        t.message,
        "cost per GB scanned of costwarden:component=scanner-agents: 7-day mean USD 5.0000/GB is +50% on the 28 days before (USD 3.3333/GB); warning at +25%"
    );
    assert!(t.why.iter().any(|w| w.starts_with("Cost +50% while volume moved +0%: not scanning")), "{:?}", t.why);
    let sent = slack.received();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].to_string().contains("*unit_cost* raised (OK → WARNING)"), "{}", sent[0]);
    // The day's cost per GB, written for Datadog: USD 15 / 3 GB.
    let dims = [("TagKey", TAG_KEY), ("TagValue", "scanner-agents")];
    let written =
        read_metric(&moto, NAMESPACE, "CostPerScannedGB", &dims, aws_sdk_cloudwatch::types::StandardUnit::None).await;
    assert_eq!(written, Some(5.0), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snoozed_series_sends_nothing_until_its_day_then_tells_once() {
    let (moto, console, slack) = peers().await;
    let snoozed = |until: chrono::NaiveDate| {
        let mut cfg = config_with(&console.url, 1e9, None);
        let text = format!("until = {until}\nreason = \"launch week: uploads x3 expected\"");
        let snooze: costwarden::config::Snooze = toml::from_str(&text).unwrap();
        cfg.antivirus.as_mut().unwrap().buckets[0].snooze = Some(snooze);
        cfg
    };
    let growth = |r: &costwarden::RunReport| {
        r.alerts.transitions.iter().filter(|t| t.rule == RuleKind::Growth).cloned().collect::<Vec<_>>()
    };
    let app1 = app(&moto, snoozed(today() + chrono::Days::new(2))).await;
    for minute in 0..2 {
        let r = run_once(&app1, at(minute), false).await;
        assert!(r.ok(), "a snoozed change is no failure:\n{}", costwarden::report::human(&r));
        let g = growth(&r);
        assert_eq!(g.len(), 1, "still pending each run: {g:#?}");
        assert!(!g[0].delivered);
        assert_eq!(
            g[0].snoozed.as_deref(),
            Some(format!("until {}: launch week: uploads x3 expected", today() + chrono::Days::new(2)).as_str())
        );
        assert!(costwarden::report::human(&r)
            .contains("growth raised: bucket uploads-prod (console) → team media: snoozed until"));
        let status = costwarden::report::status_table(&r, &app1.config);
        assert!(status.contains("CRITICAL SNOOZED until"), "{status}");
    }
    assert!(growth_messages(&slack).is_empty(), "nothing sent while snoozed");

    // The snooze ends (its day has come): the change still holds, and is told once.
    let app2 = app(&moto, snoozed(today())).await;
    let r = run_once(&app2, at(2), false).await;
    assert!(r.ok() && growth(&r).iter().all(|t| t.delivered && t.snoozed.is_none()));
    assert!(!costwarden::report::status_table(&r, &app2.config).contains("SNOOZED"));
    assert_eq!(growth_messages(&slack), vec!["[CRITICAL] bucket uploads-prod (console) growth raised"]);
    let r = run_once(&app2, at(3), false).await;
    assert!(r.ok() && growth(&r).is_empty());
    assert_eq!(growth_messages(&slack).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replan_in_a_growth_warning_validates_and_makes_the_next_run_ok() {
    let (moto, console, slack) = peers().await;
    let text = config_text_with(&console.url, 1e9, None);
    let cfg = costwarden::config::Config::parse(&text, "alerts.toml").unwrap();
    let r = run_once(&app(&moto, cfg).await, at(0), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    let growth = r.alerts.transitions.iter().find(|t| t.rule == RuleKind::Growth).unwrap();
    assert_eq!(growth.to, Level::Critical);
    let replan = growth.replan.clone().expect("a growth CRITICAL carries its replan");
    // The 2-day mean judged (3 GB/day), from the day judged, flat (no forecast yet on 2 days).
    assert_eq!(
        replan,
        format!(
            "# thresholds.toml, in [[antivirus.buckets]] name = \"uploads-prod\", set:\nplan = {{ baseline = \"3.000 GB\", since = {}, monthly_growth = 0.000 }}",
            today().pred_opt().unwrap()
        )
    );
    assert!(costwarden::report::human(&r).contains("      plan = { baseline = \"3.000 GB\""));
    let sent = slack.received().last().unwrap().to_string();
    assert!(sent.contains("Replan in one paste:\\n```# thresholds.toml, in [[antivirus.buckets]]"), "{sent}");

    // Pasted over the bucket's plan line: the file validates, and the next run is OK.
    let line = replan.lines().last().unwrap();
    let old = "plan = { baseline = 1000000000, since = 2026-01-01 }";
    assert!(text.contains(old));
    let cfg = costwarden::config::Config::parse(&text.replace(old, line), "replanned.toml").unwrap();
    let r = run_once(&app(&moto, cfg).await, at(1), false).await;
    let verdict = r
        .findings
        .iter()
        .find(|f| f.rule == RuleKind::Growth && f.series.to_string().contains("uploads-prod"))
        .unwrap();
    assert_eq!(verdict.level, Level::Ok, "{}", verdict.message);
    let told: Vec<(RuleKind, Level)> = r.alerts.transitions.iter().map(|t| (t.rule, t.to)).collect();
    assert!(told.contains(&(RuleKind::Growth, Level::Ok)), "the CRITICAL recovers: {told:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_one_task_under_its_warning_level_stays_warning_until_it_clears_the_band() {
    let (moto, console, _slack) = peers().await;
    // The retro service runs 3 tasks; its maximum comes from the config.
    let with_max = |max: u32| {
        let text = config_text(&console.url, "").replace("max_tasks = 4", &format!("max_tasks = {max}"));
        costwarden::config::Config::parse(&text, "t.toml").unwrap()
    };
    let retro = |r: &costwarden::RunReport| {
        let is_retro = |rule: RuleKind, series: &str| rule == RuleKind::Capacity && series.contains(RETRO);
        let changes: Vec<(String, &str)> = r
            .alerts
            .transitions
            .iter()
            .filter(|t| is_retro(t.rule, &t.series))
            .map(|t| (t.to.to_string(), t.kind))
            .collect();
        let verdict = r.findings.iter().find(|f| is_retro(f.rule, &f.series.to_string())).unwrap();
        (changes, verdict.level, verdict.message.clone())
    };
    let r = run_once(&app(&moto, with_max(4)).await, at(0), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(retro(&r).0, [("WARNING".to_string(), "raised")]);

    // 3 of 5 (60%) is under 70%, but not under 85% of it (59.5%): still WARNING, nothing sent,
    // because the last run's WARNING was read back from CloudWatch.
    let r = run_once(&app(&moto, with_max(5)).await, at(1), false).await;
    let (changes, level, message) = retro(&r);
    assert_eq!((changes, level), (vec![], Level::Warning), "{message}");
    assert!(message.ends_with("; WARNING kept until below 59.5% (85% of the warning level)"), "{message}");

    // 2 of 5 (40%): recovered, once.
    let sdk = moto.sdk_config().await;
    aws_sdk_ecs::Client::new(&sdk)
        .update_service()
        .cluster(CLUSTER)
        .service(RETRO)
        .desired_count(2)
        .send()
        .await
        .unwrap();
    let cycle = app(&moto, with_max(5)).await;
    let r = run_once(&cycle, at(2), false).await;
    assert_eq!(retro(&r).0, [("OK".to_string(), "recovered")]);
    assert!(retro(&run_once(&cycle, at(3), false).await).0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_daily_totals_read_once_a_day_an_undelivered_notification_keeps_the_day_due() {
    let (moto, console, slack) = peers().await;
    // The default cadence: daily totals once a day.
    let mut cfg = config_with(&console.url, 1e9, None);
    cfg.collector.daily_totals = costwarden::config::DailyTotals::Once;
    let app = app(&moto, cfg).await;
    let av = |r: &costwarden::RunReport| {
        r.sources.iter().find(|s| s.source == costwarden::model::SourceId::Antivirus).unwrap().status
    };

    slack.outage(500);
    let r = run_once(&app, at(0), false).await;
    assert_eq!(r.alerts.failed, 1, "{}", costwarden::report::human(&r));
    // Not published: the next run reads and evaluates the day again, and retries.
    let r = run_once(&app, at(1), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(av(&r), costwarden::Status::Ok);
    assert_eq!(growth_messages(&slack), vec!["[CRITICAL] bucket uploads-prod (console) growth raised"]);
    // Delivered and published: the day is done, nothing read or sent again.
    let r = run_once(&app, at(2), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(av(&r), costwarden::Status::Skipped);
    assert_eq!(growth_messages(&slack).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_webhook_over_plain_http_is_refused_and_never_shown() {
    let (moto, console, _slack) = peers().await;
    let mut cfg = config_with(&console.url, 1e9, None);
    let team = cfg.teams.get_mut("media").unwrap();
    (team.slack_webhook_secret_id, team.slack_webhook_env) = (None, Some("COSTWARDEN_TEST_MEDIA_HOOK".into()));
    // One test per process (nextest): setting the environment here touches no other test.
    std::env::set_var("COSTWARDEN_TEST_MEDIA_HOOK", "http://hooks.example.com/services/s3cr3tW3bh00kT0k3n");
    let r = run_once(&app(&moto, cfg).await, at(0), false).await;
    assert_eq!(r.alerts.failed, 1);
    let t = r.alerts.transitions.iter().find(|t| t.rule == costwarden::rules::RuleKind::Growth).unwrap();
    assert_eq!(t.error.as_deref(), Some("team media: Slack webhook: not an https URL; refusing to post to it"));
    let printed = format!("{}{}", costwarden::report::human(&r), serde_json::to_string(&r).unwrap());
    assert!(!printed.contains("s3cr3tW3bh00kT0k3n") && !printed.contains("hooks.example.com"), "{printed}");
    assert_eq!(r.requests.get(&costwarden::wire::Api::SlackWebhook), None, "nothing was posted");
}

fn note(resource: &str, rule: &'static str, level: Level, message: &str) -> costwarden::notify::Notification {
    costwarden::notify::Notification {
        title: format!("[{level}] {resource} {rule} raised"),
        kind: "raised",
        rule,
        level,
        previous: Level::Ok,
        resource: resource.into(),
        series: format!("ScannedBytes{{Bucket={resource}}}"),
        team: Some("media".into()),
        value: Some("52.3 GB".into()),
        threshold: Some("75.0 GB".into()),
        planned: None,
        projected_breach: None,
        breach_uncertainty_days: None,
        day: Some(today()),
        message: message.into(),
        dashboard_url: Some("https://app.datadoghq.com/dashboard/abc".into()),
        console_url: Some(format!("https://s3.console.aws.amazon.com/s3/buckets/{resource}")),
        replan: None,
        why: vec![format!("Scanned volume of the 1 bucket(s) it pays for: 52.3 GB/day, +40% on the 7 before. Top: {resource} +15.0 GB/day (100% of the rise; Retro +15.0 GB/day (×3.0))."), "Cost per GB scanned: USD 0.0500 (the 7 before: USD 0.0400).".into()],
        costs: Some("About USD 80 a month at the current level, USD 57 at the plan (USD 0.0500/GB, coverage.console_usd_per_gb).".into()),
    }
}

#[test]
fn every_message_shape_passes_slacks_block_kit_models_and_sns_size() {
    use costwarden::notify::{slack, sns, Message};
    let dash = Some("https://app.datadoghq.com/dashboard/abc");
    let long = "b".repeat(5000);
    let single = Message::new(Some("media"), dash, vec![note("uploads", "growth", Level::Critical, "above plan")]);
    let grouped = Message::new(
        Some("media"),
        None,
        vec![
            note("uploads", "growth", Level::Critical, "above plan"),
            note("uploads", "forecast", Level::Warning, "already at or above critical"),
            note("<!channel> evil\u{1b}[2J", "anomaly", Level::Warning, &long),
        ],
    );
    // A Retro re-scan across many buckets: 200 changes for one team.
    let mut many: Vec<_> = (0..200).map(|i| note(&format!("{long}-{i}"), "anomaly", Level::Warning, &long)).collect();
    many.push(note("the-worst", "growth", Level::Critical, "above plan"));
    let many = Message::new(Some("media"), dash, many);
    let payloads: Vec<serde_json::Value> = [&single, &grouped, &many].iter().map(|m| slack::payload(m)).collect();
    let (ok, text) = slack_sdk_check(&payloads);
    assert!(ok && text.contains("3 payload(s) checked, 0 problem(s)"), "{text}");
    assert_eq!(payloads[2]["blocks"].as_array().unwrap().len(), slack::MAX_BLOCKS);
    assert!(payloads[2]["blocks"][1]["text"]["text"].as_str().unwrap().contains("*the-worst*"));
    // SNS: one publish, under its 256 KiB, the worst kept and what was left out said.
    let body = sns::body(&many).unwrap();
    assert!(body.len() <= 256 * 1024, "{} bytes", body.len());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["transitions"][0]["resource"], "the-worst");
    let kept = v["transitions"].as_array().unwrap().len();
    assert!(
        kept < 201 && v["title"].as_str().unwrap().contains(&format!("({} less severe changes left out", 201 - kept))
    );
    // The check can fail: 51 blocks, and a header over 150 characters.
    let mut broken = payloads[0].clone();
    broken["blocks"] = serde_json::Value::Array(vec![payloads[0]["blocks"][1].clone(); 51]);
    let mut long_header = payloads[0].clone();
    long_header["blocks"][0]["text"]["text"] = serde_json::Value::String("h".repeat(151));
    let (ok, text) = slack_sdk_check(&[broken, long_header]);
    assert!(!ok && text.contains("51 blocks") && text.contains("block 0 (header)"), "{text}");
}
