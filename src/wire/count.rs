//! Every request is counted once, where it leaves the process: an interceptor on every AWS
//! client (so the SDK's own retries are counted too) and `http::send` for reqwest. A count goes
//! to the `Requests` of the task's current scope (`counted`) and to every scope enclosing it,
//! so a source's requests add up to the run's and no call site counts by hand.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Every remote API costwarden calls, for request accounting.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, strum::IntoStaticStr, strum::EnumIter,
)]
pub enum Api {
    ConsoleHealth,
    ConsoleToken,
    ConsoleStats,
    GetMetricData,
    GetCostAndUsage,
    DescribeServices,
    DescribeScalableTargets,
    PutMetricData,
    GetSecretValue,
    ListMetrics,
    SnsPublish,
    SlackWebhook,
    // `costwarden check` only:
    ListCostAllocationTags,
    GetCallerIdentity,
    GetTopicAttributes,
    ListSubscriptionsByTopic,
    ListMetricStreams,
    GetMetricStream,
    // `costwarden coverage`, and the run with `[coverage] alert`:
    ConsoleProtection,
    ListBuckets,
    GetBucketLocation,
    GetBucketTagging,
    ListMalwareProtectionPlans,
    GetMalwareProtectionPlan,
    // `costwarden efficiency`: S3 Inventory.
    ListObjectsV2,
    GetObject,
    // Athena, for an inventory too large to read here (billed by the bytes a query scans).
    StartQueryExecution,
    GetQueryExecution,
    GetQueryResults,
    StopQueryExecution,
    GetWorkGroup,
}

impl Api {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The IAM action a request needs (the Lambda template grants each: tests/deploy.rs);
    /// `None` for the Console and Slack, and for GetCallerIdentity, which needs none.
    pub fn iam_action(self) -> Option<&'static str> {
        Some(match self {
            Api::ConsoleHealth | Api::ConsoleToken | Api::ConsoleStats | Api::ConsoleProtection => return None,
            Api::SlackWebhook | Api::GetCallerIdentity => return None,
            Api::GetMetricData => "cloudwatch:GetMetricData",
            Api::GetCostAndUsage => "ce:GetCostAndUsage",
            Api::DescribeServices => "ecs:DescribeServices",
            Api::DescribeScalableTargets => "application-autoscaling:DescribeScalableTargets",
            Api::PutMetricData => "cloudwatch:PutMetricData",
            Api::GetSecretValue => "secretsmanager:GetSecretValue",
            Api::ListMetrics => "cloudwatch:ListMetrics",
            Api::SnsPublish => "sns:Publish",
            Api::ListCostAllocationTags => "ce:ListCostAllocationTags",
            Api::GetTopicAttributes => "sns:GetTopicAttributes",
            Api::ListSubscriptionsByTopic => "sns:ListSubscriptionsByTopic",
            Api::ListMetricStreams => "cloudwatch:ListMetricStreams",
            Api::GetMetricStream => "cloudwatch:GetMetricStream",
            Api::ListBuckets => "s3:ListAllMyBuckets",
            Api::GetBucketLocation => "s3:GetBucketLocation",
            Api::GetBucketTagging => "s3:GetBucketTagging",
            Api::ListMalwareProtectionPlans => "guardduty:ListMalwareProtectionPlans",
            Api::GetMalwareProtectionPlan => "guardduty:GetMalwareProtectionPlan",
            Api::ListObjectsV2 => "s3:ListBucket",
            Api::GetObject => "s3:GetObject",
            Api::StartQueryExecution => "athena:StartQueryExecution",
            Api::GetQueryExecution => "athena:GetQueryExecution",
            Api::GetQueryResults => "athena:GetQueryResults",
            Api::StopQueryExecution => "athena:StopQueryExecution",
            Api::GetWorkGroup => "athena:GetWorkGroup",
        })
    }

    /// The AWS operation (as the SDK names it in its metadata) behind this API.
    fn from_operation(operation: &str) -> Option<Api> {
        Some(match operation {
            "GetMetricData" => Api::GetMetricData,
            "GetCostAndUsage" => Api::GetCostAndUsage,
            "DescribeServices" => Api::DescribeServices,
            "DescribeScalableTargets" => Api::DescribeScalableTargets,
            "PutMetricData" => Api::PutMetricData,
            "GetSecretValue" => Api::GetSecretValue,
            "ListMetrics" => Api::ListMetrics,
            "Publish" => Api::SnsPublish,
            "ListCostAllocationTags" => Api::ListCostAllocationTags,
            "GetCallerIdentity" => Api::GetCallerIdentity,
            "GetTopicAttributes" => Api::GetTopicAttributes,
            "ListSubscriptionsByTopic" => Api::ListSubscriptionsByTopic,
            "ListMetricStreams" => Api::ListMetricStreams,
            "GetMetricStream" => Api::GetMetricStream,
            "ListBuckets" => Api::ListBuckets,
            "GetBucketLocation" => Api::GetBucketLocation,
            "GetBucketTagging" => Api::GetBucketTagging,
            "ListMalwareProtectionPlans" => Api::ListMalwareProtectionPlans,
            "GetMalwareProtectionPlan" => Api::GetMalwareProtectionPlan,
            "ListObjectsV2" => Api::ListObjectsV2,
            "GetObject" => Api::GetObject,
            "StartQueryExecution" => Api::StartQueryExecution,
            "GetQueryExecution" => Api::GetQueryExecution,
            "GetQueryResults" => Api::GetQueryResults,
            "StopQueryExecution" => Api::StopQueryExecution,
            "GetWorkGroup" => Api::GetWorkGroup,
            _ => return None,
        })
    }

    /// List price in USD of one request (0 where the API is free or billed otherwise).
    pub fn usd_per_request(self) -> f64 {
        use crate::price;
        match self {
            Api::GetCostAndUsage | Api::ListCostAllocationTags => price::COST_EXPLORER_REQUEST,
            Api::PutMetricData | Api::ListMetrics | Api::ListMetricStreams | Api::GetMetricStream => {
                price::CLOUDWATCH_REQUEST
            }
            // Priced by the metrics it asks for; counted here one metric a request.
            Api::GetMetricData => price::GET_METRIC_DATA_PER_METRIC,
            Api::SnsPublish => price::SNS_PUBLISH,
            Api::GetSecretValue => price::SECRETS_MANAGER_CALL,
            Api::ListBuckets | Api::ListObjectsV2 => price::S3_LIST,
            Api::GetBucketLocation | Api::GetBucketTagging | Api::GetObject => price::S3_GET,
            _ => 0.0,
        }
    }
}

