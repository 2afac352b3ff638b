//! Forecast breach, the early warning: a robust trend of the series projected forward, WARNING
//! when it crosses the (growing) critical threshold within the horizon.
//!
//! Robust on purpose: the level is a trailing 7-day median (a one-day spike and a weekend dip
//! both vanish from it), the slope is Theil-Sen's (the median of all pairwise slopes) with
//! Sen's 90% interval giving the breach date's uncertainty, fitted in log space when the level
//! is positive, since costs and volumes grow by percentages.
//!
//! A crossing that needs more than `forecast_max_rise` × the level (the lower of the trend's and
//! the last week's median) is not yet a warning: a month's trend carried that far is most often
//! a burst's. A WARNING is held `forecast_hold_days` after the last day that forecast a
//! crossing.
//!
//! With a year of history the warning must also survive the season: a rise that last year's
//! same weeks also had (a January or a back-to-school bump) is projected the way last year went
//! on, plus only the growth beyond last year's; the shallow end of the slope's range must cross
//! with that season and without it. Without that history the trend alone decides.

use chrono::{Days, NaiveDate};

use super::{human, median, stats, Finding, Level, RuleKind, SeriesRules, Threshold};

/// Three weeks: on two, a noisy flat series (±20–30% a day) now and then fits a trend steep
/// enough at both ends of its range to warn (`cargo bench --bench detect`, "seeds warned while
/// flat").
pub const MIN_HISTORY: usize = 21;
const LEVEL_DAYS: usize = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub last: NaiveDate,
    pub log: bool,
    /// (intercept at `last`, slope per day) for the central, lower and upper slopes.
    pub central: (f64, f64),
    pub lower: (f64, f64),
    pub upper: (f64, f64),
}

impl Trend {
    pub fn at(&self, line: (f64, f64), days_ahead: f64) -> f64 {
        let y = line.0 + line.1 * days_ahead;
        if self.log {
            y.exp()
        } else {
            y
        }
    }

    pub fn level(&self) -> f64 {
        self.at(self.central, 0.0)
    }

    /// Growth per week at `slope`, as a person reads it: "+6.1%/week" for a log fit, in units
    /// per week for a linear one.
    pub fn per_week(&self, slope: f64, unit: crate::metrics::Unit) -> String {
        if self.log {
            format!("{:+.1}%/week", 100.0 * ((7.0 * slope).exp() - 1.0))
        } else {
            format!("{}/week", human(7.0 * slope, unit))
        }
    }

    /// The central slope as a monthly growth rate relative to the level (None for a linear trend
    /// at or below zero level).
    pub fn per_month(&self) -> Option<f64> {
        let days = super::DAYS_PER_MONTH;
        match self.log {
            true => Some((days * self.central.1).exp() - 1.0),
            false => (self.level() > 0.0).then(|| days * self.central.1 / self.level()),
        }
    }

    /// First day (0 = `last`) within `limit` days at which `line` reaches `crit`.
    pub fn crossing(&self, line: (f64, f64), t: &Threshold, limit: u32) -> Option<u32> {
        (0..=limit).find(|&k| self.at(line, f64::from(k)) >= t.crit_at(self.last + Days::new(u64::from(k))))
    }
}

