//! A loopback AWS Lambda Runtime API: hands out queued events on `invocation/next` (and then
//! holds the connection, as the real one does between invocations) and records what the
//! function answers on `/response` and `/error`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

#[derive(Default)]
pub struct ApiState {
    pub events: Mutex<VecDeque<serde_json::Value>>,
    /// (request id, body) of every response.
    pub responses: Mutex<Vec<(String, String)>>,
    /// (request id, error type header, body) of every error.
    pub errors: Mutex<Vec<(String, String, String)>>,
    pub init_errors: Mutex<Vec<String>>,
    next_id: Mutex<u32>,
}

pub struct RuntimeApi {
    /// host:port, as AWS_LAMBDA_RUNTIME_API wants it.
    pub addr: String,
    pub state: Arc<ApiState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What EventBridge sends for a scheduled rule.
pub fn scheduled_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-28T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/costwarden-schedule"],
        "detail": {}
    })
}

impl RuntimeApi {
    pub async fn start(events: Vec<serde_json::Value>) -> RuntimeApi {
        let state = Arc::new(ApiState { events: Mutex::new(events.into()), ..ApiState::default() });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi { addr, state, task }
    }

    /// Waits (bounded) until `n` invocations have been answered, either way.
    pub async fn wait_answers(&self, n: usize, secs: u64) {
        for _ in 0..secs * 10 {
            let got = self.state.responses.lock().unwrap().len() + self.state.errors.lock().unwrap().len();
            if got >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the function answered fewer than {n} invocations in {secs} s");
    }
}

async fn next(State(s): State<Arc<ApiState>>) -> impl IntoResponse {
    let event = s.events.lock().unwrap().pop_front();
    let Some(event) = event else {
        // No more invocations: hold the request, as Lambda does while the sandbox is frozen.
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        return (StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new(), String::new());
    };
    let id = {
        let mut n = s.next_id.lock().unwrap();
        *n += 1;
        format!("req-{n}")
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 900_000;
    let mut h = HeaderMap::new();
    h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    h.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:costwarden".parse().unwrap(),
    );
    h.insert("lambda-runtime-trace-id", "Root=1-674833e0-1a2b3c4d5e6f7a8b9c0d1e2f;Sampled=0".parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    (StatusCode::OK, h, event.to_string())
}

async fn response(State(s): State<Arc<ApiState>>, Path(id): Path<String>, body: String) -> StatusCode {
    s.responses.lock().unwrap().push((id, body));
    StatusCode::ACCEPTED
}

async fn error(State(s): State<Arc<ApiState>>, Path(id): Path<String>, headers: HeaderMap, body: String) -> StatusCode {
    let kind =
        headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    s.errors.lock().unwrap().push((id, kind, body));
    StatusCode::ACCEPTED
}

async fn init_error(State(s): State<Arc<ApiState>>, body: String) -> StatusCode {
    s.init_errors.lock().unwrap().push(body);
    StatusCode::ACCEPTED
}
