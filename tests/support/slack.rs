//! A loopback Slack incoming-webhook receiver: 200 "ok" for a JSON payload with `text` or
//! `blocks`, Slack's own error strings otherwise, and outages on demand.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

#[derive(Default)]
pub struct SlackState {
    pub received: Mutex<Vec<serde_json::Value>>,
    /// Statuses to answer to the next requests instead of accepting them.
    pub outages: Mutex<VecDeque<u16>>,
    pub attempts: Mutex<usize>,
}

pub struct Slack {
    /// The webhook URL (a secret in production).
    pub url: String,
    pub state: Arc<SlackState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Slack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Slack {
    pub async fn start() -> Slack {
        let state = Arc::new(SlackState::default());
        let app = Router::new().route("/services/{a}/{b}/{c}", post(hook)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/services/T0001/B0001/s3cr3tW3bh00kT0k3n", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Slack { url, state, task }
    }

    pub fn received(&self) -> Vec<serde_json::Value> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn outage(&self, status: u16) {
        self.state.outages.lock().unwrap().push_back(status);
    }
}

async fn hook(
    axum::extract::State(s): axum::extract::State<Arc<SlackState>>,
    body: String,
) -> (StatusCode, &'static str) {
    *s.attempts.lock().unwrap() += 1;
    if let Some(code) = s.outages.lock().unwrap().pop_front() {
        return (StatusCode::from_u16(code).unwrap(), "rollup_error");
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(v) if v.get("text").is_some() || v.get("blocks").is_some() => {
            s.received.lock().unwrap().push(v);
            (StatusCode::OK, "ok")
        }
        Ok(_) => (StatusCode::BAD_REQUEST, "no_text"),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid_payload"),
    }
}
