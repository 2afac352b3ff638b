//! The CloudWatch sink under throttling, against a loopback CloudWatch double (RPC v2 CBOR).

mod support;

use chrono::Utc;
use costwarden::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
use costwarden::model::{Sample, SeriesKey};
use costwarden::sink::cloudwatch;
use costwarden::wire::{counted, Api, Policy};
use support::cloudwatch::CloudWatchDouble;

/// CloudWatch as costwarden builds it (retry policy, counting at the wire), on the double.
async fn client(url: &str, max_attempts: u32) -> aws_sdk_cloudwatch::Client {
    let sdk = support::sdk_config(url).await;
    let policy = Policy { max_attempts, request_timeout: std::time::Duration::from_secs(5) };
    costwarden::Clients::new(&sdk, policy).cloudwatch
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::gauge(
                SeriesKey::new(
                    Metric::ScannedBytes,
                    vec![(DIM_SOURCE, "console".into()), (DIM_BUCKET, format!("b-{i}"))],
                ),
                i as f64,
            )
        })
        .collect()
}

#[tokio::test]
async fn throttled_batches_are_retried_with_backoff_and_all_datums_written() {
    let cw = CloudWatchDouble::start(2).await;
    let samples = samples(1_500);
    let batches: Vec<_> = cloudwatch::batches(&samples, Utc::now()).collect();
    assert_eq!(batches.len(), 2);
    // One batch at a time, so the two throttles hit the same batch.
    let (report, requests) = counted(cloudwatch::put(&client(&cw.url, 5).await, "Costwarden/Test", batches, 1)).await;
    assert_eq!((report.written, report.failed, report.requests), (1_500, 0, 4), "{:?}", report.errors);
    assert!(report.errors.is_empty());
    assert_eq!(*cw.state.requests.lock().unwrap(), 4);
    assert_eq!(cw.state.accepted.lock().unwrap().len(), 1_500);
    assert_eq!(requests.get(Api::PutMetricData), 4);
}

#[tokio::test]
async fn a_batch_still_throttled_after_max_attempts_is_counted_and_reported() {
    let cw = CloudWatchDouble::start(100).await;
    let samples = samples(10);
    let batches = cloudwatch::batches(&samples, Utc::now());
    let report = cloudwatch::put(&client(&cw.url, 3).await, "Costwarden/Test", batches, 1).await;
    assert_eq!((report.written, report.failed, report.requests), (0, 10, 3));
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].starts_with("PutMetricData of 10 datums failed after 3 attempt(s): ")
            && report.errors[0].contains("Throttling"),
        "{}",
        report.errors[0]
    );
}
