//! Daily totals at the cadence they change: read, evaluated and written once a day, by the first
//! run after the day has settled, whatever process runs it; the ECS gauges every run. Counted
//! at the wire (a proxy in front of moto) and at the Console double.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use costwarden::model::SourceId;
use costwarden::wire::Policy;
use costwarden::{run_cycle, run_once, App, Clients, Options, RunReport, Status};
use support::*;

/// Today at 12:00 UTC plus `minutes`: well after the default settling delay (2 h).
fn at(minutes: i64) -> DateTime<Utc> {
    today().and_hms_opt(12, 0, 0).unwrap().and_utc() + chrono::Duration::minutes(minutes)
}

/// A new process, as far as costwarden can tell: new clients, new Console token, no memory.
async fn process(p: &Peers, collector: &str) -> App {
    let text = config_text(&p.console.url, "")
        .replace("settle_hours = 0\n", "")
        .replace("max_attempts = 2\n", &format!("max_attempts = 2\n{collector}"));
    let config = costwarden::config::Config::parse(&text, "cadence.toml").unwrap();
    let sdk = sdk_config(&p.proxy.url).await;
    let clients =
        Clients::new(&sdk, Policy { request_timeout: Duration::from_secs(5), ..Policy::of(&config.collector) });
    App::new(config, clients)
}

fn status(r: &RunReport, id: SourceId) -> Status {
    r.sources.iter().find(|s| s.source == id).unwrap().status
}

/// (Cost Explorer requests at the wire, Console statistics pages, Console token requests).
fn reads(p: &Peers) -> (u64, usize, usize) {
    let log = p.console.log();
    (p.proxy.counts().get("GetCostAndUsage").copied().unwrap_or(0), log.stats_requests, log.token_requests)
}

