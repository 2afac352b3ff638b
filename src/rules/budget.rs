//! Monthly budget: month-to-date plus the forecast to month end, against the budget. The
//! forecast uses the prior months' history too, so it works from the first days of a month.

use chrono::{Datelike, Days, NaiveDate};

use super::{forecast, human, Finding, Level, RuleKind, SeriesRules};

pub fn evaluate(r: &SeriesRules, budget: f64, history: &[(NaiveDate, f64)]) -> Finding {
    let (day, _) = *history.last().expect("non-empty history");
    let month_start = day.with_day(1).expect("day 1 exists");
    let next_month = (month_start + Days::new(32)).with_day(1).expect("day 1 exists");
    let days_left = (next_month - day).num_days() - 1;
    let mtd: f64 = history.iter().filter(|(d, _)| *d >= month_start).map(|(_, v)| v).sum();
    let (rest, how) = match forecast::fit(history, r.params.trend_window_days) {
        Some(t) => ((1..=days_left).map(|k| t.at(t.central, k as f64)).sum::<f64>(), "trend"),
        None => {
            // Under forecast::MIN_HISTORY days of history: the mean of what there is.
            let recent = &history[history.len().saturating_sub(7)..];
            let mean = recent.iter().map(|(_, v)| v).sum::<f64>() / recent.len() as f64;
            (mean * days_left as f64, "recent mean")
        }
    };
    let projected = mtd + rest;
    let mut f = Finding::new(r, RuleKind::Budget, Some(day));
    f.value = Some(projected);
    f.threshold = Some(budget);
    f.utilisation = Some(projected / budget);
    f.level = if mtd >= budget {
        Level::Critical
    } else if projected >= budget {
        Level::Warning
    } else {
        Level::Ok
    };
    if f.level == Level::Warning {
        // The first day the running total reaches the budget, on the forecast.
        let mut total = mtd;
        if let Some(t) = forecast::fit(history, r.params.trend_window_days) {
            f.projected_breach = (1..=days_left).find_map(|k| {
                total += t.at(t.central, k as f64);
                (total >= budget).then(|| day + Days::new(k as u64))
            });
        }
    }
    f.message = format!(
        "{}: month to date {} + {} forecast {} to month end = {} of the monthly budget {} ({:.0}%)",
        r.label,
        human(mtd, r.unit),
        how,
        human(rest, r.unit),
        human(projected, r.unit),
        human(budget, r.unit),
        100.0 * projected / budget
    );
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::metrics::Unit;

    fn cost_rules() -> SeriesRules {
        SeriesRules { unit: Unit::Usd, label: "cost scanner".into(), ..rules(None) }
    }

    #[test]
    fn early_in_the_month_the_prior_history_drives_the_forecast() {
        // 100/day through October, then 2 days of November: 200 MTD + 28 × 100 = 3,000.
        let h = series("2026-10-01", &[100.0; 33]); // the last day is 2026-11-02
        let f = evaluate(&cost_rules(), 2_900.0, &h);
        assert_eq!(f.level, Level::Warning, "{}", f.message);
        assert!((f.value.unwrap() - 3_000.0).abs() < 1e-6, "{:?}", f.value);
        assert_eq!(f.projected_breach, Some(day("2026-11-29")));
        assert_eq!(
            f.message,
            "cost scanner: month to date USD 200.00 + trend forecast USD 2800.00 to month end = USD 3000.00 of the monthly budget USD 2900.00 (103%)"
        );
        assert_eq!(evaluate(&cost_rules(), 3_100.0, &h).level, Level::Ok);
        assert_eq!(evaluate(&cost_rules(), 150.0, &h).level, Level::Critical);
    }

    #[test]
    fn short_history_uses_the_recent_mean() {
        let f = evaluate(&cost_rules(), 1_000.0, &series("2026-11-01", &[10.0, 20.0, 30.0]));
        // 60 MTD + 27 days × mean 20 = 600.
        assert_eq!(f.value, Some(600.0));
        assert_eq!(f.level, Level::Ok);
        assert!(f.message.contains("recent mean"), "{}", f.message);
    }
}
