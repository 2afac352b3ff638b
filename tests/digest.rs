//! The weekly digest end to end: moto's CloudWatch holds five weeks of what costwarden wrote,
//! Slack is the loopback receiver. Two runs in the week send one digest; a restart sends none;
//! its numbers are CloudWatch's; a failed send is tried again by the next run.

mod support;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Duration, Utc};
use costwarden::{run_once, App};
use support::slack::Slack;
use support::*;

const SLACK_SECRET: &str = "costwarden/slack/media";

/// uploads-prod's scanned bytes of `back` days ago: 3 GB a day, 4.5 GB the last week (the run
/// itself writes yesterday's, 4 GB, from the Console).
fn bytes(back: u64) -> f64 {
    if back <= 7 {
        4.5e9
    } else {
        3e9
    }
}

/// The agents' cost of `back` days ago: USD 10 a day, 15 the last week (the run writes
/// yesterday's, 20.25, from Cost Explorer).
fn usd(back: u64) -> f64 {
    if back <= 7 {
        15.0
    } else {
        10.0
    }
}

/// Days 2 to 35 back, each stamped the day after its day, as costwarden stamps a daily total.
async fn seed_history(moto: &Moto) {
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let datum = |name: &str, back: u64, value: f64, unit: StandardUnit| {
        let stamped = (days_ago(back) + chrono::Days::new(1)).and_hms_opt(3, 0, 0).unwrap().and_utc();
        MetricDatum::builder()
            .metric_name(name)
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(stamped.timestamp()))
            .unit(unit)
            .value(value)
    };
    let mut data: Vec<MetricDatum> = Vec::new();
    for back in 2..=35u64 {
        data.push(
            datum("ScannedBytes", back, bytes(back), StandardUnit::Bytes)
                .dimensions(dim("Bucket", "uploads-prod"))
                .dimensions(dim("Source", "console"))
                .build(),
        );
        data.push(
            datum("Cost", back, usd(back), StandardUnit::None)
                .dimensions(dim("TagKey", TAG_KEY))
                .dimensions(dim("TagValue", "scanner-agents"))
                .build(),
        );
    }
    for chunk in data.chunks(20) {
        cw.put_metric_data().namespace(NAMESPACE).set_metric_data(Some(chunk.to_vec())).send().await.unwrap();
    }
}

async fn peers() -> (Moto, Console, Slack) {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "1")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    seed_history(&moto).await;
    let slack = slack_behind_secret(&moto, SLACK_SECRET).await;
    (moto, console, slack)
}

/// Due on `now`'s weekday at 00:00 UTC: this week's is due at `now`. With `cost`, media owns
/// the agents' cost too (with a budget).
fn config(console: &Console, cost: bool, now: DateTime<Utc>) -> costwarden::config::Config {
    let weekday = now.format("%A").to_string();
    let text = config_text(&console.url, &format!("slack_webhook_secret_id = \"{SLACK_SECRET}\"\n"))
        + &format!("\n[digest]\nweekday = \"{weekday}\"\nhour = 0\ntimezone = \"UTC\"\n")
        + if cost {
            "\n[[cost.tags]]\nvalue = \"scanner-agents\"\nowner = \"media\"\nmonthly_budget = 400\n"
        } else {
            ""
        };
    costwarden::config::Config::parse(&text, "digest.toml").unwrap()
}

