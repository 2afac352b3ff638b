//! Antivirus for Amazon S3 Console (Cloud Storage Security): per-bucket, per-day scan volume.
//!
//! The token call is documented; the statistics endpoint is not, so its shape comes from
//! `[antivirus.api]` in thresholds.toml (see config::ConsoleApi).

mod client;
pub mod discover;
mod page;
mod probe;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use futures::future::BoxFuture;
use reqwest::StatusCode;

use crate::config::Antivirus;
use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, SOURCE_CONSOLE};
use crate::model::{Daily, ScanTypes, SeriesKey};
use crate::sources::{Context, Probed, Problems, Source, SourceId, SourceOutput};
pub use client::ConsoleClient;
pub use page::{parse_page, total_pages, Page};

/// The Console client when `[antivirus]` is enabled, or why it could not be built; None without
/// `[antivirus]`.
pub type ConsoleIfEnabled<'a> = Option<Result<&'a ConsoleClient, String>>;

/// Whoever holds the Console client (`App`, across runs) hands it out: built on first use, so its
/// credentials are read inside the counting scope of the first source that needs it.
pub trait Access: Sync {
    fn console(&self) -> BoxFuture<'_, ConsoleIfEnabled<'_>>;
}

/// A Console client already built (or not): what a command that built it once hands on.
pub struct Built<'a>(pub ConsoleIfEnabled<'a>);

impl Access for Built<'_> {
    fn console(&self) -> BoxFuture<'_, ConsoleIfEnabled<'_>> {
        let c = self.0.clone();
        Box::pin(async move { c })
    }
}

/// The source: the Console's statistics, per bucket and day.
pub struct Console;

impl Source for Console {
    fn id(&self) -> SourceId {
        SourceId::Antivirus
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let c = ctx.config.antivirus.as_ref().expect("an enabled source is configured");
            let client = ctx.console.console().await.expect("an enabled [antivirus] has a Console")?;
            collect(client, c, ctx.today, ctx.config.collector.concurrency, ctx.new_series)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        Box::pin(probe::probe(ctx))
    }

    fn wrote(&self, _metric: &str, source: Option<&str>) -> bool {
        source == Some(SOURCE_CONSOLE)
    }

    /// Object counts only with `antivirus.object_counts`.
    fn publishes(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.metric != Metric::ScannedObjects || cfg.antivirus.as_ref().is_some_and(|a| a.object_counts)
    }

    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.dim(DIM_BUCKET).is_some_and(|b| crate::sources::listed_bucket(cfg, b))
    }

    fn rules(&self, cfg: &crate::config::Config, keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        crate::sources::bucket_rules(cfg, keys, cfg.antivirus.as_ref().map(|a| &a.buckets))
    }

    fn listed(&self, cfg: &crate::config::Config) -> Vec<SeriesKey> {
        crate::sources::listed_buckets(SOURCE_CONSOLE, cfg.antivirus.as_ref().map(|a| &a.buckets))
    }

    fn panels(&self, _cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        crate::sources::bucket_panels()
    }
}

/// Pages beyond this are refused: a Console that never stops paging must not run up a bill.
const MAX_PAGES: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Console {what}: {status}{detail}")]
    Status { what: String, status: StatusCode, detail: String },
    #[error("Console {what}: {message}")]
    Transport { what: String, message: String },
    #[error("Console {what}: response is not valid JSON: {message}")]
    Json { what: String, message: String },
    #[error("Console {what}: {message}")]
    Shape { what: String, message: String },
    #[error("Console credentials: {0}")]
    Credentials(#[from] crate::secret::SecretError),
}

/// One statistics record as the Console reports it, bytes already in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub bucket: String,
    pub date: NaiveDate,
    pub scan_type: Option<String>,
    pub bytes: f64,
    pub objects: f64,
}

/// Per-bucket daily totals, accumulated page by page: 9 bytes a bucket-day (bytes, and which
/// scan types were seen, to catch a record reported twice when paging shifts under us).
pub struct Totals {
    start: NaiveDate,
    /// The first day not accumulated (today: its partial day is not a daily total yet).
    before: NaiveDate,
    report_day: NaiveDate,
    buckets: HashMap<String, Acc>,
    pub problems: Problems,
    /// Items dated after today or before the window.
    outside: Dropped,
    /// Buckets not in thresholds.toml held at most (`collector.max_new_series` and what the
    /// source wrote last time): each costs memory until the run's series bound cuts it anyway.
    new_buckets: usize,
    configured: HashSet<String>,
    /// Items of the buckets beyond that bound.
    beyond: Dropped,
}

/// Items dropped for one reason: counted, the first one named.
#[derive(Default)]
struct Dropped {
    count: usize,
    first: Option<String>,
}

impl Dropped {
    fn add(&mut self, it: &Item) {
        self.count += 1;
        self.first.get_or_insert_with(|| format!("bucket {:?} on {}", it.bucket, it.date));
    }
}

