//! `costwarden check`: for every set of credentials, enabled source and team channel, one cheap
//! live probe and a verdict with its fix, so that a first day on a real account ends in a
//! working configuration rather than in a failed run. It reads only: nothing is written to
//! CloudWatch (a test datum would be a billed metric), and a message is posted only with
//! `send_test`. Its price: two Cost Explorer requests, USD 0.02; the rest is free or fractions
//! of a cent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use crate::config::Config;
use crate::notify::{slack, sns, Message, Notification};
use crate::rules::Level;
use crate::sources::antivirus::discover::Discovery;
use crate::sources::antivirus::{self, ConsoleIfEnabled};
use crate::sources::probe::{fail, ok, warn};
pub use crate::sources::probe::{Probe, Verdict};
use crate::sources::Context;
use crate::wire::Clients;
use crate::wire::{aws_message, counted, Api};

#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// No probe failed (warnings allowed): the exit code 0.
    pub ok: bool,
    pub region: String,
    pub probes: Vec<Probe>,
    /// What the Console's statistics page holds, when the configured shape does not read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
    /// Every request the check made, counted at the wire.
    pub requests: BTreeMap<Api, u64>,
    pub usd: f64,
}

/// Every probe, each area concurrently, reported in a fixed order: identities, each registered
/// source (`sources::ALL`), the namespace, the teams. Each probe gets the part of the
/// configuration and the clients it reads. `console` builds the Console client (reading its
/// credentials): awaited inside the check's count, so its requests are priced with the rest.
pub async fn check<'a>(
    cfg: &Config,
    clients: &Clients,
    console: impl std::future::Future<Output = ConsoleIfEnabled<'a>>,
    today: NaiveDate,
    send_test: bool,
) -> CheckReport {
    let ((ids, sources, ns, stream, teams), requests) = counted(async {
        let console = antivirus::Built(console.await);
        let ctx = Context { config: cfg, clients, console: &console, today, new_series: usize::MAX };
        let sources = futures::future::join_all(crate::sources::ALL.iter().map(|s| s.probe(&ctx)));
        tokio::join!(
            identities(&clients.identities),
            sources,
            namespace(&cfg.collector.namespace, &clients.cloudwatch),
            metric_stream(cfg, &clients.cloudwatch),
            teams(cfg, clients, send_test)
        )
    })
    .await;
    let requests = requests.snapshot();
    let usd = crate::wire::usd(&requests);
    let (mut probes, mut discovery) = (ids, None);
    for p in sources {
        probes.extend(p.probes);
        discovery = discovery.or(p.discovery);
    }
    probes.extend(ns.into_iter().chain(stream).chain(teams));
    let ok = probes.iter().all(|p| p.verdict != Verdict::Fail);
    CheckReport { ok, region: cfg.collector.region.clone(), probes, discovery, requests, usd }
}

