//! Spike / level shift: a day far above its robust baseline raises WARNING even when no
//! threshold is crossed. The baseline is the median and MAD of the same weekday over the last
//! 8 weeks when the series has a weekly pattern (so Mondays are compared with Mondays), else of
//! the last 28 days: a weekday's 8 values are a thin sample, only worth it when weekdays differ.
//! The day must also be the highest of the last `anomaly_new_high_days` (52 weeks; of its
//! weekday, with a weekly pattern): a second, smaller spike tells the team nothing the first did
//! not, and a look-back of weeks lets noise set a new high every few weeks (one independent
//! day in 57 is the highest of its 8 weeks, and on heavy-tailed data z filters few of those).
//!
//! A level shift too small for a spike (a product change that adds a fifth to the volume) is
//! found once it has lasted `anomaly_shift_days`: all of those days beyond every one of the 28
//! days before, their median well away from theirs.
//!
//! An anomaly is held until `anomaly_hold_days` quiet days have passed, quiet meaning back within
//! the anomaly's own baseline: a series that flaps around its threshold alerts once, not every
//! other day, and an outage or a jump that lasts stays one WARNING instead of clearing once its
//! own days have become their baseline, for at most 28 days (then the new level is the
//! baseline, and the finding said when that would be). Falls alert only with `anomaly_drops`
//! (by default on scanned volume, not on cost: see `alerts::route::DROPS_ON_VOLUME`).

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::stats::{self, range};
use super::{human, median, Finding, Level, RuleKind, SeriesRules};

pub const MIN_HISTORY: usize = 14;
/// What a day is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub median: f64,
    pub scale: f64,
    /// The lowest and highest of the values compared with.
    pub low: f64,
    pub high: f64,
    /// The latest days of `low` and `high`, where they were looked back for.
    pub low_on: Option<NaiveDate>,
    pub high_on: Option<NaiveDate>,
    /// The weekday compared with, for a same-weekday baseline: only its days are comparable.
    pub weekday: Option<Weekday>,
    pub what: &'static str,
}

impl Baseline {
    fn of(values: &[f64], what: &'static str) -> Option<Baseline> {
        if values.is_empty() {
            return None;
        }
        let m = median(values);
        let spread = stats::robust_sd(values, m);
        // A floor of 5% of the median: a perfectly flat history must not make any wobble a page.
        let scale = spread.max(0.05 * m.abs()).max(f64::MIN_POSITIVE);
        let (low, high) = range(values.iter().copied());
        Some(Baseline { median: m, scale, low, high, low_on: None, high_on: None, weekday: None, what })
    }
}

/// The baseline of `day` from the days `before` it (sorted), or None with too few of them.
/// `new_high_days`: how far back a spike must be the highest (of its weekday, with a weekly
/// pattern), at most the history there is.
pub fn baseline(before: &[(NaiveDate, f64)], day: NaiveDate, new_high_days: u32) -> Option<Baseline> {
    if before.len() < MIN_HISTORY {
        return None;
    }
    // The last 8 weeks, newest first.
    let weeks8: Vec<(NaiveDate, f64)> =
        before.iter().rev().take_while(|(d, _)| *d >= day - Days::new(56)).copied().collect();
    let looked_back = before.iter().rev().take_while(|(d, _)| *d >= day - Days::new(u64::from(new_high_days)));
    let same_weekday: Vec<f64> = weeks8.iter().filter(|(d, _)| d.weekday() == day.weekday()).map(|(_, v)| *v).collect();
    let (b, ((low, low_on), (high, high_on))) = if same_weekday.len() >= 3
        && stats::weekday_h(&weeks8) >= stats::WEEKLY_H
    {
        let back = extremes(looked_back.filter(|(d, _)| d.weekday() == day.weekday()));
        let b = Baseline::of(&same_weekday, "same-weekday median")?;
        (Baseline { weekday: Some(day.weekday()), ..b }, back)
    } else {
        let last28: Vec<f64> = weeks8.iter().take_while(|(d, _)| *d >= day - Days::new(28)).map(|(_, v)| *v).collect();
        // A spike weeks before the 28 days still says that this size happens here.
        (Baseline::of(&last28, "28-day median")?, extremes(looked_back))
    };
    Some(Baseline { low, high, low_on, high_on, ..b })
}

