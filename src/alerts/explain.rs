//! Why a warning, and what it costs, from the series the run already holds (no request of its
//! own). Pure.
//!
//! - A cost value's change is attributed to the buckets it pays for (`[[cost.tags]] pays_for`,
//!   default every scanned bucket): each bucket's mean scanned bytes a day over the 7 days to the
//!   cost's day against the 7 before; a bucket's **share** is its rise over the sum of the
//!   buckets' rises (falls count as 0, so the shares of the risers add up to 100%). Where the
//!   Console splits a bucket's bytes by scan type, the type that rose most is named.
//! - The ECS services' task-hours over the same weeks (`sources::ecs::task_hours`, read by the
//!   daily run), the services that ran more first with their share of the rise.
//! - The cost per GB scanned is the cost value's mean a day over its buckets' mean GB a day, the
//!   same 7 days; cost up while volume is flat points at idle agents or a price change.
//! - A bucket's volume is priced a month at its level and at its plan: GuardDuty at the list
//!   price (`coverage.guardduty_usd_per_gb`, objects at the ratio of the bucket's last day), the
//!   Console at `coverage.console_usd_per_gb`, else at the measured cost per GB of the values
//!   paying for the bucket.

use chrono::NaiveDate;

use crate::config::Config;
use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, DIM_TAG_KEY, DIM_TAG_VALUE, SOURCE_GUARDDUTY};
use crate::model::{Daily, ScanTypes, SeriesKey};
use crate::rules::{Finding, Observations};

/// Contributors named at most.
const TOP: usize = 3;
/// Cost up by more than this while volume moved less than `FLAT`: not volume.
const COST_RISE: f64 = 0.10;
const FLAT: f64 = 0.05;

/// The why and the price of one finding, as sentences for every channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explained {
    pub why: Vec<String>,
    pub costs: Option<String>,
}

pub fn explain(cfg: &Config, obs: &Observations, f: &Finding) -> Explained {
    match f.series.metric {
        Metric::Cost => cost(cfg, obs, f, &f.series),
        // The cost per GB rising: the same why as its cost's.
        Metric::CostPerScannedGb => cost(cfg, obs, f, &SeriesKey { metric: Metric::Cost, dims: f.series.dims.clone() }),
        Metric::ScannedBytes => volume(cfg, obs, f),
        _ => Explained::default(),
    }
}

/// `CostPerScannedGB` per cost value listed in `[[cost.tags]]` (not "untagged", nor values
/// nobody listed), a day at a time: the value's cost over the GB scanned that day in the
/// buckets it pays for. None for a value with no scanned bucket, and no day whose buckets
/// scanned nothing. The caller derives it only from complete reads: a bucket missing
/// from a partial read would make the cost per GB jump.
pub fn cost_per_gb_series(cfg: &Config, obs: &Observations) -> Vec<Daily> {
    let mut out = Vec::new();
    for cost in obs.daily.values().filter(|d| d.key.metric == Metric::Cost) {
        let Some(value) = cost.key.dim(DIM_TAG_VALUE) else { continue };
        if !cfg.cost.iter().flat_map(|c| &c.tags).any(|t| t.value == value) {
            continue;
        }
        let buckets = paid(cfg, obs, value);
        if buckets.is_empty() {
            continue;
        }
        let mut d = Daily::new(SeriesKey { metric: Metric::CostPerScannedGb, dims: cost.key.dims.clone() }, cost.start);
        for (day, usd) in cost.points() {
            let bytes: f64 = buckets.iter().filter_map(|b| b.get(day)).sum();
            if bytes > 0.0 {
                d.set(day, usd / (bytes / 1e9));
            }
        }
        d.estimated_from = cost.estimated_from;
        if d.points().next().is_some() {
            out.push(d);
        }
    }
    out
}

