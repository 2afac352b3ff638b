//! One run's alerting: read what each team was last told, notify the transitions to the owning
//! team's channels (one message per team and run, with every change in it), and return the rule
//! metrics (AlertState, ThresholdUtilization, DaysToBreach). A transition is marked delivered
//! only when every channel of its team took the message, so a failed delivery is retried on the
//! next run instead of being lost.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::route;
use super::state::{rule_dims, transitions, Transition};
use crate::config::Config;
use crate::metrics::Metric;
use crate::model::{Sample, SeriesKey};
use crate::notify::{slack, sns, Message, Notification};
use crate::rules::{Finding, Level, Observations, RuleKind, Told};
use crate::secret::Secret;
use crate::text::terminal;
use crate::wire::Clients;

#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertReport {
    /// False in dry runs: nothing was sent.
    pub enabled: bool,
    pub transitions: Vec<TransitionReport>,
    /// Transitions not delivered (to be retried next run).
    pub failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
}

impl AlertReport {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.state_error.is_none()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TransitionReport {
    pub rule: RuleKind,
    pub series: String,
    pub label: String,
    pub from: Level,
    pub to: Level,
    pub kind: &'static str,
    pub team: Option<String>,
    pub channels: Vec<&'static str>,
    pub delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Not sent: its resource is snoozed ("until DATE: reason"); told once the snooze ends if
    /// the change still holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<String>,
    pub message: String,
    /// thresholds.toml lines that replan the series (`alerts::replan`), when there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replan: Option<String>,
    /// Why it changed, from the run's other series (`alerts::explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// What its volume costs a month, at its level and at its plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub costs: Option<String>,
}

/// A team's resolved channels; the webhook URL stays a Secret.
#[derive(Default)]
pub(crate) struct Channels {
    pub(crate) slack: Option<Secret>,
    pub(crate) sns: Option<String>,
}

pub(crate) async fn channels(
    cfg: &Config,
    secrets: &aws_sdk_secretsmanager::Client,
    team: &str,
) -> Result<Channels, String> {
    let Some(t) = cfg.teams.get(team) else {
        return Ok(Channels::default());
    };
    let env = |name: &String| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("team {team}: environment variable {name} is not set"))
    };
    let slack = match (&t.slack_webhook_env, &t.slack_webhook_secret_id) {
        (Some(e), _) => Some(Secret::new(env(e)?)),
        (None, Some(id)) => Some(
            crate::secret::secret_string(secrets, id).await.map_err(|e| format!("team {team}: Slack webhook: {e}"))?,
        ),
        (None, None) => None,
    };
    // The URL is the secret: it is checked, never shown.
    if slack.as_ref().is_some_and(|hook| !hook.expose().parse().is_ok_and(|u| crate::model::secure(&u))) {
        return Err(format!("team {team}: Slack webhook: not an https URL; refusing to post to it"));
    }
    let sns = match (&t.sns_topic_arn, &t.sns_topic_arn_env) {
        (Some(arn), _) => Some(arn.clone()),
        (None, Some(e)) => Some(env(e)?),
        (None, None) => None,
    };
    Ok(Channels { slack, sns })
}

/// What each team was last told, read before the rules are evaluated (the capacity rule keeps a
/// level from it), and the report the run's alerting fills in.
pub async fn read_told(
    cfg: &Config,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    now: DateTime<Utc>,
    dry_run: bool,
) -> (Told, AlertReport) {
    let mut report = AlertReport::default();
    let mut prior = Told::new();
    // A dry run reads the memory too (it sends nothing): its verdicts and datums are then the
    // ones a real run would have, hysteresis and alert states included.
    if cfg.alerts.enabled {
        report.enabled = !dry_run;
        let (namespace, hours) = (&cfg.collector.namespace, cfg.alerts.state_lookback_hours);
        match super::store::read(cloudwatch, namespace, hours, now, cfg.collector.concurrency).await {
            Ok(p) => prior = p,
            Err(e) if dry_run => {
                tracing::warn!(error = %e, "cannot read alert state; evaluated as if nothing was told")
            }
            Err(e) => {
                // Without the memory every breach would be re-sent; send nothing, fail the run.
                tracing::error!(error = %e, "cannot read alert state; no notifications this run");
                report.state_error = Some(e);
            }
        }
    }
    (prior, report)
}

/// Notifies the transitions from `prior` (as `read_told` read it) and returns the rule metrics.
/// Each team gets one message with all its changes; they are told (or retried next run) together.
pub async fn notify_transitions(
    cfg: &Config,
    clients: &Clients,
    (findings, obs): (&[Finding], &Observations),
    (prior, mut report): (Told, AlertReport),
    now: DateTime<Utc>,
) -> (AlertReport, Vec<Sample>) {
    let mut delivered = prior.clone();
    if report.enabled && report.state_error.is_none() {
        let mut by_team: BTreeMap<Option<String>, Vec<Transition>> = BTreeMap::new();
        for t in transitions(&prior, findings) {
            let team = route::team(cfg, t.finding.owner.as_deref()).map(str::to_string);
            // Snoozed: not sent and not marked told, so the change is told once the snooze ends.
            if let Some(s) = route::snooze(cfg, &t.finding.series).filter(|s| s.active(now.date_naive())) {
                let f = &t.finding;
                tracing::info!(target: super::LOG_TARGET, rule = f.rule.name(), series = %terminal(&f.series.to_string()), level = %f.level, until = %s.until, "alert snoozed");
                let mut snoozed = transition_report(&t, team, Vec::new(), false, None);
                snoozed.snoozed = Some(format!("until {}: {}", s.until, s.reason));
                report.transitions.push(snoozed);
                continue;
            }
            by_team.entry(team).or_default().push(t);
        }
        for (team, changes) in by_team {
            let notes: Vec<Notification> =
                changes.iter().map(|t| notification(cfg, team.as_deref(), t, (findings, obs))).collect();
            let notes_of = |n: &Notification| (n.replan.clone(), n.why.clone(), n.costs.clone());
            let replans: Vec<_> = notes.iter().map(notes_of).collect();
            let message = Message::new(team.as_deref(), cfg.alerts.dashboard_url.as_deref(), notes);
            let (used, errors) = match &team {
                Some(team) => send(cfg, clients, team, &message).await,
                None => (Vec::new(), Vec::new()),
            };
            let ok = errors.is_empty();
            for (t, (replan, why, costs)) in changes.iter().zip(replans) {
                let f = &t.finding;
                if ok {
                    delivered.insert((f.rule, f.series.clone()), f.level);
                } else {
                    report.failed += 1;
                    tracing::error!(rule = f.rule.name(), series = %terminal(&f.series.to_string()), errors = %terminal(&errors.join("; ")), "notification failed; retried next run");
                }
                let error = (!ok).then(|| errors.join("; "));
                let mut rep = transition_report(t, team.clone(), used.clone(), ok, error);
                (rep.replan, rep.why, rep.costs) = (replan, why, costs);
                report.transitions.push(rep);
            }
        }
    }
    (report, rule_samples(findings, &prior, &delivered))
}

