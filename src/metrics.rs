//! The metric catalogue: one table shared by the CloudWatch sink, the README and the Datadog
//! generator, so a renamed metric cannot leave a dashboard pointing at nothing.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Metric {
    ScannedBytes,
    ScannedObjects,
    Cost,
    CostPerScannedGb,
    RunningTasks,
    DesiredTasks,
    PendingTasks,
    MaxTasks,
    TaskUtilization,
    SourceUp,
    ApiRequests,
    ApiCostEstimate,
    DatumsWritten,
    RunDuration,
    AlertState,
    ThresholdUtilization,
    DaysToBreach,
    PlannedValue,
    NotificationsFailed,
    DailyPublished,
    DailyStreams,
    DailyRequestsCost,
    DailyEstimated,
    SelfCostMonthly,
    UnscannedBuckets,
    DigestSent,
    InventoryReviewed,
    InventoryBytes,
    DuplicateBytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Bytes,
    Count,
    Percent,
    Seconds,
    /// Money, in Cost Explorer's currency (USD); CloudWatch has no currency unit: sent as None.
    Usd,
    /// Money per GB scanned (USD/GB).
    UsdPerGb,
    /// A plain number (days, a planned value in its series' unit, a date code).
    None,
}

impl Unit {
    /// CloudWatch's name of the unit a datum is sent with.
    pub fn cloudwatch_name(self) -> &'static str {
        match self {
            Unit::Bytes => "Bytes",
            Unit::Count => "Count",
            Unit::Percent => "Percent",
            Unit::Seconds => "Seconds",
            Unit::Usd | Unit::UsdPerGb | Unit::None => "None",
        }
    }
}

#[derive(Debug)]
pub struct MetricDef {
    pub metric: Metric,
    pub name: &'static str,
    pub unit: Unit,
    pub dimensions: &'static [&'static str],
    /// True for a per-day total (stamped at collection time, holding the previous UTC day).
    pub daily: bool,
    /// True for rule metrics, whose dimensions are `dimensions` plus the evaluated series' own.
    pub series_dims: bool,
    pub description: &'static str,
}

pub const DIM_SOURCE: &str = "Source";
/// `Source` values: which scanner reported a bucket's volume.
pub const SOURCE_CONSOLE: &str = "console";
pub const SOURCE_GUARDDUTY: &str = "guardduty";
pub const DIM_BUCKET: &str = "Bucket";
pub const DIM_TAG_KEY: &str = "TagKey";
pub const DIM_TAG_VALUE: &str = "TagValue";
pub const DIM_CLUSTER: &str = "Cluster";
pub const DIM_SERVICE: &str = "Service";
pub const DIM_API: &str = "Api";
pub const DIM_RULE: &str = "Rule";
pub const DIM_OWNER: &str = "Owner";
/// The evaluated series' metric name, on rule metrics.
pub const DIM_SERIES: &str = "Series";

/// Every dimension name costwarden writes, to map names read back from CloudWatch.
pub const DIMENSIONS: &[&str] = &[
    DIM_SOURCE,
    DIM_BUCKET,
    DIM_TAG_KEY,
    DIM_TAG_VALUE,
    DIM_CLUSTER,
    DIM_SERVICE,
    DIM_API,
    DIM_RULE,
    DIM_SERIES,
    DIM_OWNER,
];

