//! One cycle, in three phases: **collect** (every wanted source that is due, at once, each may
//! fail alone; daily totals once a day, see `cadence`),
//! **evaluate and alert** (the pure rules, then what changed is told to its team), **publish**
//! (one write of the datums, the health metrics riding in the same requests). Every request of
//! the cycle is counted at the wire inside the cycle's scope (`wire::count`).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::cadence;
use crate::alerts::deliver::{self, AlertReport};
use crate::alerts::route;
use crate::config::DailyTotals;
use crate::metrics::{Metric, DIM_API, DIM_SOURCE};
use crate::model::{Sample, SeriesKey, SourceId};
use crate::rules::{self, Finding, Observations};
use crate::sink::cloudwatch::{self, SinkReport};
use crate::sources::{antivirus, cost_explorer, ecs, guardduty, SourceOutput};
use crate::wire::{counted, Api};
use crate::{App, RunReport, SourceReport, Status};

/// How a cycle runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Collect and evaluate, but write nothing and notify nobody.
    pub dry_run: bool,
    /// Read every source, daily totals too, whether or not they are due (`run --force`).
    pub force: bool,
}

/// A cycle over every enabled source. A dry run reads everything, as `status` does.
pub async fn run_once(app: &App, now: DateTime<Utc>, dry_run: bool) -> RunReport {
    run_cycle(app, now, Options { dry_run, force: dry_run }, None).await
}

/// A cycle over some sources only (the daemon's per-source schedules); None = all enabled.
pub async fn run_sources(app: &App, now: DateTime<Utc>, dry_run: bool, only: Option<&[SourceId]>) -> RunReport {
    run_cycle(app, now, Options { dry_run, force: dry_run }, only).await
}

/// The cycle itself: daily totals only when due (`run::cadence`) unless forced.
pub async fn run_cycle(app: &App, now: DateTime<Utc>, opts: Options, only: Option<&[SourceId]>) -> RunReport {
    let (mut report, requests) = counted(phases(app, now, opts, only)).await;
    report.requests = requests.snapshot();
    report.estimated_usd = report.requests.iter().map(|(api, n)| api.usd_per_request() * *n as f64).sum();
    report
}

/// The phases in order; the caller's scope counts their requests.
async fn phases(app: &App, now: DateTime<Utc>, opts: Options, only: Option<&[SourceId]>) -> RunReport {
    let started = Instant::now();
    let dry_run = opts.dry_run;
    let (sources, observations) = collect(app, now, opts.force, only).await;
    let (findings, alerts, rule_samples) = evaluate_and_alert(app, &observations, now, dry_run).await;
    let report_day = now.date_naive().pred_opt().expect("a day before today");
    let mut published = publishable(&observations, report_day);
    published.extend(rule_samples);
    let mut report = RunReport {
        started: now,
        report_day,
        dry_run,
        sources,
        datums: 0,
        sink: SinkReport::default(),
        requests: Default::default(),
        estimated_usd: 0.0,
        rejected: Vec::new(),
        findings,
        alerts,
        published,
        observations,
    };
    publish(app, &mut report, started).await;
    report
}

/// Phase 1: every wanted, enabled and due source concurrently; what each delivered, or why not.
async fn collect(
    app: &App,
    now: DateTime<Utc>,
    force: bool,
    only: Option<&[SourceId]>,
) -> (Vec<SourceReport>, Observations) {
    let cfg = &app.config;
    let (today, conc) = (now.date_naive(), cfg.collector.concurrency);
    let enabled = |id: SourceId| only.is_none_or(|o| o.contains(&id)) && cfg.source_schedule(id).is_some();
    let daily: Vec<SourceId> = SourceId::ALL.into_iter().filter(|&id| enabled(id) && cadence::is_daily(id)).collect();
    let skipped = if force { BTreeMap::new() } else { not_due(app, now, daily).await };
    let wanted = |id: SourceId| enabled(id) && !skipped.contains_key(&id);
    let av = timed(wanted(SourceId::Antivirus), SourceId::Antivirus, async move {
        let c = cfg.antivirus.as_ref().expect("an enabled source is configured");
        let client = app.console().await.map_err(|e| e.to_string())?;
        antivirus::collect(client, c, today, conc).await.map_err(|e| e.to_string())
    });
    let gd = timed(wanted(SourceId::GuardDuty), SourceId::GuardDuty, async move {
        let c = cfg.guardduty.as_ref().expect("an enabled source is configured");
        guardduty::collect(&app.clients.cloudwatch, c, today, conc).await.map_err(|e| e.to_string())
    });
    let ce = timed(wanted(SourceId::Cost), SourceId::Cost, async move {
        let c = cfg.cost.as_ref().expect("an enabled source is configured");
        cost_explorer::collect(&app.clients.cost_explorer, c, today).await.map_err(|e| e.to_string())
    });
    let ecs = timed(wanted(SourceId::Ecs), SourceId::Ecs, async move {
        let c = cfg.ecs.as_ref().expect("an enabled source is configured");
        let clients = ecs::EcsClients { ecs: app.clients.ecs.clone(), autoscaling: app.clients.autoscaling.clone() };
        Ok(ecs::collect(&clients, c, conc).await)
    });
    // Boxed: the four sources' futures nest deep enough to strain the compiler's layout queries.
    let (a, g, c, e) = tokio::join!(Box::pin(av), Box::pin(gd), Box::pin(ce), Box::pin(ecs));
    let mut obs = Observations::default();
    let reports = [a, g, c, e].into_iter().flatten().map(|(rep, out)| {
        if let Some(out) = out {
            obs.extend(out.daily, out.gauges);
        }
        rep
    });
    let mut reports: Vec<SourceReport> = reports.collect();
    reports.extend(skipped.into_iter().map(|(id, why)| SourceReport::skipped(id, why)));
    reports.sort_by_key(|r| r.source);
    (reports, obs)
}