/// The lowest and highest of `days` (newest first), each with the latest day it was reached.
type Extreme = (f64, Option<NaiveDate>);
fn extremes<'a>(days: impl Iterator<Item = &'a (NaiveDate, f64)>) -> (Extreme, Extreme) {
    days.fold(((f64::INFINITY, None), (f64::NEG_INFINITY, None)), |(lo, hi), &(d, v)| {
        // Strictly, so that a tie keeps the newer day.
        (if v < lo.0 { (v, Some(d)) } else { lo }, if v > hi.0 { (v, Some(d)) } else { hi })
    })
}

/// Which test found the anomaly.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// One day far from its baseline.
    Spike,
    /// The last `anomaly_shift_days` days, from the given one, all beyond the 28 days before.
    Shift(NaiveDate),
}

/// One day against its baseline: `value` is the day's, or the shifted days' median.
#[derive(Clone, Copy)]
struct Judged {
    b: Baseline,
    value: f64,
    z: f64,
    ratio: f64,
    anomalous: Option<Kind>,
}

impl Judged {
    fn new(b: Baseline, value: f64) -> Judged {
        let z = (value - b.median) / b.scale;
        // Nothing against a median of nothing is no change, not infinitely more.
        let ratio = if b.median > 0.0 {
            value / b.median
        } else if value == b.median {
            1.0
        } else {
            f64::INFINITY
        };
        Judged { b, value, z, ratio, anomalous: None }
    }

    /// (far enough above, far enough below — with drops) the baseline's median.
    fn far(&self, z: f64, ratio: f64, drops: bool) -> (bool, bool) {
        (self.z >= z && self.ratio >= ratio, drops && self.z <= -z && self.ratio <= 1.0 / ratio)
    }

    /// Far enough above (or, with drops, below) the baseline, and beyond `outside` of its range.
    fn beyond(&self, z: f64, ratio: f64, drops: bool, outside: (f64, f64)) -> bool {
        let (up, down) = self.far(z, ratio, drops);
        (up && outside.0 > self.b.high) || (down && outside.1 < self.b.low)
    }
}

/// Day `i` of `history` against the days before it: a spike, else a level shift.
fn judge(r: &SeriesRules, history: &[(NaiveDate, f64)], i: usize) -> Option<Judged> {
    let (day, value) = history[i];
    let p = &r.params;
    let mut spike = Judged::new(baseline(&history[..i], day, p.anomaly_new_high_days)?, value);
    if spike.beyond(p.anomaly_z, p.anomaly_ratio, p.drops(), (value, value)) {
        spike.anomalous = Some(Kind::Spike);
        return Some(spike);
    }
    let k = p.anomaly_shift_days as usize;
    if k > 0 && i + 1 >= k {
        let shifted: Vec<f64> = history[i + 1 - k..=i].iter().map(|(_, v)| *v).collect();
        let from = history[i + 1 - k].0;
        let start = history.partition_point(|(d, _)| *d < from - Days::new(28));
        let before: Vec<f64> = history[start..i + 1 - k].iter().map(|(_, v)| *v).collect();
        if before.len() >= MIN_HISTORY {
            let b = Baseline::of(&before, "28-day median").expect("non-empty");
            let mut shift = Judged::new(b, median(&shifted));
            if shift.beyond(p.anomaly_shift_z, p.anomaly_shift_ratio, p.drops(), range(shifted.iter().copied())) {
                shift.anomalous = Some(Kind::Shift(from));
                return Some(shift);
            }
        }
    }
    Some(spike)
}

