//! Which signals a run reads: the daily totals (scanned volume, cost) once a day, by the first
//! run after the day has closed and `collector.settle_hours` have passed; the ECS gauges every
//! run. What each source last published is read back from the `DailyTotalsPublished` metric it
//! writes with its totals, so separate Lambda invocations and a restarted daemon agree with no
//! table or file to deploy.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};

use crate::metrics::{Metric, DIM_SOURCE};
use crate::model::{Sample, SeriesKey, SourceId};
use crate::selfcost::Footprint;
use crate::wire::metric_data;

/// The sources whose data are daily totals.
pub fn is_daily(id: SourceId) -> bool {
    !matches!(id, SourceId::Ecs)
}

/// Why a daily source is not read now, or None when it is due. Pure.
pub fn not_due(last_published: Option<NaiveDate>, now: DateTime<Utc>, settle_hours: u32) -> Option<String> {
    let today = now.date_naive();
    let yesterday = today.pred_opt().expect("a day before today");
    let settled = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + TimeDelta::hours(i64::from(settle_hours));
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%MZ");
    if last_published.is_some_and(|d| d >= yesterday) {
        return Some(format!(
            "not due: the totals of {yesterday} are published; {today}'s are read after {}",
            at(settled + Days::new(1))
        ));
    }
    (now < settled)
        .then(|| format!("not due: the totals of {yesterday} are read after {} (collector.settle_hours)", at(settled)))
}

/// What a daily source last published: the day, and what its daily run wrote and requested
/// (None from markers written before costwarden recorded it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    pub day: NaiveDate,
    pub footprint: Option<Footprint>,
}

/// The records of a daily run of `id`: `day` as published, and the run's footprint so that every
/// later run can project the month without reading the source again. Written last.
pub fn published_markers(id: SourceId, day: NaiveDate, footprint: Footprint) -> [Sample; 3] {
    let key = |m| SeriesKey::new(m, vec![(DIM_SOURCE, id.name().to_string())]);
    let yyyymmdd = f64::from(day.year() as u32 * 10_000 + day.month() * 100 + day.day());
    [
        Sample::gauge(key(Metric::DailyPublished), yyyymmdd),
        Sample::gauge(key(Metric::DailyStreams), footprint.streams as f64),
        Sample::gauge(key(Metric::DailyRequestsCost), footprint.requests_usd),
    ]
}

/// The streams `published_markers` adds to a daily run's footprint.
pub const MARKER_STREAMS: usize = 3;

fn marker_day(v: f64) -> Option<NaiveDate> {
    let n = v as u32;
    NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100)
}

const RECORDS: [Metric; 3] = [Metric::DailyPublished, Metric::DailyStreams, Metric::DailyRequestsCost];

/// What each daily source last published, from its records of the last two days (one
/// GetMetricData request).
pub async fn published(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    sources: &[SourceId],
    now: DateTime<Utc>,
) -> Result<BTreeMap<SourceId, Published>, String> {
    let queries = sources
        .iter()
        .flat_map(|id| RECORDS.map(|m| (id, m)))
        .enumerate()
        .map(|(i, (id, m))| metric_data::own_series(i, namespace, m.def().name, [(DIM_SOURCE, id.name())]))
        .collect();
    let window = (CwDateTime::from_secs(now.timestamp() - 2 * 86_400), CwDateTime::from_secs(now.timestamp() + 60));
    let results = metric_data::read(cw, queries, window, None, 1)
        .await
        .map_err(|e| format!("reading what was published (GetMetricData): {e}"))?;
    // The latest value of each record, by (source, record).
    let mut latest: BTreeMap<(usize, usize), (i64, f64)> = BTreeMap::new();
    for (id, values) in results {
        let Some(i) = metric_data::own_series_index(&id).filter(|i| *i < sources.len() * RECORDS.len()) else {
            continue;
        };
        if let Some(&(t, v)) = values.iter().max_by_key(|(t, _)| *t) {
            let slot = latest.entry((i / RECORDS.len(), i % RECORDS.len())).or_insert((t, v));
            if t >= slot.0 {
                *slot = (t, v);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (s, id) in sources.iter().enumerate() {
        let Some(day) = latest.get(&(s, 0)).and_then(|(_, v)| marker_day(*v)) else { continue };
        let footprint = match (latest.get(&(s, 1)), latest.get(&(s, 2))) {
            (Some((_, n)), Some((_, usd))) => Some(Footprint { streams: *n as usize, requests_usd: *usd }),
            _ => None,
        };
        out.insert(*id, Published { day, footprint });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_day_is_due_once_after_it_has_settled() {
        let day = |s: &str| Some(s.parse::<NaiveDate>().unwrap());
        // Before the settling delay: yesterday is not read yet, whatever was published.
        assert_eq!(
            not_due(day("2026-11-30"), at("2026-12-02T01:59:00Z"), 2).as_deref(),
            Some("not due: the totals of 2026-12-01 are read after 2026-12-02 02:00Z (collector.settle_hours)")
        );
        // After it: due, until yesterday is published.
        assert_eq!(not_due(day("2026-11-30"), at("2026-12-02T02:00:00Z"), 2), None);
        assert_eq!(not_due(None, at("2026-12-02T23:59:00Z"), 2), None);
        assert_eq!(
            not_due(day("2026-12-01"), at("2026-12-02T02:15:00Z"), 2).as_deref(),
            Some("not due: the totals of 2026-12-01 are published; 2026-12-02's are read after 2026-12-03 02:00Z")
        );
        assert_eq!(not_due(day("2026-12-01"), at("2026-12-02T00:00:00Z"), 0).map(|_| ()), Some(()));
    }

    #[test]
    fn the_marker_reads_back_as_its_day() {
        let d: NaiveDate = "2026-12-01".parse().unwrap();
        let [m, streams, usd] = published_markers(SourceId::Cost, d, Footprint { streams: 7, requests_usd: 0.02 });
        assert_eq!(m.value, 20_261_201.0);
        assert_eq!(m.key.to_string(), "DailyTotalsPublished{Source=cost}");
        assert_eq!(marker_day(m.value), Some(d));
        assert_eq!((streams.key.to_string().as_str(), streams.value), ("DailyTotalsStreams{Source=cost}", 7.0));
        assert_eq!(usd.value, 0.02);
        assert_eq!(marker_day(0.0), None);
    }
}
