//! Phase 3 of a cycle: what is written (each daily total of the report day, every gauge, the
//! rule metrics, the collector's own health), its footprint measured and the month projected
//! (`selfcost`), then the fewest PutMetricData requests, the daily sources' records last.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::cadence;
use super::collect::Records;
use crate::app::App;
use crate::config::DailyTotals;
use crate::metrics::{Metric, DIM_API, DIM_SOURCE};
use crate::model::{Sample, SeriesKey, SourceId};
use crate::outcome::{RunReport, SourceReport, Status};
use crate::rules::Observations;
use crate::selfcost::Footprint;
use crate::sink::cloudwatch;
use crate::text::terminal;
use crate::wire::{usd, Api};

/// Phase 3: the datums and the health metrics, in the fewest PutMetricData requests.
pub(super) async fn publish(
    app: &App,
    report: &mut RunReport,
    started: Instant,
    records: &Records,
    given: Option<usize>,
) {
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
    // A source read every few days is recorded when it read in part too: its next read is days
    // away, and reading what did arrive again every run would cost a full read a run.
    let read = |r: &&crate::outcome::SourceReport| {
        r.status == Status::Ok || (r.status == Status::Partial && cfg.every_days(r.source) > 1)
    };
    let recorded: Vec<SourceId> = match report.dry_run || !report.alerts.ok() || every_run {
        true => Vec::new(),
        false => report.sources.iter().filter(|r| r.source.is_daily()).filter(read).map(|r| r.source).collect(),
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
    let last: BTreeMap<SourceId, Footprint> =
        records.iter().flatten().filter_map(|(id, p)| Some((*id, p.footprint?))).collect();
    report.self_cost = crate::selfcost::month(&app.config, every_run, &daily, &last, cadence::marker_streams, given);
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

/// What is written to CloudWatch: every gauge, and each daily series' total for `report_day`
/// (the previous UTC day), stamped at collection time. So the day a datum belongs to is always
/// the UTC day before its timestamp, and Datadog (which does not backfill) sees every datum.
/// What each source writes is its own call (`Source::publishes`: ECS details, object counts, the
/// per-bucket coverage series); the rules read the observations either way.
pub fn publishable(obs: &Observations, report_day: NaiveDate, cfg: &crate::config::Config) -> Vec<Sample> {
    let written =
        |k: &SeriesKey| crate::sources::owner_of(k).is_none_or(|id| crate::sources::get(id).publishes(cfg, k));
    let mut out = Vec::with_capacity(obs.daily.len() + obs.gauges.len());
    for d in obs.daily.values().filter(|d| written(&d.key)) {
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
