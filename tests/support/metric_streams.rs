//! A loopback double of CloudWatch's metric streams, which moto lacks (the CBOR front answers
//! them in moto's place): ListMetricStreams (`Entries`, `MaxResults` default 100, `NextToken`)
//! and GetMetricStream by `Name`, ResourceNotFoundException for another, as CloudWatch's
//! Smithy RPC v2 CBOR replies.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

pub const OPERATIONS: [&str; 2] = ["ListMetricStreams", "GetMetricStream"];

/// A stream as GetMetricStream describes it: `state` "running" or "stopped", the namespaces it
/// includes (none: every namespace).
pub fn stream(name: &str, state: &str, namespaces: &[&str]) -> Value {
    let filters: Vec<Value> = namespaces.iter().map(|n| json!({"Namespace": n})).collect();
    json!({
        "Arn": format!("arn:aws:cloudwatch:us-east-1:123456789012:metric-stream/{name}"),
        "Name": name,
        "IncludeFilters": filters,
        "FirehoseArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/costwarden-to-datadog",
        "RoleArn": "arn:aws:iam::123456789012:role/costwarden-metric-stream",
        "State": state,
        "CreationDate": 1_764_000_000,
        "LastUpdateDate": 1_764_000_000,
        "OutputFormat": "opentelemetry0.7",
    })
}

pub fn answer(streams: &[Value], op: &str, input: &Value) -> Response {
    let reply = |body: &Value| super::cbor::reply(StatusCode::OK, &super::cbor::to_cbor(None, body), None);
    if op == "GetMetricStream" {
        let name = input["Name"].as_str().unwrap_or("");
        return match streams.iter().find(|s| s["Name"] == name) {
            Some(s) => reply(s),
            None => super::cbor::error(
                StatusCode::BAD_REQUEST,
                "ResourceNotFound",
                "ResourceNotFoundException",
                &format!("Metric stream {name} not found"),
            ),
        };
    }
    let size = input["MaxResults"].as_u64().unwrap_or(100).clamp(1, 500) as usize;
    let start: usize = input["NextToken"].as_str().and_then(|t| t.strip_prefix('t')?.parse().ok()).unwrap_or(0);
    let entries: Vec<Value> = streams
        .iter()
        .skip(start)
        .take(size)
        .map(|s| {
            let mut e = s.clone();
            let o = e.as_object_mut().expect("a stream is an object");
            o.remove("IncludeFilters");
            o.remove("RoleArn");
            e
        })
        .collect();
    let mut out = json!({ "Entries": entries });
    if start + size < streams.len() {
        out["NextToken"] = json!(format!("t{}", start + size));
    }
    reply(&out)
}