async fn identities(ids: &[(String, aws_sdk_sts::Client)]) -> Vec<Probe> {
    let mut out = Vec::new();
    for (who, sts) in ids {
        let name = format!("identity {who}");
        out.push(match sts.get_caller_identity().send().await {
            Ok(id) => ok(name, format!("{} (account {})", id.arn().unwrap_or("?"), id.account().unwrap_or("?"))),
            Err(e) if who == "base" => fail(
                name,
                aws_message(&e),
                "give costwarden AWS credentials: a role of the Lambda / pod (IRSA), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ),
            Err(e) => fail(
                name,
                aws_message(&e),
                format!("the base identity cannot assume [{who}]: the role's trust policy must name it (and the external_id, if set), and the base identity needs sts:AssumeRole on the role"),
            ),
        });
    }
    out
}

async fn namespace(ns: &str, cloudwatch: &aws_sdk_cloudwatch::Client) -> Vec<Probe> {
    let name = "cloudwatch namespace";
    match cloudwatch.list_metrics().namespace(ns).send().await {
        Ok(out) => {
            let more = if out.next_token().is_some() { " or more" } else { "" };
            vec![ok(
                name,
                format!("{ns}: readable, {}{more} metrics; writing is not probed (a test datum would be a billed metric)", out.metrics().len()),
            )]
        }
        Err(e) => vec![fail(
            name,
            format!("ListMetrics in {ns}: {}", aws_message(&e)),
            format!("the credentials of [collector] need cloudwatch:ListMetrics, GetMetricData and PutMetricData (condition cloudwatch:namespace = {ns:?})"),
        )],
    }
}

/// Metric streams looked at most (a GetMetricStream each).
const MAX_STREAMS: usize = 20;

/// With `[datadog] reading = "metric_stream"`: a running CloudWatch Metric Stream that includes
/// the namespace (deploy/metric-stream.yaml makes one), or Datadog sees none of the metrics.
async fn metric_stream(cfg: &Config, cloudwatch: &aws_sdk_cloudwatch::Client) -> Vec<Probe> {
    use aws_sdk_cloudwatch::types::MetricStreamFilter;
    if cfg.datadog.reading != crate::config::DatadogReading::MetricStream {
        return Vec::new();
    }
    let name = "datadog metric stream";
    let ns = &cfg.collector.namespace;
    let iam = "the credentials of [collector] need cloudwatch:ListMetricStreams and cloudwatch:GetMetricStream";
    let listed = match cloudwatch.list_metric_streams().send().await {
        Ok(l) => l,
        Err(e) => return vec![fail(name, format!("ListMetricStreams: {}", aws_message(&e)), iam)],
    };
    let mut stopped = None;
    for entry in listed.entries().iter().take(MAX_STREAMS) {
        let Some(stream) = entry.name() else { continue };
        let got = match cloudwatch.get_metric_stream().name(stream).send().await {
            Ok(g) => g,
            Err(e) => return vec![fail(name, format!("GetMetricStream {stream}: {}", aws_message(&e)), iam)],
        };
        let has = |f: &[MetricStreamFilter]| f.iter().any(|f| f.namespace() == Some(ns.as_str()));
        let includes = (got.include_filters().is_empty() || has(got.include_filters())) && !has(got.exclude_filters());
        if !includes {
            continue;
        }
        let stream = crate::text::terminal(stream).into_owned();
        match got.state() {
            Some("running") => {
                let format = got.output_format().map_or("?", |f| f.as_str());
                return vec![ok(name, format!("{stream}: running, includes {ns} ({format})"))];
            }
            state => stopped = Some((stream, crate::text::terminal(state.unwrap_or("?")).into_owned())),
        }
    }
    vec![match stopped {
        Some((stream, state)) => fail(
            name,
            format!("{stream} includes {ns} but is {state}"),
            format!("start it: aws cloudwatch start-metric-streams --names {stream}"),
        ),
        None => fail(
            name,
            format!("no metric stream includes {ns} ([datadog] reading = \"metric_stream\")"),
            "deploy deploy/metric-stream.yaml (docs/datadog.md), or set [datadog] reading to how Datadog reads the metrics",
        ),
    }]
}

async fn teams(cfg: &Config, clients: &Clients, send_test: bool) -> Vec<Probe> {
    if !cfg.alerts.enabled {
        return vec![warn(
            "alerts",
            "alerts.enabled = false: nobody is told",
            "set alerts.enabled = true to notify the teams",
        )];
    }
    let mut out = Vec::new();
    for team in cfg.teams.keys() {
        let channels = match crate::alerts::deliver::channels(cfg, &clients.secrets, team).await {
            Ok(c) => c,
            Err(e) => {
                out.push(fail(
                    format!("team {team}"),
                    e,
                    format!("set what teams.{team} names (environment variable or secret)"),
                ));
                continue;
            }
        };
        let test = test_message(cfg, team);
        if let Some(hook) = &channels.slack {
            let name = format!("team {team} slack");
            out.push(match send_test {
                // The scheme only: the URL is the secret.
                false => ok(name, format!("webhook resolved ({}); --send-test posts a test message", transport(hook))),
                true => match slack::send(&clients.http, hook, &test, clients.policy.request_timeout).await {
                    Ok(()) => ok(name, "test message posted"),
                    Err(e) => fail(
                        name,
                        e.to_string(),
                        "the webhook was refused: create a new incoming webhook for the channel",
                    ),
                },
            });
        }
        if let Some(arn) = &channels.sns {
            out.push(topic(&clients.sns, team, arn, send_test.then_some(&test)).await);
        }
        if channels.slack.is_none() && channels.sns.is_none() {
            out.push(warn(
                format!("team {team}"),
                "no channel: its alerts are only logged",
                format!("set slack_webhook_env, slack_webhook_secret_id or sns_topic_arn in teams.{team}"),
            ));
        }
    }
    out
}

async fn topic(sns_client: &aws_sdk_sns::Client, team: &str, arn: &str, test: Option<&Message>) -> Probe {
    let name = format!("team {team} sns");
    if let Err(e) = sns_client.get_topic_attributes().topic_arn(arn).send().await {
        let fix = "check the topic ARN and region; the credentials need sns:GetTopicAttributes and sns:Publish on it";
        return fail(name, format!("{arn}: {}", aws_message(&e)), fix);
    }
    // Who receives it: the first page (100) is plenty to tell "nobody" from "someone".
    let subscribers = match sns_client.list_subscriptions_by_topic().topic_arn(arn).send().await {
        Ok(out) => {
            let subs = out.subscriptions();
            let pending = subs.iter().filter(|s| s.subscription_arn() == Some("PendingConfirmation")).count();
            Some((subs.len() - pending, pending))
        }
        Err(_) => None,
    };
    if let Some(n) = test {
        if let Err(e) = sns::publish(sns_client, arn, n).await {
            return fail(name, format!("{arn}: {e}"), "the credentials need sns:Publish on the topic");
        }
    }
    let sent = if test.is_some() { "; test message published" } else { "" };
    match subscribers {
        Some((0, pending)) => warn(
            name,
            format!("{arn}: exists, no confirmed subscription ({pending} pending){sent}"),
            "subscribe the team (email, chat, pager) to the topic and confirm: nobody receives it yet",
        ),
        Some((confirmed, _)) => ok(name, format!("{arn}: exists, {confirmed} subscription(s) confirmed{sent}")),
        None => {
            ok(name, format!("{arn}: exists; subscriptions not listed (sns:ListSubscriptionsByTopic denied){sent}"))
        }
    }
}

/// How a webhook is reached, said without its URL (the secret): "https", or "http to loopback"
/// (a local double; `channels` refuses plain http elsewhere).
fn transport(hook: &crate::secret::Secret) -> &'static str {
    match hook.expose().parse::<reqwest::Url>().map(|u| u.scheme() == "https") {
        Ok(true) => "https",
        _ => "http to loopback",
    }
}

