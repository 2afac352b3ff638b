//! Capacity: ECS tasks as a share of the service's maximum; WARNING at 70%, CRITICAL at 100%
//! by default. Needs no history.

use super::{Finding, Level, RuleKind, SeriesRules};

/// `pct` is TaskCapacityUtilization (percent); `max` the MaxTaskCount when known.
pub fn evaluate(r: &SeriesRules, pct: f64, max: Option<f64>, warn: f64, crit: f64) -> Finding {
    let ratio = pct / 100.0;
    let mut f = Finding::new(r, RuleKind::Capacity, None);
    f.value = Some(pct);
    f.utilisation = Some(ratio / crit);
    f.level = if ratio >= crit {
        Level::Critical
    } else if ratio >= warn {
        Level::Warning
    } else {
        Level::Ok
    };
    f.threshold = Some(100.0 * if f.level == Level::Warning { warn } else { crit });
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
            assert_eq!(evaluate(&r, pct, Some(10.0), 0.7, 1.0).level, level, "{pct}");
        }
        assert_eq!(
            evaluate(&r, 70.0, Some(10.0), 0.7, 1.0).message,
            "bucket uploads: 7 of 10 tasks (70% of the maximum); warning at 70%, critical at 100%"
        );
    }
}
