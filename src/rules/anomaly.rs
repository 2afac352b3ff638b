//! Spike / level shift: a day far above its robust baseline raises WARNING even when no
//! threshold is crossed. The baseline is the median and MAD of the same weekday over the last
//! 8 weeks when there are at least 3 of them (so Mondays are compared with Mondays), else of the
//! last 28 days. Only increases alert: a cost tool has no reason to page for a quiet day.

use chrono::{Datelike, Days, NaiveDate};

use super::{human, median, Finding, Level, RuleKind, SeriesRules};

pub const MIN_HISTORY: usize = 14;
/// MAD × 1.4826 estimates the standard deviation of normal data.
const MAD_SCALE: f64 = 1.4826;

/// (median, scale) of the baseline for `day`, or None without enough history before it.
pub fn baseline(history: &[(NaiveDate, f64)], day: NaiveDate) -> Option<(f64, f64, &'static str)> {
    let before: Vec<(NaiveDate, f64)> = history.iter().copied().filter(|(d, _)| *d < day).collect();
    if before.len() < MIN_HISTORY {
        return None;
    }
    let same_weekday: Vec<f64> = before
        .iter()
        .filter(|(d, _)| d.weekday() == day.weekday() && *d >= day - Days::new(56))
        .map(|(_, v)| *v)
        .collect();
    let (values, what) = if same_weekday.len() >= 3 {
        (same_weekday, "same-weekday median")
    } else {
        let recent: Vec<f64> = before.iter().filter(|(d, _)| *d >= day - Days::new(28)).map(|(_, v)| *v).collect();
        (recent, "28-day median")
    };
    let m = median(&values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    // A floor of 5% of the median: a perfectly flat history must not make any wobble a page.
    let scale = (MAD_SCALE * median(&deviations)).max(0.05 * m.abs()).max(f64::MIN_POSITIVE);
    Some((m, scale, what))
}

pub fn evaluate(r: &SeriesRules, history: &[(NaiveDate, f64)]) -> Finding {
    let (day, value) = *history.last().expect("non-empty history");
    let mut f = Finding::new(r, RuleKind::Anomaly, Some(day));
    f.value = Some(value);
    let Some((m, scale, what)) = baseline(history, day) else {
        f.message =
            format!("{}: anomaly detection needs {MIN_HISTORY} days of history, has {}", r.label, history.len() - 1);
        return f;
    };
    let z = (value - m) / scale;
    let ratio = if m > 0.0 { value / m } else { f64::INFINITY };
    let threshold = (m + r.params.anomaly_z * scale).max(m * r.params.anomaly_ratio);
    f.threshold = Some(threshold);
    f.utilisation = Some(if threshold > 0.0 { value / threshold } else { 0.0 });
    if z >= r.params.anomaly_z && ratio >= r.params.anomaly_ratio {
        f.level = Level::Warning;
    }
    f.message = format!(
        "{}: {} on {day} is {:.1}× its {what} {} ({z:+.1} robust SD)",
        r.label,
        human(value, r.unit),
        ratio,
        human(m, r.unit)
    );
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn a_one_day_spike_is_an_anomaly() {
        let mut v: Vec<f64> = (0..28).map(|i| 50e9 + (i % 5) as f64 * 1e9).collect();
        v.push(170e9);
        let f = evaluate(&rules(None), &series("2026-10-01", &v));
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!(
            f.message.starts_with("bucket uploads: 170.0 GB on 2026-10-29 is 3.3× its same-weekday median 51.5 GB"),
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
}
