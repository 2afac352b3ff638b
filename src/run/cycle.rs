//! One cycle, in three phases: **collect** (every wanted source that is due, at once, each may
//! fail alone; daily totals once a day, see `cadence`),
//! **evaluate and alert** (the pure rules, then what changed is told to its team), **publish**
//! (one write of the datums, the health metrics riding in the same requests). Every request of
//! the cycle is counted at the wire inside the cycle's scope (`wire::count`).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::{bounds, cadence, revise};
use crate::alerts::deliver::{self, AlertReport};
use crate::alerts::route;
use crate::app::App;
use crate::config::DailyTotals;
use crate::metrics::{Metric, DIM_API, DIM_SOURCE};
use crate::model::{Sample, SeriesKey, SourceId};
use crate::outcome::{RunReport, SourceReport, Status};
use crate::rules::{self, Finding, Observations};
use crate::selfcost::Footprint;
use crate::sink::cloudwatch::{self, SinkReport};
use crate::sources::{antivirus, cost_explorer, ecs, guardduty, SourceOutput};
use crate::text::terminal;
use crate::wire::{counted, usd, Api};

/// How a cycle runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Collect and evaluate, but write nothing and notify nobody.
    pub dry_run: bool,
    /// Read every source, daily totals too, whether or not they are due (`run --force`).
    pub force: bool,
    /// The daily series to project with instead of those recorded (`cost --daily-series`).
    pub daily_series: Option<usize>,
}

/// A cycle over every enabled source. A dry run reads everything, as `status` does.
pub async fn run_once(app: &App, now: DateTime<Utc>, dry_run: bool) -> RunReport {
    run_cycle(app, now, Options { dry_run, force: dry_run, daily_series: None }, None).await
}

/// A cycle over some sources only (the daemon's per-source schedules); None = all enabled.
pub async fn run_sources(app: &App, now: DateTime<Utc>, dry_run: bool, only: Option<&[SourceId]>) -> RunReport {
    run_cycle(app, now, Options { dry_run, force: dry_run, daily_series: None }, only).await
}

/// The cycle itself: daily totals only when due (`run::cadence`) unless forced.
pub async fn run_cycle(app: &App, now: DateTime<Utc>, opts: Options, only: Option<&[SourceId]>) -> RunReport {
    let (mut report, requests) = counted(phases(app, now, opts, only)).await;
    report.requests = requests.snapshot();
    report.estimated_usd = usd(&report.requests);
    report
}

/// The phases in order; the caller's scope counts their requests.
async fn phases(app: &App, now: DateTime<Utc>, opts: Options, only: Option<&[SourceId]>) -> RunReport {
    let started = Instant::now();
    let dry_run = opts.dry_run;
    let (mut sources, observations, records) = collect(app, now, opts.force, only).await;
    let (findings, alerts, rule_samples) = evaluate_and_alert(app, &observations, now, dry_run).await;
    let report_day = now.date_naive().pred_opt().expect("a day before today");
    let mut published = publishable(&observations, report_day, &app.config);
    published.extend(rule_samples);
    if !opts.force {
        published.extend(reread(app, now, &records, &mut sources).await);
    }
    let mut report = RunReport {
        started: now,
        report_day,
        dry_run,
        sources,
        datums: 0,
        sink: SinkReport::default(),
        requests: Default::default(),
        estimated_usd: 0.0,
        self_cost: Default::default(),
        rejected: Vec::new(),
        findings,
        alerts,
        published,
        observations,
    };
    publish(app, &mut report, started, &records, opts.daily_series).await;
    report
}

