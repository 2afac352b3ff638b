//! `costwarden check`: for every set of credentials, enabled source and team channel, one cheap
//! live probe and a verdict with its fix, so that a first day on a real account ends in a
//! working configuration rather than in a failed run. It reads only: nothing is written to
//! CloudWatch (a test datum would be a billed metric), and a message is posted only with
//! `send_test`. Its price: two Cost Explorer requests, USD 0.02; the rest is free or fractions
//! of a cent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use aws_sdk_costexplorer::types::CostAllocationTagStatus;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::app::ConsoleIfEnabled;
use crate::config::Config;
use crate::metrics::{DIM_CLUSTER, DIM_SERVICE};
use crate::model::short_name;
use crate::notify::{slack, sns, Notification};
use crate::rules::Level;
use crate::sources::antivirus::discover::{discover, Discovery};
use crate::sources::antivirus::ConsoleClient;
use crate::sources::{antivirus, cost_explorer, ecs, guardduty};
use crate::wire::Clients;
use crate::wire::{aws_message, counted, Api};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Works, but something will surprise (no data yet, nobody subscribed).
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub probe: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn probe(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>, fix: Option<String>) -> Probe {
    Probe { probe: name.into(), verdict, detail: detail.into(), fix }
}

fn ok(name: impl Into<String>, detail: impl Into<String>) -> Probe {
    probe(name, Verdict::Ok, detail, None)
}

fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Probe {
    probe(name, Verdict::Fail, detail, Some(fix.into()))
}

fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Probe {
    probe(name, Verdict::Warn, detail, Some(fix.into()))
}

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

/// Every probe, each area concurrently, reported in a fixed order. Each probe gets the part of
/// the configuration and the clients it reads.
/// `console` builds the Console client (reading its credentials): awaited inside the check's
/// count, so its requests are priced with the rest.
pub async fn check<'a>(
    cfg: &Config,
    clients: &Clients,
    console: impl std::future::Future<Output = ConsoleIfEnabled<'a>>,
    today: NaiveDate,
    send_test: bool,
) -> CheckReport {
    let ((ids, (console_probes, discovery), cost, ecs, gd, cov, ns, teams), requests) = counted(async {
        let console = console.await;
        tokio::join!(
            identities(&clients.identities),
            self::console(cfg.antivirus.as_ref().filter(|a| a.enabled).zip(console.clone()), today),
            self::cost(cfg.cost.as_ref().filter(|c| c.enabled), &clients.cost_explorer, today),
            self::ecs(cfg.ecs.as_ref().filter(|e| e.enabled), clients, cfg.collector.concurrency),
            guardduty(cfg.guardduty.as_ref().filter(|g| g.enabled), &clients.guardduty_metrics),
            coverage(&cfg.coverage, &clients.s3, console.clone()),
            namespace(&cfg.collector.namespace, &clients.cloudwatch),
            teams(cfg, clients, send_test)
        )
    })
    .await;
    let console = console_probes;
    let requests = requests.snapshot();
    let usd = crate::wire::usd(&requests);
    let probes: Vec<Probe> = [ids, console, cost, ecs, gd, cov, ns, teams].into_iter().flatten().collect();
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

async fn console(
    av: Option<(&crate::config::Antivirus, Result<&ConsoleClient, String>)>,
    today: NaiveDate,
) -> (Vec<Probe>, Option<Discovery>) {
    let Some((av, client)) = av else { return (Vec::new(), None) };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            let fix = "set antivirus.credentials (username_env / password_env, or secret_id with a JSON {\"username\", \"password\"}) and an https antivirus.base_url";
            return (vec![fail("console credentials", e.to_string(), fix)], None);
        }
    };
    let mut out = Vec::new();
    out.push(match client.health().await {
        Ok(status) => ok("console health", format!("GET {}: {status}", av.api.health_path)),
        Err(e) => fail(
            "console health",
            e.to_string(),
            "antivirus.base_url must be the Console's address (https://<account>-<appId>.cloudstoragesecapp.com), reachable from where costwarden runs",
        ),
    });
    if let Err(e) = client.authenticate().await {
        out.push(fail(
            "console token",
            e.to_string(),
            "the user must be a Console user in the Cognito group Api, with the password of the configured credentials",
        ));
        return (out, None);
    }
    out.push(ok("console token", format!("POST {}: a token for the API user", av.api.token_path)));
    let (from, to) = (today - chrono::Days::new(u64::from(av.history_days)), crate::model::day_before(today));
    let name = "console statistics";
    let page = match client.first_page(from, to).await {
        Ok(p) => p,
        Err(e) => {
            out.push(fail(name, e.to_string(), "antivirus.api.stats_path must be the statistics endpoint"));
            return (out, None);
        }
    };
    let (verdict, discovery) = statistics(&page, &av.api, (from, to));
    out.push(verdict);
    (out, discovery)
}

