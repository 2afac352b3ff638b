//! The CloudWatch sink under throttling, against a loopback awsQuery double.

mod support;

use chrono::Utc;
use costwarden::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
use costwarden::model::{Sample, SeriesKey};
use costwarden::sink::cloudwatch;
use costwarden::sources::{Api, Requests};
use support::cloudwatch::CloudWatchDouble;

async fn client(url: &str) -> aws_sdk_cloudwatch::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("t", "t", None, None, "t"))
        .load()
        .await;
    aws_sdk_cloudwatch::Client::new(&sdk)
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
    let (datums, _) = cloudwatch::to_metric_data(&samples(1_500), Utc::now());
    let batches = cloudwatch::batches(datums);
    assert_eq!(batches.len(), 2);
    let requests = Requests::default();
    // One batch at a time, so the two throttles hit the same batch.
    let report = cloudwatch::put(&client(&cw.url).await, "Costwarden/Test", batches, &requests, 1, 5).await;
    assert_eq!((report.written, report.failed, report.requests), (1_500, 0, 4), "{:?}", report.errors);
    assert!(report.errors.is_empty());
    assert_eq!(*cw.state.requests.lock().unwrap(), 4);
    assert_eq!(cw.state.accepted.lock().unwrap().len(), 1_500);
    assert_eq!(requests.snapshot().get(&Api::PutMetricData), Some(&4));
}

#[tokio::test]
async fn a_batch_still_throttled_after_max_attempts_is_counted_and_reported() {
    let cw = CloudWatchDouble::start(100).await;
    let (datums, _) = cloudwatch::to_metric_data(&samples(10), Utc::now());
    let report = cloudwatch::put(
        &client(&cw.url).await,
        "Costwarden/Test",
        cloudwatch::batches(datums),
        &Requests::default(),
        1,
        3,
    )
    .await;
    assert_eq!((report.written, report.failed, report.requests), (0, 10, 3));
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].starts_with("PutMetricData of 10 datums failed after 3 attempt(s): ")
            && report.errors[0].contains("Throttling"),
        "{}",
        report.errors[0]
    );
}