fn daily_datums(r: &RunReport) -> usize {
    r.published.iter().filter(|s| s.day.is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_totals_are_read_once_a_day_and_a_restart_agrees() {
    let p = peers_behind_proxy().await;
    let first = process(&p, "").await;
    let r = run_once(&first, at(0), false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!((status(&r, SourceId::Antivirus), status(&r, SourceId::Cost)), (Status::Ok, Status::Ok));
    assert_eq!(reads(&p), (2, 3, 1));
    assert_eq!(daily_datums(&r), 5, "2 scanned volumes (object counts are off) and 3 cost totals of yesterday");

    // A minute later, and after a restart: only ECS is read, no daily datum is sent again.
    let restarted = process(&p, "").await;
    for (app, minute) in [(&first, 1), (&restarted, 2)] {
        let r = run_once(app, at(minute), false).await;
        let summary = costwarden::report::human(&r);
        assert!(r.ok(), "{summary}");
        assert_eq!(status(&r, SourceId::Antivirus), Status::Skipped, "{summary}");
        assert_eq!(status(&r, SourceId::Cost), Status::Skipped, "{summary}");
        assert_eq!(status(&r, SourceId::Ecs), Status::Ok, "{summary}");
        assert_eq!(reads(&p), (2, 3, 1), "nothing daily read again: {summary}");
        assert_eq!(daily_datums(&r), 0, "{summary}");
        let published: Vec<String> = r.published.iter().map(|s| s.key.metric.def().name.to_string()).collect();
        assert!(published.contains(&"RunningTaskCount".to_string()), "{published:?}");
        // A source not read says nothing of its health: SourceUp for ECS alone.
        let up: Vec<&str> = r
            .published
            .iter()
            .filter(|s| s.key.metric == costwarden::metrics::Metric::SourceUp)
            .filter_map(|s| s.key.dim("Source"))
            .collect();
        assert_eq!(up, ["ecs"]);
        let yesterday = days_ago(1);
        assert!(
            summary
                .contains(&format!("not due: the totals of {yesterday} are published; {}'s are read after", today())),
            "{summary}"
        );
    }

    // On demand: everything again.
    let forced = run_cycle(&restarted, at(3), Options { dry_run: false, force: true, daily_series: None }, None).await;
    assert_eq!(status(&forced, SourceId::Cost), Status::Ok);
    assert_eq!(reads(&p).0, 4, "the forced run's two Cost Explorer pages");

    // The next day: due again.
    let tomorrow = run_once(&restarted, at(24 * 60), false).await;
    assert_ne!(status(&tomorrow, SourceId::Cost), Status::Skipped, "{}", costwarden::report::human(&tomorrow));
    assert_ne!(status(&tomorrow, SourceId::Antivirus), Status::Skipped);
    assert!(reads(&p).0 > 4, "tomorrow's run reads Cost Explorer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_day_has_settled_nothing_daily_is_read_and_every_run_reads_it_all() {
    let p = peers_behind_proxy().await;
    // 01:00 UTC, with the default settling delay of 2 hours: yesterday is not read yet.
    let early = today().and_hms_opt(1, 0, 0).unwrap().and_utc();
    let r = run_once(&process(&p, "").await, early, false).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    let why = r.sources.iter().find(|s| s.source == SourceId::Cost).unwrap().skipped.clone().unwrap();
    assert_eq!(
        why,
        format!("not due: the totals of {} are read after {} 02:00Z (collector.settle_hours)", days_ago(1), today())
    );
    assert_eq!(reads(&p), (0, 0, 0));

    // The former behaviour, kept by a setting: every run reads the whole history again.
    let every = process(&p, "daily_totals = \"every_run\"\n").await;
    for minute in [0, 1] {
        assert!(run_once(&every, at(minute), false).await.ok());
    }
    assert_eq!(reads(&p), (4, 6, 1));
}

/// The month's projection: every run's part measured by the run itself, each daily source's
/// part recorded by its daily run and read back by the others. So the daily run and the quiet
/// run after it (in a new process) project the same month, and a quiet run's requests are
/// priced from what the wire saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_projects_the_same_month_from_what_the_wire_saw() {
    let p = peers_behind_proxy().await;
    let app = process(&p, "").await;
    // The first run leaves the capacity alert states that the next ones read back; the second,
    // forced, is a daily run like any other day's.
    assert!(run_once(&app, at(0), false).await.ok());
    let daily = run_cycle(&app, at(1), Options { dry_run: false, force: true, daily_series: None }, None).await;
    assert_eq!(status(&daily, SourceId::Cost), Status::Ok, "{}", costwarden::report::human(&daily));
    let before = p.proxy.counts();
    let quiet = run_once(&process(&p, "").await, at(2), false).await;
    assert_eq!(status(&quiet, SourceId::Cost), Status::Skipped);
    let after = p.proxy.counts();

    let (d, q) = (&daily.self_cost, &quiet.self_cost);
    assert!(d.unknown.is_empty() && q.unknown.is_empty(), "{d:?}\n{q:?}");
    assert_eq!(d.runs_per_month, 2920.0);
    let usd = |p: &costwarden::selfcost::Projection| p.lines.iter().map(|l| l.usd).collect::<Vec<_>>();
    for (a, b) in usd(d).iter().zip(usd(q)) {
        assert!((a - b).abs() < 1e-6, "daily run {d:#?}\nquiet run {q:#?}");
    }
    assert!((d.monthly_usd - q.monthly_usd).abs() < 1e-6);
    // Every stream the quiet run wrote is one every run writes; the daily run's are split.
    assert_eq!(q.lines[0].quantity, quiet.datums as f64);
    assert_eq!(d.lines[0].quantity + d.lines[1].quantity, daily.datums as f64);
    // 2 scanned volumes and 3 cost totals, 2 SourceUp, 3 records of the Console's and 4 of
    // Cost Explorer's (its day's Estimated flag too).
    assert_eq!(d.lines[1].quantity, 14.0, "{d:#?}");
    // The quiet run's requests, priced as the wire counted them.
    let mut wire_usd = 0.0;
    for (api, n) in &after {
        let seen = n - before.get(api).copied().unwrap_or(0);
        let known = quiet.requests.keys().find(|a| a.name() == api);
        if seen > 0 {
            let known = known.unwrap_or_else(|| panic!("{api} seen at the wire, not reported"));
            wire_usd += known.usd_per_request() * seen as f64;
        }
    }
    assert!(wire_usd > 0.0);
    let a_run = q.lines[2].usd / q.runs_per_month;
    assert!((a_run - wire_usd).abs() < 1e-12, "projected {a_run} a run, the wire {wire_usd}");
    // And the metric carries it.
    let written = quiet.published.iter().find(|s| s.key.metric == costwarden::metrics::Metric::SelfCostMonthly);
    assert_eq!(written.map(|s| s.value), Some(q.monthly_usd));
}

/// Cost Explorer's yesterday while Estimated: re-read alone (one request, not the window) every
/// `cost.reread_hours` (12 by default) between daily runs, and a revised total published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_of_estimated_yesterday_is_republished_once() {
    let p = peers_behind_proxy().await;
    let app = process(&p, "").await;
    let yesterday = days_ago(1);
    // The daily run at 02:00, as soon as the day has settled: yesterday Estimated, 3 totals.
    let daily = run_once(&app, at(-600), false).await;
    assert_eq!(status(&daily, SourceId::Cost), Status::Ok, "{}", costwarden::report::human(&daily));
    assert_eq!(reads(&p).0, 2);
    // CE's answer to the re-read of yesterday alone: one of its two tag values revised (the
    // untagged cost is absent that day: zero-filled in the window, not in a one-day read).
    p.moto
        .preset_cost_and_usage(serde_json::json!([{
            "ResultsByTime": [ce_day(yesterday, true, &[("scanner-agents", "21.00"), ("scanner-console", "3.10")])],
            "GroupDefinitions": [{"Type": "TAG", "Key": TAG_KEY}],
        }]))
        .await;

    // 13:00: 11 hours after, not yet.
    let r = run_once(&app, at(60), false).await;
    assert_eq!(reads(&p).0, 2, "{}", costwarden::report::human(&r));
    // 14:00: one request, one revised total, the rules not judged again.
    let r = run_once(&app, at(120), false).await;
    let summary = costwarden::report::human(&r);
    assert!(r.ok(), "{summary}");
    assert_eq!(reads(&p).0, 3, "{summary}");
    assert!(summary.contains(&format!("re-read {yesterday} while Estimated: 1 of 2 totals revised")), "{summary}");
    let revised: Vec<(String, f64)> =
        r.published.iter().filter(|s| s.day.is_some()).map(|s| (s.key.to_string(), s.value)).collect();
    assert_eq!(revised, [(format!("Cost{{TagKey={TAG_KEY},TagValue=scanner-agents}}"), 21.0)], "{summary}");
    assert!(r.findings.iter().all(|f| f.series.metric != costwarden::metrics::Metric::Cost), "{:?}", r.findings);
    // What CloudWatch holds for yesterday: the daily run's 20.25, then the revision's 21.
    let cw = aws_sdk_cloudwatch::Client::new(&p.moto.sdk_config().await);
    let dims = [("TagKey", TAG_KEY), ("TagValue", "scanner-agents")];
    let query = costwarden::wire::metric_data::own_series(0, NAMESPACE, "Cost", dims);
    let window = |from: i64, to: i64| {
        (
            aws_sdk_cloudwatch::primitives::DateTime::from_secs(at(from).timestamp()),
            aws_sdk_cloudwatch::primitives::DateTime::from_secs(at(to).timestamp()),
        )
    };
    let got = costwarden::wire::metric_data::read(&cw, vec![query], window(-720, 240), None, 1).await.unwrap();
    let mut values: Vec<(i64, f64)> = got.into_iter().flat_map(|(_, v)| v).collect();
    values.sort_by_key(|(t, _)| *t);
    assert_eq!(values, [(at(-600).timestamp(), 20.25), (at(120).timestamp(), 21.0)]);

    // 15:00: read an hour ago, nothing again.
    let r = run_once(&app, at(180), false).await;
    assert_eq!(reads(&p).0, 3, "{}", costwarden::report::human(&r));
    assert_eq!(daily_datums(&r), 0);
}
