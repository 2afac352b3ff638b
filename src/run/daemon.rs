//! `costwarden daemon`: the collection on cron schedules (tokio-cron-scheduler, seconds first).
//! Sources may have their own schedule (costs daily, ECS every few minutes); sources sharing a
//! schedule run in one cycle. A tick that finds a run still going is skipped and logged, so two
//! runs never overlap. SIGTERM / SIGINT let the current run finish, then the daemon exits.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::App;
use crate::model::SourceId;
use crate::run::cycle::run_sources;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("signal handler: {0}")]
    // Not a `source`: the reason is in the message already, and anyhow's chain would repeat it.
    Signal(std::io::Error),
}

/// Enabled sources grouped by their schedule (their own, else `collector.schedule`).
pub fn schedules(app: &App) -> BTreeMap<String, Vec<SourceId>> {
    let mut out: BTreeMap<String, Vec<SourceId>> = BTreeMap::new();
    for id in SourceId::ALL {
        if let Some(expr) = app.config.source_schedule(id) {
            out.entry(expr.to_string()).or_default().push(id);
        }
    }
    out
}

/// How long a tick waits for a `costwarden run` on this host to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The heartbeat `costwarden health` reads; a failure to write it is logged, never fatal.
fn beat(app: &App, ok: Option<bool>, stopped: bool) {
    let path = super::health::path_for(&app.config.collector.namespace);
    if let Err(e) = super::health::record(&path, &super::health::Beat { at: Utc::now(), ok, stopped }) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the heartbeat");
    }
}

pub async fn run(app: Arc<App>) -> Result<(), Error> {
    let sched_err = |e: tokio_cron_scheduler::JobSchedulerError| Error::Scheduler(e.to_string());
    let mut scheduler = JobScheduler::new().await.map_err(sched_err)?;
    let busy = Arc::new(tokio::sync::Mutex::new(()));
    for (expr, sources) in schedules(&app) {
        let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
        tracing::info!(schedule = %expr, sources = ?names, "scheduled");
        let (app, busy, expr2) = (app.clone(), busy.clone(), expr.clone());
        let job = Job::new_async(expr.as_str(), move |_, _| {
            let (app, busy, sources, expr) = (app.clone(), busy.clone(), sources.clone(), expr2.clone());
            Box::pin(async move {
                let Ok(_running) = busy.try_lock() else {
                    tracing::warn!(schedule = %expr, "tick skipped: the previous run is still going");
                    return;
                };
                // And no `costwarden run` on this host at the same time (run::lock).
                let path = super::lock::path_for(&app.config.collector.namespace);
                let _host = match super::lock::acquire(&path, LOCK_WAIT).await {
                    Ok(lock) => lock,
                    Err(e) => {
                        tracing::warn!(schedule = %expr, error = %e, "tick skipped");
                        return;
                    }
                };
                let report = run_sources(&app, Utc::now(), false, Some(&sources)).await;
                beat(&app, Some(report.ok()), false);
                if report.ok() {
                    tracing::info!(schedule = %expr, datums = report.sink.written, transitions = report.alerts.transitions.len(), "run finished");
                } else {
                    tracing::error!(schedule = %expr, summary = %crate::report::human(&report), "run failed");
                }
            })
        })
        .map_err(sched_err)?;
        scheduler.add(job).await.map_err(sched_err)?;
    }
    scheduler.start().await.map_err(sched_err)?;
    beat(&app, None, false);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(Error::Signal)?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping after the current run"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping after the current run"),
    }
    scheduler.shutdown().await.map_err(sched_err)?;
    // Holding the lock until exit also turns away a tick that fired during shutdown.
    let _last = busy.lock().await;
    // `health` fails at once from here, not two intervals later.
    beat(&app, None, true);
    tracing::info!("stopped");
    Ok(())
}
