//! One cycle, in three phases: **collect** (`collect`: every wanted source that is due, at once,
//! each may fail alone; daily totals once a day, see `cadence`), **evaluate and alert** (here:
//! the pure rules, then what changed is told to its team), **publish** (`publish`: one write of
//! the datums, the health metrics riding in the same requests). Every request of
//! the cycle is counted at the wire inside the cycle's scope (`wire::count`).

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{collect, publish};
use crate::alerts::deliver::{self, AlertReport};
use crate::alerts::route;
use crate::app::App;
use crate::model::{Sample, SourceId};
use crate::outcome::RunReport;
use crate::rules::{self, Finding, Observations};
use crate::sink::cloudwatch::SinkReport;
use crate::wire::{counted, usd};

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
    // Boxed: a cycle's future nests the SDK's deep ones; inline in a caller's it passed rustc's
    // layout depth limit on a clean build (CI, 2026-12-06). The heap frame starts a new count.
    let (mut report, requests) = Box::pin(counted(phases(app, now, opts, only))).await;
    report.requests = requests.snapshot();
    report.estimated_usd = usd(&report.requests);
    report
}

/// The phases in order; the caller's scope counts their requests.
async fn phases(app: &App, now: DateTime<Utc>, opts: Options, only: Option<&[SourceId]>) -> RunReport {
    let started = Instant::now();
    let dry_run = opts.dry_run;
    let (mut sources, observations, records) = collect::collect(app, now, opts.force, only).await;
    let (findings, alerts, rule_samples) = evaluate_and_alert(app, &observations, now, dry_run).await;
    let report_day = crate::model::day_before(now.date_naive());
    let mut published = publish::publishable(&observations, report_day, &app.config);
    published.extend(rule_samples);
    if !opts.force {
        published.extend(collect::reread(app, now, &records, &mut sources).await);
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
        digest: None,
        published,
        observations,
    };
    publish::publish(app, &mut report, started, &records, opts.daily_series).await;
    // Last: the week's digests read what this run wrote. A dry run sends none.
    if !dry_run && app.config.digest.is_some() {
        let d =
            crate::digest::send::run(&app.config, &app.clients, &app.digest_sent, now, None, Default::default()).await;
        for e in &d.errors {
            tracing::error!(error = %crate::text::terminal(e), "digest not sent; tried again next run");
        }
        report.digest = (!d.sent.is_empty() || !d.errors.is_empty()).then_some(d);
    }
    report
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
    let (alerts, rule_samples) = deliver::notify_transitions(cfg, &app.clients, (&findings, obs), told, now).await;
    tracing::debug!(transitions = alerts.transitions.len(), ms = phase.elapsed().as_millis() as u64, "alerted");
    (findings, alerts, rule_samples)
}
