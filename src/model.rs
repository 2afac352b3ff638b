//! The data every component speaks: a sample of one metric series, on one day or right now.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::metrics::Metric;

/// A series is a metric plus its dimensions (sorted by name, as CloudWatch identifies them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    pub metric: Metric,
    pub dims: Vec<(&'static str, String)>,
}

impl SeriesKey {
    pub fn new(metric: Metric, mut dims: Vec<(&'static str, String)>) -> SeriesKey {
        dims.sort();
        SeriesKey { metric, dims }
    }

    pub fn dim(&self, name: &str) -> Option<&str> {
        self.dims.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.metric.def().name)?;
        let dims: Vec<String> = self.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{{{}}}", dims.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub key: SeriesKey,
    /// The UTC day a daily total belongs to; `None` for a reading taken now (a gauge).
    pub day: Option<NaiveDate>,
    pub value: f64,
    /// Cost Explorer marks recent days as estimates that may still be revised.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Sample {
    pub fn daily(key: SeriesKey, day: NaiveDate, value: f64) -> Sample {
        Sample { key, day: Some(day), value, estimated: false }
    }

    pub fn gauge(key: SeriesKey, value: f64) -> Sample {
        Sample { key, day: None, value, estimated: false }
    }
}
