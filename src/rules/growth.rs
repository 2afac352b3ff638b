//! Growth threshold: the series' recent level against the planned curve × tolerance.
//! The level is the mean of the last 7 days, so a weekday/weekend rhythm does not flap it.

use chrono::NaiveDate;

use super::{human, Finding, Level, RuleKind, SeriesRules, Threshold};

pub const LEVEL_DAYS: usize = 7;

pub fn evaluate(r: &SeriesRules, t: &Threshold, history: &[(NaiveDate, f64)]) -> Finding {
    let (day, _) = *history.last().expect("evaluate() passes non-empty history");
    let recent = &history[history.len().saturating_sub(LEVEL_DAYS)..];
    let level = recent.iter().map(|(_, v)| v).sum::<f64>() / recent.len() as f64;
    let (planned, warn, crit) = (t.planned(day), t.warn_at(day), t.crit_at(day));
    let mut f = Finding::new(r, RuleKind::Growth, Some(day));
    f.value = Some(level);
    f.planned = (!t.fixed).then_some(planned);
    f.utilisation = Some(level / crit);
    f.level = if level >= crit {
        Level::Critical
    } else if level >= warn {
        Level::Warning
    } else {
        Level::Ok
    };
    f.threshold = Some(if f.level == Level::Warning { warn } else { crit });
    let what = if recent.len() == LEVEL_DAYS {
        format!("7-day mean {}/day", human(level, r.unit))
    } else {
        // Below a week of history the rule still works, on what there is, and says so.
        format!("mean of only {} day(s) {}/day", recent.len(), human(level, r.unit))
    };
    f.message = if t.fixed {
        format!(
            "{}: {what} is {:.0}% of the critical level {}/day (warning at {}/day)",
            r.label,
            100.0 * level / crit,
            human(crit, r.unit),
            human(warn, r.unit)
        )
    } else {
        format!(
            "{}: {what} is {:.0}% of plan {}/day ({:+.1}%/month since {}); warning at {:.0}%, critical at {:.0}% ({}/day)",
            r.label,
            100.0 * level / planned,
            human(planned, r.unit),
            100.0 * t.monthly_growth,
            t.since,
            100.0 * t.warn,
            100.0 * t.crit,
            human(crit, r.unit)
        )
    };
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn plan() -> Threshold {
        Threshold { baseline: 100e9, since: day("2026-11-01"), monthly_growth: 0.0, warn: 1.2, crit: 1.5, fixed: false }
    }

    #[test]
    fn levels_by_tolerance_of_the_planned_curve() {
        let r = rules(Some(plan()));
        for (v, level, threshold) in
            [(110e9, Level::Ok, 150e9), (125e9, Level::Warning, 120e9), (150e9, Level::Critical, 150e9)]
        {
            let f = evaluate(&r, &plan(), &series("2026-11-10", &[v; 7]));
            assert_eq!((f.level, f.threshold), (level, Some(threshold)), "{v}");
            assert_eq!(f.planned, Some(100e9));
            assert_eq!(f.utilisation, Some(v / 150e9));
        }
        let f = evaluate(&r, &plan(), &series("2026-11-10", &[125e9; 7]));
        assert_eq!(
            f.message,
            "bucket uploads: 7-day mean 125.0 GB/day is 125% of plan 100.0 GB/day (+0.0%/month since 2026-11-01); warning at 120%, critical at 150% (150.0 GB/day)"
        );
    }

    #[test]
    fn weekend_dips_do_not_flap_the_level() {
        // Weekdays at 130 GB (above warning), weekends at 60 GB: the weekly mean is 110 GB.
        let week = [130e9, 130e9, 130e9, 130e9, 130e9, 60e9, 60e9];
        let mut levels = Vec::new();
        for end in 7..=21 {
            let v: Vec<f64> = week.iter().cycle().take(end).copied().collect();
            levels.push(evaluate(&rules(Some(plan())), &plan(), &series("2026-11-02", &v)).level);
        }
        assert!(levels.iter().all(|l| *l == Level::Ok), "{levels:?}");
    }

    #[test]
    fn short_history_is_stated() {
        let f = evaluate(&rules(Some(plan())), &plan(), &series("2026-11-10", &[160e9, 170e9]));
        assert_eq!(f.level, Level::Critical);
        assert!(f.message.contains("mean of only 2 day(s) 165.0 GB/day"), "{}", f.message);
    }
}