/// Phase 1: every wanted, enabled and due source concurrently; what each delivered, or why not.
async fn collect(
    app: &App,
    now: DateTime<Utc>,
    force: bool,
    only: Option<&[SourceId]>,
) -> (Vec<SourceReport>, Observations, Records) {
    let cfg = &app.config;
    let (today, conc) = (now.date_naive(), cfg.collector.concurrency);
    let configured = |id: SourceId| cfg.source_schedule(id).is_some();
    let enabled = |id: SourceId| only.is_none_or(|o| o.contains(&id)) && configured(id);
    // Every configured daily source's records, also those this run does not read: they carry
    // the daily part of the self-cost projection.
    let daily: Vec<SourceId> = SourceId::ALL.into_iter().filter(|&id| configured(id) && id.is_daily()).collect();
    let records = read_records(app, now, &daily).await;
    let skipped: BTreeMap<SourceId, String> = match force {
        true => BTreeMap::new(),
        false => daily
            .into_iter()
            .filter(|&id| enabled(id))
            .filter_map(|id| Some((id, not_due(app, now, &records, id)?)))
            .collect(),
    };
    let wanted = |id: SourceId| enabled(id) && !skipped.contains_key(&id);
    // What each daily source wrote last time, and so how many new series it may add.
    let baseline = |id: SourceId| records.as_ref().and_then(|r| r.get(&id)?.footprint).map_or(0, |f| f.streams);
    let new_series = |id: SourceId| baseline(id).saturating_add(cfg.collector.max_new_series);
    // Every source starts now: the deadline is the same instant for all of them.
    let secs = cfg.collector.read_deadline_secs;
    let deadline = (tokio::time::Instant::now() + Duration::from_secs(secs), secs);
    let av = timed(wanted(SourceId::Antivirus), SourceId::Antivirus, deadline, async move {
        let c = cfg.antivirus.as_ref().expect("an enabled source is configured");
        let client = app.console().await.map_err(|e| e.to_string())?;
        antivirus::collect(client, c, today, conc, new_series(SourceId::Antivirus)).await.map_err(|e| e.to_string())
    });
    let gd = timed(wanted(SourceId::GuardDuty), SourceId::GuardDuty, deadline, async move {
        let c = cfg.guardduty.as_ref().expect("an enabled source is configured");
        guardduty::collect(&app.clients.guardduty_metrics, c, today, conc).await.map_err(|e| e.to_string())
    });
    let ce = timed(wanted(SourceId::Cost), SourceId::Cost, deadline, async move {
        let c = cfg.cost.as_ref().expect("an enabled source is configured");
        cost_explorer::collect(&app.clients.cost_explorer, c, today).await.map_err(|e| e.to_string())
    });
    let ecs = timed(wanted(SourceId::Ecs), SourceId::Ecs, deadline, async move {
        let c = cfg.ecs.as_ref().expect("an enabled source is configured");
        let clients = ecs::EcsClients { ecs: app.clients.ecs.clone(), autoscaling: app.clients.autoscaling.clone() };
        Ok(ecs::collect(&clients, c, conc).await)
    });
    let cov = timed(wanted(SourceId::Coverage), SourceId::Coverage, deadline, async move {
        let inputs =
            crate::coverage::collect::collect(app, today, crate::coverage::collect::Volumes::Skip, &|_| {}).await?;
        for w in &inputs.warnings {
            tracing::warn!(source = "coverage", warning = %terminal(w), "coverage read in part");
        }
        let rows = crate::coverage::rows(cfg, &inputs);
        Ok(SourceOutput { daily: Vec::new(), gauges: crate::coverage::observations(&rows), problems: inputs.problems })
    });
    // Boxed: the sources' futures nest deep enough to strain the compiler's layout queries.
    let (a, g, c, e, v) = tokio::join!(Box::pin(av), Box::pin(gd), Box::pin(ce), Box::pin(ecs), Box::pin(cov));
    let mut obs = Observations::default();
    let reports = [a, g, c, e, v].into_iter().flatten().map(|(mut rep, out)| {
        if let Some(mut out) = out {
            let known = |k: &SeriesKey| bounds::configured(cfg, k);
            if let Some((dropped, why)) =
                bounds::cap_new_series(&mut out, &known, baseline(rep.source), cfg.collector.max_new_series)
            {
                tracing::warn!(source = rep.source.name(), problem = %why, "series over the bound");
                (rep.series, rep.samples) = (rep.series - dropped, out.samples());
                rep.status = Status::Partial;
                rep.problems.insert(0, why);
            }
            obs.extend(out.daily, out.gauges);
        }
        rep
    });
    let mut reports: Vec<SourceReport> = reports.collect();
    reports.extend(skipped.into_iter().map(|(id, why)| SourceReport::skipped(id, why)));
    reports.sort_by_key(|r| r.source);
    (reports, obs, records)
}