/// The runs' clock: today at 12:00 UTC, so that the minutes between them never cross midnight
/// into another weekday, whenever the test runs.
fn noon_today() -> DateTime<Utc> {
    Utc::now().date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn digests(slack: &Slack) -> Vec<serde_json::Value> {
    slack
        .received()
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap_or("").starts_with("Weekly scan cost digest"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_in_a_week_send_one_digest_a_restart_none_and_its_numbers_are_cloudwatchs() {
    let (moto, console, slack) = peers().await;
    let now = noon_today();
    let first: App = app(&moto, config(&console, true, now)).await;

    let r = run_once(&first, now, false).await;
    let summary = costwarden::report::human(&r);
    let d = r.digest.as_ref().unwrap_or_else(|| panic!("no digest: {summary}"));
    assert_eq!(d.sent, vec![("media".to_string(), vec!["slack"])], "{summary}");
    assert!(summary.contains("weekly digest sent to: team media (slack)"), "{summary}");
    let sent = digests(&slack);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    // The week: yesterday as this run wrote it (4 GB) and days 2 to 7 as seeded; the week before
    // days 8 to 14.
    let digest = &d.digests[0];
    let row = |label: &str| digest.rows.iter().find(|r| r.label == label).unwrap_or_else(|| panic!("no row {label}"));
    let bucket = row("bucket uploads-prod (console)");
    let week: f64 = 4e9 + (2..=7).map(bytes).sum::<f64>();
    let before: f64 = (8..=14).map(bytes).sum();
    assert_eq!((bucket.last_week, bucket.week_before, bucket.last_week_days), (Some(week), Some(before), 7));
    assert_eq!(bucket.sparkline.chars().count(), 28);
    let cost = row(&format!("cost of {TAG_KEY}=scanner-agents"));
    let (week, before) = (20.25 + (2..=7).map(usd).sum::<f64>(), (8..=14).map(usd).sum::<f64>());
    assert_eq!((cost.last_week, cost.week_before), (Some(week), Some(before)));
    assert_eq!(cost.month_end.and_then(|m| m.budget), Some(400.0));
    // The cost moved most; its why names the bucket it pays for.
    assert_eq!(digest.movers[0].label, cost.label, "{:?}", digest.movers);
    assert!(digest.movers[0].why.iter().any(|w| w.contains("Top: uploads-prod +")), "{:?}", digest.movers);
    let (ok, checked) = slack_sdk_check(&sent);
    assert!(ok, "{checked}");
    let body = sent[0].to_string();
    // Slack's text is the digest's: the week's totals, the month against the budget.
    assert!(body.contains("31.0 GB   +48%") && body.contains("USD 110.25   +57%"), "{body}");
    assert!(body.contains("against the budget USD 400.00"), "{body}");

    // The same week: the next run sends nothing and reads nothing for it.
    let r = run_once(&first, now + Duration::minutes(1), false).await;
    assert!(r.digest.is_none(), "{}", costwarden::report::human(&r));
    // A restart: the marker in CloudWatch says the week's went.
    let restarted = app(&moto, config(&console, true, now)).await;
    let r = run_once(&restarted, now + Duration::minutes(2), false).await;
    assert!(r.digest.is_none(), "{}", costwarden::report::human(&r));
    assert_eq!(digests(&slack).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_slack_refused_is_sent_by_the_next_run_and_the_command_prints_it() {
    let (moto, console, slack) = peers().await;
    let now = noon_today();
    let app = app(&moto, config(&console, false, now)).await;
    // The digest is the run's only Slack post (its alerts have no team).
    slack.outage(500);
    let r = run_once(&app, now, false).await;
    let d = r.digest.as_ref().expect("a digest was due");
    assert!(d.sent.is_empty() && !d.errors.is_empty(), "{d:?}");
    assert!(!r.ok(), "a digest not sent fails the run");
    let r = run_once(&app, now + Duration::minutes(1), false).await;
    assert_eq!(r.digest.as_ref().map(|d| d.sent.len()), Some(1), "{}", costwarden::report::human(&r));
    assert_eq!(digests(&slack).len(), 1);

    // `costwarden digest --dry-run` prints the week, whatever was sent, and sends nothing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thresholds.toml");
    let weekday = Utc::now().format("%A").to_string();
    std::fs::write(&path, config_text(&console.url, "") + &format!("\n[digest]\nweekday = \"{weekday}\"\nhour = 0\n"))
        .unwrap();
    let out = costwarden_at(env!("CARGO_BIN_EXE_costwarden"), &moto.url, &path)
        .args(["digest", "--dry-run", "--team", "media"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Weekly scan cost digest for team media: the 7 days to"), "{text}");
    assert!(text.contains("bucket uploads-prod (console)"), "{text}");
    assert_eq!(digests(&slack).len(), 1, "a dry run sends nothing");
}