/// Reads one page with the configured shape; a page it cannot read comes with a discovery of
/// the page's real shape.
fn statistics(
    page: &Value,
    api: &crate::config::ConsoleApi,
    (from, to): (NaiveDate, NaiveDate),
) -> (Probe, Option<Discovery>) {
    let name = "console statistics";
    let fix = "replace [antivirus.api] with the block suggested below (check each guess)";
    let items = page.pointer(&api.items_pointer).and_then(Value::as_array);
    if items.is_some_and(Vec::is_empty) {
        let detail = format!("{:?} is an empty list: no statistics between {from} and {to}", api.items_pointer);
        return (warn(name, detail, "the fields are checked once the Console has scanned something"), None);
    }
    // The configured shape first: the page may hold a larger list than the statistics.
    let raw = serde_json::value::to_raw_value(page).expect("a JSON value serialises");
    let paging = match api.paging {
        crate::config::Paging::Page => antivirus::total_pages(&raw, api).map(|n| format!(" of {n}")),
        _ => Ok(String::new()),
    };
    let parsed = antivirus::parse_page(&raw, api, 1);
    if let (Ok((items, problems)), Ok(of)) = (&parsed, &paging) {
        if problems.is_empty() {
            let first = items.first().map_or(String::new(), |i| {
                let size = crate::rules::human(i.bytes, crate::metrics::Unit::Bytes);
                format!(", e.g. {} on {}: {size}", i.bucket, i.date)
            });
            return (
                ok(name, format!("page 1{of}: {} items read with the configured shape{first}", items.len())),
                None,
            );
        }
    }
    let d = discover(page, api);
    let detail = match (parsed, paging) {
        _ if !d.matches() => {
            let missing: Vec<String> = d.missing.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
            format!("the configured shape does not read the page: not found: {}", missing.join(", "))
        }
        (Ok((_, problems)), Ok(_)) => {
            let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
            format!("{} item(s) not read: {}", problems.len(), shown.join("; "))
        }
        (Err(e), _) | (_, Err(e)) => e,
    };
    (fail(name, detail, fix), Some(d))
}