/// Whether `judge` could find day `i` anomalous: bounds that every anomaly `judge` finds must
/// meet, cheap, so that looking back for an open episode need not judge every day. A spike must
/// pass every same-weekday day of the 8 weeks before (both baselines look back over them) and be
/// `anomaly_ratio` × beyond the lowest (a fall: the highest) of all their days, since either
/// baseline's median lies within them; a shift's days must all pass the 28 days before them and
/// be `anomaly_shift_ratio` × beyond the lowest (highest) of those. Without the ratios a series
/// drifting slowly down passes every day, since each day is below every earlier one.
fn may_be_anomalous(r: &SeriesRules, history: &[(NaiveDate, f64)], i: usize) -> bool {
    let p = &r.params;
    let (day, value) = history[i];
    let weeks = Days::new(u64::from(p.anomaly_new_high_days.min(56)));
    let same_weekday = history[..i].iter().rev().take_while(|(d, _)| *d >= day - weeks);
    let (low, high) = range(same_weekday.filter(|(d, _)| d.weekday() == day.weekday()).map(|(_, v)| *v));
    let weeks8 = history[..i].iter().rev().take_while(|(d, _)| *d >= day - Days::new(56));
    let (least, most) = range(weeks8.map(|(_, v)| *v));
    let ratio = p.anomaly_ratio;
    if (value > high && value >= ratio * least) || (p.drops() && value < low && value * ratio <= most) {
        return true;
    }
    let k = p.anomaly_shift_days as usize;
    if k == 0 || i + 1 < k {
        return false;
    }
    let (shifted_low, shifted_high) = range(history[i + 1 - k..=i].iter().map(|(_, v)| *v));
    let from = history[i + 1 - k].0;
    let start = history.partition_point(|(d, _)| *d < from - Days::new(28));
    let before = &history[start..i + 1 - k];
    let (low, high) = range(before.iter().map(|(_, v)| *v));
    let ratio = p.anomaly_shift_ratio;
    before.len() >= MIN_HISTORY
        && ((shifted_low > high && shifted_high >= ratio * low)
            || (p.drops() && shifted_high < low && shifted_low * ratio <= high))
}

/// How long an episode stays open at most, from the day its level began (or `anomaly_hold_days`,
/// if longer): by then the 28-day baseline holds nothing but the new level, which is the
/// baseline.
const EPISODE_DAYS: u64 = 28;

fn episode_days(r: &SeriesRules) -> u64 {
    EPISODE_DAYS.max(u64::from(r.params.anomaly_hold_days))
}

/// An anomaly still held: the day it was found, as judged then, and the day it is held until,
/// at most `end`, when a level that never came back is the baseline.
struct Episode {
    found: usize,
    judged: Judged,
    /// The first day of the anomalous level: the spike's day, or the shift's first.
    began: NaiveDate,
    until: NaiveDate,
    end: NaiveDate,
}

/// The latest anomalous day within `episode_days` before day `last`, held until
/// `anomaly_hold_days` after the latest day still beyond that day's baseline (by the same
/// measures): a level that stays up (or down) is not quiet just because its own days have since
/// become their baseline. None once that day has passed; on `end` itself, the day a level that
/// never came back stops being held, still Some.
fn episode(r: &SeriesRules, history: &[(NaiveDate, f64)], last: usize) -> Option<Episode> {
    let day = history[last].0;
    let (found, judged) = (0..last)
        .rev()
        .take_while(|&i| history[i].0 + Days::new(episode_days(r)) >= day)
        .filter(|&i| may_be_anomalous(r, history, i))
        .find_map(|i| judge(r, history, i).filter(|j| j.anomalous.is_some()).map(|j| (i, j)))?;
    let p = &r.params;
    let (z, ratio, began) = match judged.anomalous {
        Some(Kind::Shift(from)) => (p.anomaly_shift_z, p.anomaly_shift_ratio, from),
        _ => (p.anomaly_z, p.anomaly_ratio, history[found].0),
    };
    let up = judged.z > 0.0;
    let beyond = |v: f64| {
        let (above, below) = Judged::new(judged.b, v).far(z, ratio, !up);
        if up {
            above
        } else {
            below
        }
    };
    // Against a weekday's baseline only that weekday's days say whether the level is back: a
    // Saturday spike's busy Mondays are far above the Saturdays and mean nothing.
    let weekday = judged.b.weekday;
    let hold = Days::new(u64::from(p.anomaly_hold_days));
    let mut until = history[found].0 + hold;
    for &(d, v) in &history[found + 1..=last] {
        // Once closed, an episode stays closed: a later day like it is judged on its own.
        if d > until {
            return None;
        }
        if weekday.is_none_or(|w| d.weekday() == w) && beyond(v) {
            until = d + hold;
        }
    }
    let end = began + Days::new(episode_days(r));
    (day <= end).then_some(Episode { found, judged, began, until: until.min(end), end })
}

