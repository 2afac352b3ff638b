//! Growth threshold: the series' recent level against the planned curve × tolerance.
//! The level is the mean of the last 7 days, so a weekday/weekend rhythm does not flap it.
//! A level reached is kept until the mean falls below `growth_recovery` × that level's
//! threshold (Datadog's recovery threshold): a mean that hovers at a threshold would otherwise
//! notify, resolve and notify again on every small move across it.

use chrono::NaiveDate;

use super::{human, Finding, Level, RuleKind, SeriesRules, Threshold};

pub const LEVEL_DAYS: usize = 7;

/// The mean of the (up to) 7 days ending at `end`, and how many there were.
fn level_at(history: &[(NaiveDate, f64)], end: usize) -> (f64, usize) {
    let recent = &history[(end + 1).saturating_sub(LEVEL_DAYS)..=end];
    (recent.iter().map(|(_, v)| v).sum::<f64>() / recent.len() as f64, recent.len())
}

/// The level the thresholds alone give, and the level kept from `before` by the recovery band.
fn levels(t: &Threshold, recovery: f64, day: NaiveDate, mean: f64, before: Level) -> (Level, Level) {
    let (warn, crit) = (t.warn_at(day), t.crit_at(day));
    let reached = if mean >= crit {
        Level::Critical
    } else if mean >= warn {
        Level::Warning
    } else {
        Level::Ok
    };
    let kept = if before == Level::Critical && mean >= recovery * crit {
        Level::Critical
    } else if before >= Level::Warning && mean >= recovery * warn {
        Level::Warning
    } else {
        Level::Ok
    };
    (reached, kept)
}

pub fn evaluate(r: &SeriesRules, t: &Threshold, history: &[(NaiveDate, f64)]) -> Finding {
    let last = history.len() - 1;
    let recovery = r.params.growth_recovery;
    // The state is a chain back to the last day whose mean was below every recovery band: that
    // day was OK whatever came before, so the chain starts there.
    let start = (0..last).rev().find(|&i| level_at(history, i).0 < recovery * t.warn_at(history[i].0)).unwrap_or(0);
    let mut before = Level::Ok;
    for i in start..last {
        let (reached, kept) = levels(t, recovery, history[i].0, level_at(history, i).0, before);
        before = reached.max(kept);
    }
    let (day, _) = history[last];
    let (level, days) = level_at(history, last);
    let (reached, kept) = levels(t, recovery, day, level, before);
    let (planned, warn, crit) = (t.planned(day), t.warn_at(day), t.crit_at(day));
    let mut f = Finding::new(r, RuleKind::Growth, Some(day));
    f.value = Some(level);
    f.planned = (!t.fixed).then_some(planned);
    f.utilisation = Some(level / crit);
    f.level = reached.max(kept);
    f.threshold = Some(if f.level == Level::Warning { warn } else { crit });
    let what = if days == LEVEL_DAYS {
        format!("7-day mean {}/day", human(level, r.unit))
    } else {
        // Below a week of history the rule still works, on what there is, and says so.
        format!("mean of only {days} day(s) {}/day", human(level, r.unit))
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
    if kept > reached {
        let (name, at) = if kept == Level::Critical { ("critical", crit) } else { ("warning", warn) };
        f.message += &format!(
            "; {kept} kept until the mean falls below {}/day ({:.0}% of the {name} level)",
            human(recovery * at, r.unit),
            100.0 * recovery
        );
    }
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

    #[test]
    fn a_level_is_kept_until_the_mean_falls_through_the_recovery_band() {
        // The 7-day mean rises past warning (120 GB), hovers just under it (118), above it again,
        // under it again, then falls below 95% of it (114).
        let v: Vec<f64> = [(110e9, 14), (121e9, 14), (118e9, 14), (121e9, 7), (118e9, 7), (112e9, 14)]
            .iter()
            .flat_map(|&(x, n)| std::iter::repeat_n(x, n))
            .collect();
        let h = series("2026-11-02", &v);
        let changes = |r: &SeriesRules| {
            let levels: Vec<Level> = (1..=h.len()).map(|end| evaluate(r, &plan(), &h[..end]).level).collect();
            levels.windows(2).filter(|w| w[0] != w[1]).count()
        };
        let mut no_band = rules(Some(plan()));
        no_band.params.growth_recovery = 1.0;
        assert_eq!((changes(&rules(Some(plan()))), changes(&no_band)), (2, 4));
        let f = evaluate(&rules(Some(plan())), &plan(), &h[..42]);
        assert_eq!((f.level, f.threshold), (Level::Warning, Some(120e9)));
        assert!(
            f.message.ends_with("; WARNING kept until the mean falls below 114.0 GB/day (95% of the warning level)"),
            "{}",
            f.message
        );
        assert_eq!(evaluate(&rules(Some(plan())), &plan(), &h).level, Level::Ok);
    }

    #[test]
    fn critical_is_kept_inside_its_band_then_steps_down_to_warning() {
        // Critical at 150 GB; 95% of it is 142.5, of warning 114.
        let v: Vec<f64> = [(160e9, 7), (145e9, 7), (130e9, 7), (100e9, 7)]
            .iter()
            .flat_map(|&(x, n)| std::iter::repeat_n(x, n))
            .collect();
        let h = series("2026-11-02", &v);
        let at = |end: usize| evaluate(&rules(Some(plan())), &plan(), &h[..end]).level;
        assert_eq!((at(7), at(14), at(21), at(28)), (Level::Critical, Level::Critical, Level::Warning, Level::Ok));
        let f = evaluate(&rules(Some(plan())), &plan(), &h[..14]);
        assert!(f.message.ends_with("(95% of the critical level)"), "{}", f.message);
        assert_eq!(f.threshold, Some(150e9));
    }
}