/// The daily sources that are not due, with why; with `daily_totals = "every_run"`, none. A
/// failed read of what was published makes every source due: a run too many costs little, a
/// day not written is lost to Datadog.
async fn not_due(app: &App, now: DateTime<Utc>, daily: Vec<SourceId>) -> BTreeMap<SourceId, String> {
    let c = &app.config.collector;
    if c.daily_totals == DailyTotals::EveryRun || daily.is_empty() {
        return BTreeMap::new();
    }
    match cadence::published(&app.clients.cloudwatch, &c.namespace, &daily, now).await {
        Ok(last) => daily
            .into_iter()
            .filter_map(|id| Some((id, cadence::not_due(last.get(&id).copied(), now, c.settle_hours)?)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell which daily totals are published; reading them all");
            BTreeMap::new()
        }
    }
}

/// Runs one source (when `wanted`) in its own counting scope and turns its outcome into its
/// report; the data goes on to evaluation.
async fn timed(
    wanted: bool,
    id: SourceId,
    fut: impl Future<Output = Result<SourceOutput, String>>,
) -> Option<(SourceReport, Option<SourceOutput>)> {
    if !wanted {
        return None;
    }
    let t = Instant::now();
    let (res, requests) = counted(fut).await;
    let mut rep = SourceReport::skipped(id, String::new());
    (rep.status, rep.skipped) = (Status::Ok, None);
    rep.requests = requests.snapshot().values().sum();
    rep.duration_ms = t.elapsed().as_millis() as u64;
    match res {
        Ok(mut out) => {
            rep.series = out.daily.len() + out.gauges.len();
            rep.samples = out.daily.iter().map(|d| d.points().count()).sum::<usize>() + out.gauges.len();
            rep.latest_day = out.daily.iter().filter_map(|d| d.last_day()).max();
            if !out.problems.is_empty() {
                rep.status = Status::Partial;
            }
            for p in &out.problems {
                tracing::warn!(source = id.name(), problem = %p, "source problem");
            }
            rep.problems = std::mem::take(&mut out.problems);
            Some((rep, Some(out)))
        }
        Err(err) => {
            tracing::error!(source = id.name(), error = %err, "source failed");
            rep.status = Status::Failed;
            rep.error = Some(err);
            Some((rep, None))
        }
    }
}

/// Phase 2: what each team was told, every rule's verdict, the transitions told, and the
/// verdicts as metrics.
async fn evaluate_and_alert(
    app: &App,
    obs: &Observations,
    now: DateTime<Utc>,
    dry_run: bool,
) -> (Vec<Finding>, AlertReport, Vec<Sample>) {
    let cfg = &app.config;
    let watched = route::series_rules(cfg, obs);
    let told = deliver::read_told(cfg, &app.clients.cloudwatch, now, dry_run).await;
    let phase = Instant::now();
    let findings = rules::evaluate(&watched, obs, now, &told.0);
    tracing::debug!(
        series = watched.len(),
        findings = findings.len(),
        ms = phase.elapsed().as_millis() as u64,
        "evaluated"
    );
    // Not needed past here, and 300 bytes a series at 10,000 buckets: gone before the write peaks.
    drop(watched);
    let phase = Instant::now();
    let (alerts, rule_samples) = deliver::notify_transitions(cfg, &app.clients, &findings, told).await;
    tracing::debug!(transitions = alerts.transitions.len(), ms = phase.elapsed().as_millis() as u64, "alerted");
    (findings, alerts, rule_samples)
}

/// Phase 3: the datums and the health metrics, in the fewest PutMetricData requests.
async fn publish(app: &App, report: &mut RunReport, started: Instant) {
    let cfg = &app.config;
    let now = report.started;
    report.rejected = cloudwatch::check(&report.published).1;
    report.published.retain(|s| s.value.is_finite());
    for r in &report.rejected {
        tracing::warn!(problem = %r, "datum refused");
    }
    // What each daily source read completely is recorded as published (`run::cadence`), in a
    // request of its own once every other datum is written: a marker must never stand for
    // totals that were lost. Nor for a notification that was not delivered: the next run must
    // evaluate again to retry it.
    let markers: Vec<Sample> = match report.dry_run || !report.alerts.ok() {
        true => Vec::new(),
        false => report
            .sources
            .iter()
            .filter(|r| r.status == Status::Ok && cadence::is_daily(r.source))
            .map(|r| cadence::published_marker(r.source, report.report_day))
            .collect(),
    };
    // The health metrics ride in the same requests, so they state the planned PutMetricData
    // count (retries show in the run report): it must be known before the write that carries it.
    let mut requests = crate::wire::count::current().map(|r| r.snapshot()).unwrap_or_default();
    if !report.dry_run {
        requests.insert(Api::PutMetricData, 0);
    }
    let (elapsed, failed) = (started.elapsed(), report.alerts.failed);
    let draft = health_samples(&report.sources, &requests, 0, elapsed, failed);
    let total = report.published.len() + draft.len() + markers.len();
    if !report.dry_run {
        // Counted over the datums as they will be sent, the draft health metrics appended.
        let n = report.published.len();
        report.published.extend(draft);
        let planned = cloudwatch::batches(&report.published, now).count() + usize::from(!markers.is_empty());
        report.published.truncate(n);
        requests.insert(Api::PutMetricData, planned as u64);
    }
    let health = health_samples(&report.sources, &requests, total, elapsed, failed);
    report.published.extend(health);
    report.datums = report.published.len() + markers.len();
    if report.dry_run {
        return;
    }
    let phase = Instant::now();
    let (namespace, conc) = (&cfg.collector.namespace, cfg.collector.concurrency);
    // Datums are built batch by batch as the sender has room: 20,000 of them never coexist.
    let batches = cloudwatch::batches(&report.published, now);
    report.sink = cloudwatch::put(&app.clients.cloudwatch, namespace, batches, conc).await;
    if report.sink.failed == 0 && !markers.is_empty() {
        let done = cloudwatch::put(&app.clients.cloudwatch, namespace, cloudwatch::batches(&markers, now), 1).await;
        report.sink.absorb(done);
        report.published.extend(markers);
    }
    for e in &report.sink.errors {
        tracing::error!(error = %e, "CloudWatch write failed");
    }
    tracing::debug!(datums = report.sink.written, ms = phase.elapsed().as_millis() as u64, "written");
}

/// What is written to CloudWatch: every gauge, and each daily series' total for `report_day`
/// (the previous UTC day), stamped at collection time. So the day a datum belongs to is always
/// the UTC day before its timestamp, and Datadog (which does not backfill) sees every datum.
pub fn publishable(obs: &Observations, report_day: NaiveDate) -> Vec<Sample> {
    let mut out = Vec::with_capacity(obs.daily.len() + obs.gauges.len());
    for d in obs.daily.values() {
        if let Some(v) = d.get(report_day) {
            let mut s = Sample::daily(d.key.clone(), report_day, v);
            s.estimated = d.is_estimated(report_day);
            out.push(s);
        }
    }
    out.extend(obs.gauges.iter().map(|(k, v)| Sample::gauge(k.clone(), *v)));
    out
}

fn health_samples(
    reports: &[SourceReport],
    requests: &std::collections::BTreeMap<Api, u64>,
    datums: usize,
    elapsed: Duration,
    notifications_failed: usize,
) -> Vec<Sample> {
    let mut out = Vec::new();
    // A source not due this run says nothing of its health: its stream stays daily.
    for r in reports.iter().filter(|r| r.status != Status::Skipped) {
        let key = SeriesKey::new(Metric::SourceUp, vec![(DIM_SOURCE, r.source.name().to_string())]);
        out.push(Sample::gauge(key, if r.status == Status::Ok { 1.0 } else { 0.0 }));
    }
    for (api, n) in requests {
        let key = |m| SeriesKey::new(m, vec![(DIM_API, api.name().to_string())]);
        out.push(Sample::gauge(key(Metric::ApiRequests), *n as f64));
        out.push(Sample::gauge(key(Metric::ApiCostEstimate), api.usd_per_request() * *n as f64));
    }
    out.push(Sample::gauge(SeriesKey::new(Metric::DatumsWritten, vec![]), datums as f64));
    out.push(Sample::gauge(SeriesKey::new(Metric::RunDuration, vec![]), elapsed.as_secs_f64()));
    out.push(Sample::gauge(SeriesKey::new(Metric::NotificationsFailed, vec![]), notifications_failed as f64));
    out
}
