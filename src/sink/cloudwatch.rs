//! CloudWatch custom metrics: samples → datums (pure), then PutMetricData in batches within the
//! API's limits; the client retries throttling under the one policy (`wire::retry`). Nothing is dropped
//! silently: every datum not written is counted and its reason reported.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime as ChronoDateTime, Utc};
use serde::Serialize;

use crate::metrics::Unit;
use crate::model::Sample;
use crate::wire::{aws_message, bounded, counted, Api};

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

impl SinkReport {
    /// Adds the outcome of a further write to this one.
    pub fn absorb(&mut self, other: SinkReport) {
        self.written += other.written;
        self.failed += other.failed;
        self.requests += other.requests;
        self.errors.extend(other.errors);
    }
}

fn unit(u: Unit) -> StandardUnit {
    match u {
        Unit::Bytes => StandardUnit::Bytes,
        Unit::Count => StandardUnit::Count,
        Unit::Percent => StandardUnit::Percent,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::Usd | Unit::UsdPerGb | Unit::None => StandardUnit::None,
    }
}

/// Splits off the samples CloudWatch would refuse, with the reason: a non-finite value, or a
/// dimension value outside CloudWatch's limits (`text::dimension_value`). Either would fail
/// the whole request it sat in, and every datum with it; refused here, it is lost alone.
pub fn check(samples: &[Sample]) -> (Vec<&Sample>, Vec<String>) {
    let mut ok = Vec::with_capacity(samples.len());
    let mut rejected = Vec::new();
    for s in samples {
        let bad_dim = s.key.dims.iter().find_map(|(n, v)| crate::text::dimension_value(v).err().map(|e| (n, e)));
        match bad_dim {
            Some((name, why)) => {
                rejected.push(format!("{} with dimension {name} = {why}; not written", s.key.metric.def().name))
            }
            None if !s.value.is_finite() => {
                rejected.push(format!("{}: value {} is not finite; not written", s.key, s.value))
            }
            None => ok.push(s),
        }
    }
    (ok, rejected)
}

/// One sample as a datum stamped at `now`: Datadog's crawler does not backfill, so an older
/// stamp could never reach it. A daily sample's day is recoverable as the UTC day before its
/// timestamp, because only the previous day's totals are published (`run::publish::publishable`).
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

/// An upper bound of a datum's size on the wire, so batches never cross the 1 MB request limit:
/// sized for the awsQuery form encoding (every value byte a 3-byte percent escape), which is
/// larger than the same datum in RPC v2 CBOR (names and values as raw text, small headers).
pub fn encoded_size_bound(d: &MetricDatum) -> usize {
    const FIELD: usize = 64; // "MetricData.member.1000.Dimensions.member.30.Value=" and "&"
    let text = |s: Option<&str>| FIELD + 3 * s.map_or(0, str::len);
    let mut n = text(d.metric_name()) + 3 * FIELD + 3 * 32; // timestamp, value, unit
    for dim in d.dimensions() {
        n += text(dim.name()) + text(dim.value());
    }
    n
}

/// The fewest requests that respect both limits (greedy, order kept), built from samples on
/// demand: a batch exists only once the sender has a slot for it, so a run with 20,000 datums
/// holds a few batches, not all of them. `.count()` is the number of PutMetricData requests a
/// write will make. (A named type rather than closures: the daemon's futures must be Send.)
pub struct Batches<'a> {
    samples: std::slice::Iter<'a, Sample>,
    now: ChronoDateTime<Utc>,
    next: Option<MetricDatum>,
}

pub fn batches(samples: &[Sample], now: ChronoDateTime<Utc>) -> Batches<'_> {
    Batches { samples: samples.iter(), now, next: None }
}

impl Iterator for Batches<'_> {
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

/// Sends every batch (at most `concurrency` in flight). Throttling and transient errors are
/// retried by the client's policy (`wire::retry`); a batch that still fails is counted as
/// failed, with the attempts it took as counted at the wire.
pub async fn put(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    batches: impl IntoIterator<Item = Vec<MetricDatum>>,
    concurrency: usize,
) -> SinkReport {
    let results = bounded(batches, concurrency, |batch| async move {
        let n = batch.len();
        let (res, sent) =
            counted(client.put_metric_data().namespace(namespace).set_metric_data(Some(batch)).send()).await;
        let attempts = sent.get(Api::PutMetricData);
        let error = res
            .err()
            .map(|e| format!("PutMetricData of {n} datums failed after {attempts} attempt(s): {}", aws_message(&e)));
        (n, attempts, error)
    })
    .await;
    let mut report = SinkReport::default();
    for (n, attempts, error) in results {
        report.requests += attempts as usize;
        match error {
            None => report.written += n,
            Some(e) => {
                report.failed += n;
                report.errors.push(e);
            }
        }
    }
    report
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
        let samples = [sample("b-1".into(), 42.0), sample("b-2".into(), f64::NAN)];
        let (ok, rejected) = check(&samples);
        assert_eq!(rejected, vec!["ScannedBytes{Bucket=b-2,Source=console}: value NaN is not finite; not written"]);
        let d: Vec<MetricDatum> = ok.iter().map(|s| datum(s, now)).collect();
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
        let sizes: Vec<usize> = batches(&small, now).map(|b| b.len()).collect();
        assert_eq!(sizes, vec![1_000, 1_000, 500]);

        // 1,000-character dimension values: the byte limit binds before the count does.
        let big: Vec<Sample> = (0..1_000).map(|i| sample(format!("{i:01000}"), 1.0)).collect();
        let b: Vec<Vec<MetricDatum>> = batches(&big, now).collect();
        assert!(b.len() > 1, "expected a split by size, got {} batch(es)", b.len());
        for batch in &b {
            let bytes: usize = batch.iter().map(encoded_size_bound).sum();
            assert!(bytes <= MAX_BYTES_PER_CALL, "{bytes} bytes in one request");
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 1_000);
        assert_eq!(batches(&big, now).count(), b.len());
        assert_eq!(batches(&[], now).count(), 0);
    }
}
