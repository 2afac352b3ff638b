//! The CBOR front (tests/support/cbor.rs) translates faithfully: what the current
//! aws-sdk-cloudwatch sends is what moto stores (read back from moto directly, over its own JSON
//! protocol, so a mistranslation cannot cancel itself out on the way back), and what moto answers
//! is what the SDK decodes: values, units, dimensions, timestamps, pagination, an error code.

mod support;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use serde_json::json;
use support::Moto;

const NS: &str = "Costwarden/Front";
/// moto reads the region from the credential scope and checks no signature.
const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x";

/// moto itself over awsJson, bypassing the front.
async fn moto_json(moto: &Moto, op: &str, body: serde_json::Value) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("{}/", moto.direct_url))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("GraniteServiceVersion20100801.{op}"))
        .header("authorization", AUTH)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{op}: {}", r.status());
    r.json().await.unwrap()
}

fn dims() -> Vec<Dimension> {
    vec![
        Dimension::builder().name("Bucket").value("uploads-prod").build(),
        Dimension::builder().name("Source").value("console").build(),
    ]
}

/// Whole seconds a little in the past: moto keeps what it is given, and GetMetricData's window
/// must hold it.
fn stamp() -> i64 {
    (chrono::Utc::now().timestamp() / 60 - 30) * 60
}

#[tokio::test]
async fn a_datum_put_through_the_front_is_stored_and_read_back_unchanged() {
    let moto = Moto::start(&[]).await;
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let t = stamp();
    let datum = MetricDatum::builder()
        .metric_name("ScannedBytes")
        .set_dimensions(Some(dims()))
        .timestamp(DateTime::from_secs(t))
        .value(1234.5)
        .unit(StandardUnit::Bytes)
        .build();
    cw.put_metric_data().namespace(NS).metric_data(datum).send().await.unwrap();

    // What moto stored, asked directly: dimensions, and the value at its timestamp in its unit
    // (moto filters on the unit: a wrong unit finds nothing).
    let listed = moto_json(&moto, "ListMetrics", json!({"Namespace": NS})).await;
    assert_eq!(
        listed["Metrics"],
        json!([{"Namespace": NS, "MetricName": "ScannedBytes",
                "Dimensions": [{"Name": "Bucket", "Value": "uploads-prod"}, {"Name": "Source", "Value": "console"}]}])
    );
    let query = |unit: &str| {
        json!({"MetricDataQueries": [{"Id": "q", "MetricStat": {
            "Metric": {"Namespace": NS, "MetricName": "ScannedBytes",
                       "Dimensions": [{"Name": "Bucket", "Value": "uploads-prod"}, {"Name": "Source", "Value": "console"}]},
            "Period": 60, "Stat": "Maximum", "Unit": unit}}],
            "StartTime": t - 600, "EndTime": t + 600})
    };
    let got = moto_json(&moto, "GetMetricData", query("Bytes")).await;
    assert_eq!(got["MetricDataResults"][0]["Values"], json!([1234.5]), "{got}");
    assert_eq!(got["MetricDataResults"][0]["Timestamps"], json!([t]), "{got}");
    let other = moto_json(&moto, "GetMetricData", query("Count")).await;
    assert_eq!(other["MetricDataResults"][0]["Values"], json!([]), "{other}");

    // And back through the front: the SDK decodes the tagged timestamp and the double.
    let stat = MetricStat::builder()
        .metric(Metric::builder().namespace(NS).metric_name("ScannedBytes").set_dimensions(Some(dims())).build())
        .period(60)
        .stat("Maximum")
        .unit(StandardUnit::Bytes)
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(MetricDataQuery::builder().id("q").metric_stat(stat).build())
        .start_time(DateTime::from_secs(t - 600))
        .end_time(DateTime::from_secs(t + 600))
        .send()
        .await
        .unwrap();
    let r = &out.metric_data_results()[0];
    assert_eq!(r.values(), [1234.5]);
    assert_eq!(r.timestamps(), [DateTime::from_secs(t)]);
}

#[tokio::test]
async fn a_gzipped_put_of_many_datums_arrives_whole_and_listing_pages_through_it() {
    let moto = Moto::start(&[]).await;
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    // 600 series: one request well over the SDK's 10 KiB compression threshold, and more than
    // moto's 500 a ListMetrics page.
    let data: Vec<MetricDatum> = (0..600)
        .map(|i| {
            let bucket = Dimension::builder().name("Bucket").value(format!("bucket-{i:03}")).build();
            MetricDatum::builder()
                .metric_name("ScannedBytes")
                .dimensions(bucket)
                .value(i as f64)
                .unit(StandardUnit::Bytes)
                .build()
        })
        .collect();
    cw.put_metric_data().namespace(NS).set_metric_data(Some(data)).send().await.unwrap();

    let mut pages = cw.list_metrics().namespace(NS).into_paginator().send();
    let (mut n_pages, mut buckets) = (0, Vec::new());
    while let Some(page) = pages.next().await {
        n_pages += 1;
        for m in page.unwrap().metrics() {
            buckets.push(m.dimensions()[0].value().unwrap().to_string());
        }
    }
    buckets.sort();
    buckets.dedup();
    assert_eq!(n_pages, 2);
    assert_eq!(buckets.len(), 600);
    assert_eq!((buckets[0].as_str(), buckets[599].as_str()), ("bucket-000", "bucket-599"));

    // The gzip path by hand, whatever the SDK's threshold: a gzipped CBOR body is unpacked.
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.into());
    let body = Value::Map(vec![
        (text("Namespace"), text(NS)),
        (
            text("MetricData"),
            Value::Array(vec![Value::Map(vec![
                (text("MetricName"), text("ByHand")),
                (text("Value"), Value::Float(7.0)),
            ])]),
        ),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &support::cbor::encode(&body)).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/service/GraniteServiceVersion20100801/operation/PutMetricData", moto.url))
        .header("content-type", "application/cbor")
        .header("content-encoding", "gzip")
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("authorization", AUTH)
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.bytes().await);
    let listed = moto_json(&moto, "ListMetrics", json!({"Namespace": NS, "MetricName": "ByHand"})).await;
    assert_eq!(listed["Metrics"].as_array().map(Vec::len), Some(1), "{listed}");
}

#[tokio::test]
async fn a_modelled_error_reaches_the_sdk_with_its_code_and_message() {
    let moto = Moto::start(&[]).await;
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let err = cw.list_metrics().namespace(NS).next_token("no-such-token").send().await.unwrap_err();
    let service = err.as_service_error().expect("a service error");
    assert!(service.is_invalid_parameter_value_exception(), "{service:?}");
    assert_eq!(aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(service), Some("InvalidParameterValue"));
    assert_eq!(
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::message(service),
        Some("Request parameter NextToken is invalid")
    );
}