/// A ratio as the findings print it: a drop to a tenth reads "0.10", not "0.1".
fn times(ratio: f64) -> String {
    if ratio < 1.0 {
        format!("{ratio:.2}")
    } else {
        format!("{ratio:.1}")
    }
}

pub fn evaluate(r: &SeriesRules, history: &[(NaiveDate, f64)]) -> Finding {
    let last = history.len().checked_sub(1).expect("non-empty history");
    let (day, value) = history[last];
    let mut f = Finding::new(r, RuleKind::Anomaly, Some(day));
    f.value = Some(value);
    let Some(now) = judge(r, history, last) else {
        f.message = format!("{}: anomaly detection needs {MIN_HISTORY} days of history, has {last}", r.label);
        return f;
    };
    let b = now.b;
    let threshold = (b.median + r.params.anomaly_z * b.scale).max(b.median * r.params.anomaly_ratio).max(b.high);
    f.threshold = Some(threshold);
    f.utilisation = Some(if threshold > 0.0 { value / threshold } else { 0.0 });
    // Not anomalous today: the latest anomalous day's episode, if still open.
    let episode = if now.anomalous.is_some() { None } else { episode(r, history, last) };
    let (held, settled) = match episode {
        Some(e) if e.end == day => (None, Some(e)),
        e => (e, None),
    };
    let (shown, j) = held.as_ref().map_or((last, now), |e| (e.found, e.judged));
    let d = history[shown].0;
    let ratio = times(j.ratio);
    let now_or_then = |is: &'static str, was: &'static str| if shown == last { is } else { was };
    let (value, b, z) = (human(j.value, r.unit), j.b, j.z);
    f.message = match j.anomalous {
        Some(Kind::Shift(from)) => format!(
            "{}: the {} days {from} to {d} {} all {} the 28 days before: their median {value} is {ratio}× \
             the {} {} ({z:+.1} robust SD)",
            r.label,
            r.params.anomaly_shift_days,
            now_or_then("are", "were"),
            if j.z > 0.0 { "above" } else { "below" },
            b.what,
            human(b.median, r.unit),
        ),
        _ => format!(
            "{}: {value} on {d} {} {ratio}× its {} {} ({z:+.1} robust SD)",
            r.label,
            now_or_then("is", "was"),
            b.what,
            human(b.median, r.unit),
        ),
    };
    if j.anomalous.is_some() {
        f.level = Level::Warning;
    }
    if let Some(e) = held {
        f.message += &if e.until == e.end {
            format!(
                "; held until {} (at most {} days: by then the new level is the baseline)",
                e.until,
                episode_days(r)
            )
        } else {
            format!("; held until {} ({} quiet days)", e.until, r.params.anomaly_hold_days)
        };
    } else if j.anomalous.is_none() {
        // Far enough from the baseline, but not beyond the look-back's range: say so, or the
        // finding reads like a spike that was missed.
        let p = &r.params;
        let seen = match j.far(p.anomaly_z, p.anomaly_ratio, p.drops()) {
            (true, _) => b.high_on.map(|on| ("high", b.high, on)),
            (_, true) => b.low_on.map(|on| ("low", b.low, on)),
            _ => None,
        };
        if let Some((what, v, on)) = seen {
            f.message += &format!(
                "; not a new {what}: {} on {on} was at least as {what} ({}-day look-back)",
                human(v, r.unit),
                p.anomaly_new_high_days
            );
        }
    }
    if let Some(e) = settled {
        f.message += &format!(
            "; the level since {} ({}× the {} before it) has lasted {} days: it is the baseline now",
            e.began,
            times(e.judged.ratio),
            e.judged.b.what,
            episode_days(r)
        );
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn with_drops() -> SeriesRules {
        let mut r = rules(None);
        r.params.anomaly_drops = Some(true);
        r
    }

    #[test]
    fn a_one_day_spike_is_an_anomaly() {
        let mut v: Vec<f64> = (0..28).map(|i| 50e9 + (i % 5) as f64 * 1e9).collect();
        v.push(170e9);
        let f = evaluate(&rules(None), &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(
            f.message.starts_with("bucket uploads: 170.0 GB on 2026-10-29 is 3.3× its 28-day median 52.0 GB"),
            "{}",
            f.message
        );
    }

    #[test]
    fn weekend_dips_and_weekday_peaks_are_not_anomalies() {
        // Weekdays 80, weekends 20 for six weeks; then a normal Monday at 82.
        let week = [80.0, 80.0, 80.0, 80.0, 80.0, 20.0, 20.0];
        let mut v: Vec<f64> = week.iter().cycle().take(42).copied().collect();
        v.push(82.0);
        let h = series("2026-10-05", &v); // 2026-10-05 is a Monday
        assert_eq!(evaluate(&rules(None), &h).level, Level::Ok);
        // Every day of the history, evaluated as if it were the latest: never an alert.
        for end in 15..h.len() {
            assert_eq!(evaluate(&rules(None), &h[..end]).level, Level::Ok, "day {end}");
        }
    }

    #[test]
    fn mondays_are_compared_with_mondays_only_when_the_weekdays_differ() {
        // Eight weeks of quiet weekends (about 30) and busy weekdays (about 80), each day a little
        // different; then a Monday at 250.
        let noise = |i: usize| ((i * 37) % 11) as f64;
        let weekly: Vec<f64> = (0..56).map(|i| if i % 7 >= 5 { 30.0 } else { 80.0 } + noise(i)).collect();
        let spike = |mut v: Vec<f64>| {
            v.push(250.0);
            evaluate(&rules(None), &series("2026-10-05", &v)).message // 2026-10-05 is a Monday
        };
        let f = spike(weekly.clone());
        assert!(f.contains("is 3.0× its same-weekday median 84.5 B (+"), "{f}");
        // The same weeks, each turned by 3 more days than the one before: the quiet days fall on
        // every weekday in turn, so there is no weekly pattern and the 28-day median is used.
        let shuffled: Vec<f64> = (0..56).map(|i| weekly[i / 7 * 7 + (i % 7 + i / 7 * 3) % 7]).collect();
        let f = spike(shuffled);
        assert!(f.contains("its 28-day median"), "{f}");
    }

    #[test]
    fn a_series_mostly_on_one_value_is_measured_by_how_far_the_others_stray() {
        // 10 on most days, 15 on every 4th: the MAD is 0 and a 5%-of-median scale would make
        // 16 a +12 SD spike; the mean absolute deviation (1.25 × 1.2533) makes it +3.8.
        let base: Vec<f64> = (0..28).map(|i| if i % 4 == 3 { 15.0 } else { 10.0 }).collect();
        let day = |v: f64| {
            let mut h = base.clone();
            h.push(v);
            evaluate(&rules(None), &series("2026-10-01", &h))
        };
        let f = day(16.0);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(f.message.ends_with("(+3.8 robust SD)"), "{}", f.message);
        assert_eq!(day(30.0).level, Level::Warning);
    }

    #[test]
    fn too_little_history_is_stated_and_silent() {
        let f = evaluate(&rules(None), &series("2026-10-01", &[1.0, 1.0, 100.0]));
        assert_eq!(f.level, Level::Ok);
        assert_eq!(f.message, "bucket uploads: anomaly detection needs 14 days of history, has 2");
    }

    #[test]
    fn a_level_shift_is_flagged_on_its_first_days() {
        let mut v = vec![10.0; 30];
        v.extend([30.0, 31.0]);
        let h = series("2026-10-01", &v);
        assert_eq!(evaluate(&rules(None), &h[..31]).level, Level::Warning);
        assert_eq!(evaluate(&rules(None), &h).level, Level::Warning);
    }

    #[test]
    fn an_anomaly_is_held_for_quiet_days_so_a_flapping_series_alerts_once() {
        // Two spikes three days apart: one WARNING from the first, held through the second, and
        // OK again once `anomaly_hold_days` (7) quiet days have passed after the second.
        let mut v: Vec<f64> = (0..28).map(|i| 50e9 + (i % 5) as f64 * 1e9).collect();
        v.extend([170e9, 52e9, 51e9, 180e9, 50e9, 53e9, 52e9, 51e9, 50e9, 52e9, 51e9, 50e9]);
        let h = series("2026-10-01", &v);
        let levels: Vec<Level> = (28..h.len()).map(|end| evaluate(&rules(None), &h[..=end]).level).collect();
        use Level::{Ok as O, Warning as W};
        assert_eq!(levels, [W, W, W, W, W, W, W, W, W, W, W, O]);
        let held = evaluate(&rules(None), &h[..=33]);
        assert!(held.message.starts_with("bucket uploads: 180.0 GB on 2026-11-01 was "), "{}", held.message);
        assert!(held.message.ends_with("; held until 2026-11-08 (7 quiet days)"), "{}", held.message);
        let mut no_hold = rules(None);
        no_hold.params.anomaly_hold_days = 0;
        assert_eq!(evaluate(&no_hold, &h[..=29]).level, Level::Ok);
    }

    #[test]
    fn a_level_that_stays_beyond_its_baseline_is_held_until_it_is_the_baseline() {
        // 30 days around 50, then 150 from 2026-10-31 on: a spike on its first day; the days
        // after it are not new highs, and within days their own 28-day baseline is inflated by
        // them, yet the level never came back. Likewise a fall to nothing, with drops.
        let before: Vec<f64> = (0..30).map(|i| 50.0 + (i % 5) as f64).collect();
        for (level, r) in [(150.0, rules(None)), (0.0, with_drops())] {
            let v: Vec<f64> = before.iter().copied().chain([level; 40]).collect();
            let h = series("2026-10-01", &v);
            let levels: Vec<Level> = (30..h.len()).map(|end| evaluate(&r, &h[..=end]).level).collect();
            assert!(levels[..28].iter().all(|l| *l == Level::Warning), "{level}: {levels:?}");
            assert!(levels[28..].iter().all(|l| *l == Level::Ok), "{level}: {levels:?}");
            // Found as a spike on 2026-10-31 and as a shift of 2026-10-31 to 2026-11-04.
            let f = evaluate(&r, &h[..=45]);
            assert!(f.message.contains("the 5 days 2026-10-31 to 2026-11-04 were all "), "{}", f.message);
            assert!(f.message.ends_with("; held until 2026-11-22 (7 quiet days)"), "{}", f.message);
            let f = evaluate(&r, &h[..=52]);
            assert!(
                f.message.ends_with("; held until 2026-11-28 (at most 28 days: by then the new level is the baseline)"),
                "{}",
                f.message
            );
            // The day it clears says why, and only that day.
            let f = evaluate(&r, &h[..=58]);
            assert!(f.message.contains("; the level since 2026-10-31 ("), "{}", f.message);
            assert!(f.message.ends_with(" before it) has lasted 28 days: it is the baseline now"), "{}", f.message);
            assert!(!evaluate(&r, &h[..=59]).message.contains("the level since"));
            assert!(f.message.contains(" on 2026-11-28 is 1.0× its 28-day median "), "{}", f.message);
        }
    }

    #[test]
    fn a_weekend_spike_is_not_held_by_the_busier_weekdays_after_it() {
        // Weekdays about 80, weekends about 20, for 8 weeks; then a Saturday at 100 (5× the
        // Saturdays); then the usual weeks. The weekdays are far above the Saturdays' baseline,
        // but they are not Saturdays: the WARNING clears after 7 days as for any one-day spike.
        let noise = |i: usize| ((i * 37) % 11) as f64 / 10.0;
        let mut v: Vec<f64> = (0..84).map(|i| if i % 7 >= 5 { 20.0 } else { 80.0 } + noise(i)).collect();
        v[61] = 100.0; // 2026-10-05 is a Monday: day 61 is Saturday 2026-12-05
        let h = series("2026-10-05", &v);
        let f = evaluate(&rules(None), &h[..=61]);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(f.message.contains("its same-weekday median"), "{}", f.message);
        let levels: Vec<Level> = (61..h.len()).map(|end| evaluate(&rules(None), &h[..=end]).level).collect();
        use Level::{Ok as O, Warning as W};
        assert_eq!(levels[..9], [W, W, W, W, W, W, W, W, O], "{levels:?}");
        assert!(levels[8..].iter().all(|l| *l == O), "{levels:?}");
    }

    #[test]
    fn the_cheap_pre_test_passes_every_anomalous_day() {
        // Noisy series with spikes, drops, steps up and down and a weekly pattern: wherever
        // `judge` finds an anomaly, `may_be_anomalous` must have let the day through.
        let mut seed = 7u64;
        let mut noise = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        let v: Vec<f64> = (0..400)
            .map(|i| {
                let level = [50.0, 70.0, 35.0, 60.0, 80.0][i / 40 % 5];
                let weekly = if i % 7 >= 5 { 0.5 } else { 1.0 };
                let spike = match noise() {
                    x if x > 0.95 => 4.0,
                    x if x < 0.05 => 0.1,
                    _ => 1.0,
                };
                level * weekly * spike * (0.9 + 0.2 * noise())
            })
            .collect();
        // And shifts that only the shift's own pre-test lets through: the fifth day of a step up
        // (down) on the weekday of an earlier, larger spike (fall), five weeks after it.
        let step = |spike: f64, to: f64| -> Vec<f64> {
            let mut v: Vec<f64> = (0..70).map(|i| 50.0 + (i % 5) as f64).collect();
            v[30] = spike;
            v[61..].fill(to);
            v
        };
        let mut found = 0;
        for v in [v, step(200.0, 70.0), step(0.0, 30.0)] {
            let h = series("2026-01-01", &v);
            for r in [rules(None), with_drops()] {
                for i in 0..h.len() {
                    if judge(&r, &h, i).is_some_and(|j| j.anomalous.is_some()) {
                        found += 1;
                        assert!(may_be_anomalous(&r, &h, i), "day {i} of {:?}", &v[..5]);
                    }
                }
            }
        }
        assert!(found >= 10, "only {found} anomalous days: the test would prove little");
    }

    #[test]
    fn a_slow_drift_is_not_worth_judging() {
        // Each day a little below (above) every day before it: beyond their range every day, but
        // nowhere near the ratios, so the pre-test keeps `judge` off every day of it.
        for step in [-1e6, 1e6] {
            let h = series("2026-01-01", &(0..120).map(|i| 1e9 + step * i as f64).collect::<Vec<_>>());
            let passed: Vec<usize> = (0..h.len()).filter(|&i| may_be_anomalous(&with_drops(), &h, i)).collect();
            assert!(passed.is_empty(), "{step}: {passed:?}");
        }
    }

    #[test]
    fn a_spike_below_a_recent_higher_one_is_not_a_new_anomaly() {
        // Day 20 spiked to 300; day 34 (the same weekday, two weeks on) reaches 200: far above
        // the median, but not above what its baseline already holds.
        let mut v: Vec<f64> = (0..35).map(|i| 50.0 + (i % 5) as f64).collect();
        v[20] = 300.0;
        v[34] = 200.0;
        let h = series("2026-10-01", &v);
        assert_eq!(evaluate(&rules(None), &h[..=20]).level, Level::Warning);
        let f = evaluate(&rules(None), &h);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        v[34] = 301.0;
        assert_eq!(evaluate(&rules(None), &series("2026-10-01", &v)).level, Level::Warning);
    }

    #[test]
    fn a_spike_must_be_the_highest_of_the_new_high_look_back() {
        // Day 15 spiked to 300; day 120 (15 weeks on, the same weekday) reaches 200: far above
        // its baseline, but not a new high of 52 weeks. With a look-back of 8 weeks it is one.
        let flat: Vec<f64> = (0..121).map(|i| 50.0 + (i % 5) as f64).collect();
        let week = [80.0, 82.0, 79.0, 81.0, 80.0, 20.0, 21.0];
        let weekly: Vec<f64> = (0..121).map(|i| week[i % 7] + (i % 3) as f64).collect();
        for (mut v, what) in [(flat, "28-day median"), (weekly, "same-weekday median")] {
            v[15] = 300.0;
            v[120] = 200.0;
            let h = series("2026-10-01", &v);
            let f = evaluate(&rules(None), &h);
            assert!(f.message.contains(what), "{}", f.message);
            assert_eq!(f.level, Level::Ok, "{}", f.message);
            assert!(
                f.message.ends_with("; not a new high: 300.0 B on 2026-10-16 was at least as high (364-day look-back)"),
                "{}",
                f.message
            );
            let mut weeks8 = rules(None);
            weeks8.params.anomaly_new_high_days = 56;
            assert_eq!(evaluate(&weeks8, &h).level, Level::Warning, "{what}");
            v[120] = 301.0;
            assert_eq!(evaluate(&rules(None), &series("2026-10-01", &v)).level, Level::Warning, "{what}");
        }
    }

    #[test]
    fn drops_alert_only_when_asked() {
        let mut v: Vec<f64> = (0..28).map(|i| 50e9 + (i % 5) as f64 * 1e9).collect();
        v.push(0.0);
        let h = series("2026-10-01", &v);
        assert_eq!(evaluate(&rules(None), &h).level, Level::Ok);
        let drops = with_drops();
        let f = evaluate(&drops, &h);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(
            f.message.starts_with("bucket uploads: 0.0 B on 2026-10-29 is 0.00× its 28-day median 52.0 GB"),
            "{}",
            f.message
        );
        // The same drop again, once the first is no longer held, is not news, and says why.
        v.extend((0..10).map(|i| 50e9 + (i % 5) as f64 * 1e9));
        v.push(0.0);
        let f = evaluate(&drops, &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(
            f.message.ends_with("; not a new low: 0.0 B on 2026-10-29 was at least as low (364-day look-back)"),
            "{}",
            f.message
        );
        // A quiet weekend is not a drop.
        let week = [80.0, 80.0, 80.0, 80.0, 80.0, 20.0, 20.0];
        let w = series("2026-10-05", &week.iter().cycle().take(43).copied().collect::<Vec<f64>>());
        for end in 15..w.len() {
            assert_eq!(evaluate(&drops, &w[..end]).level, Level::Ok, "day {end}");
        }
    }

    #[test]
    fn a_sustained_step_too_small_for_a_spike_is_a_level_shift_on_its_fifth_day() {
        // 30 days around 50 GB, then a step to 62 GB (+24%): no single day is a spike.
        let mut v: Vec<f64> = (0..30).map(|i| 50e9 + (i % 5) as f64 * 0.5e9).collect();
        v.extend([62e9, 63e9, 62.5e9, 62e9, 63e9, 62e9]);
        let h = series("2026-10-01", &v);
        let levels: Vec<Level> = (30..h.len()).map(|end| evaluate(&rules(None), &h[..=end]).level).collect();
        use Level::{Ok as O, Warning as W};
        assert_eq!(levels, [O, O, O, O, W, W]);
        let f = evaluate(&rules(None), &h[..=34]);
        assert_eq!(
            f.message,
            "bucket uploads: the 5 days 2026-10-31 to 2026-11-04 are all above the 28 days before: their median \
             62.5 GB is 1.2× the 28-day median 51.0 GB (+4.5 robust SD)"
        );
        let mut off = rules(None);
        off.params.anomaly_shift_days = 0;
        assert_eq!(evaluate(&off, &h[..=34]).level, Level::Ok);
        // A step down is a shift only with drops.
        let down: Vec<f64> = v[..30].iter().copied().chain([38e9; 5]).collect();
        let hd = series("2026-10-01", &down);
        assert_eq!(evaluate(&rules(None), &hd).level, Level::Ok);
        let drops = with_drops();
        let f = evaluate(&drops, &hd);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(f.message.contains("are all below the 28 days before"), "{}", f.message);
    }
}
