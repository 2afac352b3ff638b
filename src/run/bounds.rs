//! What a run keeps bounded whatever its peers send: the series a source may add in one run
//! (each a billed CloudWatch stream, and one more for Datadog to read), and the time the
//! sources may take to read.

use std::collections::BTreeSet;

use crate::config::{Config, DatadogReading};
use crate::model::SeriesKey;
use crate::selfcost::streams_usd;
use crate::sources::SourceOutput;

/// Whether thresholds.toml names the resource of `key` (a bucket, a tag value, a service, a
/// team): such series are always kept; the others are "new" to the bound.
pub fn configured(cfg: &Config, key: &SeriesKey) -> bool {
    crate::sources::ALL.iter().any(|s| s.configures(cfg, key))
}

/// Keeps every series of a configured resource, and of the others ("new") as many as leave the
/// source at most `baseline + cap` series (`baseline`: what its last daily run wrote), and
/// never fewer than `cap`; by name, so every run keeps the same ones. The rest are dropped,
/// neither written nor evaluated. Returns how many, and the problem that says so with what
/// they would have cost a month, Datadog's reading priced the way `datadog` says (with the
/// runs a month).
pub fn cap_new_series(
    out: &mut SourceOutput,
    known: &dyn Fn(&SeriesKey) -> bool,
    baseline: usize,
    cap: usize,
    datadog: (DatadogReading, f64),
) -> Option<(usize, String)> {
    let keys = out.daily.iter().map(|d| &d.key).chain(out.gauges.iter().map(|g| &g.key));
    let mut new: Vec<String> = keys.filter(|k| !known(k)).map(|k| k.to_string()).collect();
    let configured = out.daily.len() + out.gauges.len() - new.len();
    let room = baseline.saturating_add(cap).saturating_sub(configured).max(cap);
    if new.len() <= room {
        return None;
    }
    new.sort();
    let cut: BTreeSet<String> = new.split_off(room).into_iter().collect();
    out.daily.retain(|d| !cut.contains(&d.key.to_string()));
    out.gauges.retain(|g| !cut.contains(&g.key.to_string()));
    let dropped = cut.len();
    // A daily stream is billed for the hour it is written: a day's worth is 1/24 of a month.
    let cloudwatch = streams_usd(dropped as f64 / 24.0);
    let (polling, stream) = crate::selfcost::datadog_ways(datadog.1, 0, dropped);
    let datadog = match datadog.0 {
        DatadogReading::Polling => format!(" and USD {polling:.2} to Datadog's crawler"),
        DatadogReading::MetricStream => format!(" and USD {stream:.2} to the Metric Stream to Datadog"),
        DatadogReading::None => String::new(),
    };
    Some((
        dropped,
        format!(
            "{dropped} new series over the bound (collector.max_new_series {cap}, beyond the {baseline} written last time) were not written nor evaluated: \
             they would add about USD {cloudwatch:.2} a month to CloudWatch{datadog}; raise collector.max_new_series if they are expected"
        ),
    ))
}

/// Why a source still reading at the run's deadline is stopped: nothing it read is kept (a
/// partial daily total would be wrong), the others are evaluated and written, and its daily
/// totals stay due for the next run.
pub fn deadline_reached(id: crate::model::SourceId, secs: u64) -> String {
    format!(
        "{} not read: timed out after {secs} s, the run's read deadline (collector.read_deadline_secs); what the other sources read is written, this one is read again next run",
        id.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
    use crate::model::Daily;

    #[test]
    fn configured_series_are_kept_and_the_rest_cut_at_the_bound() {
        let cfg = Config::parse(
            "[antivirus]\nbase_url = \"https://c.example\"\n[[antivirus.buckets]]\nname = \"zz-known\"\n",
            "t.toml",
        )
        .unwrap();
        let key = |b: &str| {
            SeriesKey::new(Metric::ScannedBytes, vec![(DIM_SOURCE, "console".into()), (DIM_BUCKET, b.into())])
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let mut out = SourceOutput::default();
        out.daily.push(Daily::new(key("zz-known"), day));
        for i in 0..25_000 {
            out.daily.push(Daily::new(key(&format!("new-{i:05}")), day));
        }
        let polling = (DatadogReading::Polling, 2920.0);
        let (dropped, why) = cap_new_series(&mut out, &|k| configured(&cfg, k), 10, 90, polling).unwrap();
        assert_eq!((dropped, out.daily.len()), (24_901, 100));
        assert!(out.daily.iter().any(|d| d.key == key("zz-known")), "the configured bucket is kept");
        assert!(
            out.daily.iter().any(|d| d.key == key("new-00000")) && !out.daily.iter().any(|d| d.key == key("new-00099"))
        );
        assert!(
            why.starts_with(
                "24901 new series over the bound (collector.max_new_series 90, beyond the 10 written last time)"
            ),
            "{why}"
        );
        assert!(why.contains("USD 311.26 a month to CloudWatch and USD 1090.66 to Datadog's crawler"), "{why}");
        assert!(cap_new_series(&mut out, &|_| false, 0, 100, polling).is_none(), "within the bound nothing changes");
        // Read by a Metric Stream: each daily datum pushed once, 30.42 a month (USD 0.000003 and
        // a 5 KB Firehose record at USD 0.029 a GB each): 24,900 x 30.42 x 0.000003145 = USD 2.38.
        let mut more = SourceOutput::default();
        for i in 0..25_000 {
            more.daily.push(Daily::new(key(&format!("new-{i:05}")), day));
        }
        let stream = (DatadogReading::MetricStream, 2920.0);
        let (_, why) = cap_new_series(&mut more, &|k| configured(&cfg, k), 10, 90, stream).unwrap();
        assert!(why.contains("and USD 2.38 to the Metric Stream to Datadog;"), "{why}");
        let none = (DatadogReading::None, 2920.0);
        let (_, why) = cap_new_series(&mut more, &|k| configured(&cfg, k), 0, 10, none).unwrap();
        assert!(why.contains("to CloudWatch; raise"), "{why}");
    }
}
