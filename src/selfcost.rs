//! costwarden's own AWS bill, projected to a month from what runs write and request. Pure: the
//! cycle measures a run's footprint (at the wire and in the datums it writes), this module
//! prices it. One price table, with its public source, for every figure costwarden shows.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, DailyTotals};
use crate::metrics::{Metric, DIM_SERIES, DIM_SOURCE};
use crate::model::{Sample, SourceId};
use crate::price;
use crate::wire::Api;

/// What one part of a run writes and requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Footprint {
    /// Distinct metric streams written (one datum each).
    pub streams: usize,
    /// List price of the requests, USD.
    pub requests_usd: f64,
}

impl Footprint {
    pub fn add(&mut self, other: Footprint) {
        self.streams += other.streams;
        self.requests_usd += other.requests_usd;
    }
}

/// The daily source whose work wrote this sample (its daily totals, their rule verdicts, its
/// health and published-day records), or None for what every run writes. A daily part is
/// written once a day with `daily_totals = "once"`.
pub fn daily_part(s: &Sample) -> Option<SourceId> {
    let gauge_of_a_daily_source =
        matches!(s.key.metric, Metric::UnscannedBuckets | Metric::InventoryBytes | Metric::DuplicateBytes);
    if s.day.is_some() || s.key.dim(DIM_SERIES).is_some() || gauge_of_a_daily_source {
        // A daily total, a rule verdict on a series, coverage's per-owner gauge: the source
        // whose work it is, by metric and Source.
        return crate::sources::owner_of(&s.key).filter(|id| id.is_daily());
    }
    match s.key.metric {
        Metric::SourceUp
        | Metric::DailyPublished
        | Metric::DailyStreams
        | Metric::DailyRequestsCost
        | Metric::DailyEstimated => {
            let id = SourceId::ALL.into_iter().find(|id| s.key.dim(DIM_SOURCE) == Some(id.name()))?;
            id.is_daily().then_some(id)
        }
        _ => None,
    }
}

/// One priced line of the projection.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
    pub assumption: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Projection {
    pub runs_per_month: f64,
    pub lines: Vec<Line>,
    /// costwarden's own AWS bill a month: the sum of `lines`.
    pub monthly_usd: f64,
    /// What Datadog's reading adds to the AWS bill, the way `[datadog] reading` says (estimate).
    pub datadog_usd: f64,
    /// The way it reads, and the month of each way (`datadog_ways`).
    pub datadog_reading: crate::config::DatadogReading,
    pub datadog_polling_usd: f64,
    pub datadog_stream_usd: f64,
    /// Daily sources whose daily part is not known yet (never published, not read this run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<SourceId>,
    /// The daily series a user gave (`cost --daily-series`), in place of those recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_series_given: Option<usize>,
}

/// USD a month for `metric_months` of custom metrics, over the tiers.
pub fn streams_usd(metric_months: f64) -> f64 {
    let (mut left, mut from, mut usd) = (metric_months, 0.0, 0.0);
    for (upto, each) in price::STREAM_TIERS {
        let here = left.min(upto - from);
        usd += here * each;
        left -= here;
        from = upto;
        if left <= 0.0 {
            break;
        }
    }
    usd
}