/// What `--send-test` sends: a real notification, so the team sees how alerts will look.
fn test_message(cfg: &Config, team: &str) -> Message {
    let n = Notification {
        title: format!("[OK] costwarden check: test message for team {team}"),
        kind: "test",
        rule: "check",
        level: Level::Ok,
        previous: Level::Ok,
        resource: "costwarden check".into(),
        series: "check".into(),
        team: Some(team.to_string()),
        value: None,
        threshold: None,
        planned: None,
        projected_breach: None,
        breach_uncertainty_days: None,
        day: None,
        message: "Sent by `costwarden check --send-test`: this team's alerts arrive here.".into(),
        dashboard_url: cfg.alerts.dashboard_url.clone(),
        console_url: None,
        replan: None,
        why: Vec::new(),
        costs: None,
    };
    Message::new(Some(team), cfg.alerts.dashboard_url.as_deref(), vec![n])
}

/// The table a person reads at a glance, the discovery when there is one, and the price.
pub fn human(r: &CheckReport) -> String {
    use crate::text::terminal as t;
    let width = r.probes.iter().map(|p| p.probe.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<width$}  RESULT  DETAIL\n", "PROBE");
    for p in &r.probes {
        let verdict = match p.verdict {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        let _ = writeln!(out, "{:<width$}  {verdict:<6}  {}", t(&p.probe), t(&p.detail));
        if let Some(fix) = &p.fix {
            let _ = writeln!(out, "{:<width$}          fix: {}", "", t(fix));
        }
    }
    if let Some(d) = &r.discovery {
        out.push_str("\nThe Console's statistics page, as it is:\n");
        match &d.items_pointer {
            Some(p) => {
                let _ = writeln!(out, "  items at {p:?} ({} in this page); the first one's fields:", d.items);
            }
            None => out.push_str("  no list of objects in the page\n"),
        }
        let w = d.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
        for f in &d.fields {
            let _ = writeln!(out, "    {:<w$}  {:<17}  {}", t(&f.name), f.kind, t(&f.sample));
        }
        if !d.missing.is_empty() {
            let missing: Vec<String> = d.missing.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
            let _ = writeln!(out, "  configured, not in the page: {}", t(&missing.join(", ")));
        }
        out.push_str("  suggested (thresholds.toml; keep the keys not shown):\n");
        for line in d.suggestion.lines() {
            let _ = writeln!(out, "    {}", t(line));
        }
    }
    let count = |v: Verdict| r.probes.iter().filter(|p| p.verdict == v).count();
    let requests: u64 = r.requests.values().sum();
    let _ = writeln!(
        out,
        "\n{} probes: {} ok, {} warnings, {} failed. {requests} requests, USD {:.2} (Cost Explorer: USD 0.01 a request); region {}",
        r.probes.len(),
        count(Verdict::Ok),
        count(Verdict::Warn),
        count(Verdict::Fail),
        r.usd + 0.0,
        r.region
    );
    out
}