/// Mean a day over the 7 days to `day` and over the 7 before; a window with no day is None.
pub fn weeks(d: &Daily, day: NaiveDate) -> (Option<f64>, Option<f64>) {
    let mean = |from: u64| {
        let vals: Vec<f64> = (from..from + 7).filter_map(|back| d.get(day - chrono::Days::new(back))).collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    };
    (mean(0), mean(7))
}

/// The scanned-bytes series of the buckets a cost value pays for.
fn paid<'a>(cfg: &Config, obs: &'a Observations, value: &str) -> Vec<&'a Daily> {
    let list = cfg.cost.iter().flat_map(|c| &c.tags).find(|t| t.value == value).and_then(|t| t.pays_for.as_ref());
    obs.daily
        .values()
        .filter(|d| d.key.metric == Metric::ScannedBytes)
        .filter(|d| d.key.dim(DIM_BUCKET).is_some_and(|b| list.is_none_or(|l| l.iter().any(|x| x == b))))
        .collect()
}

/// A bucket as the why names it: with its source when another source scans one of that name.
fn bucket_name(key: &SeriesKey, all: &[&Daily]) -> String {
    let b = key.dim(DIM_BUCKET).unwrap_or_default();
    let twin = all.iter().filter(|d| d.key.dim(DIM_BUCKET) == Some(b)).count() > 1;
    match (twin, key.dim(DIM_SOURCE)) {
        (true, Some(s)) => format!("{b} ({s})"),
        _ => b.to_string(),
    }
}

fn pct(x: f64) -> String {
    format!("{:+.0}%", 100.0 * x)
}

fn gb(bytes: f64) -> String {
    crate::rules::human(bytes, crate::metrics::Unit::Bytes)
}