/// The month: `every_run` written and requested by each of `runs_per_month` runs, `daily` once
/// a day. A stream is billed for each hour it gets a datum in, so one written every run costs
/// at most the 730 hours of a month and one written daily 30.4.
/// `rereads`: Cost Explorer re-reads a month, and the price of one.
pub fn project(
    runs_per_month: f64,
    every_run: Footprint,
    daily: Footprint,
    unknown: Vec<SourceId>,
    rereads: (f64, f64),
) -> Projection {
    let run_hours = runs_per_month.min(price::HOURS_PER_MONTH);
    let day_hours = price::DAYS_PER_MONTH.min(run_hours);
    let months = |streams: usize, hours: f64| streams as f64 * hours / price::HOURS_PER_MONTH;
    let (run_mm, day_mm) = (months(every_run.streams, run_hours), months(daily.streams, day_hours));
    let all = streams_usd(run_mm + day_mm);
    // The tiers price the whole; each part is shown at its share.
    let share = |mm: f64| if run_mm + day_mm > 0.0 { all * mm / (run_mm + day_mm) } else { 0.0 };
    let lines = vec![
        Line {
            item: "metric streams written every run".into(),
            quantity: every_run.streams as f64,
            unit: "streams",
            usd: share(run_mm),
            assumption: format!("billed {run_hours:.0} h a month each, USD 0.30 per metric-month (tiered)"),
        },
        Line {
            item: "metric streams written once a day".into(),
            quantity: daily.streams as f64,
            unit: "streams",
            usd: share(day_mm),
            assumption: format!("billed {day_hours:.1} h a month each"),
        },
        Line {
            item: "requests of every run".into(),
            quantity: runs_per_month,
            unit: "runs",
            usd: every_run.requests_usd * runs_per_month,
            assumption: format!("USD {:.6} a run at list price", every_run.requests_usd),
        },
        Line {
            item: "requests of the daily run".into(),
            quantity: price::DAYS_PER_MONTH,
            unit: "days",
            usd: daily.requests_usd * price::DAYS_PER_MONTH,
            assumption: format!("USD {:.6} a day (Cost Explorer USD 0.01 a page)", daily.requests_usd),
        },
        Line {
            item: "re-reads of CE's Estimated yesterday".into(),
            quantity: rereads.0,
            unit: "re-reads",
            usd: rereads.0 * rereads.1,
            assumption: format!(
                "USD {:.6} each (a page; a GetMetricData query per configured tag value and untagged); none once the day is final",
                rereads.1
            ),
        },
    ];
    let monthly_usd = lines.iter().map(|l| l.usd).sum();
    let (polling, stream) = datadog_ways(runs_per_month, every_run.streams, daily.streams);
    Projection {
        runs_per_month,
        lines,
        monthly_usd,
        datadog_usd: polling,
        datadog_reading: Default::default(),
        datadog_polling_usd: polling,
        datadog_stream_usd: stream,
        unknown,
        daily_series_given: None,
    }
}

/// What Datadog's reading of these streams adds to the AWS bill a month, (polling, stream).
/// Polling: GetMetricData on every stream about every 10 minutes, written or not. A metric
/// stream: each stream's datum once, as a metric update, plus Firehose at a 5 KB record per
/// update (an upper bound: a record carries several updates).
pub fn datadog_ways(runs_per_month: f64, every_run: usize, daily: usize) -> (f64, f64) {
    let polling = (every_run + daily) as f64 * price::DATADOG_READS_PER_MONTH * price::GET_METRIC_DATA_PER_METRIC;
    let minutes = price::HOURS_PER_MONTH * 60.0;
    let updates =
        every_run as f64 * runs_per_month.min(minutes) + daily as f64 * price::DAYS_PER_MONTH.min(runs_per_month);
    let stream = updates * (price::METRIC_STREAM_UPDATE + price::FIREHOSE_RECORD_GB * price::FIREHOSE_PER_GB);
    (polling, stream)
}

