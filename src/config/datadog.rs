use serde::Deserialize;

/// `[datadog]`: how Datadog reads costwarden's metrics, which `costwarden cost` prices.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Datadog {
    pub reading: DatadogReading,
}

/// `polling`: the AWS integration's crawler (GetMetricData on every stream about every 10
/// minutes); `metric_stream`: a CloudWatch Metric Stream through Firehose
/// (deploy/metric-stream.yaml); `none`: Datadog does not read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatadogReading {
    #[default]
    Polling,
    MetricStream,
    None,
}

impl DatadogReading {
    pub fn name(self) -> &'static str {
        match self {
            DatadogReading::Polling => "polling",
            DatadogReading::MetricStream => "metric_stream",
            DatadogReading::None => "none",
        }
    }
}
