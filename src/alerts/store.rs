//! Where costwarden remembers what it told each team: the `AlertState` metric it writes
//! anyway, read back at the start of the next run. No table, file or bucket to deploy, and the
//! same memory serves separate Lambda invocations and a restarted daemon.
//!
//! ListMetrics finds the series that had a non-OK state in the last two weeks (only those are
//! written, plus one OK datum on recovery); GetMetricData reads the newest datum of each.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::ScanBy;
use chrono::Utc;

use super::state::{parse_rule_dims, AlertKey};
use crate::rules::{Level, Told};
use crate::wire::{aws_message, metric_data};

type Dims = Vec<(String, String)>;

pub async fn read(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    lookback_hours: u32,
    now: chrono::DateTime<Utc>,
    concurrency: usize,
) -> Result<Told, String> {
    let name = crate::metrics::Metric::AlertState.def().name;
    let mut metrics: Vec<Dims> = Vec::new();
    let mut pages = cw.list_metrics().namespace(namespace).metric_name(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("reading alert state (ListMetrics): {}", aws_message(&e)))?;
        for m in page.metrics() {
            metrics.push(
                m.dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap_or("").to_string(), d.value().unwrap_or("").to_string()))
                    .collect(),
            );
        }
    }
    let keyed: Vec<(AlertKey, Vec<(String, String)>)> =
        metrics.into_iter().filter_map(|dims| Some((parse_rule_dims(&dims)?, dims))).collect();
    let start = DateTime::from_secs(now.timestamp() - i64::from(lookback_hours) * 3600);
    let end = DateTime::from_secs(now.timestamp() + 60);
    let queries = keyed
        .iter()
        .enumerate()
        .map(|(i, (_, dims))| {
            metric_data::own_series(i, namespace, name, dims.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        })
        .collect();
    let results = metric_data::read(cw, queries, (start, end), Some(ScanBy::TimestampDescending), concurrency)
        .await
        .map_err(|e| format!("reading alert state (GetMetricData): {e}"))?;
    let mut out = Told::new();
    for (id, values) in results {
        let idx = metric_data::own_series_index(&id);
        if let (Some((key, _)), Some((_, v))) = (idx.and_then(|i| keyed.get(i)), values.first()) {
            // Newest first: the first value seen for a series is its latest state.
            out.entry(key.clone()).or_insert_with(|| Level::from_value(*v));
        }
    }
    Ok(out)
}
