//! CloudWatch custom metrics: samples → datums (pure), then PutMetricData in batches within the
//! API's limits, retrying throttling with jittered exponential backoff. Nothing is dropped
//! silently: every datum not written is counted and its reason reported.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime as ChronoDateTime, Utc};
use serde::Serialize;

use crate::metrics::Unit;
use crate::model::Sample;
use crate::sources::{aws_message, Api, Requests};

pub const MAX_DATUMS_PER_CALL: usize = 1_000;
/// The request limit is 1 MB; keep headroom for the envelope (Action, Version, Namespace).
pub const MAX_BYTES_PER_CALL: usize = 1_000_000 - 4_096;

#[derive(Debug, Default, Clone, Serialize)]
pub struct SinkReport {
    pub written: usize,
    pub failed: usize,
    pub requests: usize,
    pub errors: Vec<String>,
}

fn unit(u: Unit) -> StandardUnit {
    match u {
        Unit::Bytes => StandardUnit::Bytes,
        Unit::Count => StandardUnit::Count,
        Unit::Percent => StandardUnit::Percent,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::None => StandardUnit::None,
    }
}

/// Datums stamped at `now`: Datadog's crawler does not backfill, so an older stamp could never
/// reach it. A daily sample's day is recoverable as the UTC day before its timestamp, because
/// only the previous day's totals are published (see `lib::publishable`).
/// Non-finite values are refused here (CloudWatch rejects the whole request for one NaN).
pub fn to_metric_data(samples: &[Sample], now: ChronoDateTime<Utc>) -> (Vec<MetricDatum>, Vec<String>) {
    let (ok, rejected) = check(samples);
    (ok.iter().map(|s| datum(s, now)).collect(), rejected)
}

/// Splits off the samples CloudWatch would refuse (non-finite values), with the reason.
pub fn check(samples: &[Sample]) -> (Vec<&Sample>, Vec<String>) {
    let mut ok = Vec::with_capacity(samples.len());
    let mut rejected = Vec::new();
    for s in samples {
        if s.value.is_finite() {
            ok.push(s);
        } else {
            rejected.push(format!("{}: value {} is not finite; not written", s.key, s.value));
        }
    }
    (ok, rejected)
}

/// One sample as a datum stamped at `now` (see `to_metric_data`).
pub fn datum(s: &Sample, now: ChronoDateTime<Utc>) -> MetricDatum {
    let def = s.key.metric.def();
    MetricDatum::builder()
        .metric_name(def.name)
        .set_dimensions(Some(s.key.dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(v).build()).collect()))
        .timestamp(DateTime::from_millis(now.timestamp_millis()))
        .value(s.value)
        .unit(unit(def.unit))
        .build()
}

/// An upper bound of a datum's size in the awsQuery form encoding (every value byte counted as
/// a 3-byte percent escape), so batches never cross the 1 MB request limit.
pub fn encoded_size_bound(d: &MetricDatum) -> usize {
    const FIELD: usize = 64; // "MetricData.member.1000.Dimensions.member.30.Value=" and "&"
    let text = |s: Option<&str>| FIELD + 3 * s.map_or(0, str::len);
    let mut n = text(d.metric_name()) + 3 * FIELD + 3 * 32; // timestamp, value, unit
    for dim in d.dimensions() {
        n += text(dim.name()) + text(dim.value());
    }
    n
}

/// Splits into the fewest requests that respect both limits (greedy, order kept).
pub fn batches(datums: Vec<MetricDatum>) -> Vec<Vec<MetricDatum>> {
    let mut out = Vec::with_capacity(datums.len() / MAX_DATUMS_PER_CALL + 1);
    let mut cur = Vec::new();
    let mut bytes = 0;
    for d in datums {
        let size = encoded_size_bound(&d);
        if !cur.is_empty() && (cur.len() == MAX_DATUMS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += size;
        cur.push(d);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The same batches as `batches`, built from samples on demand: a batch exists only once the
/// sender has a slot for it, so a run with 20,000 datums holds a few batches, not all of them.
/// (A named type rather than closures: the daemon's futures must be provably Send.)
pub struct LazyBatches<'a> {
    samples: std::slice::Iter<'a, Sample>,
    now: ChronoDateTime<Utc>,
    next: Option<MetricDatum>,
}

pub fn lazy_batches(samples: &[Sample], now: ChronoDateTime<Utc>) -> LazyBatches<'_> {
    LazyBatches { samples: samples.iter(), now, next: None }
}

impl Iterator for LazyBatches<'_> {
    type Item = Vec<MetricDatum>;

    fn next(&mut self) -> Option<Vec<MetricDatum>> {
        let mut cur = Vec::new();
        let mut bytes = 0;
        loop {
            let d = match self.next.take() {
                Some(d) => d,
                None => match self.samples.next() {
                    Some(s) => datum(s, self.now),
                    None => break,
                },
            };
            let size = encoded_size_bound(&d);
            if !cur.is_empty() && (cur.len() == MAX_DATUMS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
                self.next = Some(d);
                break;
            }
            bytes += size;
            cur.push(d);
        }
        (!cur.is_empty()).then_some(cur)
    }
}