async fn cost(c: Option<&crate::config::Cost>, ce: &aws_sdk_costexplorer::Client, today: NaiveDate) -> Vec<Probe> {
    let Some(c) = c else { return Vec::new() };
    let mut out = Vec::new();
    let name = "cost tag key";
    let payer = "Cost Explorer answers in the management (payer) account: see [cost.role]";
    out.push(match ce.list_cost_allocation_tags().tag_keys(&c.tag_key).send().await {
        Ok(tags) => match tags.cost_allocation_tags().iter().find(|t| t.tag_key() == c.tag_key) {
            Some(t) if *t.status() == CostAllocationTagStatus::Active => {
                ok(name, format!("{:?} is active ({})", c.tag_key, t.r#type().as_str()))
            }
            Some(t) => fail(
                name,
                format!("{:?} is {}: Cost Explorer does not group by it", c.tag_key, t.status().as_str()),
                "activate it in Billing and Cost Management > Cost allocation tags (payer account); costs are grouped by it from then on, within 24 hours",
            ),
            None => fail(
                name,
                format!("Cost Explorer has never seen the tag key {:?}", c.tag_key),
                format!("tag the scanner's resources with {:?}; the key appears in Billing > Cost allocation tags within 24 hours, then activate it; or fix cost.tag_key. {payer}", c.tag_key),
            ),
        },
        Err(e) => fail(name, aws_message(&e), format!("the credentials of [cost] need ce:ListCostAllocationTags. {payer}")),
    });
    let yesterday = crate::model::day_before(today);
    let name = "cost query";
    out.push(match cost_explorer::collect_days(ce, c, yesterday, today).await {
        Ok(o) if o.daily.is_empty() => warn(
            name,
            format!("GetCostAndUsage for {yesterday}: no cost under {:?}", c.tag_key),
            "a tag activated today groups costs from tomorrow; else the tagged resources cost nothing yet",
        ),
        Ok(o) => {
            let total: f64 = o.daily.iter().filter_map(|d| d.get(yesterday)).sum();
            let estimated = o.daily.iter().any(|d| d.estimated_from.is_some_and(|e| e <= yesterday));
            let state = if estimated { ", Estimated" } else { "" };
            ok(
                name,
                format!(
                    "GetCostAndUsage for {yesterday}: {} tag values, USD {total:.2} {}{state}",
                    o.daily.len(),
                    c.metric
                ),
            )
        }
        Err(e) => fail(name, e.to_string(), format!("the credentials of [cost] need ce:GetCostAndUsage. {payer}")),
    });
    out
}

async fn ecs(cfg: Option<&crate::config::Ecs>, clients: &Clients, concurrency: usize) -> Vec<Probe> {
    let Some(cfg) = cfg else { return Vec::new() };
    let clients = ecs::EcsClients { ecs: clients.ecs.clone(), autoscaling: clients.autoscaling.clone() };
    let got = ecs::read(&clients, cfg, concurrency).await;
    let gauge = |cluster: &str, service: &str, m: crate::metrics::Metric| {
        got.gauges
            .iter()
            .find(|s| {
                s.key.metric == m && s.key.dim(DIM_CLUSTER) == Some(cluster) && s.key.dim(DIM_SERVICE) == Some(service)
            })
            .map(|s| s.value)
    };
    let mut out = Vec::new();
    for s in &cfg.services {
        let (cluster, service) = (short_name(&s.cluster), short_name(&s.service));
        let name = format!("ecs {service}");
        let mine: Vec<&str> =
            got.problems.iter().filter(|p| p.is_about(cluster, service)).map(|p| p.text.as_str()).collect();
        let fix = "check ecs.services (cluster, service) and collector.region; the credentials of [ecs] need ecs:DescribeServices and application-autoscaling:DescribeScalableTargets";
        out.push(match (gauge(cluster, service, crate::metrics::Metric::RunningTasks), mine.is_empty()) {
            (Some(running), true) => {
                let max = gauge(cluster, service, crate::metrics::Metric::MaxTasks).unwrap_or(f64::NAN);
                let from = if s.max_tasks.is_some() { "max_tasks" } else { "Application Auto Scaling" };
                let detail = format!("cluster {cluster}: {running} running, maximum {max} ({from})");
                match running > max {
                    true => warn(
                        name,
                        detail,
                        "more tasks run than the maximum: is max_tasks (or the scalable target) right?",
                    ),
                    false => ok(name, detail),
                }
            }
            _ => fail(name, mine.join("; "), fix),
        });
    }
    // A whole call's problem (DescribeScalableTargets) is about no one service.
    let untold = got.problems.iter().filter(|p| !cfg.services.iter().any(|s| p.is_about(&s.cluster, &s.service)));
    for p in untold {
        out.push(fail(
            "ecs",
            p.text.clone(),
            "the credentials of [ecs] need application-autoscaling:DescribeScalableTargets",
        ));
    }
    out
}

async fn guardduty(cfg: Option<&crate::config::GuardDuty>, metrics: &aws_sdk_cloudwatch::Client) -> Vec<Probe> {
    let Some(cfg) = cfg else { return Vec::new() };
    let name = "guardduty metrics";
    let plan = aws_sdk_cloudwatch::types::DimensionFilter::builder()
        .name("Malware Protection Plan Id")
        .value(&cfg.plan_id)
        .build();
    let mut pages = metrics
        .list_metrics()
        .namespace(guardduty::NAMESPACE)
        .metric_name("CompletedScanBytes")
        .dimensions(plan)
        .into_paginator()
        .send();
    let mut seen = BTreeSet::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => seen.extend(
                p.metrics()
                    .iter()
                    .flat_map(|m| m.dimensions())
                    .filter(|d| d.name() == Some("Resource Name"))
                    .map(|d| d.value().unwrap_or_default().to_string()),
            ),
            Err(e) => {
                let fix = "the credentials reading GuardDuty's metrics (base, or [guardduty.role]) need cloudwatch:ListMetrics and cloudwatch:GetMetricData";
                return vec![fail(name, format!("ListMetrics: {}", aws_message(&e)), fix)];
            }
        }
    }
    let missing: Vec<&str> = cfg.buckets.iter().map(|b| b.name.as_str()).filter(|b| !seen.contains(*b)).collect();
    let found = cfg.buckets.len() - missing.len();
    let detail = format!("plan {}: metrics for {found} of {} buckets", cfg.plan_id, cfg.buckets.len());
    let why = "GuardDuty writes a bucket's metrics after its first scan, and CloudWatch lists them for two weeks";
    match (found, missing.is_empty()) {
        (_, true) => vec![ok(name, detail)],
        (0, _) => vec![fail(
            name,
            detail,
            format!(
                "check guardduty.plan_id (aws guardduty list-malware-protection-plans) and collector.region; {why}"
            ),
        )],
        _ => vec![warn(
            name,
            format!("{detail}; none for {}", missing.join(", ")),
            format!("is each bucket in the plan? {why}"),
        )],
    }
}