/// Fits the trend on the last `window` days; None below MIN_HISTORY days.
pub fn fit(history: &[(NaiveDate, f64)], window: u32) -> Option<Trend> {
    let (last, _) = *history.last()?;
    let first = last - Days::new(u64::from(window.max(1)) - 1);
    let h: Vec<(NaiveDate, f64)> = history.iter().copied().filter(|(d, _)| *d >= first).collect();
    if h.len() < MIN_HISTORY {
        return None;
    }
    let levels: Vec<(f64, f64)> = (LEVEL_DAYS - 1..h.len())
        .map(|i| {
            let vals: Vec<f64> = h[i + 1 - LEVEL_DAYS..=i].iter().map(|(_, v)| *v).collect();
            // The median of a window describes its middle day, not its end: no lag.
            let centre = (h[i].0 - last).num_days() as f64 - (LEVEL_DAYS / 2) as f64;
            (centre, median(&vals))
        })
        .collect();
    let log = levels.iter().all(|(_, l)| *l > 0.0);
    let pts: Vec<(f64, f64)> = levels.iter().map(|&(x, l)| (x, if log { l.ln() } else { l })).collect();
    let (_, b, _) = stats::sen_interval(&pts)?;
    // The interval comes from the raw days, not the smoothed levels: the levels' overlapping
    // windows make them look far more certain than the data is. Its offsets around the raw
    // median slope are applied to the robust central slope.
    let raw: Vec<(f64, f64)> = h
        .iter()
        .filter(|(_, v)| !log || *v > 0.0)
        .map(|(d, v)| ((*d - last).num_days() as f64, if log { v.ln() } else { *v }))
        .collect();
    let (lo, hi) = stats::sen_interval(&raw).map_or((b, b), |(lo, mid, hi)| (b + lo - mid, b + hi - mid));
    let line = |b: f64| {
        let residuals: Vec<f64> = pts.iter().map(|(x, y)| y - b * x).collect();
        (median(&residuals), b)
    };
    Some(Trend { last, log, central: line(b), lower: line(lo), upper: line(hi) })
}

/// 52 weeks, so that weekdays line up with last year's.
const YEAR: u64 = 364;

/// Last year's same weeks: the trend they had and the season after them.
struct LastYear {
    /// Slope per day (log) of last year's trend over the same window.
    slope: f64,
    /// ln(level k days after, / level then) for k = 0..=3 × horizon (as far as the shallow end
    /// of the slope is followed), of 4-week centred medians.
    season: Vec<f64>,
}

/// The median of the 4 weeks centred on `at`, if it holds at least a week of positive days.
fn centred_level(history: &[(NaiveDate, f64)], at: NaiveDate) -> Option<f64> {
    let lo = history.partition_point(|(d, _)| *d < at - Days::new(14));
    let hi = history.partition_point(|(d, _)| *d < at + Days::new(14));
    let v: Vec<f64> = history[lo..hi].iter().map(|(_, v)| *v).collect();
    (v.len() >= 7 && v.iter().all(|v| *v > 0.0)).then(|| median(&v))
}

fn last_year(history: &[(NaiveDate, f64)], day: NaiveDate, window: u32, days: u32) -> Option<LastYear> {
    let then = day - Days::new(YEAR);
    if history.first()?.0 > then - Days::new(u64::from(window)) {
        return None;
    }
    let past = fit(&history[..history.partition_point(|(d, _)| *d <= then)], window).filter(|t| t.log)?;
    let base = centred_level(history, then)?;
    let season = (0..=u64::from(days))
        .map(|k| Some((centred_level(history, then + Days::new(k))? / base).ln()))
        .collect::<Option<Vec<f64>>>()?;
    Some(LastYear { slope: past.central.1, season })
}

/// The forecast of the last day, its WARNING held for `forecast_hold_days` after the last day
/// that forecast a crossing: a projection hovering at a test's edge (the shallow slope, the
/// rise, a weekend in the last week) would otherwise notify, resolve and notify again.
pub fn evaluate(r: &SeriesRules, t: &Threshold, history: &[(NaiveDate, f64)]) -> Finding {
    let (day, _) = *history.last().expect("non-empty history");
    let (trend, verdict) = judge(r, t, history);
    let mut f = finding(r, t, day, trend.as_ref(), verdict);
    let hold = u64::from(r.params.forecast_hold_days);
    if f.level != Level::Ok || hold == 0 {
        return f;
    }
    let from = history.partition_point(|(d, _)| *d + Days::new(hold) < day);
    let warned =
        (from..history.len() - 1).rev().find(|&end| matches!(judge(r, t, &history[..=end]).1, Verdict::Breach { .. }));
    if let Some(end) = warned {
        let last = history[end].0;
        f.level = Level::Warning;
        f.message += &format!(
            "; WARNING held until {} ({hold} days after the last day that forecast a crossing, {last})",
            last + Days::new(hold)
        );
    }
    f
}

