//! Phase 1 of a cycle: every wanted, enabled and due source at once, each in its own counting
//! scope and under the run's read deadline, each may fail alone; the series a source may add
//! bounded (`bounds`); between daily runs, the re-read of Cost Explorer's Estimated yesterday.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{bounds, cadence, revise};
use crate::app::App;
use crate::config::DailyTotals;
use crate::model::{Sample, SeriesKey, SourceId};
use crate::outcome::{SourceReport, Status};
use crate::rules::Observations;
use crate::sources::{self, Context, SourceOutput};
use crate::text::terminal;
use crate::wire::{counted, usd};

/// Phase 1: every wanted, enabled and due source concurrently; what each delivered, or why not.
pub(super) async fn collect(
    app: &App,
    now: DateTime<Utc>,
    force: bool,
    only: Option<&[SourceId]>,
) -> (Vec<SourceReport>, Observations, Records) {
    let cfg = &app.config;
    let today = now.date_naive();
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
    let reads = sources::ALL.iter().filter(|s| wanted(s.id())).map(|&source| {
        let ctx =
            Context { config: cfg, clients: &app.clients, console: app, today, new_series: new_series(source.id()) };
        // Boxed: the sources' futures nest deep enough to strain the compiler's layout queries.
        Box::pin(async move { timed(source.id(), deadline, source.read(&ctx)).await })
    });
    let read = futures::future::join_all(reads).await;
    let mut obs = Observations::default();
    let runs = crate::schedule::runs_per_month(cfg.every_run_schedule()).unwrap_or(0.0);
    let datadog = (cfg.datadog.reading, runs);
    let reports = read.into_iter().map(|(mut rep, out)| {
        if let Some(mut out) = out {
            let known = |k: &SeriesKey| bounds::configured(cfg, k);
            if let Some((dropped, why)) =
                bounds::cap_new_series(&mut out, &known, baseline(rep.source), cfg.collector.max_new_series, datadog)
            {
                tracing::warn!(source = rep.source.name(), problem = %why, "series over the bound");
                (rep.series, rep.samples) = (rep.series - dropped, out.samples());
                rep.status = Status::Partial;
                rep.problems.insert(0, why);
            }
            obs.extend(out.daily, out.gauges);
            obs.scan_types.extend(out.scan_types.into_iter().filter(|(k, _)| obs.daily.contains_key(k)));
        }
        rep
    });
    let mut reports: Vec<SourceReport> = reports.collect();
    // The cost per GB scanned from this run's cost and volumes, when each scanning source read
    // completely (a missing bucket would make it jump).
    let scanning = [SourceId::Antivirus, SourceId::GuardDuty];
    if reports.iter().filter(|r| scanning.contains(&r.source)).all(|r| r.status == Status::Ok) {
        let derived = crate::alerts::explain::cost_per_gb_series(cfg, &obs);
        obs.extend(derived, Vec::new());
    }
    // The cost's why: which services' agents ran more. Read with the cost (once a day), on its
    // report and in its count.
    let ecs = cfg.ecs.as_ref().filter(|e| e.enabled && !e.services.is_empty());
    if let (Some(e), Some(cost)) =
        (ecs, reports.iter_mut().find(|r| r.source == SourceId::Cost && r.status == Status::Ok))
    {
        let last = crate::model::day_before(today);
        let (read, requests) =
            counted(sources::ecs::task_hours(&app.clients.cloudwatch, &cfg.collector.namespace, e, last)).await;
        let requests = requests.snapshot();
        cost.requests += requests.values().sum::<u64>();
        cost.requests_usd += usd(&requests);
        match read {
            Ok(hours) => obs.task_hours.extend(hours.into_iter().map(|d| (d.key.clone(), d))),
            Err(e) => tracing::warn!(error = %terminal(&e), "no ECS task-hours for the cost's why"),
        }
    }
    reports.extend(skipped.into_iter().map(|(id, why)| SourceReport::skipped(id, why)));
    reports.sort_by_key(|r| r.source);
    (reports, obs, records)
}

/// What each daily source last published; None when they need not be read (`every_run`, or
/// no daily source) or could not be.
pub(super) type Records = Option<BTreeMap<SourceId, cadence::Published>>;

async fn read_records(app: &App, now: DateTime<Utc>, daily: &[SourceId]) -> Records {
    let c = &app.config.collector;
    if c.daily_totals == DailyTotals::EveryRun || daily.is_empty() {
        return None;
    }
    let back_days = daily.iter().map(|id| i64::from(app.config.every_days(*id)) + 1).max().unwrap_or(2).max(2);
    match cadence::published(&app.clients.cloudwatch, &c.namespace, daily, now, back_days).await {
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
    cadence::not_due(last, now, app.config.collector.settle_hours, app.config.every_days(id))
}

/// Phase 1b: between daily runs, the bounded re-read of Cost Explorer's yesterday when it is
/// due (`run::revise`); its requests are on the skipped source's report, its outcome in the
/// reason it was skipped.
pub(super) async fn reread(
    app: &App,
    now: DateTime<Utc>,
    records: &Records,
    sources: &mut [SourceReport],
) -> Vec<Sample> {
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

/// Runs one source in its own counting scope and turns its outcome into its
/// report; the data goes on to evaluation.
async fn timed(
    id: SourceId,
    (deadline, secs): (tokio::time::Instant, u64),
    fut: impl Future<Output = Result<SourceOutput, String>>,
) -> (SourceReport, Option<SourceOutput>) {
    let mut rep = SourceReport::read(id);
    let fut = async {
        tokio::time::timeout_at(deadline, fut).await.unwrap_or_else(|_| Err(bounds::deadline_reached(id, secs)))
    };
    match measured(&mut rep, fut).await {
        Ok(mut out) => {
            rep.series = out.daily.len() + out.gauges.len();
            rep.samples = out.samples();
            rep.latest_day = out.daily.iter().filter_map(|d| d.last_day()).max();
            rep.requests_usd += out.billed_usd;
            // Problems and nothing read (every call of ECS failed, say) is a failure, not a part.
            if !out.problems.is_empty() {
                rep.status = if rep.samples == 0 { Status::Failed } else { Status::Partial };
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
            (rep, Some(out))
        }
        Err(err) => {
            tracing::error!(source = id.name(), error = %terminal(&err), "source failed");
            rep.status = Status::Failed;
            rep.error = Some(err);
            (rep, None)
        }
    }
}
