//! The Lambda function: invoked by EventBridge Scheduler (or a scheduled rule), one cycle per
//! invocation. Clients and the configuration are built once per container; a failed source
//! fails the invocation with the run's summary as the error, so Lambda's error metrics and
//! retries see it.

use chrono::Utc;
use serde_json::{json, Value};

use crate::app::App;
use crate::config::Config;
use crate::report;
use crate::run::cycle::run_once;
use crate::wire::Clients;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "configuration: set COSTWARDEN_CONFIG (a file bundled with the function) or COSTWARDEN_CONFIG_SSM_PARAMETER"
    )]
    NoConfig,
    #[error("configuration: SSM parameter {name}: {message}")]
    Ssm { name: String, message: String },
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    RunFailed(String),
}

impl Error {
    /// Lambda's errorType: what a CloudWatch Logs Insights query or an alarm filters on.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoConfig | Error::Ssm { .. } | Error::Config(_) => "CostwardenConfigError",
            Error::RunFailed(_) => "CostwardenRunFailed",
        }
    }
}

/// The configuration: an SSM parameter when `COSTWARDEN_CONFIG_SSM_PARAMETER` is set, else the
/// file at `COSTWARDEN_CONFIG` (default: thresholds.toml next to the bootstrap binary).
pub async fn load_config(sdk: &aws_config::SdkConfig) -> Result<Config, Error> {
    if let Ok(name) = std::env::var("COSTWARDEN_CONFIG_SSM_PARAMETER") {
        let out = aws_sdk_ssm::Client::new(sdk)
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| Error::Ssm { name: name.clone(), message: crate::wire::aws_message(&e) })?;
        let text = out
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| Error::Ssm { name: name.clone(), message: "the parameter has no value".into() })?;
        return Ok(Config::parse(text, &format!("ssm:{name}"))?);
    }
    let path = std::env::var("COSTWARDEN_CONFIG").unwrap_or_else(|_| {
        let dir = std::env::var("LAMBDA_TASK_ROOT").unwrap_or_else(|_| ".".into());
        format!("{dir}/thresholds.toml")
    });
    if !std::path::Path::new(&path).exists() {
        return Err(Error::NoConfig);
    }
    Ok(Config::load(path.as_ref())?)
}

/// Builds the app once per container.
pub async fn app() -> Result<App, Error> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let config = load_config(&sdk).await?;
    let clients = Clients::from_env(&config).await;
    let mut app = App::new(config, clients);
    app.console_url = std::env::var("COSTWARDEN_CONSOLE_URL").ok().and_then(|u| u.parse().ok());
    Ok(app)
}

/// One invocation. The event is logged (scheduled events carry no secrets) but not needed:
/// the run's clock is the invocation's.
pub async fn handle(app: &App, event: Value) -> Result<Value, Error> {
    let source = event.get("source").and_then(Value::as_str).unwrap_or("?").to_string();
    let scheduled = event.get("time").and_then(Value::as_str).unwrap_or("").to_string();
    tracing::info!(source, scheduled, "invocation");
    let report = run_once(app, Utc::now(), false).await;
    let summary = report::human(&report);
    if report.ok() {
        tracing::info!(datums = report.sink.written, "run ok");
        Ok(json!({
            "ok": true,
            "datums_written": report.sink.written,
            "sources": report.sources,
            "requests": report.requests,
            "transitions": report.alerts.transitions.len(),
        }))
    } else {
        tracing::error!(summary = %summary, "run failed");
        Err(Error::RunFailed(summary))
    }
}
