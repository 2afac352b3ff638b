//! Which signals a run reads: the daily totals (scanned volume, cost) once a day, by the first
//! run after the day has closed and `collector.settle_hours` have passed; the ECS gauges every
//! run. What each source last published is read back from the `DailyTotalsPublished` metric it
//! writes with its totals, so separate Lambda invocations and a restarted daemon agree with no
//! table or file to deploy.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use crate::metrics::{Metric, DIM_SOURCE};
use crate::model::{Sample, SeriesKey, SourceId};
use crate::selfcost::Footprint;
use crate::wire::metric_data;

/// Why a source read every `every_days` days (the daily totals: 1) is not read now, or None
/// when it is due. Pure.
pub fn not_due(
    last_published: Option<NaiveDate>,
    now: DateTime<Utc>,
    settle_hours: u32,
    every_days: u32,
) -> Option<String> {
    let today = now.date_naive();
    let yesterday = crate::model::day_before(today);
    let settled = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + TimeDelta::hours(i64::from(settle_hours));
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%MZ");
    let every = u64::from(every_days.max(1));
    if let Some(d) = last_published.filter(|d| every > 1 && *d + Days::new(every - 1) >= yesterday) {
        // Read again for the day `every` days after: once that day has closed and settled.
        let next = settled + TimeDelta::days((d + Days::new(every + 1) - today).num_days());
        return Some(format!("not due: read every {every} days; last for {d}, next after {}", at(next)));
    }
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
    /// Cost Explorer: when `day` was last read while its totals were Estimated.
    pub estimated_read: Option<DateTime<Utc>>,
}

/// Whether this run re-reads yesterday's Cost Explorer totals: published, still Estimated when
/// last read, and that read `reread_hours` ago or more. Pure.
pub fn reread_due(p: Option<&Published>, now: DateTime<Utc>, reread_hours: u32) -> bool {
    let yesterday = crate::model::day_before(now.date_naive());
    let Some(p) = p.filter(|p| reread_hours > 0 && p.day == yesterday) else { return false };
    p.estimated_read.is_some_and(|t| now - t >= TimeDelta::hours(i64::from(reread_hours)))
}

/// The records a daily source writes with its totals.
fn records(id: SourceId) -> &'static [Metric] {
    const RECORDS: [Metric; 4] =
        [Metric::DailyPublished, Metric::DailyStreams, Metric::DailyRequestsCost, Metric::DailyEstimated];
    match id {
        SourceId::Cost => &RECORDS,
        _ => &RECORDS[..3],
    }
}

/// The records of a daily run of `id`: `day` as published, and the run's footprint so that every
/// later run can project the month without reading the source again; for Cost Explorer also
/// whether `day` was Estimated. Written last.
pub fn published_markers(id: SourceId, day: NaiveDate, footprint: Footprint, estimated: bool) -> Vec<Sample> {
    let key = |m| SeriesKey::new(m, vec![(DIM_SOURCE, id.name().to_string())]);
    let yyyymmdd = crate::model::day_code(day);
    let mut out = vec![
        Sample::gauge(key(Metric::DailyPublished), yyyymmdd),
        Sample::gauge(key(Metric::DailyStreams), footprint.streams as f64),
        Sample::gauge(key(Metric::DailyRequestsCost), footprint.requests_usd),
    ];
    if id == SourceId::Cost {
        out.push(estimated_marker(estimated));
    }
    out
}

/// Cost Explorer's record that its published day was (still) Estimated when read now.
pub fn estimated_marker(estimated: bool) -> Sample {
    let key = SeriesKey::new(Metric::DailyEstimated, vec![(DIM_SOURCE, SourceId::Cost.name().to_string())]);
    Sample::gauge(key, if estimated { 1.0 } else { 0.0 })
}

/// The streams `published_markers` adds to a daily run's footprint.
pub fn marker_streams(id: SourceId) -> usize {
    records(id).len()
}