struct Acc {
    bytes: Vec<f64>,
    types: Vec<u8>,
    /// Bytes per scan type (`TYPE_NAMES`) over the 7 days to the report day and the 7 before:
    /// a warning's why, 80 bytes a bucket.
    by_type: [[f64; 2]; 5],
    /// Objects only for the published day: no rule reads their history.
    report_objects: f64,
}

/// The scan types told apart, by `type_slot`.
const TYPE_NAMES: [&str; 5] = ["unnamed", "Event", "Retro", "API", "other"];

fn type_slot(bit: u8) -> usize {
    match bit {
        1 => 0,
        2 => 1,
        4 => 2,
        8 => 3,
        _ => 4,
    }
}

fn type_bit(t: Option<&str>) -> u8 {
    match t.map(str::to_ascii_lowercase).as_deref() {
        None => 1,
        Some("event") => 2,
        Some("retro") => 4,
        Some("api") => 8,
        // Other names cannot be told apart in the bitmask: never reported as repeats.
        Some(_) => 0,
    }
}

impl Totals {
    pub fn new(start: NaiveDate, before: NaiveDate) -> Totals {
        let report_day = crate::model::day_before(before);
        Totals {
            start,
            before,
            report_day,
            buckets: HashMap::new(),
            problems: Problems::default(),
            outside: Dropped::default(),
            new_buckets: usize::MAX,
            configured: HashSet::new(),
            beyond: Dropped::default(),
        }
    }

    /// Holds every bucket of `configured` and at most `new_buckets` others.
    pub fn bounded(mut self, configured: HashSet<String>, new_buckets: usize) -> Totals {
        (self.configured, self.new_buckets) = (configured, new_buckets);
        self
    }

    pub fn add(&mut self, it: Item) {
        // Today's items are its partial day, not yet a daily total: dropped without a word.
        if it.date == self.before {
            return;
        }
        if it.date > self.before || it.date < self.start {
            return self.outside.add(&it);
        }
        let days = (self.before - self.start).num_days() as usize;
        let i = (it.date - self.start).num_days() as usize;
        if !self.buckets.contains_key(&it.bucket) {
            if !self.configured.contains(&it.bucket) {
                if self.new_buckets == 0 {
                    return self.beyond.add(&it);
                }
                self.new_buckets -= 1;
            }
            let fresh = Acc {
                bytes: vec![f64::NAN; days],
                types: vec![0; days],
                by_type: [[0.0; 2]; 5],
                report_objects: f64::NAN,
            };
            self.buckets.insert(it.bucket.clone(), fresh);
        }
        let acc = self.buckets.get_mut(&it.bucket).expect("inserted above");
        let bit = type_bit(it.scan_type.as_deref());
        if bit != 0 && acc.types[i] & bit != 0 {
            self.problems.push(format!(
                "bucket {:?} on {}{}: reported twice; counted once",
                it.bucket,
                it.date,
                it.scan_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default()
            ));
            return;
        }
        acc.types[i] |= bit;
        acc.bytes[i] = if acc.bytes[i].is_nan() { it.bytes } else { acc.bytes[i] + it.bytes };
        let back = (self.report_day - it.date).num_days();
        if (0..14).contains(&back) {
            acc.by_type[type_slot(bit)][usize::from(back >= 7)] += it.bytes;
        }
        if it.date == self.report_day {
            acc.report_objects = if acc.report_objects.is_nan() { it.objects } else { acc.report_objects + it.objects };
        }
    }

    /// The problems met, the items dated outside the window among them.
    fn take_problems(&mut self) -> Problems {
        if let Some(first) = self.beyond.first.take() {
            self.problems.summary(format!(
                "{} item(s) of buckets not in thresholds.toml, beyond the {} new ones a run may hold, were not read (collector.max_new_series); the first: {first}",
                self.beyond.count,
                self.buckets.len() - self.buckets.keys().filter(|b| self.configured.contains(*b)).count()
            ));
        }
        if let Some(first) = self.outside.first.take() {
            let (n, to) = (self.outside.count, self.report_day);
            self.problems.summary(format!(
                "{n} item(s) dated outside the window asked for ({} to {to}) were skipped; the first: {first}",
                self.start
            ));
        }
        std::mem::take(&mut self.problems)
    }

