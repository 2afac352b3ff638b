//! The metric catalogue: one table shared by the CloudWatch sink, the README and the Datadog
//! generator, so a renamed metric cannot leave a dashboard pointing at nothing.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Metric {
    ScannedBytes,
    ScannedObjects,
    Cost,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Bytes,
    Count,
    Percent,
    Seconds,
    /// Money: CloudWatch has no currency unit; the currency is Cost Explorer's (USD).
    None,
}

#[derive(Debug)]
pub struct MetricDef {
    pub metric: Metric,
    pub name: &'static str,
    pub unit: Unit,
    pub dimensions: &'static [&'static str],
    /// True for a per-day total (stamped at collection time, holding the previous UTC day).
    pub daily: bool,
    pub description: &'static str,
}

pub const DIM_SOURCE: &str = "Source";
pub const DIM_BUCKET: &str = "Bucket";
pub const DIM_TAG_KEY: &str = "TagKey";
pub const DIM_TAG_VALUE: &str = "TagValue";
pub const DIM_CLUSTER: &str = "Cluster";
pub const DIM_SERVICE: &str = "Service";
pub const DIM_API: &str = "Api";

pub const CATALOGUE: &[MetricDef] = &[
    MetricDef {
        metric: Metric::ScannedBytes,
        name: "ScannedBytes",
        unit: Unit::Bytes,
        dimensions: &[DIM_SOURCE, DIM_BUCKET],
        daily: true,
        description: "Bytes scanned for malware in the bucket during the previous UTC day (Source = console or guardduty)",
    },
    MetricDef {
        metric: Metric::ScannedObjects,
        name: "ScannedObjects",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE, DIM_BUCKET],
        daily: true,
        description: "Objects scanned in the bucket during the previous UTC day",
    },
    MetricDef {
        metric: Metric::Cost,
        name: "Cost",
        unit: Unit::None,
        dimensions: &[DIM_TAG_KEY, DIM_TAG_VALUE],
        daily: true,
        description: "Cost Explorer cost (configured metric, USD) of resources with this cost-allocation tag value during the previous UTC day; TagValue \"untagged\" for resources without the tag",
    },
    MetricDef {
        metric: Metric::RunningTasks,
        name: "RunningTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        description: "ECS tasks running in the scanning service",
    },
    MetricDef {
        metric: Metric::DesiredTasks,
        name: "DesiredTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        description: "ECS tasks the service (its autoscaler) wants",
    },
    MetricDef {
        metric: Metric::PendingTasks,
        name: "PendingTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        description: "ECS tasks starting",
    },
    MetricDef {
        metric: Metric::MaxTasks,
        name: "MaxTaskCount",
        unit: Unit::Count,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        description: "The service's maximum: max_tasks from thresholds.toml, else Application Auto Scaling MaxCapacity (no AWS metric carries it)",
    },
    MetricDef {
        metric: Metric::TaskUtilization,
        name: "TaskCapacityUtilization",
        unit: Unit::Percent,
        dimensions: &[DIM_CLUSTER, DIM_SERVICE],
        daily: false,
        description: "Task count (running by default, see ecs.count) as a percentage of MaxTaskCount",
    },
    MetricDef {
        metric: Metric::SourceUp,
        name: "SourceUp",
        unit: Unit::Count,
        dimensions: &[DIM_SOURCE],
        daily: false,
        description: "1 when the source was read completely this run, 0 when it failed or had problems",
    },
    MetricDef {
        metric: Metric::ApiRequests,
        name: "ApiRequests",
        unit: Unit::Count,
        dimensions: &[DIM_API],
        daily: false,
        description: "Requests costwarden made to the API in this run",
    },
    MetricDef {
        metric: Metric::ApiCostEstimate,
        name: "ApiCostEstimate",
        unit: Unit::None,
        dimensions: &[DIM_API],
        daily: false,
        description: "Estimated USD this run's requests to the API cost (Cost Explorer 0.01 per request; CloudWatch 0.01 per 1,000 requests)",
    },
    MetricDef {
        metric: Metric::DatumsWritten,
        name: "DatumsWritten",
        unit: Unit::Count,
        dimensions: &[],
        daily: false,
        description: "Datums sent to CloudWatch in this run (including these health metrics)",
    },
    MetricDef {
        metric: Metric::RunDuration,
        name: "RunDuration",
        unit: Unit::Seconds,
        dimensions: &[],
        daily: false,
        description: "Wall time of the collection up to the write",
    },
];

impl Metric {
    pub fn def(self) -> &'static MetricDef {
        CATALOGUE
            .iter()
            .find(|d| d.metric == self)
            .expect("every Metric has a catalogue row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_catalogue_lists_every_metric_with_its_unit_and_dimensions() {
        let readme = include_str!("../README.md");
        for d in CATALOGUE {
            let unit = match d.unit {
                Unit::None => "None (USD)".to_string(),
                u => format!("{u:?}"),
            };
            let dims = if d.dimensions.is_empty() {
                "—".to_string()
            } else {
                d.dimensions.join(", ")
            };
            let row = format!("| `{}` | {unit} | {dims} |", d.name);
            assert!(
                readme.contains(&row),
                "README.md lacks the catalogue row {row:?}"
            );
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
