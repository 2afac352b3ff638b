//! The one GetMetricData reader (GuardDuty's metrics, the alert state): at most 500 queries a
//! call, at most `concurrency` calls in flight, every page through the SDK's paginator.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};

use super::{aws_message, bounded};

/// The start of a UTC day, as a GetMetricData window's bound.
pub fn midnight(d: chrono::NaiveDate) -> DateTime {
    DateTime::from_secs(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp())
}

/// GetMetricData accepts at most 500 queries per call.
pub const QUERIES_PER_CALL: usize = 500;

/// Query `s{index}`: the per-minute Maximum of one of costwarden's own series, for reading a
/// value it wrote back (the alert state, what was published).
pub fn own_series<'a>(
    index: usize,
    namespace: &str,
    name: &str,
    dims: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> MetricDataQuery {
    own_series_by(index, namespace, name, dims, (60, "Maximum"))
}

/// `own_series` with `stat` over each `period` seconds (86,400, "Maximum": a value a UTC day).
/// The dimensions go in the order costwarden writes them (`SeriesKey`'s, by name): CloudWatch
/// does not mind the order, moto matches it.
pub fn own_series_by<'a>(
    index: usize,
    namespace: &str,
    name: &str,
    dims: impl IntoIterator<Item = (&'a str, &'a str)>,
    (period, stat): (i32, &str),
) -> MetricDataQuery {
    let mut dims: Vec<(&str, &str)> = dims.into_iter().collect();
    dims.sort();
    let dims = dims.into_iter().map(|(k, v)| Dimension::builder().name(k).value(v).build());
    let metric = Metric::builder().namespace(namespace).metric_name(name).set_dimensions(Some(dims.collect())).build();
    MetricDataQuery::builder()
        .id(format!("s{index}"))
        .metric_stat(MetricStat::builder().metric(metric).period(period).stat(stat).build())
        .build()
}

/// The index of a query made by `own_series`, from the id of its result.
pub fn own_series_index(id: &str) -> Option<usize> {
    id.strip_prefix('s')?.parse().ok()
}

/// The latest (timestamp, value) of each of `n` queries made by `own_series`, by index; None
/// where CloudWatch holds nothing in the window.
pub fn latest(results: Vec<(String, Vec<(i64, f64)>)>, n: usize) -> Vec<Option<(i64, f64)>> {
    let mut out = vec![None; n];
    for (id, values) in results {
        let Some(slot) = own_series_index(&id).and_then(|i| out.get_mut(i)) else { continue };
        for (t, v) in values {
            if slot.is_none_or(|(at, _)| t >= at) {
                *slot = Some((t, v));
            }
        }
    }
    out
}

/// Every result of `queries` as (id, [(timestamp, value)]), in the order CloudWatch returns them.
pub async fn read(
    client: &aws_sdk_cloudwatch::Client,
    queries: Vec<MetricDataQuery>,
    (start, end): (DateTime, DateTime),
    scan_by: Option<ScanBy>,
    concurrency: usize,
) -> Result<Vec<(String, Vec<(i64, f64)>)>, String> {
    // Owned chunks: futures borrowing them trip the compiler's Send check in the daemon.
    let chunks: Vec<Vec<MetricDataQuery>> = queries.chunks(QUERIES_PER_CALL).map(<[_]>::to_vec).collect();
    let answers = bounded(chunks, concurrency, |chunk| {
        let scan_by = scan_by.clone();
        async move {
            let mut pages = client
                .get_metric_data()
                .set_metric_data_queries(Some(chunk))
                .start_time(start)
                .end_time(end)
                .set_scan_by(scan_by)
                .into_paginator()
                .send();
            let mut out: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_message(&e))?;
                for r in page.metric_data_results() {
                    let values = r.timestamps().iter().map(|t| t.secs()).zip(r.values().iter().copied()).collect();
                    out.push((r.id().unwrap_or_default().to_string(), values));
                }
            }
            Ok::<_, String>(out)
        }
    })
    .await;
    let mut results = Vec::new();
    for a in answers {
        results.extend(a?);
    }
    Ok(results)
}
