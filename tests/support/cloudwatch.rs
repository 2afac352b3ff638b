//! A loopback CloudWatch double for what moto cannot do: throttle, and keep up with thousands
//! of datums. It speaks the awsQuery protocol of aws-sdk-cloudwatch 1.99 (form-encoded
//! request, XML response): PutMetricData answers `Throttling` to the first `throttle` requests,
//! then accepts and records; ListMetrics lists nothing (no alert state yet), and GetMetricData
//! finds nothing (nothing published yet).

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Router;

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
        let app = Router::new().route("/", post(handle)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CloudWatchDouble { url, state, task }
    }
}

const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

async fn handle(
    axum::extract::State(s): axum::extract::State<Arc<CwState>>,
    headers: axum::http::HeaderMap,
    raw: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    *s.requests.lock().unwrap() += 1;
    // The SDK gzips PutMetricData bodies over 10 KiB (request compression).
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out).unwrap();
        out
    } else {
        String::from_utf8(raw.to_vec()).unwrap()
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.as_str());
    if action == Some("ListMetrics") {
        let body = format!("<ListMetricsResponse xmlns=\"{XMLNS}\"><ListMetricsResult><Metrics/></ListMetricsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMetricsResponse>");
        return (axum::http::StatusCode::OK, body);
    }
    // Nothing was published before, as far as this double knows (run::cadence reads it back).
    if action == Some("GetMetricData") {
        let body = format!("<GetMetricDataResponse xmlns=\"{XMLNS}\"><GetMetricDataResult><MetricDataResults/><Messages/></GetMetricDataResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetMetricDataResponse>");
        return (axum::http::StatusCode::OK, body);
    }
    if action != Some("PutMetricData") {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            error("InvalidAction", "only PutMetricData, ListMetrics and GetMetricData here"),
        );
    }
    {
        let mut t = s.throttle.lock().unwrap();
        if *t > 0 {
            *t -= 1;
            return (axum::http::StatusCode::BAD_REQUEST, error("Throttling", "Rate exceeded"));
        }
    }
    let names = form.iter().filter(|(k, _)| k.ends_with(".MetricName")).map(|(_, v)| v.clone());
    s.accepted.lock().unwrap().extend(names);
    (
        axum::http::StatusCode::OK,
        format!("<PutMetricDataResponse xmlns=\"{XMLNS}\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>"),
    )
}

fn error(code: &str, message: &str) -> String {
    format!("<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>")
}
