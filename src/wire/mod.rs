//! Everything that crosses the wire, in one room: building the AWS and HTTP clients, the one
//! retry policy, counting every request where it leaves the process, the one GetMetricData
//! reader, bounded fan-out, and AWS errors as messages. Sources, the sink, the notifiers and the
//! alert store call in here; nothing in here knows about them.

pub mod count;
pub mod http;
pub mod metric_data;
pub mod retry;

pub use count::{counted, usd, Api, Requests};
pub use retry::Policy;

use crate::config::Config;

/// The AWS and HTTP clients, built once (per Lambda container / daemon) by `wire` and injected,
/// so tests can point every one of them at loopback peers.
#[derive(Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Reads GuardDuty's metrics, in the account of the protected buckets: the base credentials
    /// (not `[collector.role]`, which is where costwarden writes), unless `[guardduty.role]`.
    pub guardduty_metrics: aws_sdk_cloudwatch::Client,
    pub cost_explorer: aws_sdk_costexplorer::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    /// `coverage`: the buckets (`[coverage.role]`) and GuardDuty's plans (`[guardduty.role]`).
    pub s3: aws_sdk_s3::Client,
    /// `efficiency`: the S3 Inventory destination buckets (`[inventory.role]`).
    pub inventory_s3: aws_sdk_s3::Client,
    /// `efficiency`, for an inventory read by Athena (`[inventory.role]` too).
    pub athena: aws_sdk_athena::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    /// One STS client per set of credentials ("base", then "<section>.role"), for `check`.
    pub identities: Vec<(String, aws_sdk_sts::Client)>,
    pub http: reqwest::Client,
    /// The retry policy the AWS clients were built with; the Console client uses it too.
    pub policy: Policy,
}

/// Builds one service's client from the shared SDK configuration with the retry policy and
/// the counting interceptor: every AWS client costwarden uses is made here.
macro_rules! aws_client {
    ($krate:ident, $sdk:expr, $policy:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk).retry_config($policy.aws()).interceptor(count::Counting).build(),
        )
    };
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig, policy: Policy) -> Clients {
        let cloudwatch = aws_client!(aws_sdk_cloudwatch, sdk, policy);
        Clients {
            guardduty_metrics: cloudwatch.clone(),
            cloudwatch,
            cost_explorer: aws_client!(aws_sdk_costexplorer, sdk, policy),
            ecs: aws_client!(aws_sdk_ecs, sdk, policy),
            autoscaling: aws_client!(aws_sdk_applicationautoscaling, sdk, policy),
            secrets: aws_client!(aws_sdk_secretsmanager, sdk, policy),
            sns: aws_client!(aws_sdk_sns, sdk, policy),
            s3: s3_client(sdk, policy),
            inventory_s3: s3_client(sdk, policy),
            athena: aws_client!(aws_sdk_athena, sdk, policy),
            guardduty: aws_client!(aws_sdk_guardduty, sdk, policy),
            identities: vec![("base".to_string(), aws_client!(aws_sdk_sts, sdk, policy))],
            http: http::client(policy.request_timeout),
            policy,
        }
    }

    /// The standard AWS chain (env, profile, IMDS/ECS/Lambda role); `AWS_ENDPOINT_URL` is
    /// honoured by the SDK itself, which is how the local run and the tests reach moto.
    pub async fn from_env(config: &Config) -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.collector.region.clone()))
            .load()
            .await;
        Clients::with_roles(&sdk, config, Policy::of(&config.collector)).await
    }

    /// Like `new`, with each client of a section that names a `role` assuming it through STS
    /// with the base credentials of `sdk` (aws-config's provider: AssumeRole on first use, the
    /// credentials cached and refreshed before they expire).
    pub async fn with_roles(sdk: &aws_config::SdkConfig, config: &Config, policy: Policy) -> Clients {
        let mut c = Clients::new(sdk, policy);
        if let Some(r) = &config.collector.role {
            let s = c.assume(sdk, r, "collector", policy).await;
            c.cloudwatch = aws_client!(aws_sdk_cloudwatch, &s, policy);
        }
        if let Some(r) = config.guardduty.as_ref().and_then(|g| g.role.as_ref()) {
            let s = c.assume(sdk, r, "guardduty", policy).await;
            c.guardduty_metrics = aws_client!(aws_sdk_cloudwatch, &s, policy);
            c.guardduty = aws_client!(aws_sdk_guardduty, &s, policy);
        }
        if let Some(r) = config.cost.as_ref().and_then(|ce| ce.role.as_ref()) {
            let s = c.assume(sdk, r, "cost", policy).await;
            c.cost_explorer = aws_client!(aws_sdk_costexplorer, &s, policy);
        }
        if let Some(r) = config.ecs.as_ref().and_then(|e| e.role.as_ref()) {
            let s = c.assume(sdk, r, "ecs", policy).await;
            c.ecs = aws_client!(aws_sdk_ecs, &s, policy);
            c.autoscaling = aws_client!(aws_sdk_applicationautoscaling, &s, policy);
        }
        if let Some(r) = &config.coverage.role {
            let s = c.assume(sdk, r, "coverage", policy).await;
            c.s3 = s3_client(&s, policy);
        }
        if let Some(r) = &config.inventory.role {
            let s = c.assume(sdk, r, "inventory", policy).await;
            c.inventory_s3 = s3_client(&s, policy);
            c.athena = aws_client!(aws_sdk_athena, &s, policy);
        }
        c
    }

    /// `sdk` with credentials that assume `role` (building them makes no request); the
    /// identity of the set is kept for `check`.
    async fn assume(
        &mut self,
        sdk: &aws_config::SdkConfig,
        role: &crate::config::Role,
        section: &str,
        policy: Policy,
    ) -> aws_config::SdkConfig {
        let s = assumed(sdk, role, section).await;
        self.identities.push((format!("{section}.role"), aws_client!(aws_sdk_sts, &s, policy)));
        s
    }
}