/// The month of `cfg`'s runs: every run's part from this run, each daily source's from this run
/// when it was read (`read`), else from the footprint its last daily run recorded. `markers`:
/// the streams of a daily source's own records (`run::cadence`). `given` daily series replace the streams
/// so found; a source with no record is then priced at one Cost Explorer page (or no request
/// for the Console and GuardDuty, whose reads cost nothing or ride on GetMetricData) and its
/// PutMetricData share.
pub fn month(
    cfg: &Config,
    every_run: Footprint,
    read: &BTreeMap<SourceId, Footprint>,
    recorded: &BTreeMap<SourceId, Footprint>,
    markers: impl Fn(SourceId) -> usize,
    given: Option<usize>,
) -> Projection {
    let runs = crate::schedule::runs_per_month(cfg.every_run_schedule()).unwrap_or(0.0);
    let (mut daily, mut unknown, mut unrecorded) = (Footprint::default(), Vec::new(), false);
    let mut periodic = Vec::new();
    if cfg.collector.daily_totals == DailyTotals::Once {
        let daily_sources =
            || SourceId::ALL.into_iter().filter(|&id| cfg.source_schedule(id).is_some() && id.is_daily());
        for id in daily_sources() {
            let recorded = recorded.get(&id).copied();
            match (read.get(&id).copied().or(recorded), given) {
                (Some(f), _) if cfg.every_days(id) > 1 => periodic.push((id, f)),
                (Some(f), _) => daily.add(f),
                (None, Some(_)) => {
                    unrecorded = true;
                    daily.requests_usd += crate::sources::get(id).least_read_usd();
                }
                (None, None) => unknown.push(id),
            }
        }
        if let Some(n) = given {
            // The given series replace the recorded ones; the records are still written.
            daily.streams = n + daily_sources().map(markers).sum::<usize>();
            if unrecorded {
                daily.requests_usd += n.div_ceil(1000) as f64 * Api::PutMetricData.usd_per_request();
            }
        }
    }
    let mut p = project(runs, every_run, daily, unknown, rereads(cfg, runs));
    for (id, f) in periodic {
        // A read every `every` days: its streams billed the hour each is written (first tier).
        let every = cfg.every_days(id);
        let reads = (price::DAYS_PER_MONTH / f64::from(every)).min(runs);
        let streams_usd = f.streams as f64 * reads / price::HOURS_PER_MONTH * price::STREAM_TIERS[0].1;
        let usd = streams_usd + f.requests_usd * reads;
        p.lines.push(Line {
            item: format!("{} read every {every} days", id.name()),
            quantity: reads,
            unit: "reads",
            usd,
            assumption: format!(
                "{} streams billed the hour each is written; USD {:.6} a read (requests at list price, Athena's scanned bytes)",
                f.streams, f.requests_usd
            ),
        });
        p.monthly_usd += usd;
        // Datadog's crawler polls them as often as any; a stream pushes each datum once.
        let n = f.streams as f64;
        p.datadog_polling_usd += n * price::DATADOG_READS_PER_MONTH * price::GET_METRIC_DATA_PER_METRIC;
        p.datadog_stream_usd +=
            n * reads * (price::METRIC_STREAM_UPDATE + price::FIREHOSE_RECORD_GB * price::FIREHOSE_PER_GB);
    }
    p.daily_series_given = given;
    p.datadog_reading = cfg.datadog.reading;
    p.datadog_usd = match cfg.datadog.reading {
        crate::config::DatadogReading::Polling => p.datadog_polling_usd,
        crate::config::DatadogReading::MetricStream => p.datadog_stream_usd,
        crate::config::DatadogReading::None => 0.0,
    };
    if let Some((teams, usd)) = crate::digest::monthly_usd(cfg, runs) {
        p.lines.push(Line {
            item: "weekly digests".into(),
            quantity: teams as f64,
            unit: "teams",
            usd,
            assumption: "a week: a GetMetricData metric a series, an SNS publish, the marker (read at most every run)"
                .into(),
        });
        p.monthly_usd += usd;
    }
    p
}

