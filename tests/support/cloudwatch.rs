//! A loopback CloudWatch double for what moto cannot do: throttle, and keep up with thousands
//! of datums. It speaks CloudWatch's Smithy RPC v2 CBOR as the SDK does (support::cbor):
//! PutMetricData answers `Throttling` to the first `throttle` requests,
//! then accepts and records; ListMetrics lists nothing (no alert state yet), and GetMetricData
//! finds nothing (nothing published yet).

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use ciborium::Value;

use super::cbor;

#[derive(Default)]
pub struct CwState {
    pub throttle: Mutex<usize>,
    pub requests: Mutex<usize>,
    /// Datums accepted, as MetricName values in request order.
    pub accepted: Mutex<Vec<String>>,
}

pub struct CloudWatchDouble {
    pub url: String,
    pub state: Arc<CwState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CloudWatchDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CloudWatchDouble {
    pub async fn start(throttle: usize) -> CloudWatchDouble {
        let state = Arc::new(CwState { throttle: Mutex::new(throttle), ..CwState::default() });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CloudWatchDouble { url, state, task }
    }
}

async fn handle(
    axum::extract::State(s): axum::extract::State<Arc<CwState>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    *s.requests.lock().unwrap() += 1;
    let ok = |body: Value| cbor::reply(StatusCode::OK, &body, None);
    let input = match cbor::input(&headers, &raw) {
        Ok(v) => v,
        Err(why) => {
            return cbor::error(StatusCode::BAD_REQUEST, "SerializationException", "SerializationException", &why)
        }
    };
    match cbor::operation(uri.path()) {
        Some("ListMetrics") => ok(map(vec![("Metrics", Value::Array(Vec::new()))])),
        // Nothing was published before, as far as this double knows (run::cadence reads it back).
        Some("GetMetricData") => ok(map(vec![("MetricDataResults", Value::Array(Vec::new()))])),
        Some("PutMetricData") => {
            {
                let mut t = s.throttle.lock().unwrap();
                if *t > 0 {
                    *t -= 1;
                    return cbor::error(StatusCode::BAD_REQUEST, "Throttling", "ThrottlingException", "Rate exceeded");
                }
            }
            let names = member(&input, "MetricData")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| member(d, "MetricName")?.as_text().map(str::to_string));
            s.accepted.lock().unwrap().extend(names);
            ok(map(Vec::new()))
        }
        _ => cbor::error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "InvalidAction",
            "only PutMetricData, ListMetrics and GetMetricData here",
        ),
    }
}

fn member<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_map()?.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (Value::Text(k.into()), v)).collect())
}
