//! Each team's weekly digest: its buckets and cost values, last week against the week before
//! with the last 28 days as a sparkline, the month-end projection of each cost value against
//! its budget, the three largest movers with their why, its open alerts and snoozes, its
//! unscanned buckets. Built from what costwarden wrote to CloudWatch (`send::history`), so
//! its numbers are the dashboard's; sent once a week, on `[digest]`'s day and hour in its time
//! zone, a marker in CloudWatch (`DigestSent`) telling later runs and restarts it went.
//!
//! Which series are a team's: those thresholds.toml lists (`Source::listed`), with the owner
//! their source's rules give them (`Source::rules`); unowned ones are the default team's.

pub mod render;
pub mod send;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Timelike, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::metrics::{Metric, Unit};
use crate::model::SeriesKey;
use crate::rules::{Finding, Level, Observations, RuleKind, SeriesRules, Told};

/// Days of history a digest reads: four weeks for the sparkline, and back to the month's start
/// for its month-to-date.
pub const HISTORY_DAYS: u64 = 35;
/// Weeks in a month, for pricing.
pub const WEEKS_PER_MONTH: f64 = crate::price::DAYS_PER_MONTH / 7.0;

#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub team: String,
    /// The local date of the week's due day (the marker's value).
    pub period: NaiveDate,
    pub timezone: String,
    /// The week is the 7 UTC days to this one (the last complete day).
    pub week_to: NaiveDate,
    pub rows: Vec<Row>,
    pub movers: Vec<Mover>,
    /// "growth CRITICAL: cost of k=v", worst first.
    pub open: Vec<String>,
    /// "bucket b (console) until 2026-12-20: launch week".
    pub snoozed: Vec<String>,
    /// Its buckets scanned by neither scanner (with `[coverage] alert`), when known.
    pub unscanned: Option<u64>,
    /// The periodic inventory's reminder, while its workbook is awaited (`[inventory.review]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
    /// Its buckets' latest S3 Inventory (`[inventory] publish`): the window's bytes and how many
    /// of them are content already under another key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub where_from: Vec<String>,
    pub dashboard_url: Option<String>,
}

/// One series of the team.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub label: String,
    pub series: String,
    pub unit: Unit,
    /// The sum of the days CloudWatch holds among the 7 to `week_to`, and how many it holds.
    pub last_week: Option<f64>,
    pub last_week_days: usize,
    pub week_before: Option<f64>,
    /// last_week / week_before - 1.
    pub change: Option<f64>,
    /// The last 28 days, oldest first, one character a day (a space where nothing was written).
    pub sparkline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month_end: Option<MonthEnd>,
}

/// A cost value's month: to date, plus its 28-day trend to the month's end (the lower and upper
/// slopes of the trend's 90% range for the range), against its budget.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MonthEnd {
    pub projected: f64,
    pub low: f64,
    pub high: f64,
    pub budget: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mover {
    pub label: String,
    pub change: f64,
    pub why: Vec<String>,
}

/// The week a digest is for at `now`: the local date of the latest due moment (its weekday at
/// its hour in its time zone) at or before `now`. Pure.
pub fn period(d: &crate::config::Digest, now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&d.tz());
    let date = local.date_naive();
    let back = (7 + date.weekday().num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
    let date = date - Days::new(u64::from(back));
    if back == 0 && local.hour() < d.hour {
        date - Days::new(7)
    } else {
        date
    }
}

/// Every team's series: their rules (label, owner), keyed by team, for the series
/// thresholds.toml lists in enabled sections.
pub fn teams(cfg: &Config) -> BTreeMap<String, Vec<SeriesRules>> {
    let mut out: BTreeMap<String, Vec<SeriesRules>> = BTreeMap::new();
    for s in crate::sources::ALL.iter().filter(|s| cfg.source_schedule(s.id()).is_some()) {
        let keys = s.listed(cfg);
        let keys: Vec<&SeriesKey> = keys.iter().collect();
        for r in s.rules(cfg, &keys) {
            if let Some(team) = crate::alerts::route::team(cfg, r.owner.as_deref()) {
                out.entry(team.to_string()).or_default().push(r);
            }
        }
    }
    out
}

/// Whether a team's digest shows the series as a row (its daily totals).
pub fn shown(key: &SeriesKey) -> bool {
    matches!(key.metric, Metric::ScannedBytes | Metric::Cost)
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character a value, scaled from the least to the largest; a space for a missing day.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let present = values.iter().flatten().copied();
    let (lo, hi) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

/// What a team's digest says, from CloudWatch's history of its series, what it was told, and
/// the configuration. Pure.
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub history: &'a Observations,
    pub told: &'a Told,
    pub unscanned: Option<u64>,
    /// The day its workbook was last recorded reviewed since the round opened; None when that
    /// was not read (no round open, or the read failed).
    pub reviewed: Option<Option<NaiveDate>>,
    pub period: NaiveDate,
    pub today: NaiveDate,
}

