//! A loopback double of GuardDuty's ListMalwareProtectionPlans and GetMalwareProtectionPlan,
//! which moto lacks (the CBOR front answers them in moto's place). restJson1 as GuardDuty's:
//! `GET /malware-protection-plan` (`maxResults`, default 50, and `nextToken`) and
//! `GET /malware-protection-plan/{id}`; an unknown id is a 404 ResourceNotFoundException.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const PATH: &str = "/malware-protection-plan";

/// One plan: its id, the protected bucket, the object prefixes (empty: the whole bucket) and
/// its status (ACTIVE, WARNING, ERROR).
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
    pub status: String,
}

pub fn plan(id: &str, bucket: &str, prefixes: &[&str]) -> Plan {
    Plan {
        id: id.into(),
        bucket: bucket.into(),
        prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        status: "ACTIVE".into(),
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

pub fn answer(plans: &[Plan], path: &str, query: Option<&str>) -> Response {
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    match path.strip_prefix(PATH).unwrap_or("").trim_start_matches('/') {
        "" => {
            let size = q.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(50usize).clamp(1, 50);
            let start: usize = q.get("nextToken").and_then(|t| t.strip_prefix('p')?.parse().ok()).unwrap_or(0);
            let page: Vec<Value> =
                plans.iter().skip(start).take(size).map(|p| json!({"malwareProtectionPlanId": p.id})).collect();
            let mut body = json!({ "malwareProtectionPlans": page });
            if start + size < plans.len() {
                body["nextToken"] = json!(format!("p{}", start + size));
            }
            reply(StatusCode::OK, body)
        }
        id => match plans.iter().find(|p| p.id == id) {
            Some(p) => reply(
                StatusCode::OK,
                json!({
                    "arn": format!("arn:aws:guardduty:us-east-1:123456789012:malware-protection-plan/{}", p.id),
                    "role": "arn:aws:iam::123456789012:role/guardduty-s3-scan",
                    "protectedResource": {"s3Bucket": {"bucketName": p.bucket, "objectPrefixes": p.prefixes}},
                    "actions": {"tagging": {"status": "ENABLED"}},
                    "status": p.status,
                    "statusReasons": [],
                    "tags": {},
                }),
            ),
            None => {
                let mut r = reply(
                    StatusCode::NOT_FOUND,
                    json!({"message": format!("The plan {id} does not exist."), "__type": "ResourceNotFoundException"}),
                );
                r.headers_mut().insert("x-amzn-errortype", "ResourceNotFoundException".parse().unwrap());
                r
            }
        },
    }
}
