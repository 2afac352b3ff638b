//! The cost per GB scanned rising: the 7-day mean against the 28 days before. Volume and cost
//! moving together leave it flat; it rises when the cost grows faster than the bytes scanned:
//! agents running for little scanning, larger agents, a price change, or volume that fell
//! while the cost stayed. Only a WARNING: it asks for a look, not an incident.

use chrono::NaiveDate;

use super::{human, Finding, Level, RuleKind, SeriesRules};

/// Days of the level and of the baseline before it.
const RECENT: usize = 7;
const BASELINE: usize = 28;

/// None while there are fewer than 7 days of baseline to compare with.
pub fn evaluate(r: &SeriesRules, history: &[(NaiveDate, f64)]) -> Option<Finding> {
    let (day, _) = *history.last()?;
    let since = |d: u64| day - chrono::Days::new(d);
    let mean = |from: NaiveDate, to: NaiveDate| {
        let v: Vec<f64> = history.iter().filter(|(d, _)| *d > from && *d <= to).map(|(_, v)| *v).collect();
        (v.len(), v.iter().sum::<f64>() / v.len().max(1) as f64)
    };
    let (n, level) = mean(since(RECENT as u64), day);
    let (m, base) = mean(since((RECENT + BASELINE) as u64), since(RECENT as u64));
    if n == 0 || m < RECENT || base <= 0.0 {
        return None;
    }
    let rise = r.params.unit_cost_rise;
    let threshold = base * (1.0 + rise);
    let mut f = Finding::new(r, RuleKind::UnitCost, Some(day));
    (f.value, f.threshold, f.planned, f.utilisation) =
        (Some(level), Some(threshold), Some(base), Some(level / threshold));
    f.level = if level >= threshold { Level::Warning } else { Level::Ok };
    f.message = format!(
        "{}: 7-day mean {} is {:+.0}% on the {m} days before ({}); warning at {:+.0}%",
        r.label,
        human(level, r.unit),
        100.0 * (level / base - 1.0),
        human(base, r.unit),
        100.0 * rise
    );
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metric, Unit};
    use crate::model::SeriesKey;

    fn rules() -> SeriesRules {
        SeriesRules {
            key: SeriesKey::new(Metric::CostPerScannedGb, vec![]),
            label: "cost per GB scanned of team=agents".into(),
            owner: None,
            unit: Unit::UsdPerGb,
            threshold: None,
            monthly_budget: None,
            capacity: None,
            anomaly: false,
            params: crate::rules::Params::default(),
        }
    }

    /// 35 days: `base` a GB for 28, then `now` for 7.
    fn history(base: f64, now: f64) -> Vec<(NaiveDate, f64)> {
        let start: NaiveDate = "2026-11-01".parse().unwrap();
        (0..35u64).map(|i| (start + chrono::Days::new(i), if i < 28 { base } else { now })).collect()
    }

    #[test]
    fn warns_at_a_quarter_above_the_four_weeks_before_and_not_below() {
        let f = evaluate(&rules(), &history(0.04, 0.0501)).unwrap();
        assert_eq!(f.level, Level::Warning);
        assert_eq!(
            f.message,
            "cost per GB scanned of team=agents: 7-day mean USD 0.0501/GB is +25% on the 28 days before (USD 0.0400/GB); warning at +25%"
        );
        assert_eq!(evaluate(&rules(), &history(0.04, 0.0499)).unwrap().level, Level::Ok);
        assert_eq!(evaluate(&rules(), &history(0.04, 0.02)).unwrap().level, Level::Ok, "cheaper is fine");
        // Under a week of baseline: nothing to say yet.
        assert!(evaluate(&rules(), &history(0.04, 0.05)[22..]).is_none());
    }
}
