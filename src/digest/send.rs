//! A digest run: which teams' week is due (the `DigestSent` markers read back, once a process
//! has seen a team's week sent it does not read again), their history from CloudWatch, what
//! each was told, the send to the team's channels, and the marker written for each team whose
//! every channel took it. A team whose send failed is tried again by the next run.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use super::{build, period, render, shown, teams, Digest, Inputs, HISTORY_DAYS};
use crate::config::Config;
use crate::metrics::{Metric, DIM_OWNER};
use crate::model::{Daily, Sample, SeriesKey};
use crate::rules::Observations;
use crate::wire::{metric_data, Clients};

/// The week each team's digest was last seen sent, in this process.
pub type Sent = Mutex<BTreeMap<String, NaiveDate>>;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Build and return the digests; send nothing, write no marker.
    pub dry_run: bool,
    /// Now, whatever the schedule and the markers say (`costwarden digest`).
    pub force: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub digests: Vec<Digest>,
    /// Teams sent to, with the channels used.
    pub sent: Vec<(String, Vec<&'static str>)>,
    pub errors: Vec<String>,
}

/// The digests due at `now` (all of them, or `only` the team named, with `force`), sent unless
/// `dry_run`. Nothing is read when `[digest]` is off or every team's week is known sent.
pub async fn run(
    cfg: &Config,
    clients: &Clients,
    sent: &Sent,
    now: DateTime<Utc>,
    only: Option<&str>,
    opts: Options,
) -> Report {
    let mut report = Report::default();
    let fallback = crate::config::Digest::default();
    let d = match cfg.digest.as_ref() {
        Some(d) if d.enabled || opts.force => d,
        None if opts.force => &fallback,
        _ => return report,
    };
    let week = period(d, now);
    let due = match due(cfg, clients, sent, week, now, only, opts.force).await {
        Ok(due) if !due.is_empty() => due,
        Ok(_) => return report,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let ns = &cfg.collector.namespace;
    let mut keys: Vec<SeriesKey> = due.values().flatten().filter(|r| shown(&r.key)).map(|r| r.key.clone()).collect();
    for team in due.keys() {
        keys.extend(super::inventory_series(cfg, team).into_iter().flat_map(|(_, a, b)| [a, b]));
    }
    let (history, unscanned) = match history(cfg, clients, &keys, due.keys(), now).await {
        Ok(h) => h,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let told = match crate::alerts::store::read(
        &clients.cloudwatch,
        ns,
        cfg.alerts.state_lookback_hours,
        now,
        cfg.collector.concurrency,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(e);
            Default::default()
        }
    };
    let reviews = match reviewed(cfg, clients, due.keys(), now).await {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            report.errors.push(e);
            None
        }
        None => None,
    };
    let today = now.date_naive();
    let mut marks = Vec::new();
    for (team, series) in &due {
        let i = Inputs {
            cfg,
            history: &history,
            told: &told,
            unscanned: unscanned.get(team).copied(),
            reviewed: reviews.as_ref().map(|r| r.get(team).copied()),
            period: week,
            today,
        };
        let digest = build(team, series, &i);
        if !opts.dry_run {
            let (used, errors) = deliver(cfg, clients, &digest).await;
            if errors.is_empty() {
                marks.push(Sample::gauge(
                    SeriesKey::new(Metric::DigestSent, vec![(DIM_OWNER, team.clone())]),
                    crate::model::day_code(week),
                ));
                sent.lock().expect("not poisoned").insert(team.clone(), week);
                report.sent.push((team.clone(), used));
            }
            report.errors.extend(errors);
        }
        report.digests.push(digest);
    }
    if !marks.is_empty() {
        let batches = crate::sink::cloudwatch::batches(&marks, now);
        let w = crate::sink::cloudwatch::put(&clients.cloudwatch, ns, batches, 1).await;
        report.errors.extend(w.errors);
    }
    report
}

/// The teams whose digest of `week` is due (`only` the one named, if any): with `force`
/// every one, else those not known sent, in this process or by their `DigestSent` marker. An
/// error when the markers cannot be read: not knowing whether it went, sending could repeat
/// it, so the next run tries.
async fn due(
    cfg: &Config,
    clients: &Clients,
    sent: &Sent,
    week: NaiveDate,
    now: DateTime<Utc>,
    only: Option<&str>,
    force: bool,
) -> Result<BTreeMap<String, Vec<crate::rules::SeriesRules>>, String> {
    let mut due = teams(cfg);
    due.retain(|t, _| only.is_none_or(|o| o == t));
    if force {
        return Ok(due);
    }
    let known = sent.lock().expect("not poisoned").clone();
    due.retain(|t, _| known.get(t).is_none_or(|w| *w < week));
    if due.is_empty() {
        return Ok(due);
    }
    let m = markers(cfg, clients, due.keys(), now).await?;
    let mut cache = sent.lock().expect("not poisoned");
    for (team, w) in m.into_iter().filter(|(_, w)| *w >= week) {
        cache.insert(team.clone(), w);
        due.remove(&team);
    }
    Ok(due)
}

/// The week of each team's last digest, from its `DigestSent` marker of the last 8 days.
async fn markers<'a>(
    cfg: &Config,
    clients: &Clients,
    teams: impl Iterator<Item = &'a String>,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, NaiveDate>, String> {
    let from = CwDateTime::from_secs(now.timestamp() - 8 * 86_400);
    days(cfg, clients, (Metric::DigestSent, 60), teams, from, now)
        .await
        .map_err(|e| format!("digest: reading which weeks were sent (GetMetricData): {e}"))
}