/// With `[coverage] alert`: one page of S3's bucket list, and the Console's protection settings.
async fn coverage(cov: &crate::config::Coverage, s3: &aws_sdk_s3::Client, console: ConsoleIfEnabled<'_>) -> Vec<Probe> {
    if !cov.alert {
        return Vec::new();
    }
    let mut out = vec![match s3.list_buckets().max_buckets(1000).send().await {
        Ok(o) => {
            let more = if o.continuation_token().is_some() { " (first page)" } else { "" };
            ok("coverage buckets", format!("S3 ListBuckets: {} buckets{more}", o.buckets().len()))
        }
        Err(e) => fail(
            "coverage buckets",
            format!("S3 ListBuckets: {}", aws_message(&e)),
            "the credentials of [coverage] (base, or [coverage.role]) need s3:ListAllMyBuckets, s3:GetBucketLocation and s3:GetBucketTagging",
        ),
    }];
    if let Some(client) = console {
        let got = match client {
            Ok(c) => match c.protection_pages(&cov.console_api).await {
                (pages, None) => Ok(pages),
                (_, Some(e)) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        out.push(match got {
            Ok(pages) => {
                let (mut found, mut problems) = (0, Vec::new());
                for (n, page) in pages.iter().enumerate() {
                    let read = crate::coverage::collect::protections(page, &cov.console_api, n + 1);
                    found += read.found.len();
                    problems.extend(read.no_list.into_iter().chain(read.problems));
                }
                match problems.first() {
                    None => ok(
                        "coverage console",
                        format!("GET {}: {found} bucket settings in {} page(s)", cov.console_api.path, pages.len()),
                    ),
                    Some(p) => fail(
                        "coverage console",
                        format!("{} of {} not read: {p}", problems.len(), found + problems.len()),
                        "set [coverage.console_api] to the shape the Console returns",
                    ),
                }
            }
            Err(e) => fail(
                "coverage console",
                e,
                "coverage.console_api.path must be the Console's bucket-protection settings",
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
                false => ok(name, "webhook resolved (https); --send-test posts a test message"),
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

async fn topic(sns_client: &aws_sdk_sns::Client, team: &str, arn: &str, test: Option<&Notification>) -> Probe {
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

/// What `--send-test` sends: a real notification, so the team sees how alerts will look.
fn test_message(cfg: &Config, team: &str) -> Notification {
    Notification {
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
    }
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
        r.usd,
        r.region
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_configured_shape_reads_a_page_that_holds_a_larger_list_beside_it() {
        let item = json!({"bucketName": "b-1", "date": "2026-12-01", "scannedBytes": 5e9, "scannedObjects": 10, "scanType": "Event"});
        let others: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let page = json!({"items": [item], "totalPages": 1, "auditTrail": others});
        let api = crate::config::ConsoleApi::default();
        let (p, d) = statistics(&page, &api, (day("2026-11-22"), day("2026-12-01")));
        assert_eq!((p.verdict, d), (Verdict::Ok, None), "{p:?}");
        assert_eq!(p.detail, "page 1 of 1: 1 items read with the configured shape, e.g. b-1 on 2026-12-01: 5.0 GB");
        // A malformed item fails, with the page's shape discovered.
        let page = json!({"items": [{"bucketName": "b", "date": "someday", "scannedBytes": 1, "scannedObjects": 1, "scanType": "Event"}], "totalPages": 1});
        let (p, d) = statistics(&page, &api, (day("2026-11-22"), day("2026-12-01")));
        assert_eq!(p.verdict, Verdict::Fail);
        assert!(p.detail.starts_with("1 item(s) not read: page 1 item 0"), "{}", p.detail);
        assert_eq!(d.and_then(|d| d.items_pointer).as_deref(), Some("/items"));
    }
}
