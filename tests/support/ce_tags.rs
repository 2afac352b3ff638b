//! A loopback double of Cost Explorer's ListCostAllocationTags, which moto lacks (the CBOR front
//! answers it in moto's place). awsJson 1.1 like the rest of Cost Explorer
//! (`X-Amz-Target: AWSInsightsIndexService.ListCostAllocationTags`); `TagKeys`, `Status` and
//! `Type` filter, `MaxResults` (default 100, as CE's) and `NextToken` page; an unknown key is
//! simply absent from the list, as in CE.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const TARGET: &str = "AWSInsightsIndexService.ListCostAllocationTags";

/// One tag as CE lists it: `status` is "Active" or "Inactive".
pub fn tag(key: &str, status: &str) -> Value {
    json!({
        "TagKey": key,
        "Type": "UserDefined",
        "Status": status,
        "LastUpdatedDate": "2026-11-02T08:00:00Z",
        "LastUsedDate": "2026-12-01T00:00:00Z",
    })
}

pub fn answer(tags: &[Value], body: &[u8]) -> Response {
    let input: Value = serde_json::from_slice(body).unwrap_or(json!({}));
    let keys: Option<Vec<&str>> = input["TagKeys"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect());
    let kept: Vec<&Value> = tags
        .iter()
        .filter(|t| keys.as_ref().is_none_or(|k| k.contains(&t["TagKey"].as_str().unwrap_or(""))))
        .filter(|t| input["Status"].as_str().is_none_or(|s| t["Status"] == s))
        .filter(|t| input["Type"].as_str().is_none_or(|s| t["Type"] == s))
        .collect();
    let size = input["MaxResults"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
    let start: usize = input["NextToken"].as_str().and_then(|t| t.strip_prefix('t')?.parse().ok()).unwrap_or(0);
    let page: Vec<&Value> = kept.iter().skip(start).take(size).copied().collect();
    let mut out = json!({ "CostAllocationTags": page });
    if start + size < kept.len() {
        out["NextToken"] = json!(format!("t{}", start + size));
    }
    (StatusCode::OK, [("content-type", "application/x-amz-json-1.1")], out.to_string()).into_response()
}