/// Re-reads of Cost Explorer's yesterday a month (`run::revise`) and the list price of one: at
/// most one every `reread_hours` between the daily run after `settle_hours` and the next (as
/// if CE called yesterday Estimated all day, as it does in an open billing month), each one
/// page, a GetMetricData query per tag value (the configured ones and `untagged`) and a
/// PutMetricData.
fn rereads(cfg: &Config, runs_per_month: f64) -> (f64, f64) {
    let Some(c) = cfg.cost.as_ref().filter(|c| c.reread_hours > 0 && cfg.collector.daily_totals == DailyTotals::Once)
    else {
        return (0.0, 0.0);
    };
    let open_hours = 24 - cfg.collector.settle_hours.min(23);
    let a_day = f64::from(open_hours.div_ceil(c.reread_hours) - 1).min(runs_per_month / price::DAYS_PER_MONTH);
    let each = Api::GetCostAndUsage.usd_per_request()
        + (c.tags.len() + 1) as f64 * price::GET_METRIC_DATA_PER_METRIC
        + Api::PutMetricData.usd_per_request();
    (a_day * price::DAYS_PER_MONTH, each)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKey;

    #[test]
    fn datadog_reads_by_polling_every_stream_or_by_a_stream_each_datum_once() {
        // 100 streams every run (2,920 runs), 1,000 daily ones.
        let (polling, stream) = datadog_ways(2920.0, 100, 1000);
        assert!((polling - 1100.0 * 4380.0 * 1e-5).abs() < 1e-9, "{polling}");
        let updates = 100.0 * 2920.0 + 1000.0 * 730.0 / 24.0;
        let each = 0.003 / 1000.0 + 5.0 / 1_048_576.0 * 0.029;
        assert!((stream - updates * each).abs() < 1e-9, "{stream}");
        // More runs than minutes: a stream gets at most one update a minute.
        assert!((datadog_ways(1e6, 1, 0).1 - 43_800.0 * each).abs() < 1e-9);
    }

    #[test]
    fn streams_are_priced_over_the_tiers() {
        assert!((streams_usd(100.0) - 30.0).abs() < 1e-9);
        assert!((streams_usd(12_000.0) - (3_000.0 + 200.0)).abs() < 1e-9);
    }

    #[test]
    fn a_stream_written_every_15_minutes_costs_a_month_and_a_daily_one_a_24th() {
        let every = Footprint { streams: 10, requests_usd: 0.00004 };
        let daily = Footprint { streams: 24, requests_usd: 0.02 };
        let p = project(2920.0, every, daily, vec![], (30.42, 0.01004));
        let usd: Vec<f64> = p.lines.iter().map(|l| (l.usd * 1e4).round() / 1e4).collect();
        // 10 × 0.30; 24 × 30.42/730 × 0.30; 2920 × 0.00004; 30.42 × 0.02; 30.42 × 0.01004.
        assert_eq!(usd, [3.0, 0.3, 0.1168, 0.6083, 0.3054]);
        assert!((p.monthly_usd - 4.3305).abs() < 1e-3, "{}", p.monthly_usd);
        // 34 streams read 4,380 times at USD 0.01 per 1,000.
        assert!((p.datadog_usd - 34.0 * 4380.0 * 1e-5).abs() < 1e-9);
    }

    #[test]
    fn runs_less_often_than_hourly_bill_fewer_hours() {
        let p = project(120.0, Footprint { streams: 73, requests_usd: 0.0 }, Footprint::default(), vec![], (0.0, 0.0));
        assert!((p.lines[0].usd - 73.0 * 120.0 / 730.0 * 0.30).abs() < 1e-9);
    }

    #[test]
    fn each_sample_belongs_to_the_part_that_writes_it() {
        let day = "2026-12-01".parse().unwrap();
        let key = |m, dims: Vec<(&'static str, &str)>| {
            SeriesKey::new(m, dims.into_iter().map(|(k, v)| (k, v.to_string())).collect())
        };
        let bytes = Sample::daily(key(Metric::ScannedBytes, vec![("Source", "console"), ("Bucket", "b")]), day, 1.0);
        assert_eq!(daily_part(&bytes), Some(SourceId::Antivirus));
        let cost = Sample::daily(key(Metric::Cost, vec![("TagKey", "k"), ("TagValue", "v")]), day, 1.0);
        assert_eq!(daily_part(&cost), Some(SourceId::Cost));
        let verdict = Sample::gauge(
            key(
                Metric::ThresholdUtilization,
                vec![("Rule", "growth"), ("Series", "ScannedBytes"), ("Source", "guardduty")],
            ),
            50.0,
        );
        assert_eq!(daily_part(&verdict), Some(SourceId::GuardDuty));
        let capacity = Sample::gauge(
            key(Metric::ThresholdUtilization, vec![("Rule", "capacity"), ("Series", "TaskCapacityUtilization")]),
            50.0,
        );
        assert_eq!(daily_part(&capacity), None);
        assert_eq!(
            daily_part(&Sample::gauge(key(Metric::SourceUp, vec![("Source", "cost")]), 1.0)),
            Some(SourceId::Cost)
        );
        assert_eq!(daily_part(&Sample::gauge(key(Metric::SourceUp, vec![("Source", "ecs")]), 1.0)), None);
        assert_eq!(daily_part(&Sample::gauge(key(Metric::RunningTasks, vec![("Cluster", "c")]), 1.0)), None);
    }
}