/// What each daily source last published; None when they need not be read (`every_run`, or
/// no daily source) or could not be.
type Records = Option<BTreeMap<SourceId, cadence::Published>>;

async fn read_records(app: &App, now: DateTime<Utc>, daily: &[SourceId]) -> Records {
    let c = &app.config.collector;
    if c.daily_totals == DailyTotals::EveryRun || daily.is_empty() {
        return None;
    }
    match cadence::published(&app.clients.cloudwatch, &c.namespace, daily, now).await {
        Ok(records) => Some(records),
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell which daily totals are published; reading them all");
            None
        }
    }
}

/// Why a daily source is not read this run, or None when it is due. With `daily_totals =
/// "every_run"` it always is; a failed read of the records makes it due too: a run too many
/// costs little, a day not written is lost to Datadog.
fn not_due(app: &App, now: DateTime<Utc>, records: &Records, id: SourceId) -> Option<String> {
    let last = records.as_ref()?.get(&id).map(|p| p.day);
    cadence::not_due(last, now, app.config.collector.settle_hours)
}

/// Phase 1b: between daily runs, the bounded re-read of Cost Explorer's yesterday when it is
/// due (`run::revise`); its requests are on the skipped source's report, its outcome in the
/// reason it was skipped.
async fn reread(app: &App, now: DateTime<Utc>, records: &Records, sources: &mut [SourceReport]) -> Vec<Sample> {
    let Some(cost) = &app.config.cost else { return Vec::new() };
    let Some(rep) = sources.iter_mut().find(|r| r.source == SourceId::Cost && r.status == Status::Skipped) else {
        return Vec::new();
    };
    if !cadence::reread_due(records.as_ref().and_then(|r| r.get(&SourceId::Cost)), now, cost.reread_hours) {
        return Vec::new();
    }
    let res = measured(rep, revise::reread(app, now)).await;
    let why = rep.skipped.take().unwrap_or_default();
    match res {
        Ok(r) => {
            rep.skipped = Some(format!("{why}; {}", r.note));
            r.samples
        }
        Err(e) => {
            tracing::warn!(error = %e, "re-reading Cost Explorer's estimated yesterday failed; the next run tries again");
            rep.skipped = Some(format!("{why}; the re-read of its Estimated totals failed: {e}"));
            Vec::new()
        }
    }
}

/// Runs `fut` in its own counting scope; its requests, their price and its time go on `rep`.
async fn measured<T>(rep: &mut SourceReport, fut: impl Future<Output = T>) -> T {
    let t = Instant::now();
    let (res, requests) = counted(fut).await;
    let requests = requests.snapshot();
    (rep.requests, rep.requests_usd) = (requests.values().sum(), usd(&requests));
    rep.duration_ms = t.elapsed().as_millis() as u64;
    res
}