/// What the forecast of one day found, before any words: the hold compares these, and
/// `finding` writes the sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Fewer than MIN_HISTORY days in the window.
    TooShort { days: usize },
    /// The trend stays below critical over the horizon.
    Below,
    /// The trend crosses on day `k`, but last year's same weeks explain the rise.
    Seasonal { k: u32, last_year_slope: f64, last_year_rise: f64 },
    /// The trend crosses on day `k`, but only by rising `rise` × from `recent` (the last week's
    /// median when it is below the trend's level, else None: the level itself).
    TooFar { k: u32, rise: f64, recent: Option<f64> },
    /// The trend crosses on day `k`, but the shallow end of its range only on day `late` (None:
    /// not within three horizons); `allowing`: last year's season is what holds it back.
    Unconfirmed { k: u32, late: Option<u32>, allowing: bool },
    /// WARNING: the trend crosses on day `k` (0: already at critical) ± `spread` days.
    Breach { k: u32, spread: u32, seasonal: bool },
}

/// The forecast of the last day of `history`: the fitted trend (None when too short) and its
/// verdict. No words are written here, so the hold can re-run it cheaply.
fn judge(r: &SeriesRules, t: &Threshold, history: &[(NaiveDate, f64)]) -> (Option<Trend>, Verdict) {
    let (day, _) = *history.last().expect("non-empty history");
    let Some(trend) = fit(history, r.params.trend_window_days) else {
        return (None, Verdict::TooShort { days: history.len() });
    };
    let horizon = r.params.horizon_days;
    let Some(k) = trend.crossing(trend.central, t, horizon) else {
        return (Some(trend), Verdict::Below);
    };
    let season =
        Some(()).filter(|_| trend.log).and_then(|_| last_year(history, day, r.params.trend_window_days, horizon * 3));
    // `line` less last year's trend over the same weeks, with last year's season on top.
    let seasonal_crossing = |line: (f64, f64), ly: &LastYear, limit: u32| {
        let (a, b) = line;
        (0..=limit).find(|&k| {
            (a + (b - ly.slope) * f64::from(k) + ly.season[k as usize]).exp()
                >= t.crit_at(day + Days::new(u64::from(k)))
        })
    };
    // The shallow end of the slope's 90% range: unless it too crosses within the horizon, the
    // crossing is a guess, and a warning the team would learn to ignore. Like the central line,
    // with and without last year's season: the season is one year's record.
    let plain = trend.crossing(trend.lower, t, horizon * 3);
    let seasonal = season.as_ref().map(|ly| seasonal_crossing(trend.lower, ly, horizon * 3));
    let late = match seasonal {
        Some(s) => plain.zip(s).map(|(p, s)| p.max(s)),
        None => plain,
    };
    // Which of the two holds the warning back, for the message.
    let allowing = matches!((plain, seasonal), (Some(p), Some(s)) if s.is_none_or(|s| s > p));
    // How far the level must still rise to cross: from the lower of the trend's level and the
    // last week's median, since a steep fit's line runs ahead of its data. A month's trend that
    // must carry it more than `forecast_max_rise` × is most often a recovery from a dip or a few
    // days' surge projected far past anything it has seen (the detect bench's prophet-wp false
    // warnings); the anomaly and static rules speak for sudden rises, and the forecast warns once
    // the crossing is near.
    let week = history.partition_point(|(d, _)| *d + Days::new(LEVEL_DAYS as u64) <= day);
    let recent = median(&history[week..].iter().map(|(_, v)| *v).collect::<Vec<f64>>());
    let base = recent.min(trend.level());
    let rise = if base > 0.0 { t.crit_at(day + Days::new(u64::from(k))) / base } else { f64::INFINITY };
    let verdict = match season.as_ref() {
        Some(ly) if seasonal_crossing(trend.central, ly, horizon).is_none() => {
            Verdict::Seasonal { k, last_year_slope: ly.slope, last_year_rise: ly.season[horizon as usize].exp() - 1.0 }
        }
        _ if rise > r.params.forecast_max_rise => {
            Verdict::TooFar { k, rise, recent: (recent < trend.level()).then_some(recent) }
        }
        // Days already at critical need no slope to be sure of; a line that is there ahead of its
        // days (k = 0, the last week's median below) does.
        _ if rise > 1.0 && late.is_none_or(|l| l > horizon) => Verdict::Unconfirmed { k, late, allowing },
        season => {
            // The interval's steeper line crosses first, the shallower one (within the horizon,
            // as checked above) last.
            let early = trend.crossing(trend.upper, t, horizon * 3).unwrap_or(k);
            let spread = late.unwrap_or(k).saturating_sub(k).max(k - early.min(k));
            Verdict::Breach { k, spread, seasonal: season.is_some() }
        }
    };
    (Some(trend), verdict)
}

