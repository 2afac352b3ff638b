//! A CBOR front for moto. aws-sdk-cloudwatch 1.100+ speaks only Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`, CBOR bodies, timestamps as
//! CBOR tag 1), which moto 5.2 answers with 404; moto does serve CloudWatch over awsJson 1.0
//! (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`). This front sits on loopback before
//! moto: a CBOR request becomes moto's JSON request (gzip bodies unpacked), moto's JSON reply
//! becomes CBOR with the model's timestamp members tagged, and moto's `x-amzn-query-error`
//! header is passed on so the SDK picks the modelled error (CloudWatch is awsQueryCompatible).
//! Every other request is relayed unchanged, but for what moto lacks, which the front answers:
//! Cost Explorer's ListCostAllocationTags (support::ce_tags), GuardDuty's malware protection
//! plans (support::guardduty_plans) and CloudWatch's metric streams (support::metric_streams). Drop the CBOR part when moto speaks
//! CBOR (getmoto/moto#9195).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ciborium::Value;

pub const SERVICE: &str = "GraniteServiceVersion20100801";
const TIMESTAMP_TAG: u64 = 1;

/// Output members of CloudWatch's model typed `timestamp`: moto's JSON carries them as epoch
/// seconds (or ISO 8601 text), the SDK's CBOR decoder accepts only tag 1.
const TIMESTAMPS: &[&str] = &[
    "Timestamps",
    "Timestamp",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "LastModified",
    "CreationDate",
    "LastUpdateDate",
];

/// Output members typed `double`: the SDK's decoder reads only CBOR floats there, and JSON
/// cannot say whether `1` is one.
const DOUBLES: &[&str] = &["Values", "Value", "Sum", "Average", "Minimum", "Maximum", "SampleCount", "Threshold"];

struct FrontState {
    upstream: String,
    http: reqwest::Client,
    cost_allocation_tags: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    plans: Arc<std::sync::Mutex<Vec<super::guardduty_plans::Plan>>>,
    metric_streams: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

pub struct CborFront {
    pub url: String,
    /// What ListCostAllocationTags answers (support::ce_tags::tag).
    pub cost_allocation_tags: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// What GuardDuty's malware protection plan operations answer (support::guardduty_plans).
    pub plans: Arc<std::sync::Mutex<Vec<super::guardduty_plans::Plan>>>,
    /// What the metric stream operations answer (support::metric_streams::stream).
    pub metric_streams: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CborFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CborFront {
    pub async fn start(upstream: &str) -> CborFront {
        let http = reqwest::Client::builder().no_gzip().build().unwrap();
        let (cost_allocation_tags, plans, metric_streams) = (Arc::default(), Arc::default(), Arc::default());
        let state = Arc::new(FrontState {
            upstream: upstream.to_string(),
            http,
            cost_allocation_tags: Arc::clone(&cost_allocation_tags),
            plans: Arc::clone(&plans),
            metric_streams: Arc::clone(&metric_streams),
        });
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CborFront { url, cost_allocation_tags, plans, metric_streams, task }
    }
}

/// The CloudWatch operation an RPC v2 CBOR request calls, from its path.
pub fn operation(path: &str) -> Option<&str> {
    path.strip_prefix("/service/")?.strip_prefix(SERVICE)?.strip_prefix("/operation/")
}

/// The request's CBOR input: the SDK gzips PutMetricData bodies over 10 KiB.
pub fn input(headers: &HeaderMap, raw: &[u8]) -> Result<Value, String> {
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(raw), &mut out)
            .map_err(|e| format!("gzip: {e}"))?;
        out
    } else {
        raw.to_vec()
    };
    if body.is_empty() {
        return Ok(Value::Map(Vec::new()));
    }
    ciborium::from_reader(&body[..]).map_err(|e| format!("CBOR: {e}"))
}

/// A CBOR input as awsJson: tag-1 timestamps become epoch seconds.
pub fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Integer(i) => J::from(i128::from(*i) as i64),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).ok_or(format!("{f} has no JSON form"))?,
        Value::Text(s) => J::String(s.clone()),
        Value::Tag(TIMESTAMP_TAG, inner) => to_json(inner)?,
        Value::Array(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                let Value::Text(k) = k else { return Err(format!("map key {k:?} is not text")) };
                map.insert(k.clone(), to_json(v)?);
            }
            J::Object(map)
        }
        // No CloudWatch operation costwarden calls carries a blob or another tag.
        other => return Err(format!("{other:?} is not translated")),
    })
}