/// List price in USD of `requests`.
pub fn usd(requests: &BTreeMap<Api, u64>) -> f64 {
    // + 0.0: an empty float sum is -0.0, printed "USD -0.00000".
    requests.iter().map(|(api, n)| api.usd_per_request() * *n as f64).sum::<f64>() + 0.0
}

/// Requests per API made inside one scope (and the scopes nested in it).
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Scope>);

#[derive(Debug, Default)]
struct Scope {
    counts: Mutex<BTreeMap<Api, u64>>,
    parent: Option<Requests>,
}

impl Requests {
    fn add(&self, api: Api) {
        let mut scope = Some(self);
        while let Some(s) = scope {
            *s.0.counts.lock().expect("counter lock").entry(api).or_default() += 1;
            scope = s.0.parent.as_ref();
        }
    }

    pub fn snapshot(&self) -> BTreeMap<Api, u64> {
        self.0.counts.lock().expect("counter lock").clone()
    }

    pub fn get(&self, api: Api) -> u64 {
        self.0.counts.lock().expect("counter lock").get(&api).copied().unwrap_or(0)
    }
}

tokio::task_local! {
    static CURRENT: Requests;
}

/// Runs `fut` in a new scope nested in the current one, and returns what it sent with what it
/// returned. A task spawned inside does not inherit the scope: requests are made on the task
/// that awaits them (the SDK's orchestrator and reqwest's `send` both are).
pub async fn counted<F: Future>(fut: F) -> (F::Output, Requests) {
    let scope = Requests(Arc::new(Scope { counts: Mutex::default(), parent: current() }));
    let out = CURRENT.scope(scope.clone(), fut).await;
    (out, scope)
}

/// The scope the current task counts into, if any.
pub fn current() -> Option<Requests> {
    CURRENT.try_with(Requests::clone).ok()
}

/// One request of `api` leaves the process now (outside any scope it is not counted: nothing
/// reports it).
pub(crate) fn record(api: Api) {
    let _ = CURRENT.try_with(|r| r.add(api));
}

/// Counts each attempt just before it is transmitted, retries included.
#[derive(Debug)]
pub(crate) struct Counting;

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "costwarden::wire::Counting"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Metadata>().map(|m| (m.name(), Api::from_operation(m.name()))) {
            Some((_, Some(api))) => record(api),
            Some((operation, None)) => tracing::debug!(operation, "request to an API without a price"),
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_nested_scope_adds_to_its_parents_and_not_to_its_siblings() {
        let ((a, b), outer) = counted(async {
            record(Api::ConsoleToken);
            let ((), a) = counted(async { record(Api::ConsoleStats) }).await;
            let ((), b) = counted(async {
                record(Api::ConsoleStats);
                record(Api::PutMetricData);
            })
            .await;
            (a, b)
        })
        .await;
        assert_eq!(a.snapshot(), BTreeMap::from([(Api::ConsoleStats, 1)]));
        assert_eq!(b.snapshot(), BTreeMap::from([(Api::ConsoleStats, 1), (Api::PutMetricData, 1)]));
        assert_eq!(
            outer.snapshot(),
            BTreeMap::from([(Api::ConsoleToken, 1), (Api::ConsoleStats, 2), (Api::PutMetricData, 1)])
        );
        record(Api::ConsoleToken); // outside every scope: nobody counts it
        assert_eq!(outer.get(Api::ConsoleToken), 1);
    }
}
