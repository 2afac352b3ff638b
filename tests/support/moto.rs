//! A private moto_server per test: real AWS wire protocols on 127.0.0.1, isolated state.
//! Clients reach it through the CBOR front (support::cbor), which CloudWatch's SDK needs.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cbor::CborFront;

pub struct Moto {
    child: Child,
    front: Option<CborFront>,
    /// Where clients go: the front, which relays everything but CloudWatch unchanged.
    pub url: String,
    /// moto itself, for a test that checks the front.
    pub direct_url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto_server from $MOTO_SERVER, the repo's .venv (made by scripts/setup), or PATH.
pub fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

/// The SDK configuration the tests use: `url` as every service's endpoint (moto, the proxy or
/// a double), us-east-1, moto's test credentials.
pub async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Moto {
    /// Starts moto; `env` sets moto's own knobs (e.g. MOTO_ECS_SERVICE_RUNNING).
    pub async fn start(env: &[(&str, &str)]) -> Moto {
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(moto_binary());
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().unwrap_or_else(|e| {
                panic!("cannot start {:?}: {e}. Run scripts/setup (or pip install 'moto[server]') first", moto_binary())
            });
            let direct_url = format!("http://127.0.0.1:{port}");
            let mut moto = Moto { child, front: None, url: direct_url.clone(), direct_url };
            let deadline = Instant::now() + Duration::from_secs(30);
            let http = reqwest::Client::new();
            while Instant::now() < deadline {
                if let Ok(r) = http.get(format!("{}/moto-api/", moto.url)).send().await {
                    if r.status().is_success() {
                        let front = CborFront::start(&moto.direct_url).await;
                        moto.url = front.url.clone();
                        moto.front = Some(front);
                        return moto;
                    }
                }
                if moto.child.try_wait().ok().flatten().is_some() {
                    break; // lost the port race; try another
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("moto_server did not come up on 127.0.0.1");
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.url).await
    }

    /// What Cost Explorer's ListCostAllocationTags lists (the front's double): (key, status).
    pub fn set_cost_allocation_tags(&self, tags: &[(&str, &str)]) {
        let front = self.front.as_ref().expect("the front runs once moto is up");
        *front.cost_allocation_tags.lock().unwrap() = tags.iter().map(|(k, s)| super::ce_tags::tag(k, s)).collect();
    }

    /// GuardDuty's malware protection plans (the front's double).
    pub fn set_malware_protection_plans(&self, plans: Vec<super::guardduty_plans::Plan>) {
        *self.front.as_ref().expect("the front runs once moto is up").plans.lock().unwrap() = plans;
    }

    /// CloudWatch's metric streams (the front's double: support::metric_streams::stream).
    pub fn set_metric_streams(&self, streams: Vec<serde_json::Value>) {
        *self.front.as_ref().expect("the front runs once moto is up").metric_streams.lock().unwrap() = streams;
    }

    /// Queues Cost Explorer results; each distinct request body takes the next one.
    pub async fn preset_cost_and_usage(&self, results: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/static/ce/cost-and-usage-results", self.url))
            .json(&serde_json::json!({ "results": results }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "preset CE: {}", r.status());
    }
}