/// An awsJson output as CBOR; `member` is the name the value stands under.
pub fn to_cbor(member: Option<&str>, v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    let timestamp = member.is_some_and(|m| TIMESTAMPS.contains(&m));
    let double = member.is_some_and(|m| DOUBLES.contains(&m));
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) if timestamp => Value::Tag(TIMESTAMP_TAG, Box::new(number(n, false))),
        J::Number(n) => number(n, double),
        J::String(s) if timestamp => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => Value::Tag(TIMESTAMP_TAG, Box::new(Value::Float(t.timestamp_millis() as f64 / 1000.0))),
            Err(_) => Value::Text(s.clone()),
        },
        J::String(s) => Value::Text(s.clone()),
        // A list's items are typed like the list (`Timestamps`, `Values`).
        J::Array(items) => Value::Array(items.iter().map(|i| to_cbor(member, i)).collect()),
        J::Object(map) => Value::Map(map.iter().map(|(k, v)| (Value::Text(k.clone()), to_cbor(Some(k), v))).collect()),
    }
}

fn number(n: &serde_json::Number, double: bool) -> Value {
    match (n.as_i64(), double) {
        (Some(i), false) => Value::Integer(i.into()),
        _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// A CBOR response as CloudWatch sends one.
pub fn reply(status: StatusCode, body: &Value, query_error: Option<&str>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/cbor".parse().unwrap());
    headers.insert("smithy-protocol", "rpc-v2-cbor".parse().unwrap());
    if let Some(q) = query_error {
        headers.insert("x-amzn-query-error", q.parse().unwrap());
    }
    (status, headers, encode(body)).into_response()
}

/// A modelled CloudWatch error: `code` is the awsQuery code the SDK matches (`Throttling`,
/// `InvalidParameterValue`), `shape` the error structure's name.
pub fn error(status: StatusCode, code: &str, shape: &str, message: &str) -> Response {
    let body = Value::Map(vec![
        (Value::Text("__type".into()), Value::Text(format!("com.amazonaws.cloudwatch#{shape}"))),
        (Value::Text("message".into()), Value::Text(message.into())),
    ]);
    let fault = if status.is_server_error() { "Receiver" } else { "Sender" };
    reply(status, &body, Some(&format!("{code};{fault}")))
}

async fn handle(State(s): State<Arc<FrontState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    if parts.headers.get("x-amz-target").is_some_and(|t| t == super::ce_tags::TARGET) {
        return super::ce_tags::answer(&s.cost_allocation_tags.lock().unwrap(), &body);
    }
    if parts.method == axum::http::Method::GET && parts.uri.path().starts_with(super::guardduty_plans::PATH) {
        return super::guardduty_plans::answer(&s.plans.lock().unwrap(), parts.uri.path(), parts.uri.query());
    }
    match operation(parts.uri.path()) {
        Some(op) => translate(&s, op, &parts.headers, &body).await,
        None => relay(&s.http, parts, body, &s.upstream).await,
    }
}

async fn translate(s: &FrontState, op: &str, headers: &HeaderMap, raw: &[u8]) -> Response {
    let untranslatable =
        |why: String| error(StatusCode::BAD_REQUEST, "SerializationException", "SerializationException", &why);
    let json = match input(headers, raw).and_then(|v| to_json(&v)) {
        Ok(j) => j,
        Err(why) => return untranslatable(why),
    };
    if super::metric_streams::OPERATIONS.contains(&op) {
        return super::metric_streams::answer(&s.metric_streams.lock().unwrap(), op, &json);
    }
    let mut up = s
        .http
        .post(format!("{}/", s.upstream))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("{SERVICE}.{op}"))
        .body(serde_json::to_vec(&json).unwrap());
    // moto reads the region and account from the signature's credential scope.
    for h in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = headers.get(h) {
            up = up.header(h, v);
        }
    }
    let r = match up.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = r.status();
    let query_error = r.headers().get("x-amzn-query-error").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = r.bytes().await.unwrap_or_default();
    let out: serde_json::Value = if bytes.is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return untranslatable(format!("moto's reply to {op} is not JSON ({e})")),
        }
    };
    reply(status, &to_cbor(None, &out), query_error.as_deref())
}

/// Forwards a request to `upstream` as it came (the proxy and the front share it).
pub async fn relay(http: &reqwest::Client, parts: axum::http::request::Parts, body: Bytes, upstream: &str) -> Response {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut up = http.request(parts.method.clone(), format!("{upstream}{path}")).body(body);
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            up = up.header(k, v);
        }
    }
    match up.send().await {
        Ok(r) => {
            let status = r.status();
            let mut headers = HeaderMap::new();
            for (k, v) in r.headers() {
                if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                    headers.insert(k.clone(), v.clone());
                }
            }
            let bytes = r.bytes().await.unwrap_or_default();
            (status, headers, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