fn transition_report(
    t: &Transition,
    team: Option<String>,
    channels: Vec<&'static str>,
    delivered: bool,
    error: Option<String>,
) -> TransitionReport {
    let f = &t.finding;
    TransitionReport {
        rule: f.rule,
        series: f.series.to_string(),
        label: f.label.to_string(),
        from: t.from,
        to: f.level,
        kind: t.kind(),
        team,
        channels,
        delivered,
        error,
        snoozed: None,
        message: f.message.clone(),
        replan: None,
        why: Vec::new(),
        costs: None,
    }
}

/// One change as its team reads it (with the replan that answers it), logged as it is.
fn notification(
    cfg: &Config,
    team: Option<&str>,
    t: &Transition,
    (findings, obs): (&[Finding], &Observations),
) -> Notification {
    let f = &t.finding;
    if f.level == Level::Ok {
        tracing::info!(target: super::LOG_TARGET, rule = f.rule.name(), series = %terminal(&f.series.to_string()), kind = t.kind(), message = %terminal(&f.message), "alert");
    } else {
        tracing::warn!(target: super::LOG_TARGET, rule = f.rule.name(), series = %terminal(&f.series.to_string()), level = %f.level, kind = t.kind(), message = %terminal(&f.message), "alert");
    }
    let mut n = Notification::new(
        f,
        (t.from, t.kind()),
        team,
        cfg.alerts.dashboard_url.as_deref(),
        route::console_url(&f.series, &cfg.collector.region),
    );
    let series: Vec<&Finding> = findings.iter().filter(|x| x.series == f.series).collect();
    n.replan = super::replan::snippet(cfg, f, &series);
    // The why of a change to OK would explain what is over.
    if f.level != Level::Ok {
        let e = super::explain::explain(cfg, obs, f);
        (n.why, n.costs) = (e.why, e.costs);
    }
    n
}

/// The team's message to each of its channels: the channels used, and what failed.
async fn send(cfg: &Config, clients: &Clients, team: &str, m: &Message) -> (Vec<&'static str>, Vec<String>) {
    let (mut used, mut errors) = (Vec::new(), Vec::new());
    match channels(cfg, &clients.secrets, team).await {
        Err(e) => errors.push(e),
        Ok(c) => {
            if let Some(hook) = &c.slack {
                used.push("slack");
                if let Err(e) = slack::send(&clients.http, hook, m, clients.policy.request_timeout).await {
                    errors.push(e.to_string());
                }
            }
            if let Some(arn) = &c.sns {
                used.push("sns");
                if let Err(e) = sns::publish(&clients.sns, arn, m).await {
                    errors.push(e.to_string());
                }
            }
        }
    }
    (used, errors)
}

/// The verdicts as metrics. AlertState is written only while a series is not OK (and once on
/// recovery): every written dimension set is a billed metric, so quiet series cost nothing.
/// The daily series' verdicts are written once a day, at the cost of a daily stream.
pub fn rule_samples(findings: &[Finding], prior: &Told, delivered: &Told) -> Vec<Sample> {
    let mut out = Vec::new();
    for f in findings {
        let key = (f.rule, f.series.clone());
        let dims = rule_dims(f.rule, &f.series);
        let was = prior.get(&key).copied().unwrap_or_default();
        let told = delivered.get(&key).copied().unwrap_or_default();
        if told != Level::Ok || was != Level::Ok {
            out.push(Sample::gauge(SeriesKey::new(Metric::AlertState, dims.clone()), told as i32 as f64));
        }
        // Capacity's level is TaskCapacityUtilization, written every run anyway: its own stream
        // (billed every hour) only while the service is not OK, and once on recovery.
        let quiet_capacity = f.rule == RuleKind::Capacity && f.level == Level::Ok && was == Level::Ok;
        if f.rule != RuleKind::Anomaly && !quiet_capacity {
            if let Some(u) = f.utilisation.filter(|u| u.is_finite()) {
                out.push(Sample::gauge(SeriesKey::new(Metric::ThresholdUtilization, dims.clone()), 100.0 * u));
            }
        }
        if let (RuleKind::Growth, Some(planned)) = (f.rule, f.planned) {
            out.push(Sample::gauge(SeriesKey::new(Metric::PlannedValue, dims.clone()), planned));
        }
        if let Some(days) = f.days_to_breach() {
            out.push(Sample::gauge(SeriesKey::new(Metric::DaysToBreach, dims), days as f64));
        }
    }
    out
}
