//! Capacity: ECS tasks as a share of the service's maximum; WARNING at 70%, CRITICAL at 100%
//! by default. Needs no history: a level the team was told of is kept until the share falls
//! below `capacity_recovery` × its threshold, so an autoscaled service moving one task across
//! a threshold notifies once.

use super::{Finding, Level, RuleKind, SeriesRules};

/// `pct` is TaskCapacityUtilization (percent); `max` the MaxTaskCount when known; `was` the
/// level the team was last told.
pub fn evaluate(r: &SeriesRules, pct: f64, max: Option<f64>, (warn, crit): (f64, f64), was: Level) -> Finding {
    let ratio = pct / 100.0;
    let recovery = r.params.capacity_recovery;
    let mut f = Finding::new(r, RuleKind::Capacity, None);
    f.value = Some(pct);
    f.utilisation = Some(ratio / crit);
    let reached = |level: Level, at: f64| ratio >= at || (was >= level && ratio >= recovery * at);
    f.level = if reached(Level::Critical, crit) {
        Level::Critical
    } else if reached(Level::Warning, warn) {
        Level::Warning
    } else {
        Level::Ok
    };
    let at = if f.level == Level::Warning { warn } else { crit };
    f.threshold = Some(100.0 * at);
    let tasks = match max {
        Some(m) => format!("{:.0} of {m:.0} tasks", (ratio * m).round()),
        None => "tasks".to_string(),
    };
    f.message = format!(
        "{}: {tasks} ({pct:.0}% of the maximum); warning at {:.0}%, critical at {:.0}%",
        r.label,
        100.0 * warn,
        100.0 * crit
    );
    if f.level != Level::Ok && ratio < at {
        f.message += &format!(
            "; {} kept until below {:.1}% ({:.0}% of the {} level)",
            f.level,
            100.0 * recovery * at,
            100.0 * recovery,
            if f.level == Level::Warning { "warning" } else { "critical" }
        );
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn seventy_and_one_hundred_percent() {
        let r = rules(None);
        let cases = [
            (69.9, Level::Ok),
            (70.0, Level::Warning),
            (99.0, Level::Warning),
            (100.0, Level::Critical),
            (125.0, Level::Critical),
        ];
        for (pct, level) in cases {
            assert_eq!(evaluate(&r, pct, Some(10.0), (0.7, 1.0), Level::Ok).level, level, "{pct}");
        }
        assert_eq!(
            evaluate(&r, 70.0, Some(10.0), (0.7, 1.0), Level::Ok).message,
            "bucket uploads: 7 of 10 tasks (70% of the maximum); warning at 70%, critical at 100%"
        );
    }

    /// The levels of a run of task counts out of 10, each run told the level of the one before.
    fn told_in_turn(r: &SeriesRules, tasks: &[f64]) -> Vec<Level> {
        let mut was = Level::Ok;
        tasks
            .iter()
            .map(|t| {
                was = evaluate(r, 10.0 * t, Some(10.0), (0.7, 1.0), was).level;
                was
            })
            .collect()
    }

    #[test]
    fn a_service_moving_one_task_across_a_threshold_keeps_its_level() {
        use Level::*;
        let r = rules(None);
        // 6 of 10 is inside the warning's band (down to 59.5%), 9 inside the critical's (85%).
        let tasks = [7.0, 6.0, 7.0, 6.0, 5.0, 6.0, 10.0, 9.0, 10.0, 8.0, 5.0];
        assert_eq!(
            told_in_turn(&r, &tasks),
            [Warning, Warning, Warning, Warning, Ok, Ok, Critical, Critical, Critical, Warning, Ok]
        );
        assert_eq!(
            evaluate(&r, 60.0, Some(10.0), (0.7, 1.0), Warning).message,
            "bucket uploads: 6 of 10 tasks (60% of the maximum); warning at 70%, critical at 100%; \
             WARNING kept until below 59.5% (85% of the warning level)"
        );
        // Without a band every move is a change of state.
        let mut no_band = rules(None);
        no_band.params.capacity_recovery = 1.0;
        assert_eq!(
            told_in_turn(&no_band, &tasks),
            [Warning, Ok, Warning, Ok, Ok, Ok, Critical, Warning, Critical, Warning, Ok]
        );
    }
}