/// The day each team's workbook was last recorded reviewed since the round opened
/// (`InventoryReviewed`), for the teams the round expects; None when no round is open.
async fn reviewed<'a>(
    cfg: &Config,
    clients: &Clients,
    teams: impl Iterator<Item = &'a String>,
    now: DateTime<Utc>,
) -> Option<Result<BTreeMap<String, NaiveDate>, String>> {
    let round = cfg.inventory.review.as_ref().filter(|r| now.date_naive() >= r.opened())?;
    let expected = round.expected(cfg);
    let teams = teams.filter(|t| expected.contains(*t));
    let from = metric_data::midnight(round.opened());
    // Hourly: CloudWatch answers a window starting over 63 days ago only in whole hours.
    let read = days(cfg, clients, (Metric::InventoryReviewed, 3_600), teams, from, now).await;
    Some(read.map_err(|e| format!("digest: reading which teams reviewed the inventory (GetMetricData): {e}")))
}

/// The latest day-coded value of a per-team marker since `from` (read at `period` seconds),
/// per team that has one.
async fn days<'a>(
    cfg: &Config,
    clients: &Clients,
    (metric, period): (Metric, i32),
    teams: impl Iterator<Item = &'a String>,
    from: CwDateTime,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, NaiveDate>, String> {
    let teams: Vec<&String> = teams.collect();
    if teams.is_empty() {
        return Ok(BTreeMap::new());
    }
    let name = metric.def().name;
    let ns = &cfg.collector.namespace;
    let queries = teams
        .iter()
        .enumerate()
        .map(|(i, t)| metric_data::own_series_by(i, ns, name, [(DIM_OWNER, t.as_str())], (period, "Maximum")))
        .collect();
    let window = (from, CwDateTime::from_secs(now.timestamp() + 60));
    let results = metric_data::read(&clients.cloudwatch, queries, window, None, 1).await?;
    let latest = metric_data::latest(results, teams.len());
    Ok(teams
        .into_iter()
        .zip(latest)
        .filter_map(|(t, v)| Some((t.clone(), crate::model::from_day_code(v?.1)?)))
        .collect())
}

/// The daily series as CloudWatch holds them, `HISTORY_DAYS` back: each value is stamped the
/// day after the day it totals (`Sample::daily`), so a UTC day's Maximum is the day before's
/// total. And each team's latest `UnscannedBuckets`.
async fn history<'a>(
    cfg: &Config,
    clients: &Clients,
    keys: &[SeriesKey],
    teams: impl Iterator<Item = &'a String>,
    now: DateTime<Utc>,
) -> Result<(Observations, BTreeMap<String, u64>), String> {
    let ns = &cfg.collector.namespace;
    let teams: Vec<&String> = teams.collect();
    let unscanned = Metric::UnscannedBuckets.def().name;
    let mut queries: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let dims = k.dims.iter().map(|(d, v)| (*d, v.as_str()));
            metric_data::own_series_by(i, ns, k.metric.def().name, dims, (86_400, "Maximum"))
        })
        .collect();
    queries.extend(teams.iter().enumerate().map(|(i, t)| {
        metric_data::own_series_by(keys.len() + i, ns, unscanned, [(DIM_OWNER, t.as_str())], (86_400, "Maximum"))
    }));
    let today = now.date_naive();
    let window = (metric_data::midnight(today - Days::new(HISTORY_DAYS)), CwDateTime::from_secs(now.timestamp() + 60));
    let results = metric_data::read(&clients.cloudwatch, queries, window, None, cfg.collector.concurrency)
        .await
        .map_err(|e| format!("digest: reading the weeks' series (GetMetricData): {e}"))?;
    let mut obs = Observations::default();
    let mut counts = BTreeMap::new();
    for (id, values) in results {
        let Some(i) = metric_data::own_series_index(&id) else { continue };
        if let Some(k) = keys.get(i) {
            let d = obs.daily.entry(k.clone()).or_insert_with(|| Daily::new(k.clone(), today));
            for (t, v) in values {
                let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) else { continue };
                d.set(crate::model::day_before(at.date_naive()), v);
            }
        } else if let Some(t) = teams.get(i - keys.len()) {
            // The latest day's count (one query a team).
            if let Some((_, v)) = values.iter().max_by_key(|(t, _)| *t) {
                counts.insert((*t).clone(), *v as u64);
            }
        }
    }
    Ok((obs, counts))
}

/// The digest to the team's channels: the channels used, and what failed.
async fn deliver(cfg: &Config, clients: &Clients, d: &Digest) -> (Vec<&'static str>, Vec<String>) {
    let (mut used, mut errors) = (Vec::new(), Vec::new());
    let channels = match crate::alerts::deliver::channels(cfg, &clients.secrets, &d.team).await {
        Ok(c) => c,
        Err(e) => return (used, vec![format!("digest: {e}")]),
    };
    if let Some(hook) = &channels.slack {
        used.push("slack");
        let timeout = clients.policy.request_timeout;
        if let Err(e) = crate::notify::slack::post(&clients.http, hook, &render::slack(d), timeout).await {
            errors.push(format!("digest for team {}: {e}", d.team));
        }
    }
    if channels.slack.is_none() && channels.sns.is_none() {
        // A team with no channel: its digest goes to the log, as its alerts do.
        tracing::info!(team = %crate::text::terminal(&d.team), digest = %render::text(d), "weekly digest (no channel)");
    }
    if let Some(topic) = &channels.sns {
        used.push("sns");
        let (body, attributes) = render::sns(d);
        if let Err(e) = crate::notify::sns::publish_json(&clients.sns, topic, &render::title(d), body, attributes).await
        {
            errors.push(format!("digest for team {}: {e}", d.team));
        }
    }
    (used, errors)
}