pub fn build(team: &str, series: &[SeriesRules], i: &Inputs) -> Digest {
    let week_to = crate::model::day_before(i.today);
    let mut rows = Vec::new();
    let mut movers = Vec::new();
    for r in series.iter().filter(|r| shown(&r.key)) {
        let d = i.history.daily.get(&r.key);
        let day = |back: u64| d.and_then(|d| d.get(week_to - Days::new(back)));
        let sum = |from: u64| {
            let v: Vec<f64> = (from..from + 7).filter_map(day).collect();
            ((!v.is_empty()).then(|| v.iter().sum::<f64>()), v.len())
        };
        let ((last_week, last_week_days), (week_before, _)) = (sum(0), sum(7));
        let change = last_week.zip(week_before).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b - 1.0);
        let days: Vec<Option<f64>> = (0..28).rev().map(day).collect();
        let month_end = (r.key.metric == Metric::Cost).then(|| month_end(r, d, week_to)).flatten();
        if let Some(c) = change {
            let f = pseudo_finding(r, week_to);
            movers.push(Mover {
                label: r.label.to_string(),
                change: c,
                why: crate::alerts::explain::explain(i.cfg, i.history, &f).why,
            });
        }
        rows.push(Row {
            label: r.label.to_string(),
            series: r.key.to_string(),
            unit: r.unit,
            last_week,
            last_week_days,
            week_before,
            change,
            sparkline: sparkline(&days),
            month_end,
        });
    }
    // The largest moves either way, at least 5%.
    movers.retain(|m| m.change.abs() >= 0.05);
    movers.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()).then_with(|| a.label.cmp(&b.label)));
    movers.truncate(3);
    let labels: BTreeMap<&SeriesKey, &str> = series.iter().map(|r| (&r.key, &*r.label)).collect();
    let mut open: Vec<(Level, String)> = i
        .told
        .iter()
        .filter(|(_, l)| **l != Level::Ok)
        .filter_map(|((rule, key), l)| Some((*l, format!("{} {l}: {}", rule.name(), labels.get(key)?))))
        .collect();
    open.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let snoozed = series
        .iter()
        .filter_map(|r| {
            let s = crate::alerts::route::snooze(i.cfg, &r.key).filter(|s| s.active(i.today))?;
            Some(format!("{} until {}: {}", r.label, s.until, s.reason))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let d = i.cfg.digest.as_ref();
    Digest {
        team: team.to_string(),
        period: i.period,
        timezone: d.map_or("UTC".into(), |d| d.timezone.clone()),
        week_to,
        rows,
        movers,
        open: open.into_iter().map(|(_, s)| s).collect(),
        snoozed,
        unscanned: i.unscanned,
        inventory: i.reviewed.and_then(|r| reminder(i.cfg, team, r, i.today)),
        where_from: where_from(i.cfg, team, i.history),
        dashboard_url: i.cfg.alerts.dashboard_url.clone(),
    }
}

/// The series of the published inventories of `team`'s buckets (its owner's, or the default
/// team's when unowned): (bucket, its InventoryBytes, its DuplicateBytes).
pub fn inventory_series(cfg: &Config, team: &str) -> Vec<(String, SeriesKey, SeriesKey)> {
    if !cfg.inventory.publish {
        return Vec::new();
    }
    let owner = |bucket: &str| crate::efficiency::scanned_by(cfg, bucket).and_then(|(_, b)| b.owner.clone());
    cfg.inventory
        .buckets
        .iter()
        .filter(|b| crate::alerts::route::team(cfg, owner(&b.bucket).as_deref()) == Some(team))
        .map(|b| {
            let [bytes, duplicates] = crate::sources::inventory::series(&b.bucket);
            (b.bucket.clone(), bytes, duplicates)
        })
        .collect()
}

/// Each of the team's published inventories, its latest: "acme-uploads: 11.6 GB last modified
/// in 30 days, 4.0 GB (34%) of it content already under another key (scanned again)".
fn where_from(cfg: &Config, team: &str, history: &Observations) -> Vec<String> {
    let latest = |k: &SeriesKey| history.daily.get(k).and_then(|d| d.last_day().and_then(|day| d.get(day)));
    let days = cfg.inventory.window_days;
    let mut out = Vec::new();
    for (bucket, bytes, dups) in inventory_series(cfg, team) {
        let Some(total) = latest(&bytes) else { continue };
        let mut line = format!("{bucket}: {} last modified in {days} days", crate::rules::human(total, Unit::Bytes));
        if let Some(d) = latest(&dups).filter(|d| *d > 0.0 && total > 0.0) {
            let share = 100.0 * d / total;
            line.push_str(&format!(
                ", {} ({share:.0}%) of it content already under another key (scanned again)",
                crate::rules::human(d, Unit::Bytes)
            ));
        }
        out.push(line);
    }
    if !out.is_empty() {
        out.push("costwarden efficiency names the prefixes and what skipping each would save".into());
    }
    out
}

/// What a team that has not sent its workbook back is told while the round is open: when it is
/// due, or how late it is. None once reviewed, before the round, or for a team not expected.
pub fn reminder(cfg: &Config, team: &str, reviewed: Option<NaiveDate>, today: NaiveDate) -> Option<String> {
    let round = cfg.inventory.review.as_ref()?;
    if reviewed.is_some() || today < round.opened() || !round.expected(cfg).contains(team) {
        return None;
    }
    let book = format!("coverage-{}.xlsx", crate::coverage::render::slug(team));
    let days = (round.due - today).num_days();
    let todo = "fill in its decision and reviewed-by columns and send it back to the platform team";
    Some(match days {
        0.. => format!("{book} is due back on {} (in {days} days): {todo}", round.due),
        _ => format!("{book} was due back on {}, {} days ago, and has not been reviewed: {todo}", round.due, -days),
    })
}

/// A stand-in finding on the week's last day, for the why of a move.
fn pseudo_finding(r: &SeriesRules, day: NaiveDate) -> Finding {
    let mut f = Finding::new(r, RuleKind::Growth, Some(day));
    f.level = Level::Warning;
    f
}

/// Month to date plus the trend of the last 28 days to the month's end.
fn month_end(r: &SeriesRules, d: Option<&crate::model::Daily>, week_to: NaiveDate) -> Option<MonthEnd> {
    let d = d?;
    let start = week_to.with_day(1)?;
    let next = (start + Days::new(32)).with_day(1)?;
    let left = (next - week_to).num_days() - 1;
    let mtd: f64 = d.points().filter(|(day, _)| *day >= start && *day <= week_to).map(|(_, v)| v).sum();
    let history: Vec<(NaiveDate, f64)> = d.points().filter(|(day, _)| *day <= week_to).collect();
    let t = crate::rules::forecast::fit(&history, 28)?;
    let rest = |line| (1..=left).map(|k| t.at(line, k as f64).max(0.0)).sum::<f64>();
    Some(MonthEnd {
        projected: mtd + rest(t.central),
        low: mtd + rest(t.lower),
        high: mtd + rest(t.upper),
        budget: r.monthly_budget,
    })
}

/// The digest's part of a month's bill (`costwarden cost`), per team: each week the history
/// read (a GetMetricData metric a series, the unscanned count, with `[inventory.review]`
/// whether an expected team reviewed, with `[inventory] publish` two a bucket), the alert state's
/// ListMetrics, a PutMetricData of the marker and an SNS publish; the marker stream billed the
/// hour it is written; and, at most every run, the read of whether the week's digest went (a
/// long-lived daemon reads it once a week). Pure.
pub fn monthly_usd(cfg: &Config, runs_per_month: f64) -> Option<(usize, f64)> {
    cfg.digest.as_ref().filter(|d| d.enabled)?;
    let teams = teams(cfg);
    let p = crate::price::GET_METRIC_DATA_PER_METRIC;
    let expected = cfg.inventory.review.as_ref().map(|r| r.expected(cfg)).unwrap_or_default();
    let weekly: f64 = teams
        .iter()
        .map(|(team, s)| {
            let review = usize::from(expected.contains(team));
            let inventories = 2 * inventory_series(cfg, team).len();
            let read = (s.iter().filter(|r| shown(&r.key)).count() + 1 + review + inventories) as f64 * p;
            read + 2.0 * crate::price::CLOUDWATCH_REQUEST + crate::price::SNS_PUBLISH
        })
        .sum();
    // Billed at the first tier: a handful of hours a month.
    let marker_stream =
        teams.len() as f64 * WEEKS_PER_MONTH / crate::price::HOURS_PER_MONTH * crate::price::STREAM_TIERS[0].1;
    let checks = teams.len() as f64 * runs_per_month * p;
    Some((teams.len(), weekly * WEEKS_PER_MONTH + marker_stream + checks))
}

#[cfg(test)]
mod tests;