    /// ScannedBytes history per bucket, and ScannedObjects for the published day; the split by
    /// scan type of the buckets whose items name one.
    pub fn into_series(self) -> (Vec<Daily>, Vec<(SeriesKey, ScanTypes)>) {
        let mut out = Vec::with_capacity(self.buckets.len() * 2);
        let mut split = Vec::new();
        let mut buckets: Vec<(String, Acc)> = self.buckets.into_iter().collect();
        buckets.sort_by(|a, b| a.0.cmp(&b.0));
        for (bucket, acc) in buckets {
            let key =
                |m| SeriesKey::new(m, vec![(DIM_SOURCE, SOURCE_CONSOLE.to_string()), (DIM_BUCKET, bucket.clone())]);
            let named = acc.by_type.iter().skip(1).any(|w| w[0] + w[1] > 0.0);
            if named {
                let types = TYPE_NAMES
                    .iter()
                    .zip(acc.by_type)
                    .filter(|(_, w)| w[0] + w[1] > 0.0)
                    .map(|(t, w)| (t.to_string(), w[0] / 7.0, w[1] / 7.0))
                    .collect();
                split.push((key(Metric::ScannedBytes), ScanTypes { day: self.report_day, types }));
            }
            let mut bytes = Daily::new(key(Metric::ScannedBytes), self.start);
            bytes.values = acc.bytes;
            out.push(bytes);
            let mut objects = Daily::new(key(Metric::ScannedObjects), self.report_day);
            if !acc.report_objects.is_nan() {
                objects.set(self.report_day, acc.report_objects);
            }
            out.push(objects);
        }
        (out, split)
    }
}

/// One collection: every page of the history window, parsed and summed per bucket and day as
/// the pages arrive.
pub async fn collect(
    client: &ConsoleClient,
    cfg: &Antivirus,
    today: NaiveDate,
    concurrency: usize,
    new_buckets: usize,
) -> Result<SourceOutput, Error> {
    let from = today - chrono::Days::new(u64::from(cfg.history_days));
    let to = crate::model::day_before(today);
    let configured = cfg.buckets.iter().map(|b| b.name.clone()).collect();
    let mut totals = Totals::new(from, today).bounded(configured, new_buckets);
    let mut problems = Problems::default();
    client
        .fetch_pages(from, to, concurrency, &mut |page| {
            problems.extend(page.problems);
            for it in page.items {
                totals.add(it);
            }
        })
        .await?;
    // The window's and the totals' problems first: each sums up many.
    let mut all = totals.take_problems();
    all.absorb(problems);
    let problems = all;
    let present: BTreeSet<String> = totals.buckets.keys().cloned().collect();
    for b in &cfg.buckets {
        if !present.contains(&b.name) {
            tracing::info!(bucket = %b.name, "the Console reported no scans for this bucket in the window");
        }
    }
    let (daily, scan_types) = totals.into_series();
    Ok(SourceOutput { daily, scan_types, problems: problems.into_vec(), ..SourceOutput::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn totals_hold_configured_buckets_and_a_bounded_number_of_others() {
        let item =
            |b: &str, d: &str| Item { bucket: b.into(), date: day(d), scan_type: None, bytes: 1.0, objects: 1.0 };
        let configured = ["zz-known".to_string()].into_iter().collect();
        let mut totals = Totals::new(day("2026-11-01"), day("2026-11-21")).bounded(configured, 2);
        for b in ["new-1", "new-2", "new-3", "zz-known", "new-4"] {
            totals.add(item(b, "2026-11-20"));
        }
        totals.add(item("new-1", "2026-11-19"));
        assert_eq!(
            totals.take_problems().into_vec(),
            ["2 item(s) of buckets not in thresholds.toml, beyond the 2 new ones a run may hold, were not read (collector.max_new_series); the first: bucket \"new-3\" on 2026-11-20"]
        );
        let kept: Vec<String> = totals.into_series().0.iter().step_by(2).map(|d| d.key.to_string()).collect();
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept.iter().any(|k| k.contains("zz-known")) && !kept.iter().any(|k| k.contains("new-3")));
    }

    #[test]
    fn totals_sum_scan_types_drop_today_and_report_duplicates() {
        let item = |b: &str, d: &str, t: &str, bytes: f64| Item {
            bucket: b.into(),
            date: day(d),
            scan_type: Some(t.into()),
            bytes,
            objects: 1.0,
        };
        let mut totals = Totals::new(day("2026-11-01"), day("2026-11-21"));
        for it in [
            item("a-bucket", "2026-11-20", "Event", 100.0),
            item("a-bucket", "2026-11-20", "Retro", 50.0),
            item("a-bucket", "2026-11-20", "Retro", 50.0),
            item("a-bucket", "2026-11-21", "Event", 7.0),
            item("a-bucket", "2026-10-31", "Event", 7.0),
            item("a-bucket", "2026-11-19", "Event", 30.0),
        ] {
            totals.add(it);
        }
        assert_eq!(
            totals.take_problems().into_vec(),
            vec![
                "1 item(s) dated outside the window asked for (2026-11-01 to 2026-11-20) were skipped; the first: bucket \"a-bucket\" on 2026-10-31",
                "bucket \"a-bucket\" on 2026-11-20 (Retro): reported twice; counted once",
            ]
        );
        let (series, _) = totals.into_series();
        assert_eq!(series[0].key.to_string(), "ScannedBytes{Bucket=a-bucket,Source=console}");
        let bytes: Vec<_> = series[0].points().collect();
        assert_eq!(bytes, vec![(day("2026-11-19"), 30.0), (day("2026-11-20"), 150.0)]);
        let objects: Vec<_> = series[1].points().collect();
        assert_eq!(objects, vec![(day("2026-11-20"), 2.0)]);
    }
}