pub const CATALOGUE: &[MetricDef] = &[
    MetricDef {
        metric: Metric::ScannedBytes,
        name: "ScannedBytes",
        unit: Unit::Bytes,
        dimensions: &[DIM_SOURCE, DIM_BUCKET],
        daily: true,
        series_dims: false,
        description: "Bytes scanned for malware in the bucket during the previous UTC day (Source = console or guardduty)",
    },
    MetricDef {
        metric: Metric::ScannedObjects,
        name: "ScannedObjects",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE, DIM_BUCKET],
        daily: true,
        series_dims: false,
        description: "Objects scanned in the bucket during the previous UTC day",
    },
    MetricDef {
        metric: Metric::Cost,
        name: "Cost",
        unit: Unit::Usd,
        dimensions: &[DIM_TAG_KEY, DIM_TAG_VALUE],
        daily: true,
        series_dims: false,
        description: "Cost Explorer cost (configured metric, USD) of resources with this cost-allocation tag value during the previous UTC day; TagValue \"untagged\" for resources without the tag",
    },
    MetricDef {
        metric: Metric::CostPerScannedGb,
        name: "CostPerScannedGB",
        unit: Unit::UsdPerGb,
        dimensions: &[DIM_TAG_KEY, DIM_TAG_VALUE],
        daily: true,
        series_dims: false,
        description: "The tag value's cost over the GB scanned in the buckets it pays for (`pays_for`, default all), the previous UTC day; only for values listed in `[[cost.tags]]` with scanned buckets. The `unit_cost` rule watches it",
    },
    MetricDef {
        metric: Metric::RunningTasks,
        name: "RunningTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        series_dims: false,
        description: "ECS tasks running in the scanning service",
    },
    MetricDef {
        metric: Metric::DesiredTasks,
        name: "DesiredTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        series_dims: false,
        description: "ECS tasks the service (its autoscaler) wants",
    },
    MetricDef {
        metric: Metric::PendingTasks,
        name: "PendingTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        series_dims: false,
        description: "ECS tasks starting",
    },
    MetricDef {
        metric: Metric::MaxTasks,
        name: "MaxTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        series_dims: false,
        description: "The service's maximum: max_tasks from thresholds.toml, else Application Auto Scaling MaxCapacity (no AWS metric carries it)",
    },
    MetricDef {
        metric: Metric::TaskUtilization,
        name: "TaskCapacityUtilization",
        unit: Unit::Percent,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        series_dims: false,
        description: "Task count (running by default, see ecs.count) as a percentage of MaxTaskCount",
    },
    MetricDef {
        metric: Metric::SourceUp,
        name: "SourceUp",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE],
        daily: false,
        series_dims: false,
        description: "1 when the source was read completely this run, 0 when it failed or had problems",
    },
    MetricDef {
        metric: Metric::ApiRequests,
        name: "ApiRequests",
        unit: Unit::Count,
        dimensions: &[DIM_API],
        daily: false,
        series_dims: false,
        description: "Requests costwarden made to the API in this run",
    },
    MetricDef {
        metric: Metric::ApiCostEstimate,
        name: "ApiCostEstimate",
        unit: Unit::Usd,
        dimensions: &[DIM_API],
        daily: false,
        series_dims: false,
        description: "Estimated USD this run's requests to the API cost (Cost Explorer 0.01 per request; CloudWatch 0.01 per 1,000 requests)",
    },
    MetricDef {
        metric: Metric::DatumsWritten,
        name: "DatumsWritten",
        unit: Unit::Count,
        dimensions: &[],
        daily: false,
        series_dims: false,
        description: "Datums sent to CloudWatch in this run (including these health metrics)",
    },
    MetricDef {
        metric: Metric::RunDuration,
        name: "RunDuration",
        unit: Unit::Seconds,
        dimensions: &[],
        daily: false,
        series_dims: false,
        description: "Wall time of the collection up to the write",
    },
    MetricDef {
        metric: Metric::AlertState,
        name: "AlertState",
        unit: Unit::Count,
        dimensions: &[DIM_RULE, DIM_SERIES],
        daily: false,
        series_dims: true,
        description: "The state last notified to the owning team: 0 OK, 1 WARNING, 2 CRITICAL. Written while not OK and once on recovery (so only alerting series cost a metric); also costwarden's memory of what it already said",
    },
    MetricDef {
        metric: Metric::ThresholdUtilization,
        name: "ThresholdUtilization",
        unit: Unit::Percent,
        dimensions: &[DIM_RULE, DIM_SERIES],
        daily: false,
        series_dims: true,
        description: "Level as a percentage of the critical threshold (growth, budget, capacity: now; forecast: projected at the horizon); for series with a configured plan, budget or capacity",
    },
    MetricDef {
        metric: Metric::DaysToBreach,
        name: "DaysToBreach",
        unit: Unit::None,
        dimensions: &[DIM_RULE, DIM_SERIES],
        daily: false,
        series_dims: true,
        description: "Days until the forecast crosses the critical threshold (only while it does within the horizon)",
    },
    MetricDef {
        metric: Metric::PlannedValue,
        name: "PlannedValue",
        unit: Unit::None,
        dimensions: &[DIM_RULE, DIM_SERIES],
        daily: false,
        series_dims: true,
        description: "The planned level per day of a series with a plan (bytes or USD), for graphing against the real series",
    },
    MetricDef {
        metric: Metric::NotificationsFailed,
        name: "NotificationsFailed",
        unit: Unit::Count,
        dimensions: &[],
        daily: false,
        series_dims: false,
        description: "Alert transitions that could not be delivered this run (retried next run)",
    },
    MetricDef {
        metric: Metric::DailyPublished,
        name: "DailyTotalsPublished",
        unit: Unit::None,
        dimensions: &[DIM_SOURCE],
        daily: false,
        series_dims: false,
        description: "The last UTC day (as YYYYMMDD) whose totals the source published; read back by every run to know whether the daily totals are due (collector.daily_totals = \"once\")",
    },
    MetricDef {
        metric: Metric::DailyStreams,
        name: "DailyTotalsStreams",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE],
        daily: false,
        series_dims: false,
        description: "Metric streams the source's daily run wrote (its totals, their verdicts, these records), read back with DailyTotalsPublished so that every run can project the month",
    },
    MetricDef {
        metric: Metric::DailyRequestsCost,
        name: "DailyTotalsRequestsCost",
        unit: Unit::Usd,
        dimensions: &[DIM_SOURCE],
        daily: false,
        series_dims: false,
        description: "List price in USD of the requests of the source's daily run (Cost Explorer USD 0.01 a page), read back like DailyTotalsStreams",
    },
    MetricDef {
        metric: Metric::DailyEstimated,
        name: "DailyTotalsEstimated",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE],
        daily: false,
        series_dims: false,
        description: "1 while the published day's Cost Explorer totals are Estimated, else 0; stamped at each read of that day, so runs know when the bounded re-read (cost.reread_hours) is due",
    },
    MetricDef {
        metric: Metric::SelfCostMonthly,
        name: "SelfCostMonthly",
        unit: Unit::Usd,
        dimensions: &[],
        daily: false,
        series_dims: false,
        description: "costwarden's own AWS bill projected to a month (USD): its metric streams at their cadence and its requests at list price (see `costwarden cost`)",
    },
    MetricDef {
        metric: Metric::UnscannedBuckets,
        name: "UnscannedBuckets",
        unit: Unit::Count,
        dimensions: &[DIM_OWNER],
        daily: false,
        series_dims: false,
        description: "S3 buckets of the owning team scanned by neither the Console nor GuardDuty and not excluded (with coverage.alert, once a day)",
    },
    MetricDef {
        metric: Metric::DigestSent,
        name: "DigestSent",
        unit: Unit::None,
        dimensions: &[DIM_OWNER],
        daily: false,
        series_dims: false,
        description: "the week (`YYYYMMDD`, the local due day) of the last digest sent to the team; read back so that separate invocations and a restarted daemon send each week's once",
    },
    MetricDef {
        metric: Metric::InventoryReviewed,
        name: "InventoryReviewed",
        unit: Unit::None,
        dimensions: &[DIM_OWNER],
        daily: false,
        series_dims: false,
        description: "the day (`YYYYMMDD`) `costwarden inventory review` last read the team's workbook reviewed; with `[inventory.review]`, the weekly digest reminds a team without one since the round opened",
    },
    MetricDef {
        metric: Metric::InventoryBytes,
        name: "InventoryBytes",
        unit: Unit::Bytes,
        dimensions: &[DIM_BUCKET],
        daily: false,
        series_dims: false,
        description: "bytes of the bucket's objects last modified in the inventory window (`inventory.window_days`), from its latest S3 Inventory: what event scanning scanned, as far as the objects still exist (with `[inventory] publish`, every `every_days` days)",
    },
    MetricDef {
        metric: Metric::DuplicateBytes,
        name: "DuplicateBytes",
        unit: Unit::Bytes,
        dimensions: &[DIM_BUCKET],
        daily: false,
        series_dims: false,
        description: "of those, the bytes of content already present under another key (same ETag and size): each copy was scanned again",
    },
];

impl Metric {
    pub fn def(self) -> &'static MetricDef {
        CATALOGUE.iter().find(|d| d.metric == self).expect("every Metric has a catalogue row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_catalogue_lists_every_metric_with_its_unit_and_dimensions() {
        let readme = include_str!("../README.md");
        for d in CATALOGUE {
            // The unit column is what CloudWatch is sent; money says its currency.
            let unit = if d.unit == Unit::Usd { "None (USD) |" } else { d.unit.cloudwatch_name() };
            let prefix = format!("| `{}` | {unit}", d.name);
            let line = readme
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("README.md has no catalogue row starting {prefix:?}"));
            let mut dims = if d.dimensions.is_empty() { "—".to_string() } else { d.dimensions.join(", ") };
            if d.series_dims {
                dims.push_str(" + the series' dimensions");
            }
            assert!(line.contains(&format!("| {dims} |")), "{line:?} lacks dimensions {dims:?}");
        }
    }

    #[test]
    fn catalogue_names_are_unique() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }
}
