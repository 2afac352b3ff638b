//! Where costwarden remembers what it told each team: the `AlertState` metric it writes
//! anyway, read back at the start of the next run. No table, file or bucket to deploy, and the
//! same memory serves separate Lambda invocations and a restarted daemon.
//!
//! ListMetrics finds the series that had a non-OK state in the last two weeks (only those are
//! written, plus one OK datum on recovery); GetMetricData reads the newest datum of each.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat, ScanBy};
use chrono::Utc;

use super::state::{parse_rule_dims, AlertKey};
use crate::rules::Level;
use crate::sources::{aws_message, bounded, Api, Requests};

type Dims = Vec<(String, String)>;

pub async fn read(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    lookback_hours: u32,
    now: chrono::DateTime<Utc>,
    requests: &Requests,
    concurrency: usize,
) -> Result<BTreeMap<AlertKey, Level>, String> {
    let name = crate::metrics::Metric::AlertState.def().name;
    let mut metrics: Vec<Dims> = Vec::new();
    let mut token = None;
    loop {
        requests.add(Api::ListMetrics);
        let page = cw
            .list_metrics()
            .namespace(namespace)
            .metric_name(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("reading alert state (ListMetrics): {}", aws_message(&e)))?;
        for m in page.metrics() {
            metrics.push(
                m.dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap_or("").to_string(), d.value().unwrap_or("").to_string()))
                    .collect(),
            );
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let keyed: Vec<(AlertKey, Vec<(String, String)>)> =
        metrics.into_iter().filter_map(|dims| Some((parse_rule_dims(&dims)?, dims))).collect();
    let start = DateTime::from_secs(now.timestamp() - i64::from(lookback_hours) * 3600);
    let end = DateTime::from_secs(now.timestamp() + 60);
    // Owned chunks: futures borrowing them trip the compiler's Send check in the daemon.
    let chunks: Vec<Vec<(usize, Dims)>> = keyed
        .iter()
        .map(|(_, d)| d.clone())
        .enumerate()
        .collect::<Vec<_>>()
        .chunks(crate::sources::guardduty::QUERIES_PER_CALL)
        .map(<[_]>::to_vec)
        .collect();
    let answers = bounded(chunks, concurrency, |chunk| async move {
        let queries: Vec<MetricDataQuery> = chunk
            .iter()
            .map(|(i, dims)| {
                let metric = CwMetric::builder()
                    .namespace(namespace)
                    .metric_name(name)
                    .set_dimensions(Some(
                        dims.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect(),
                    ))
                    .build();
                MetricDataQuery::builder()
                    .id(format!("s{i}"))
                    .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
                    .build()
            })
            .collect();
        let mut newest: Vec<(usize, f64)> = Vec::new();
        let mut token = None;
        loop {
            requests.add(Api::GetMetricData);
            let page = cw
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(start)
                .end_time(end)
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("reading alert state (GetMetricData): {}", aws_message(&e)))?;
            for r in page.metric_data_results() {
                let idx = r.id().and_then(|id| id.strip_prefix('s')).and_then(|i| i.parse().ok());
                if let (Some(i), Some(v)) = (idx, r.values().first()) {
                    // Newest first: the first value seen for a series is its latest state.
                    if !newest.iter().any(|(j, _)| *j == i) {
                        newest.push((i, *v));
                    }
                }
            }
            match page.next_token().filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t.to_string()),
                None => return Ok::<_, String>(newest),
            }
        }
    })
    .await;
    let mut out = BTreeMap::new();
    for a in answers {
        for (i, v) in a? {
            out.insert(keyed[i].0.clone(), Level::from_value(v));
        }
    }
    Ok(out)
}
