//! Alert state per (rule, series): OK → WARNING → CRITICAL → OK. A notification goes out on
//! every change of the state last *delivered*, never twice for the same state. Pure.

use serde::Serialize;

use crate::metrics::{Metric, DIMENSIONS, DIM_RULE, DIM_SERIES};
use crate::model::SeriesKey;
pub use crate::rules::AlertKey;
use crate::rules::{Finding, Level, RuleKind, Told};

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub from: Level,
    pub finding: Finding,
}

impl Transition {
    pub fn kind(&self) -> &'static str {
        match (self.from, self.finding.level) {
            (_, Level::Ok) => "recovered",
            (Level::Ok, _) => "raised",
            (a, b) if b > a => "escalated",
            _ => "de-escalated",
        }
    }
}

/// Findings whose level differs from what the team was last told (absent = OK).
pub fn transitions(delivered: &Told, findings: &[Finding]) -> Vec<Transition> {
    findings
        .iter()
        .filter_map(|f| {
            let from = delivered.get(&(f.rule, f.series.clone())).copied().unwrap_or_default();
            (from != f.level).then(|| Transition { from, finding: f.clone() })
        })
        .collect()
}

/// The dimensions of a rule metric: Rule, Series (the series' metric name) and its own.
pub fn rule_dims(rule: RuleKind, key: &SeriesKey) -> Vec<(&'static str, String)> {
    let mut dims = vec![(DIM_RULE, rule.name().to_string()), (DIM_SERIES, key.metric.def().name.to_string())];
    dims.extend(key.dims.iter().cloned());
    dims
}

/// The inverse of `rule_dims`, for dimensions read back from CloudWatch.
pub fn parse_rule_dims(dims: &[(String, String)]) -> Option<AlertKey> {
    let get = |n: &str| dims.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let rule = [
        RuleKind::Growth,
        RuleKind::Forecast,
        RuleKind::Capacity,
        RuleKind::Budget,
        RuleKind::Anomaly,
        RuleKind::Coverage,
    ]
    .into_iter()
    .find(|r| Some(r.name()) == get(DIM_RULE))?;
    let metric: Metric = crate::metrics::CATALOGUE.iter().find(|d| Some(d.name) == get(DIM_SERIES))?.metric;
    let mut series_dims = Vec::new();
    for (k, v) in dims {
        if k == DIM_RULE || k == DIM_SERIES {
            continue;
        }
        let name = DIMENSIONS.iter().find(|d| **d == k)?;
        series_dims.push((*name, v.clone()));
    }
    Some((rule, SeriesKey::new(metric, series_dims)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn finding(level: Level) -> Finding {
        let mut f = Finding::new(&crate::rules::test_util::rules(None), RuleKind::Growth, None);
        f.level = level;
        f
    }

    #[test]
    fn only_changes_of_the_delivered_state_notify() {
        let f = finding(Level::Warning);
        let key = (f.rule, f.series.clone());
        let none = BTreeMap::new();
        let t = transitions(&none, std::slice::from_ref(&f));
        assert_eq!((t.len(), t[0].kind()), (1, "raised"));
        let told: BTreeMap<_, _> = [(key.clone(), Level::Warning)].into_iter().collect();
        assert!(transitions(&told, &[f]).is_empty());
        assert_eq!(transitions(&told, &[finding(Level::Critical)])[0].kind(), "escalated");
        assert_eq!(transitions(&told, &[finding(Level::Ok)])[0].kind(), "recovered");
        let crit: BTreeMap<_, _> = [(key, Level::Critical)].into_iter().collect();
        assert_eq!(transitions(&crit, &[finding(Level::Warning)])[0].kind(), "de-escalated");
        assert!(transitions(&none, &[finding(Level::Ok)]).is_empty());
    }

    #[test]
    fn rule_dims_round_trip() {
        let f = finding(Level::Ok);
        let dims: Vec<(String, String)> =
            rule_dims(RuleKind::Forecast, &f.series).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(parse_rule_dims(&dims), Some((RuleKind::Forecast, f.series)));
    }
}
