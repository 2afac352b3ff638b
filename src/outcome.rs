//! What a run did, source by source: the report `report` renders and the entry points return.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::model::{Sample, SourceId};
use crate::sink::cloudwatch::SinkReport;
use crate::wire::Api;
use crate::{alerts, rules, selfcost};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Read, but some items or services had problems.
    Partial,
    Failed,
    /// Not read this run: its daily totals are not due (`run::cadence`).
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub source: SourceId,
    pub status: Status,
    pub series: usize,
    pub samples: usize,
    /// The most recent day with a daily total (None for gauges or when nothing arrived).
    pub latest_day: Option<NaiveDate>,
    pub requests: u64,
    /// List price of those requests, USD.
    #[serde(skip)]
    pub requests_usd: f64,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why the source was not read this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl SourceReport {
    /// A source being read: Ok until its outcome says otherwise.
    pub fn read(source: SourceId) -> SourceReport {
        SourceReport { status: Status::Ok, skipped: None, ..SourceReport::skipped(source, String::new()) }
    }

    pub fn skipped(source: SourceId, why: String) -> SourceReport {
        SourceReport {
            source,
            status: Status::Skipped,
            series: 0,
            samples: 0,
            latest_day: None,
            requests: 0,
            requests_usd: 0.0,
            duration_ms: 0,
            error: None,
            problems: Vec::new(),
            skipped: Some(why),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub started: DateTime<Utc>,
    /// The day whose totals were published (the UTC day before `started`).
    pub report_day: NaiveDate,
    pub dry_run: bool,
    pub sources: Vec<SourceReport>,
    pub datums: usize,
    pub sink: SinkReport,
    /// Every request the cycle made, counted at the wire, retries included.
    pub requests: BTreeMap<Api, u64>,
    pub estimated_usd: f64,
    /// This configuration's AWS bill a month, projected from this run (and the daily runs'
    /// records).
    pub self_cost: selfcost::Projection,
    /// Samples refused before writing (a non-finite value, a dimension value CloudWatch refuses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    /// Every rule's verdict on every watched series.
    pub findings: Vec<rules::Finding>,
    pub alerts: alerts::deliver::AlertReport,
    /// The weekly digests this run sent (`[digest]`), if any was due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::digest::send::Report>,
    /// What was (or, with --dry-run, would have been) written.
    #[serde(skip)]
    pub published: Vec<Sample>,
    /// Everything collected, daily history included: the input of evaluation.
    #[serde(skip)]
    pub observations: rules::Observations,
}

impl RunReport {
    /// True when every source was read completely, every datum written, every alert delivered.
    pub fn ok(&self) -> bool {
        self.sources.iter().all(|s| matches!(s.status, Status::Ok | Status::Skipped))
            && self.sink.failed == 0
            && self.rejected.is_empty()
            && self.alerts.ok()
            && self.digest.as_ref().is_none_or(|d| d.errors.is_empty())
    }
}
