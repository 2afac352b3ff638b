//! The AWS Lambda entry point (`provided.al2023`): build once, then one cycle per invocation.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    costwarden::run::init_logs(true, false);
    let app = match costwarden::run::lambda::app().await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return Err(e.into());
        }
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        costwarden::run::lambda::handle(app, event.payload)
            .await
            .map_err(|e| Diagnostic { error_type: e.kind().into(), error_message: e.to_string() })
    }))
    .await
}