/// The cost per GB scanned of these values over the 7 days to `day` (and the 7 before).
fn per_gb(costs: &[&Daily], buckets: &[&Daily], day: NaiveDate) -> (Option<f64>, Option<f64>) {
    let sum = |ds: &[&Daily], i: usize| -> Option<f64> {
        let v: Vec<f64> = ds.iter().filter_map(|d| if i == 0 { weeks(d, day).0 } else { weeks(d, day).1 }).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let ratio = |i| {
        let (c, b) = (sum(costs, i)?, sum(buckets, i)?);
        (b > 0.0).then(|| c / (b / 1e9))
    };
    (ratio(0), ratio(1))
}

fn cost(cfg: &Config, obs: &Observations, f: &Finding, key: &SeriesKey) -> Explained {
    let (Some(day), Some(value)) = (f.day, key.dim(DIM_TAG_VALUE)) else { return Explained::default() };
    let Some(series) = obs.daily.get(key) else { return Explained::default() };
    let buckets = paid(cfg, obs, value);
    let mut why = Vec::new();
    let (c_now, c_before) = weeks(series, day);
    let mut rises: Vec<(String, f64, f64, Option<String>)> = Vec::new();
    let (mut v_now, mut v_before) = (0.0, 0.0);
    for d in &buckets {
        let (now, before) = weeks(d, day);
        let (now, before) = (now.unwrap_or(0.0), before.unwrap_or(0.0));
        v_now += now;
        v_before += before;
        if now > before {
            let kind = obs.scan_types.get(&d.key).and_then(riser);
            rises.push((bucket_name(&d.key, &buckets), now - before, before, kind));
        }
    }
    let total: f64 = rises.iter().map(|r| r.1).sum();
    rises.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // New volume (nothing the week before) is a rise.
    let moved = if v_before > 0.0 { v_now / v_before - 1.0 } else { f64::INFINITY };
    if total > 0.0 && moved.abs() >= FLAT {
        let named: Vec<String> = rises
            .iter()
            .take(TOP)
            .map(|(b, rise, before, kind)| {
                let from = if *before > 0.0 { format!(", {}", pct(rise / before)) } else { String::new() };
                let kind = kind.as_ref().map(|k| format!("; {k}")).unwrap_or_default();
                format!("{b} +{}/day ({:.0}% of the rise{from}{kind})", gb(*rise), 100.0 * rise / total)
            })
            .collect();
        why.push(format!(
            "Scanned volume of the {} bucket(s) it pays for: {}/day over the 7 days to {day}, {} on the 7 before. Top: {}.",
            buckets.len(),
            gb(v_now),
            if moved.is_finite() { pct(moved) } else { "new".to_string() },
            named.join("; ")
        ));
    } else if !buckets.is_empty() {
        why.push(format!(
            "Scanned volume of the {} bucket(s) it pays for did not rise: {}/day over the 7 days to {day}, {}/day the 7 before ({}).",
            buckets.len(),
            gb(v_now),
            gb(v_before),
            pct(if moved.is_finite() { moved } else { 0.0 })
        ));
    }
    why.extend(task_hours(obs, day));
    let costs: Vec<&Daily> = vec![series];
    if let (Some(now), before) = per_gb(&costs, &buckets, day) {
        let was = before.map(|b| format!(" (the 7 before: USD {b:.4})")).unwrap_or_default();
        why.push(format!("Cost per GB scanned: USD {now:.4}{was}."));
    }
    if let (Some(now), Some(before)) = (c_now, c_before) {
        let cost_up = now / before - 1.0;
        if before > 0.0 && cost_up > COST_RISE && moved.abs() < FLAT {
            why.push(format!(
                "Cost {} while volume moved {}: not scanning; idle or oversized agents, or a price change.",
                pct(cost_up),
                pct(moved)
            ));
        }
    }
    Explained { why, costs: None }
}

fn volume(cfg: &Config, obs: &Observations, f: &Finding) -> Explained {
    let mut why = Vec::new();
    if let Some(split) = obs.scan_types.get(&f.series) {
        why.extend(split_sentence(split));
    }
    Explained { why, costs: price(cfg, obs, f) }
}

/// The ECS services' task-hours over the 7 days to `day` against the 7 before, the services
/// that ran more first with their share of the rise (as the buckets'), when the daily run read
/// them (`sources::ecs::task_hours`).
fn task_hours(obs: &Observations, day: NaiveDate) -> Option<String> {
    let (mut now, mut before, mut rises) = (0.0, 0.0, Vec::new());
    for d in obs.task_hours.values() {
        let (n, b) = weeks(d, day);
        let (n, b) = (7.0 * n.unwrap_or(0.0), 7.0 * b.unwrap_or(0.0));
        (now, before) = (now + n, before + b);
        if n > b {
            rises.push((d.key.dim(crate::metrics::DIM_SERVICE).unwrap_or_default().to_string(), n - b));
        }
    }
    if now + before <= 0.0 {
        return None;
    }
    let total: f64 = rises.iter().map(|r| r.1).sum();
    rises.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let named: Vec<String> = rises
        .iter()
        .take(TOP)
        .map(|(s, rise)| format!("{s} +{rise:.0} ({:.0}% of the rise)", 100.0 * rise / total))
        .collect();
    let change = if before > 0.0 { pct(now / before - 1.0) } else { "new".into() };
    let top = if named.is_empty() { String::new() } else { format!(" Top: {}.", named.join("; ")) };
    Some(format!("ECS task-hours over the same 7 days: {now:.0}, {change} on the 7 before.{top}"))
}

/// What the bucket's volume costs a month at its level and at its plan, and at which price.
fn price(cfg: &Config, obs: &Observations, f: &Finding) -> Option<String> {
    // The series' 7-day mean, the same for each of its findings (a forecast's value is its
    // projected level, an anomaly's one day).
    let level = f.day.zip(obs.daily.get(&f.series)).and_then(|(day, d)| weeks(d, day).0).or(f.value);
    let level = level.filter(|v| v.is_finite())?;
    let (usd_per_gb, said) = if f.series.dim(DIM_SOURCE) == Some(SOURCE_GUARDDUTY) {
        let cov = &cfg.coverage;
        let objects_key = SeriesKey::new(Metric::ScannedObjects, f.series.dims.to_vec());
        let per_gb_objects = obs
            .daily
            .get(&objects_key)
            .and_then(|o| o.last_day().and_then(|d| Some((o.get(d)?, obs.daily.get(&f.series)?.get(d)?))))
            .filter(|(_, bytes)| *bytes > 0.0)
            .map_or(0.0, |(objects, bytes)| objects / (bytes / 1e9) / 1000.0 * cov.guardduty_usd_per_1000_objects);
        (cov.guardduty_usd_per_gb + per_gb_objects, "GuardDuty's list price".to_string())
    } else if let Some(p) = cfg.coverage.console_usd_per_gb {
        (p, "coverage.console_usd_per_gb".to_string())
    } else {
        let bucket = f.series.dim(DIM_BUCKET)?;
        let tags: Vec<&Daily> = obs
            .daily
            .values()
            .filter(|d| d.key.metric == Metric::Cost)
            .filter(|d| {
                d.key
                    .dim(DIM_TAG_VALUE)
                    .is_some_and(|v| paid(cfg, obs, v).iter().any(|b| b.key.dim(DIM_BUCKET) == Some(bucket)))
            })
            .collect();
        let cost_day = tags.iter().filter_map(|d| d.last_day()).max()?;
        let mut buckets: Vec<&Daily> = Vec::new();
        for t in &tags {
            for b in paid(cfg, obs, t.key.dim(DIM_TAG_VALUE).unwrap_or_default()) {
                if !buckets.iter().any(|x| x.key == b.key) {
                    buckets.push(b);
                }
            }
        }
        let p = per_gb(&tags, &buckets, cost_day).0?;
        let names: Vec<&str> = tags.iter().filter_map(|t| t.key.dim(DIM_TAG_VALUE)).collect();
        let key = tags.first().and_then(|t| t.key.dim(DIM_TAG_KEY)).unwrap_or_default();
        (p, format!("the measured cost per GB scanned of {key} = {} over the 7 days to {cost_day}", names.join(", ")))
    };
    let month = |bytes_a_day: f64| bytes_a_day / 1e9 * usd_per_gb * crate::price::DAYS_PER_MONTH;
    let plan =
        f.planned.filter(|p| p.is_finite()).map(|p| format!(", USD {:.0} at the plan", month(p))).unwrap_or_default();
    Some(format!("About USD {:.0} a month at the current level{plan} (USD {usd_per_gb:.4}/GB, {said}).", month(level)))
}

/// The scan type whose bytes rose most, with its change: "Retro +1.2 TB/day (×3.0)".
fn riser(s: &ScanTypes) -> Option<String> {
    let rise = |t: &&(String, f64, f64)| t.1 - t.2;
    let (t, now, before) = s.types.iter().filter(|t| rise(t) > 0.0).max_by(|a, b| rise(a).total_cmp(&rise(b)))?;
    let times = if *before > 0.0 { format!(" (×{:.1})", now / before) } else { " (new)".to_string() };
    Some(format!("{t} +{}/day{times}", gb(now - before)))
}

/// A bucket's last 7 days by scan type, largest first, and the type that rose most.
fn split_sentence(s: &ScanTypes) -> Option<String> {
    let total: f64 = s.types.iter().map(|t| t.1).sum();
    if total <= 0.0 {
        return None;
    }
    let mut types: Vec<&(String, f64, f64)> = s.types.iter().filter(|t| t.1 > 0.0).collect();
    types.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = types.iter().map(|(t, now, _)| format!("{t} {:.0}%", 100.0 * now / total)).collect();
    let rose = riser(s).map(|r| format!("; the largest rise: {r}")).unwrap_or_default();
    Some(format!("By scan type over the 7 days to {}: {}{rose}.", s.day, parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Unit, SOURCE_CONSOLE};
    use crate::rules::{Level, RuleKind, SeriesRules};

    const DAY: &str = "2026-12-04";

    fn day(back: u64) -> NaiveDate {
        DAY.parse::<NaiveDate>().unwrap() - chrono::Days::new(back)
    }

    /// 14 days: `before` a day for the first 7, `now` a day for the last 7.
    fn series(key: SeriesKey, before: f64, now: f64) -> Daily {
        let mut d = Daily::new(key, day(13));
        for back in 0..14 {
            d.set(day(back), if back < 7 { now } else { before });
        }
        d
    }

    fn bucket(name: &str, source: &'static str) -> SeriesKey {
        SeriesKey::new(Metric::ScannedBytes, vec![(DIM_SOURCE, source.into()), (DIM_BUCKET, name.into())])
    }

    fn cost_key(value: &str) -> SeriesKey {
        SeriesKey::new(Metric::Cost, vec![(DIM_TAG_KEY, "team".into()), (DIM_TAG_VALUE, value.into())])
    }

    fn finding(key: SeriesKey, unit: Unit, value: f64, planned: Option<f64>) -> Finding {
        let rules = SeriesRules {
            key,
            label: "x".into(),
            owner: None,
            unit,
            threshold: None,
            monthly_budget: None,
            capacity: None,
            anomaly: false,
            params: crate::rules::Params::default(),
        };
        let mut f = Finding::new(&rules, RuleKind::Growth, Some(day(0)));
        (f.level, f.value, f.planned) = (Level::Critical, Some(value), planned);
        f
    }

    fn obs(list: Vec<Daily>) -> Observations {
        let mut o = Observations::default();
        o.extend(list, Vec::new());
        o
    }

    #[test]
    fn a_cost_rise_names_the_bucket_whose_retro_tripled_first_with_its_share() {
        let cfg = Config::parse("[cost]\ntag_key = \"team\"\n[[cost.tags]]\nvalue = \"agents\"\n", "t").unwrap();
        let mut o = obs(vec![
            series(cost_key("agents"), 100.0, 180.0),
            series(bucket("quiet", SOURCE_CONSOLE), 50e9, 50e9),
            series(bucket("media", SOURCE_CONSOLE), 40e9, 100e9),
            series(bucket("avatars", SOURCE_CONSOLE), 10e9, 25e9),
        ]);
        let types = vec![("Event".to_string(), 10e9, 10e9), ("Retro".to_string(), 90e9, 30e9)];
        o.scan_types.insert(bucket("media", SOURCE_CONSOLE), ScanTypes { day: day(0), types });
        let e = explain(&cfg, &o, &finding(cost_key("agents"), Unit::Usd, 180.0, None));
        let why = e.why.join("\n");
        // Rises: media +60 GB/day, avatars +15: shares 80% and 20% of the 75 GB/day rise.
        let media = why.find("media +60.0 GB/day (80% of the rise, +150%; Retro +60.0 GB/day (×3.0))").expect(&why);
        let avatars = why.find("avatars +15.0 GB/day (20% of the rise").expect(&why);
        assert!(media < avatars, "{why}");
        assert!(!why.contains("quiet +"), "a flat bucket is no contributor: {why}");
        assert!(why.contains("175.0 GB/day over the 7 days to 2026-12-04, +75% on the 7 before"), "{why}");
        // USD 180 / 175 GB, USD 100 / 100 GB.
        assert!(why.contains("Cost per GB scanned: USD 1.0286 (the 7 before: USD 1.0000)"), "{why}");
        assert!(!why.contains("not scanning"), "{why}");
        assert_eq!(e.costs, None);
    }

    #[test]
    fn a_cost_rise_names_the_services_whose_task_hours_rose() {
        let cfg = Config::parse("[cost]\ntag_key = \"team\"\n", "t").unwrap();
        let mut o =
            obs(vec![series(cost_key("agents"), 100.0, 150.0), series(bucket("media", SOURCE_CONSOLE), 40e9, 40e9)]);
        let svc = |name: &str| {
            SeriesKey::new(
                Metric::RunningTasks,
                vec![(crate::metrics::DIM_CLUSTER, "c".into()), (crate::metrics::DIM_SERVICE, name.into())],
            )
        };
        // Agents: 24 → 48 task-hours a day; retro: 10 → 12.
        for (name, before, now) in [("agents", 24.0, 48.0), ("retro", 10.0, 12.0)] {
            o.task_hours.insert(svc(name), series(svc(name), before, now));
        }
        let why = explain(&cfg, &o, &finding(cost_key("agents"), Unit::Usd, 150.0, None)).why.join("\n");
        // 7 × 60 = 420 against 7 × 34 = 238; rises 168 and 14.
        assert!(
            why.contains("ECS task-hours over the same 7 days: 420, +76% on the 7 before. Top: agents +168 (92% of the rise); retro +14 (8% of the rise)."),
            "{why}"
        );
    }

    #[test]
    fn cost_up_on_flat_volume_says_it_is_not_scanning_and_pays_for_limits_the_buckets() {
        let text = "[cost]\ntag_key = \"team\"\n[[cost.tags]]\nvalue = \"agents\"\npays_for = [\"media\"]\n";
        let cfg = Config::parse(text, "t").unwrap();
        let o = obs(vec![
            series(cost_key("agents"), 100.0, 150.0),
            series(bucket("media", SOURCE_CONSOLE), 40e9, 40.4e9),
            series(bucket("elsewhere", SOURCE_CONSOLE), 10e9, 90e9),
        ]);
        let why = explain(&cfg, &o, &finding(cost_key("agents"), Unit::Usd, 150.0, None)).why.join("\n");
        assert!(why.contains("of the 1 bucket(s) it pays for did not rise"), "{why}");
        assert!(!why.contains("elsewhere"), "{why}");
        assert!(why.contains("Cost +50% while volume moved +1%: not scanning"), "{why}");
    }

    #[test]
    fn a_buckets_volume_is_priced_at_its_level_and_plan_by_its_engine() {
        let console = "[cost]\ntag_key = \"team\"\n[coverage]\nconsole_usd_per_gb = 0.05\n";
        let cfg = Config::parse(console, "t").unwrap();
        let media = bucket("media", SOURCE_CONSOLE);
        let o = obs(vec![series(media.clone(), 40e9, 100e9)]);
        // 100 GB/day × 0.05 × 30.42 days; 50 GB/day at the plan.
        let costs = explain(&cfg, &o, &finding(media.clone(), Unit::Bytes, 1.0, Some(50e9))).costs.unwrap();
        assert_eq!(
            costs,
            "About USD 152 a month at the current level, USD 76 at the plan (USD 0.0500/GB, coverage.console_usd_per_gb)."
        );
        // Unset: the measured cost per GB of the values paying for it (USD 30 / 100 GB a day).
        let cfg = Config::parse("[cost]\ntag_key = \"team\"\n[[cost.tags]]\nvalue = \"agents\"\n", "t").unwrap();
        let o = obs(vec![series(media.clone(), 40e9, 100e9), series(cost_key("agents"), 12.0, 30.0)]);
        let costs = explain(&cfg, &o, &finding(media, Unit::Bytes, 1.0, None)).costs.unwrap();
        assert!(costs.starts_with("About USD 912 a month at the current level (USD 0.3000/GB, the measured cost per GB scanned of team = agents over the 7 days to 2026-12-04)"), "{costs}");
        // GuardDuty: its list price, objects at the ratio of the last day (1,000 objects a GB).
        let gd = bucket("media", SOURCE_GUARDDUTY);
        let objects = SeriesKey::new(Metric::ScannedObjects, gd.dims.to_vec());
        let o = obs(vec![series(gd.clone(), 10e9, 10e9), series(objects, 10_000.0, 10_000.0)]);
        let costs = explain(
            &Config::parse("[cost]\ntag_key = \"t\"\n", "t").unwrap(),
            &o,
            &finding(gd, Unit::Bytes, 1.0, None),
        )
        .costs
        .unwrap();
        assert!(costs.contains("(USD 0.3050/GB, GuardDuty's list price)"), "{costs}");
    }
}
