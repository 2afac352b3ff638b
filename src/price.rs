//! Every list price costwarden uses, in one table with its source: what its own runs cost
//! (`selfcost`, the request counter `wire::count`), what Datadog's reading adds, and what
//! scanning costs (`coverage`'s showback). us-east-1, read 2026-12 from
//! https://aws.amazon.com/cloudwatch/pricing/, https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/,
//! https://aws.amazon.com/sns/pricing/, https://aws.amazon.com/secrets-manager/pricing/,
//! https://aws.amazon.com/s3/pricing/, https://aws.amazon.com/guardduty/pricing/ and
//! https://aws.amazon.com/firehose/pricing/.

/// Custom metrics, per metric-month: (metric-months up to, USD each).
pub const STREAM_TIERS: [(f64, f64); 4] =
    [(10_000.0, 0.30), (250_000.0, 0.10), (1_000_000.0, 0.05), (f64::INFINITY, 0.02)];
/// "Custom metrics are prorated by the hour; they're metered only when they're sent."
pub const HOURS_PER_MONTH: f64 = 730.0;
/// The billing month's days (730 hours), not the calendar's mean month (`rules::DAYS_PER_MONTH`,
/// which compounds a plan's monthly growth).
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// GetMetricData: USD 0.01 per 1,000 metrics requested.
pub const GET_METRIC_DATA_PER_METRIC: f64 = 0.00001;
/// PutMetricData and ListMetrics: USD 0.01 per 1,000 requests.
pub const CLOUDWATCH_REQUEST: f64 = 0.00001;
/// Every Cost Explorer API request, ListCostAllocationTags included: USD 0.01.
pub const COST_EXPLORER_REQUEST: f64 = 0.01;
/// SNS: USD 0.50 per million publishes.
pub const SNS_PUBLISH: f64 = 0.0000005;
/// Secrets Manager: USD 0.05 per 10,000 API calls.
pub const SECRETS_MANAGER_CALL: f64 = 0.000005;
/// S3: LIST-class USD 0.005 per 1,000 requests, GET-class USD 0.0004 per 1,000.
pub const S3_LIST: f64 = 0.000005;
pub const S3_GET: f64 = 0.0000004;
/// GuardDuty Malware Protection for S3: USD 0.09 per GB scanned...
pub const GUARDDUTY_PER_GB: f64 = 0.09;
/// ...and USD 0.215 per 1,000 objects evaluated.
pub const GUARDDUTY_PER_1000_OBJECTS: f64 = 0.215;
/// CloudWatch Metric Streams: USD 0.003 per 1,000 metric updates (a stream's datums of one
/// minute; the four default statistics included).
pub const METRIC_STREAM_UPDATE: f64 = 0.000003;
/// Amazon Data Firehose, Direct PUT: USD 0.029 per GB ingested, each record billed as at least
/// 5 KB (https://aws.amazon.com/firehose/pricing/). Delivery to an HTTP endpoint adds nothing.
pub const FIREHOSE_PER_GB: f64 = 0.029;
pub const FIREHOSE_RECORD_GB: f64 = 5.0 / (1024.0 * 1024.0);
/// Datadog's AWS integration reads every CloudWatch metric about every 10 minutes (its
/// default polling interval), so about 6 × 730 reads of each stream a month.
pub const DATADOG_READS_PER_MONTH: f64 = 6.0 * HOURS_PER_MONTH;