/// S3 by path when the endpoint is overridden (moto, MinIO, a proxy): a bucket's virtual host
/// under a loopback address does not resolve. AWS itself gets the virtual-hosted style.
fn s3_client(sdk: &aws_config::SdkConfig, policy: Policy) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(policy.aws())
            .interceptor(count::Counting)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// `sdk` with credentials that assume `role` (building them makes no request).
async fn assumed(sdk: &aws_config::SdkConfig, role: &crate::config::Role, section: &str) -> aws_config::SdkConfig {
    let mut b =
        aws_config::sts::AssumeRoleProvider::builder(&role.arn).session_name(role.session(section)).configure(sdk);
    if let Some(id) = &role.external_id {
        b = b.external_id(id);
    }
    let provider = aws_sdk_cloudwatch::config::SharedCredentialsProvider::new(b.build().await);
    sdk.to_builder().credentials_provider(provider).build()
}

/// Runs `f` over `items` with at most `limit` in flight, keeping input order. Items are
/// taken from the iterator only as slots free up, so a lazy iterator stays lazy.
pub(crate) async fn bounded<I, T, F, Fut>(items: impl IntoIterator<Item = I>, limit: usize, f: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures::StreamExt;
    futures::stream::iter(items.into_iter().map(f)).buffered(limit.max(1)).collect().await
}

/// An AWS SDK error as one line a person can act on: the service's code and message when it
/// answered (with what to check for the common codes), else what kind of failure it was (no
/// credentials, no answer in time, AWS not reachable) and the innermost cause's first line. The
/// whole chain goes to the debug log only: it runs to a thousand characters over several lines.
pub(crate) fn aws_message<E, R>(e: &aws_sdk_ecs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ecs::error::SdkError;
    if let Some(code) = e.as_service_error().and_then(|s| s.code()) {
        let message = e.as_service_error().and_then(|s| s.message()).unwrap_or("");
        return format!("{code}: {}{}", first_line(message), service_hint(code));
    }
    let chain = aws_sdk_ecs::error::DisplayErrorContext(e).to_string();
    tracing::debug!(error = %crate::text::terminal(&chain), "AWS error, the whole chain");
    let lower = chain.to_lowercase();
    if lower.contains("no credentials found") || lower.contains("credentials provider") && lower.contains("not") {
        return "no AWS credentials found (environment, profile, web identity, container or instance role)".into();
    }
    if matches!(e, SdkError::TimeoutError(_)) || lower.contains("timed out") || lower.contains("timeout") {
        return "no answer in time (check collector.region, the endpoint and the network)".into();
    }
    let why = [
        ("connection refused", "connection refused"),
        ("dns error", "the name did not resolve"),
        ("connect", "no connection"),
    ]
    .into_iter()
    .find(|(needle, _)| lower.contains(needle));
    match why {
        Some((_, why)) => format!("AWS not reachable: {why} (check collector.region, the endpoint and the network)"),
        None => first_line(&chain),
    }
}

/// What to check for the codes a first day meets.
fn service_hint(code: &str) -> &'static str {
    match code {
        c if c.contains("AccessDenied") || c == "UnauthorizedOperation" => {
            " (the IAM policy of these credentials does not allow this action)"
        }
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch" => " (the credentials are not valid in this account or region)",
        c if c.starts_with("ExpiredToken") => " (the credentials have expired: renew them)",
        _ => "",
    }
}

/// One line, at most 200 characters.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() <= 200 {
        line.to_string()
    } else {
        line.chars().take(199).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_code_says_what_to_check_and_a_long_message_is_one_cut_line() {
        assert_eq!(
            service_hint("AccessDeniedException"),
            " (the IAM policy of these credentials does not allow this action)"
        );
        assert_eq!(service_hint("ExpiredTokenException"), " (the credentials have expired: renew them)");
        assert_eq!(service_hint("ThrottlingException"), "");
        let long = format!("{}\nsecond line", "x".repeat(300));
        let line = first_line(&long);
        assert_eq!((line.chars().count(), line.ends_with('…'), line.contains('\n')), (200, true, false));
    }
}