/// The finding of a verdict, with the sentence a team reads.
fn finding(r: &SeriesRules, t: &Threshold, day: NaiveDate, trend: Option<&Trend>, verdict: Verdict) -> Finding {
    let mut f = Finding::new(r, RuleKind::Forecast, Some(day));
    let Some(trend) = trend else {
        let days = if let Verdict::TooShort { days } = verdict { days } else { 0 };
        f.message = format!(
            "{}: forecast needs {MIN_HISTORY} days of history, has {days}; only the static threshold applies",
            r.label
        );
        return f;
    };
    let horizon = r.params.horizon_days;
    let end = day + Days::new(u64::from(horizon));
    let on = |k: u32| day + Days::new(u64::from(k));
    f.value = Some(trend.level());
    f.trend_per_month = trend.per_month();
    f.planned = (!t.fixed).then(|| t.planned(day));
    f.utilisation = Some(trend.at(trend.central, f64::from(horizon)) / t.crit_at(end));
    f.threshold = Some(t.crit_at(end));
    let growth = trend.per_week(trend.central.1, r.unit);
    let trend_is = format!("{}: trend {growth} (level {}/day)", r.label, human(trend.level(), r.unit));
    f.message = match verdict {
        Verdict::TooShort { .. } | Verdict::Below => format!(
            "{trend_is} stays below critical for the next {horizon} days ({}/day on {end})",
            human(t.crit_at(end), r.unit)
        ),
        Verdict::Seasonal { k, last_year_slope, last_year_rise } => format!(
            "{trend_is} would cross critical on {}, but the same weeks last year ran {} and then {:+.0}% over \
             {horizon} days: allowing for that season it stays below critical for the next {horizon} days",
            on(k),
            trend.per_week(last_year_slope, r.unit),
            100.0 * last_year_rise,
        ),
        Verdict::TooFar { k, rise, recent } => format!(
            "{trend_is} would cross critical on {}, but {} would have to rise {rise:.2}× by then: further than \
             a {}-day trend is trusted to carry (the forecast warns from {:.2}×)",
            on(k),
            recent.map_or("its level".to_string(), |m| format!(
                "its last {LEVEL_DAYS} days' median {}/day",
                human(m, r.unit)
            )),
            r.params.trend_window_days,
            r.params.forecast_max_rise,
        ),
        Verdict::Unconfirmed { k, late, allowing } => format!(
            "{trend_is} would cross critical on {}, but at the low end of its 90% range ({}){} {}: not yet a \
             warning",
            on(k),
            trend.per_week(trend.lower.1, r.unit),
            if allowing { ", allowing for last year's season," } else { "" },
            late.map_or(format!("not within {} days", horizon * 3), |l| format!("only on {}", on(l))),
        ),
        Verdict::Breach { k, spread, seasonal } => {
            f.level = Level::Warning;
            f.projected_breach = Some(on(k));
            f.breach_uncertainty_days = Some(spread);
            f.threshold = Some(t.crit_at(on(k)));
            let mut m = if k == 0 {
                format!("{trend_is} is already at or above critical {}/day", human(t.crit_at(day), r.unit))
            } else {
                format!("{trend_is} crosses critical {}/day on {} ± {spread} d", human(t.crit_at(on(k)), r.unit), on(k))
            };
            if seasonal {
                m += ", also allowing for last year's season";
            }
            m
        }
    };
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use chrono::Datelike;

    /// The forecast of the last day alone, without the hold, as its finding.
    fn judge(r: &SeriesRules, t: &Threshold, history: &[(NaiveDate, f64)]) -> Finding {
        let (trend, verdict) = super::judge(r, t, history);
        finding(r, t, history.last().unwrap().0, trend.as_ref(), verdict)
    }

    #[test]
    fn steady_growth_crosses_early_with_the_right_date() {
        // +2%/day from 50 GB; critical is a flat 100 GB: ln 2 / ln 1.02 = 35 days from day 0.
        let v: Vec<f64> = (0..28).map(|i| 50e9 * 1.02f64.powi(i)).collect();
        let f = evaluate(&rules(Some(flat(100e9))), &flat(100e9), &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Warning);
        // 1.02^35 = 1.99989 < 2, so day 36 (2026-11-06) is the first at or above 100 GB.
        assert_eq!(f.projected_breach, Some(day("2026-11-06")));
        assert_eq!(f.breach_uncertainty_days, Some(0));
        assert!(f.message.starts_with("bucket uploads: trend +14.9%/week"), "{}", f.message);
        assert!(f.message.contains("crosses critical 100.0 GB/day on 2026-11-06 ± 0 d"), "{}", f.message);
    }

    #[test]
    fn a_crossing_far_above_the_level_waits_until_it_is_a_trend() {
        // +4%/day from 20 towards 100: on day 27 the last 7 days' median (the value of day 24,
        // 51.3) is 1.95x below critical, on day 33 1.54x, on day 34 1.48x.
        let v: Vec<f64> = (0..35).map(|i| 20.0 * 1.04f64.powi(i)).collect();
        let h = series("2026-10-01", &v);
        let r = rules(Some(flat(100.0)));
        let f = evaluate(&r, &flat(100.0), &h[..28]);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(
            f.message.ends_with(
                "would cross critical on 2026-11-12, but its last 7 days' median 51.3 B/day would have to \
                 rise 1.95× by then: further than a 28-day trend is trusted to carry (the forecast warns \
                 from 1.50×)"
            ),
            "{}",
            f.message
        );
        assert_eq!(evaluate(&r, &flat(100.0), &h[..34]).level, Level::Ok);
        let f = evaluate(&r, &flat(100.0), &h);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert_eq!(f.projected_breach, Some(day("2026-11-12")));
        // The limit is a parameter: at 2x the burst already warns on day 27.
        let mut wide = rules(Some(flat(100.0)));
        wide.params.forecast_max_rise = 2.0;
        assert_eq!(evaluate(&wide, &flat(100.0), &h[..28]).level, Level::Warning);
    }

    #[test]
    fn a_warning_is_held_for_the_hold_days_after_the_last_day_that_forecast_a_crossing() {
        // Four weeks of +2%/day from 50 (a crossing of 100 ahead), then the days fall to 20.
        let v: Vec<f64> = (0..50).map(|i| if i < 28 { 50.0 * 1.02f64.powi(i) } else { 20.0 }).collect();
        let h = series("2026-10-01", &v);
        let r = rules(Some(flat(100.0)));
        let raw: Vec<Level> = (0..h.len()).map(|i| judge(&r, &flat(100.0), &h[..=i]).level).collect();
        let last = raw.iter().rposition(|l| *l == Level::Warning).expect("the growth forecasts a crossing");
        assert!(last >= 27 && last + 8 < h.len(), "{last}");
        for i in last + 1..=last + 7 {
            assert_eq!(raw[i], Level::Ok);
            let f = evaluate(&r, &flat(100.0), &h[..=i]);
            assert_eq!(f.level, Level::Warning, "day {i}: {}", f.message);
            let expected = format!(
                "; WARNING held until {} (7 days after the last day that forecast a crossing, {})",
                h[last + 7].0,
                h[last].0
            );
            assert!(f.message.ends_with(&expected), "{}", f.message);
        }
        assert_eq!(evaluate(&r, &flat(100.0), &h[..=last + 8]).level, Level::Ok);
        let mut no_hold = rules(Some(flat(100.0)));
        no_hold.params.forecast_hold_days = 0;
        assert_eq!(evaluate(&no_hold, &flat(100.0), &h[..=last + 1]).level, Level::Ok);
    }

    #[test]
    fn a_surge_that_fell_back_is_not_already_at_critical() {
        // Three weeks of +12%/day from 10 to 96, then a week back at 30: the line fitted through
        // the surge is past 100 today; the days are not. (The surge's own warning is still held:
        // the day alone is judged here.)
        let v: Vec<f64> = (0..28).map(|i| if i < 21 { 10.0 * 1.12f64.powi(i) } else { 30.0 }).collect();
        let f = judge(&rules(Some(flat(100.0))), &flat(100.0), &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(
            f.message.contains(
                "(level 155.5 B/day) would cross critical on 2026-10-28, but its last 7 days' median 30.0 \
                 B/day would have to rise 3.33× by then"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_one_day_spike_does_not_raise_a_forecast_breach() {
        let mut v = vec![50e9; 28];
        v[27] = 500e9;
        let f = evaluate(&rules(Some(flat(100e9))), &flat(100e9), &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!((f.value.unwrap() - 50e9).abs() < 1.0, "{:?}", f.value);
    }

    #[test]
    fn weekend_dips_do_not_raise_a_forecast_breach() {
        let week = [80e9, 80e9, 80e9, 80e9, 80e9, 20e9, 20e9];
        let v: Vec<f64> = week.iter().cycle().take(42).copied().collect();
        let f = evaluate(&rules(Some(flat(100e9))), &flat(100e9), &series("2026-10-05", &v));
        assert_eq!(f.level, Level::Ok, "{}", f.message);
    }

    #[test]
    fn not_enough_history_falls_back_to_the_static_threshold_and_says_so() {
        // +3%/day towards 100 GB: 20 days are not yet a trend, 21 are.
        let v: Vec<f64> = (0..21).map(|i| 50e9 * 1.03f64.powi(i)).collect();
        let r = rules(Some(flat(100e9)));
        let f = evaluate(&r, &flat(100e9), &series("2026-10-01", &v[..20]));
        assert_eq!(f.level, Level::Ok);
        assert_eq!(
            f.message,
            "bucket uploads: forecast needs 21 days of history, has 20; only the static threshold applies"
        );
        assert_eq!(evaluate(&r, &flat(100e9), &series("2026-10-01", &v)).level, Level::Warning);
    }

    #[test]
    fn noisy_growth_carries_an_uncertainty() {
        // +1.5%/day with ±10% irregular noise.
        let v: Vec<f64> =
            (0..42).map(|i| 40e9 * 1.015f64.powi(i) * (0.9 + 0.2 * ((i * 7919) % 13) as f64 / 12.0)).collect();
        let f = evaluate(&rules(Some(flat(100e9))), &flat(100e9), &series("2026-09-01", &v));
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        let spread = f.breach_uncertainty_days.unwrap();
        assert!((1..=30).contains(&spread), "{spread}: {}", f.message);
    }

    /// From 2023-10-01, a flat 50 with a +60% bump every January (six weeks, then back).
    fn seasonal(extra_growth_from: Option<i32>) -> Vec<(NaiveDate, f64)> {
        let start = day("2023-10-01");
        let v: Vec<f64> = (0..700i32)
            .map(|i| {
                let d = start + Days::new(i as u64);
                let bump = if d.ordinal0() < 42 { 1.0 + 0.6 * f64::from(d.ordinal0().min(21)) / 21.0 } else { 1.0 };
                let growth = extra_growth_from.map_or(1.0, |g| 1.02f64.powi((i - g).max(0)));
                50.0 * bump * growth
            })
            .collect();
        series("2023-10-01", &v)
    }

    #[test]
    fn last_years_season_is_allowed_for_at_the_shallow_end_too() {
        // The same January bump as last year under ±15% noise, critical 80: the central line
        // crosses even with last year's season on top, the shallow end of its range only without.
        let noise = [1.15, 0.85, 1.1, 0.9, 1.12, 0.88, 1.0];
        let h: Vec<(NaiveDate, f64)> =
            seasonal(None).into_iter().enumerate().map(|(i, (d, v))| (d, v * noise[i * 3 % 7])).collect();
        let f = judge(&rules(Some(flat(80.0))), &flat(80.0), &h[..=476]);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(
            f.message.ends_with(", allowing for last year's season, not within 135 days: not yet a warning"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_rise_last_year_also_had_is_not_a_breach() {
        // 2025-01-15: the January rise projects past 100 within 45 days, as it did in 2024,
        // when it fell back.
        let h = seasonal(None);
        let upto = |d: &str| &h[..=h.iter().position(|(x, _)| *x == day(d)).unwrap()];
        let r = rules(Some(flat(100.0)));
        let f = evaluate(&r, &flat(100.0), upto("2025-01-15"));
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(f.message.contains("would cross critical on 2025-"), "{}", f.message);
        assert!(f.message.contains("but the same weeks last year ran +"), "{}", f.message);
        // The first January has no last year: the trend alone warns.
        let f = evaluate(&r, &flat(100.0), upto("2024-01-18"));
        assert_eq!(f.level, Level::Warning, "{}", f.message);
    }

    #[test]
    fn growth_last_year_did_not_have_still_warns() {
        // From 2025-06-01 +2%/day on the flat summer: last year's season cannot explain it.
        let h = seasonal(Some(609));
        let end = h.iter().position(|(x, _)| *x == day("2025-06-21")).unwrap();
        let f = evaluate(&rules(Some(flat(100.0))), &flat(100.0), &h[..=end]);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(f.message.ends_with(", also allowing for last year's season"), "{}", f.message);
    }

    /// Four weeks from 2026-10-01: `start` growing × `daily` a day, times a week of `noise`
    /// factors visited in a scrambled order.
    fn noisy(start: f64, daily: f64, noise: [f64; 7]) -> Vec<(NaiveDate, f64)> {
        let v: Vec<f64> = (0..28).map(|i| start * daily.powi(i) * noise[(i * 3 % 7) as usize]).collect();
        series("2026-10-01", &v)
    }

    #[test]
    fn a_crossing_only_the_central_slope_makes_is_not_yet_a_warning() {
        // +0.7%/day under ±20% noise: the central line reaches 100 in the horizon, the shallow end
        // of its 90% range does not.
        let h = noisy(75.0, 1.007, [1.2, 0.8, 1.1, 0.85, 1.15, 0.9, 1.0]);
        let f = evaluate(&rules(Some(flat(100.0))), &flat(100.0), &h);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(f.message.contains(" would cross critical on 2026-1"), "{}", f.message);
        assert!(f.message.contains("but at the low end of its 90% range ("), "{}", f.message);
        assert!(f.message.ends_with(": not yet a warning"), "{}", f.message);
    }

    #[test]
    fn a_line_at_critical_ahead_of_its_days_still_needs_its_shallow_end_to_cross() {
        // +0.8%/day under ±30% noise: the line reaches 100 today, the last 7 days' median (about
        // the value of 3 days ago) has not, and the slope's 90% range reaches down to flat.
        let h = noisy(82.0, 1.008, [1.3, 0.7, 1.2, 0.75, 1.25, 0.8, 1.0]);
        let f = judge(&rules(Some(flat(100.0))), &flat(100.0), &h);
        assert_eq!(f.level, Level::Ok, "{}", f.message);
        assert!(
            f.message.contains(" would cross critical on 2026-10-28, but at the low end of its 90% range ("),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_level_already_above_critical_is_a_warning_however_uncertain_its_slope() {
        let h = noisy(105.0, 1.0, [1.2, 0.8, 1.1, 0.85, 1.15, 0.9, 1.0]);
        let f = evaluate(&rules(Some(flat(100.0))), &flat(100.0), &h);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(f.message.contains("is already at or above critical 100.0 B/day"), "{}", f.message);
    }
}