/// Runs one source (when `wanted`) in its own counting scope and turns its outcome into its
/// report; the data goes on to evaluation.
async fn timed(
    wanted: bool,
    id: SourceId,
    (deadline, secs): (tokio::time::Instant, u64),
    fut: impl Future<Output = Result<SourceOutput, String>>,
) -> Option<(SourceReport, Option<SourceOutput>)> {
    if !wanted {
        return None;
    }
    let mut rep = SourceReport::skipped(id, String::new());
    (rep.status, rep.skipped) = (Status::Ok, None);
    let fut = async {
        tokio::time::timeout_at(deadline, fut).await.unwrap_or_else(|_| Err(bounds::deadline_reached(id, secs)))
    };
    match measured(&mut rep, fut).await {
        Ok(mut out) => {
            rep.series = out.daily.len() + out.gauges.len();
            rep.samples = out.samples();
            rep.latest_day = out.daily.iter().filter_map(|d| d.last_day()).max();
            if !out.problems.is_empty() {
                rep.status = Status::Partial;
            }
            // The first few in the log, each; all of them (bounded by the source) in the report.
            const LOGGED: usize = 5;
            for p in out.problems.iter().take(LOGGED) {
                tracing::warn!(source = id.name(), problem = %terminal(p), "source problem");
            }
            if out.problems.len() > LOGGED {
                let more = out.problems.len() - LOGGED;
                tracing::warn!(source = id.name(), more, "more source problems, in the run's report (--json)");
            }
            rep.problems = std::mem::take(&mut out.problems);
            Some((rep, Some(out)))
        }
        Err(err) => {
            tracing::error!(source = id.name(), error = %terminal(&err), "source failed");
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
async fn publish(app: &App, report: &mut RunReport, started: Instant, records: &Records, given: Option<usize>) {
    let cfg = &app.config;
    let now = report.started;
    report.rejected = cloudwatch::check(&report.published).1;
    report.published.retain(|s| s.value.is_finite());
    for r in &report.rejected {
        tracing::warn!(problem = %terminal(r), "datum refused");
    }
    // What each daily source read completely is recorded as published (`run::cadence`), in a
    // request of its own once every other datum is written: a record must never stand for
    // totals that were lost. Nor for a notification that was not delivered: the next run must
    // evaluate again to retry it.
    // With `every_run` nothing reads the records: none are written.
    let every_run = cfg.collector.daily_totals == DailyTotals::EveryRun;
    let recorded: Vec<SourceId> = match report.dry_run || !report.alerts.ok() || every_run {
        true => Vec::new(),
        false => {
            report.sources.iter().filter(|r| r.status == Status::Ok && r.source.is_daily()).map(|r| r.source).collect()
        }
    };
    let marker_datums: usize = recorded.iter().map(|id| cadence::marker_streams(*id)).sum();
    // The health metrics ride in the same requests, so they state the planned PutMetricData
    // count (retries show in the run report): it must be known before the write that carries it.
    let mut requests = crate::wire::count::current().map(|r| r.snapshot()).unwrap_or_default();
    let (elapsed, failed) = (started.elapsed(), report.alerts.failed);
    let health = Health { api_metrics: cfg.collector.api_metrics, elapsed, notifications_failed: failed };
    let n = report.published.len();
    report.published.extend(health.samples(&report.sources, &requests, 0, 0.0));
    let planned = cloudwatch::batches(&report.published, now).count() + usize::from(marker_datums > 0);
    report.published.truncate(n);
    requests.insert(Api::PutMetricData, planned as u64);
    let total = n + health.samples(&report.sources, &requests, 0, 0.0).len() + marker_datums;
    // The projection counts the health datums too: drafted with it at 0, then priced.
    report.published.extend(health.samples(&report.sources, &requests, total, 0.0));
    let (every_run, daily) = footprints(app, report, &requests, &recorded);
    report.self_cost = project(app, every_run, &daily, records, given);
    let self_cost = report.self_cost.monthly_usd;
    if let Some(s) = report.published.iter_mut().rev().find(|s| s.key.metric == Metric::SelfCostMonthly) {
        s.value = self_cost;
    }
    // Whether Cost Explorer still called the published day Estimated: re-read later if so.
    let estimated = report.published.iter().any(|s| s.key.metric == Metric::Cost && s.day.is_some() && s.estimated);
    let markers: Vec<Sample> = recorded
        .iter()
        .flat_map(|id| cadence::published_markers(*id, report.report_day, daily[id], estimated))
        .collect();
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

/// This run's footprint, split into what every run writes and requests and what each daily
/// source read this run adds once a day (with `daily_totals = "every_run"`, all of it is every
/// run's). Every run's PutMetricData are those its own datums take; the rest are the daily
/// parts', shared by their streams.
fn footprints(
    app: &App,
    report: &RunReport,
    requests: &BTreeMap<Api, u64>,
    recorded: &[SourceId],
) -> (Footprint, BTreeMap<SourceId, Footprint>) {
    let markers: usize = recorded.iter().map(|id| cadence::marker_streams(*id)).sum();
    let streams = report.published.len() + markers;
    if app.config.collector.daily_totals == DailyTotals::EveryRun {
        return (Footprint { streams, requests_usd: usd(requests) }, BTreeMap::new());
    }
    let mut daily: BTreeMap<SourceId, Footprint> = BTreeMap::new();
    for r in report.sources.iter().filter(|r| r.status != Status::Skipped && r.source.is_daily()) {
        let streams = if recorded.contains(&r.source) { cadence::marker_streams(r.source) } else { 0 };
        daily.insert(r.source, Footprint { streams, requests_usd: r.requests_usd });
    }
    // A daily source not read this run writes only what its re-read revised (run::revise):
    // neither every run's nor the daily run's, and projected on its own line.
    let mut own = Vec::new();
    for s in &report.published {
        match crate::selfcost::daily_part(s).map(|id| daily.get_mut(&id)) {
            Some(Some(part)) => part.streams += 1,
            Some(None) => {}
            None => own.push(s.clone()),
        }
    }
    let put = Api::PutMetricData.usd_per_request();
    let own_puts = cloudwatch::batches(&own, report.started).count() as u64;
    let planned = requests.get(&Api::PutMetricData).copied().unwrap_or(0);
    let daily_streams: usize = daily.values().map(|p| p.streams).sum();
    for part in daily.values_mut().filter(|_| daily_streams > 0) {
        part.requests_usd += put * planned.saturating_sub(own_puts) as f64 * part.streams as f64 / daily_streams as f64;
    }
    let mut other = requests.clone();
    other.insert(Api::PutMetricData, own_puts);
    let daily_usd: f64 = report
        .sources
        .iter()
        .filter(|r| daily.contains_key(&r.source) || r.status == Status::Skipped)
        .map(|r| r.requests_usd)
        .sum();
    let every_run = Footprint { streams: own.len(), requests_usd: (usd(&other) - daily_usd).max(0.0) };
    (every_run, daily)
}

/// The month: every run's part from this run, each daily source's from this run when it was
/// read, else from the records of its last daily run. `given` daily series replace the streams
/// so found; a source with no record is then priced at one Cost Explorer page (or no request
/// for the Console and GuardDuty, whose reads cost nothing or ride on GetMetricData) and its
/// PutMetricData share.
fn project(
    app: &App,
    every_run: Footprint,
    read: &BTreeMap<SourceId, Footprint>,
    records: &Records,
    given: Option<usize>,
) -> crate::selfcost::Projection {
    let cfg = &app.config;
    let runs = crate::schedule::runs_per_month(cfg.every_run_schedule()).unwrap_or(0.0);
    let (mut daily, mut unknown, mut unrecorded) = (Footprint::default(), Vec::new(), false);
    if cfg.collector.daily_totals == DailyTotals::Once {
        let daily_sources =
            || SourceId::ALL.into_iter().filter(|&id| cfg.source_schedule(id).is_some() && id.is_daily());
        for id in daily_sources() {
            let recorded = records.as_ref().and_then(|r| r.get(&id)).and_then(|p| p.footprint);
            match (read.get(&id).copied().or(recorded), given) {
                (Some(f), _) => daily.add(f),
                (None, Some(_)) => {
                    unrecorded = true;
                    let pages = if id == SourceId::Cost { 1.0 } else { 0.0 };
                    daily.requests_usd += pages * Api::GetCostAndUsage.usd_per_request();
                }
                (None, None) => unknown.push(id),
            }
        }
        if let Some(n) = given {
            // The given series replace the recorded ones; the records are still written.
            daily.streams = n + daily_sources().map(cadence::marker_streams).sum::<usize>();
            if unrecorded {
                daily.requests_usd += n.div_ceil(1000) as f64 * Api::PutMetricData.usd_per_request();
            }
        }
    }
    let mut p = crate::selfcost::project(runs, every_run, daily, unknown, rereads(cfg, runs));
    p.daily_series_given = given;
    p
}

/// Re-reads of Cost Explorer's yesterday a month (`run::revise`) and the list price of one: at
/// most one every `reread_hours` between the daily run after `settle_hours` and the next (as
/// if CE called yesterday Estimated all day, as it does in an open billing month), each one
/// page, a GetMetricData query per tag value (the configured ones and `untagged`) and a
/// PutMetricData.
fn rereads(cfg: &crate::config::Config, runs_per_month: f64) -> (f64, f64) {
    let Some(c) = cfg.cost.as_ref().filter(|c| c.reread_hours > 0 && cfg.collector.daily_totals == DailyTotals::Once)
    else {
        return (0.0, 0.0);
    };
    let open_hours = 24 - cfg.collector.settle_hours.min(23);
    let a_day =
        f64::from(open_hours.div_ceil(c.reread_hours) - 1).min(runs_per_month / crate::selfcost::price::DAYS_PER_MONTH);
    let each = Api::GetCostAndUsage.usd_per_request()
        + (c.tags.len() + 1) as f64 * crate::selfcost::price::GET_METRIC_DATA_PER_METRIC
        + Api::PutMetricData.usd_per_request();
    (a_day * crate::selfcost::price::DAYS_PER_MONTH, each)
}

/// What is written to CloudWatch: every gauge, and each daily series' total for `report_day`
/// (the previous UTC day), stamped at collection time. So the day a datum belongs to is always
/// the UTC day before its timestamp, and Datadog (which does not backfill) sees every datum.
/// The ECS counts beside the running one are written only with `ecs.task_details`, object
/// counts only with their source's `object_counts` (the rules read the observations either way).
pub fn publishable(obs: &Observations, report_day: NaiveDate, cfg: &crate::config::Config) -> Vec<Sample> {
    let details = cfg.ecs.as_ref().is_some_and(|e| e.task_details);
    let written = |k: &SeriesKey| match k.metric {
        Metric::DesiredTasks | Metric::PendingTasks | Metric::MaxTasks => details,
        // Per bucket only for the coverage rule: the metric is per owner.
        Metric::UnscannedBuckets => k.dim(crate::metrics::DIM_BUCKET).is_none(),
        _ => true,
    };
    let objects = |source: Option<&str>| match source {
        Some(crate::metrics::SOURCE_CONSOLE) => cfg.antivirus.as_ref().is_some_and(|a| a.object_counts),
        _ => cfg.guardduty.as_ref().is_none_or(|g| g.object_counts),
    };
    let mut out = Vec::with_capacity(obs.daily.len() + obs.gauges.len());
    for d in obs.daily.values().filter(|d| d.key.metric != Metric::ScannedObjects || objects(d.key.dim(DIM_SOURCE))) {
        if let Some(v) = d.get(report_day) {
            let mut s = Sample::daily(d.key.clone(), report_day, v);
            s.estimated = d.is_estimated(report_day);
            out.push(s);
        }
    }
    out.extend(obs.gauges.iter().filter(|(k, _)| written(k)).map(|(k, v)| Sample::gauge(k.clone(), *v)));
    out
}

/// The collector's own metrics.
struct Health {
    api_metrics: bool,
    elapsed: Duration,
    notifications_failed: usize,
}

impl Health {
    fn samples(
        &self,
        reports: &[SourceReport],
        requests: &BTreeMap<Api, u64>,
        datums: usize,
        self_cost: f64,
    ) -> Vec<Sample> {
        let mut out = Vec::new();
        // A source not due this run says nothing of its health: its stream stays daily.
        for r in reports.iter().filter(|r| r.status != Status::Skipped) {
            let key = SeriesKey::new(Metric::SourceUp, vec![(DIM_SOURCE, r.source.name().to_string())]);
            out.push(Sample::gauge(key, if r.status == Status::Ok { 1.0 } else { 0.0 }));
        }
        // Two streams per API, each billed every hour: only when asked for.
        for (api, n) in requests.iter().filter(|_| self.api_metrics) {
            let key = |m| SeriesKey::new(m, vec![(DIM_API, api.name().to_string())]);
            out.push(Sample::gauge(key(Metric::ApiRequests), *n as f64));
            out.push(Sample::gauge(key(Metric::ApiCostEstimate), api.usd_per_request() * *n as f64));
        }
        let gauge = |m, v: f64| Sample::gauge(SeriesKey::new(m, vec![]), v);
        out.push(gauge(Metric::DatumsWritten, datums as f64));
        out.push(gauge(Metric::RunDuration, self.elapsed.as_secs_f64()));
        out.push(gauge(Metric::NotificationsFailed, self.notifications_failed as f64));
        out.push(gauge(Metric::SelfCostMonthly, self_cost));
        out
    }
}
