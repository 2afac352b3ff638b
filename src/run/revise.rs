//! The bounded re-read of Cost Explorer's yesterday. CE revises its last days while it marks
//! them Estimated (a few times a day), after the daily run has published them. Between daily
//! runs, every `cost.reread_hours` while yesterday was still Estimated, one GetCostAndUsage over
//! that day alone (not the whole window) and one GetMetricData of what was published of it; a
//! total that changed is published again, once. The rules are not judged again: they need the
//! whole window, which the next daily run reads. A republished datum is still stamped today,
//! so it still means yesterday (`run::publish::publishable`).

use chrono::{DateTime, Utc};

use super::cadence;
use crate::app::App;
use crate::metrics::Metric;
use crate::model::Sample;
use crate::sources::cost_explorer;
use crate::wire::metric_data;

pub struct Revision {
    /// The revised totals and the Estimated record, to write.
    pub samples: Vec<Sample>,
    /// For the summary, e.g. "re-read 2026-12-01 while Estimated: 1 of 3 totals revised".
    pub note: String,
}

pub async fn reread(app: &App, now: DateTime<Utc>) -> Result<Revision, String> {
    let cfg = app.config.cost.as_ref().expect("called only with [cost]");
    let today = now.date_naive();
    let yesterday = crate::model::day_before(today);
    let out = cost_explorer::collect_days(&app.clients.cost_explorer, cfg, yesterday, today)
        .await
        .map_err(|e| e.to_string())?;
    let fresh: Vec<Sample> = out
        .daily
        .iter()
        .filter_map(|d| {
            let mut s = Sample::daily(d.key.clone(), yesterday, d.get(yesterday)?);
            s.estimated = d.is_estimated(yesterday);
            Some(s)
        })
        .collect();
    // What was published of yesterday: the datums stamped today (the daily run's, and any
    // re-read's since), the latest of each.
    let namespace = &app.config.collector.namespace;
    let name = Metric::Cost.def().name;
    let queries = fresh
        .iter()
        .enumerate()
        .map(|(i, s)| metric_data::own_series(i, namespace, name, s.key.dims.iter().map(|(k, v)| (*k, v.as_str()))))
        .collect();
    let midnight = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let window = (
        aws_sdk_cloudwatch::primitives::DateTime::from_secs(midnight.timestamp()),
        aws_sdk_cloudwatch::primitives::DateTime::from_secs(now.timestamp() + 60),
    );
    let conc = app.config.collector.concurrency;
    let results = metric_data::read(&app.clients.cloudwatch, queries, window, None, conc)
        .await
        .map_err(|e| format!("reading what was published of {yesterday} (GetMetricData): {e}"))?;
    let published = metric_data::latest(results, fresh.len());
    let still_estimated = fresh.iter().any(|s| s.estimated);
    let total = fresh.len();
    let mut samples: Vec<Sample> = fresh
        .into_iter()
        .zip(published)
        .filter(|(s, was)| was.is_none_or(|(_, v)| (v - s.value).abs() > 1e-9 * v.abs().max(1.0)))
        .map(|(s, _)| s)
        .collect();
    let note = format!(
        "re-read {yesterday} while Estimated: {} of {total} totals revised{}",
        samples.len(),
        if still_estimated { "" } else { ", now final" }
    );
    samples.push(cadence::estimated_marker(still_estimated));
    Ok(Revision { samples, note })
}