/// How many requests `batches` makes of datums of these sizes (same rule, no copies).
pub fn count_batches(sizes: impl Iterator<Item = usize>) -> usize {
    let (mut n, mut count, mut bytes) = (0, 0, 0);
    for size in sizes {
        if count > 0 && (count == MAX_DATUMS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            n += 1;
            count = 0;
            bytes = 0;
        }
        count += 1;
        bytes += size;
    }
    n + usize::from(count > 0)
}

/// Sends every batch (at most `concurrency` in flight); a batch is retried on throttling and
/// transient errors up to `max_attempts`, then counted as failed.
pub async fn put(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    batches: impl IntoIterator<Item = Vec<MetricDatum>>,
    requests: &Requests,
    concurrency: usize,
    max_attempts: u32,
) -> SinkReport {
    let results = crate::sources::bounded(batches, concurrency, |batch| async move {
        let n = batch.len();
        let mut attempt = 0;
        loop {
            attempt += 1;
            requests.add(Api::PutMetricData);
            // Our loop owns retries, so the count of requests made is exact.
            let res = client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(batch.clone()))
                .customize()
                .config_override(
                    aws_sdk_cloudwatch::config::Builder::default()
                        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            match res {
                Ok(_) => return (n, 0, attempt, None),
                Err(e) if attempt < max_attempts && retryable(&e) => {
                    tokio::time::sleep(crate::backoff(attempt)).await;
                }
                Err(e) => {
                    return (
                        0,
                        n,
                        attempt,
                        Some(format!(
                            "PutMetricData of {n} datums failed after {attempt} attempt(s): {}",
                            aws_message(&e)
                        )),
                    )
                }
            }
        }
    })
    .await;
    let mut report = SinkReport::default();
    for (ok, failed, attempts, err) in results {
        report.written += ok;
        report.failed += failed;
        report.requests += attempts as usize;
        report.errors.extend(err);
    }
    report
}

fn retryable<E>(e: &aws_sdk_cloudwatch::error::SdkError<E, aws_sdk_cloudwatch::config::http::HttpResponse>) -> bool
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata,
{
    use aws_sdk_cloudwatch::error::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(s) => {
            matches!(
                s.err().code(),
                Some("Throttling" | "ThrottlingException" | "ServiceUnavailable" | "InternalServiceError")
            ) || s.raw().status().is_server_error()
        }
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
    use crate::model::SeriesKey;

    fn sample(bucket: String, value: f64) -> Sample {
        Sample::gauge(
            SeriesKey::new(Metric::ScannedBytes, vec![(DIM_SOURCE, "console".into()), (DIM_BUCKET, bucket)]),
            value,
        )
    }

    #[test]
    fn datums_carry_catalogue_name_unit_dimensions_and_the_collection_time() {
        let now: ChronoDateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let (d, rejected) = to_metric_data(&[sample("b-1".into(), 42.0), sample("b-2".into(), f64::NAN)], now);
        assert_eq!(rejected, vec!["ScannedBytes{Bucket=b-2,Source=console}: value NaN is not finite; not written"]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].metric_name(), Some("ScannedBytes"));
        assert_eq!(d[0].unit(), Some(&StandardUnit::Bytes));
        assert_eq!(d[0].value(), Some(42.0));
        assert_eq!(d[0].timestamp().unwrap().secs(), now.timestamp());
        let dims: Vec<_> = d[0].dimensions().iter().map(|x| (x.name().unwrap(), x.value().unwrap())).collect();
        assert_eq!(dims, vec![("Bucket", "b-1"), ("Source", "console")]);
    }

    #[test]
    fn batches_respect_count_and_byte_limits() {
        let now = Utc::now();
        let small: Vec<Sample> = (0..2_500).map(|i| sample(format!("bucket-{i}"), 1.0)).collect();
        let sizes: Vec<usize> = batches(to_metric_data(&small, now).0).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1_000, 1_000, 500]);

        // 1,000-character dimension values: the byte limit binds before the count does.
        let big: Vec<Sample> = (0..1_000).map(|i| sample(format!("{i:01000}"), 1.0)).collect();
        let b = batches(to_metric_data(&big, now).0);
        assert!(b.len() > 1, "expected a split by size, got {} batch(es)", b.len());
        for batch in &b {
            let bytes: usize = batch.iter().map(encoded_size_bound).sum();
            assert!(bytes <= MAX_BYTES_PER_CALL, "{bytes} bytes in one request");
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 1_000);
        let lazy: Vec<usize> = lazy_batches(&big, now).map(|b| b.len()).collect();
        assert_eq!(lazy, b.iter().map(Vec::len).collect::<Vec<_>>());
        let sizes: Vec<usize> = to_metric_data(&big, now).0.iter().map(encoded_size_bound).collect();
        assert_eq!(count_batches(sizes.into_iter()), b.len());
        assert_eq!(count_batches(std::iter::empty()), 0);
    }
}
