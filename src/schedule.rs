//! Cron schedules (seconds first, as tokio-cron-scheduler reads them): how often they run, and
//! whether they leave a day without a run. Pure.

use chrono::{DateTime, Days, TimeDelta, Utc};

/// The schedule as the daemon's scheduler parses it.
pub fn parse(schedule: &str) -> Option<croner::Cron> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
        .ok()
}

fn epoch() -> DateTime<Utc> {
    // A Monday: 35 days from it hold every weekday five times and every day of a month.
    "2026-01-05T00:00:00Z".parse().expect("a date")
}

/// Runs a month of a cron schedule (seconds first), counted over 30 days and scaled to 730 h.
pub fn runs_per_month(schedule: &str) -> Option<f64> {
    let cron = parse(schedule)?;
    let start = epoch();
    let end = start + Days::new(30);
    // A run a minute is 43,200 in 30 days; past ten times that, stop and scale. (croner's
    // iterator skips every other second of "* * * * * *": each next time is asked for instead.)
    let cap = 432_000usize;
    let (mut n, mut t) = (0usize, cron.find_next_occurrence(&start, true).ok()?);
    while t < end && n < cap {
        n += 1;
        t = cron.find_next_occurrence(&t, false).ok()?;
    }
    let span = if n == cap { (t - start).num_seconds() as f64 } else { 30.0 * 86_400.0 };
    Some(n as f64 * (crate::price::HOURS_PER_MONTH * 3600.0) / span)
}

/// The first day (of 35 from a Monday) on which the schedule has no run between `settle_hours`
/// after midnight and the day's end, as "a Weekday": with daily totals read once a day by the
/// first run after the day has settled, such a day's totals would never be read.
pub fn misses_a_day(schedule: &str, settle_hours: u32) -> Option<String> {
    let cron = parse(schedule)?;
    (0..35).map(|d| epoch() + Days::new(d)).find_map(|day| {
        let from = day + TimeDelta::hours(i64::from(settle_hours));
        let next = cron.find_next_occurrence(&from, true).ok();
        next.is_none_or(|t| t >= day + Days::new(1)).then(|| day.format("a %A").to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_counted_in_runs_a_month() {
        assert_eq!(runs_per_month("0 */15 * * * *"), Some(2920.0));
        assert_eq!(runs_per_month("0 0 3 * * *").map(|r| r.round()), Some(30.0));
        assert_eq!(runs_per_month("*/10 * * * * *"), Some(262_800.0));
        // A run every second: counted over the first 432,000, scaled.
        let every_second = runs_per_month("* * * * * *").unwrap();
        assert!((every_second / (730.0 * 3600.0) - 1.0).abs() < 1e-5, "{every_second}");
        assert_eq!(runs_per_month("not cron"), None);
    }

    #[test]
    fn a_schedule_that_leaves_a_day_without_a_settled_run_is_found() {
        assert_eq!(misses_a_day("0 */15 * * * *", 2), None);
        assert_eq!(misses_a_day("0 30 2 * * *", 2), None);
        // Once a day, but before the day has settled.
        assert_eq!(misses_a_day("0 0 1 * * *", 2).as_deref(), Some("a Monday"));
        // Weekdays only.
        assert_eq!(misses_a_day("0 0 6 * * Mon-Fri", 2).as_deref(), Some("a Saturday"));
    }
}