/// What each daily source last published, from its records of the last `back_days` days (two
/// for the daily totals, one more than its period for a source read less often; one
/// GetMetricData request).
pub async fn published(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    sources: &[SourceId],
    now: DateTime<Utc>,
    back_days: i64,
) -> Result<BTreeMap<SourceId, Published>, String> {
    let slots: Vec<(usize, Metric)> =
        sources.iter().enumerate().flat_map(|(s, id)| records(*id).iter().map(move |m| (s, *m))).collect();
    let queries = slots
        .iter()
        .enumerate()
        .map(|(i, (s, m))| metric_data::own_series(i, namespace, m.def().name, [(DIM_SOURCE, sources[*s].name())]))
        .collect();
    let window =
        (CwDateTime::from_secs(now.timestamp() - back_days * 86_400), CwDateTime::from_secs(now.timestamp() + 60));
    let results = metric_data::read(cw, queries, window, None, 1)
        .await
        .map_err(|e| format!("reading what was published (GetMetricData): {e}"))?;
    // The latest value of each record, by (source, record).
    let values = metric_data::latest(results, slots.len());
    let latest: BTreeMap<(usize, Metric), (i64, f64)> =
        slots.into_iter().zip(values).filter_map(|(slot, v)| Some((slot, v?))).collect();
    let mut out = BTreeMap::new();
    for (s, id) in sources.iter().enumerate() {
        let get = |m| latest.get(&(s, m));
        let Some(day) = get(Metric::DailyPublished).and_then(|(_, v)| crate::model::from_day_code(*v)) else {
            continue;
        };
        let footprint = match (get(Metric::DailyStreams), get(Metric::DailyRequestsCost)) {
            (Some((_, n)), Some((_, usd))) => Some(Footprint { streams: *n as usize, requests_usd: *usd }),
            _ => None,
        };
        let estimated_read = get(Metric::DailyEstimated)
            .filter(|(_, v)| *v > 0.5)
            .and_then(|(t, _)| DateTime::<Utc>::from_timestamp(*t, 0));
        out.insert(*id, Published { day, footprint, estimated_read });
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
            not_due(day("2026-11-30"), at("2026-12-02T01:59:00Z"), 2, 1).as_deref(),
            Some("not due: the totals of 2026-12-01 are read after 2026-12-02 02:00Z (collector.settle_hours)")
        );
        // After it: due, until yesterday is published.
        assert_eq!(not_due(day("2026-11-30"), at("2026-12-02T02:00:00Z"), 2, 1), None);
        assert_eq!(not_due(None, at("2026-12-02T23:59:00Z"), 2, 1), None);
        assert_eq!(
            not_due(day("2026-12-01"), at("2026-12-02T02:15:00Z"), 2, 1).as_deref(),
            Some("not due: the totals of 2026-12-01 are published; 2026-12-02's are read after 2026-12-03 02:00Z")
        );
        assert_eq!(not_due(day("2026-12-01"), at("2026-12-02T00:00:00Z"), 0, 1).map(|_| ()), Some(()));
        // Weekly: the day after the one published is not due; seven days after it, once settled.
        assert_eq!(
            not_due(day("2026-11-30"), at("2026-12-07T05:00:00Z"), 2, 7).as_deref(),
            Some("not due: read every 7 days; last for 2026-11-30, next after 2026-12-08 02:00Z")
        );
        assert!(not_due(day("2026-11-30"), at("2026-12-08T01:59:00Z"), 2, 7).is_some());
        assert_eq!(not_due(day("2026-11-30"), at("2026-12-08T02:00:00Z"), 2, 7), None);
        assert_eq!(not_due(None, at("2026-12-08T02:00:00Z"), 2, 7), None);
    }

    #[test]
    fn yesterday_is_re_read_while_estimated_every_reread_hours() {
        let p = |day: &str, read: Option<&str>| Published {
            day: day.parse().unwrap(),
            footprint: None,
            estimated_read: read.map(at),
        };
        let now = at("2026-12-02T10:00:00Z");
        assert!(reread_due(Some(&p("2026-12-01", Some("2026-12-02T02:00:00Z"))), now, 8));
        assert!(!reread_due(Some(&p("2026-12-01", Some("2026-12-02T02:00:01Z"))), now, 8), "not 8 h yet");
        assert!(!reread_due(Some(&p("2026-12-01", None)), now, 8), "final when last read");
        assert!(!reread_due(Some(&p("2026-11-30", Some("2026-12-01T02:00:00Z"))), now, 8), "yesterday not published");
        assert!(!reread_due(Some(&p("2026-12-01", Some("2026-12-02T02:00:00Z"))), now, 0), "off");
        assert!(!reread_due(None, now, 8));
    }

    #[test]
    fn the_marker_reads_back_as_its_day() {
        let d: NaiveDate = "2026-12-01".parse().unwrap();
        let markers = published_markers(SourceId::Cost, d, Footprint { streams: 7, requests_usd: 0.02 }, true);
        let [m, streams, usd, estimated] = &markers[..] else { panic!("{markers:?}") };
        assert_eq!((estimated.key.to_string().as_str(), estimated.value), ("DailyTotalsEstimated{Source=cost}", 1.0));
        assert_eq!(published_markers(SourceId::Antivirus, d, Footprint::default(), true).len(), 3);
        assert_eq!(m.value, 20_261_201.0);
        assert_eq!(m.key.to_string(), "DailyTotalsPublished{Source=cost}");
        assert_eq!(crate::model::from_day_code(m.value), Some(d));
        assert_eq!((streams.key.to_string().as_str(), streams.value), ("DailyTotalsStreams{Source=cost}", 7.0));
        assert_eq!(usd.value, 0.02);
        assert_eq!(crate::model::from_day_code(0.0), None);
    }
}
