//! Replays a daily series through the evaluation core, day by day, as if the daemon had run
//! every morning, and lists every alert transition it would have raised.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::metrics::{Metric, Unit};
use crate::model::SeriesKey;
use crate::rules::{self, Level, Observations, RuleKind, SeriesRules, Threshold};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("{0}: the first line must be a header with the columns \"date\" and \"value\"")]
    Header(String),
    #[error("{file} line {line}: {message}")]
    Row { file: String, line: usize, message: String },
    #[error("{0}: no data rows")]
    Empty(String),
    #[error("--threshold {0}: must be a positive number")]
    Threshold(f64),
}

/// Reads `date,value` rows (any order, any extra columns, optional quotes). Every bad row is
/// an error with its line: a silently skipped day would shift every forecast after it.
pub fn parse_csv(text: &str, file: &str) -> Result<Vec<(NaiveDate, f64)>, Error> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| Error::Empty(file.to_string()))?;
    let cols: Vec<String> = header.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(di), Some(vi)) = (find("date"), find("value")) else {
        return Err(Error::Header(file.to_string()));
    };
    let mut seen: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, line) in lines {
        let row = |message: String| Error::Row { file: file.to_string(), line: i + 1, message };
        let fields: Vec<&str> = line.split(',').map(|f| f.trim().trim_matches('"')).collect();
        let (Some(d), Some(v)) = (fields.get(di), fields.get(vi)) else {
            return Err(row(format!("expected {} columns, found {}", cols.len(), fields.len())));
        };
        let date = d
            .get(..10)
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .ok_or_else(|| row(format!("{d:?} is not a date (YYYY-MM-DD)")))?;
        let value: f64 = v.parse().map_err(|_| row(format!("{v:?} is not a number")))?;
        if !value.is_finite() {
            return Err(row(format!("{v:?} is not a finite number")));
        }
        if let Some(first) = seen.insert(date, i + 1) {
            return Err(row(format!("{date} already appears on line {first}; one value per day (daily totals)")));
        }
        out.push((date, value));
    }
    if out.is_empty() {
        return Err(Error::Empty(file.to_string()));
    }
    out.sort_by_key(|(d, _)| *d);
    Ok(out)
}

/// `--threshold LEVEL`: a flat critical level, warning at the default warn/crit ratio, with the
/// default forecast and anomaly rules.
pub fn quick_rules(level: f64, d: &crate::config::RuleDefaults) -> Result<SeriesRules, Error> {
    if !(level.is_finite() && level > 0.0) {
        return Err(Error::Threshold(level));
    }
    Ok(SeriesRules {
        key: SeriesKey::new(Metric::ScannedBytes, vec![]),
        label: "series".into(),
        owner: None,
        unit: Unit::Count,
        threshold: Some(Threshold {
            baseline: level,
            since: NaiveDate::MIN,
            monthly_growth: 0.0,
            warn: d.warn_tolerance / d.crit_tolerance,
            crit: 1.0,
            fixed: true,
        }),
        monthly_budget: None,
        capacity: None,
        anomaly: d.anomaly,
        params: d.for_series(None, None, crate::rules::DROPS_ON_VOLUME),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The data day on which the transition would have been raised.
    pub date: NaiveDate,
    pub rule: RuleKind,
    pub state: Level,
    pub previous: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected_breach: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breach_uncertainty_days: Option<u32>,
}

/// Every transition, in order. Each day sees only the days up to it.
pub fn replay(rules: &SeriesRules, series: &[(NaiveDate, f64)]) -> Vec<Event> {
    let mut state: BTreeMap<RuleKind, Level> = BTreeMap::new();
    let mut events = Vec::new();
    let mut obs = Observations::default();
    let start = series.first().map_or(NaiveDate::MIN, |(d, _)| *d);
    obs.daily.insert(rules.key.clone(), crate::model::Daily::new(rules.key.clone(), start));
    for &(date, value) in series {
        obs.daily.get_mut(&rules.key).expect("inserted above").set(date, value);
        let now = (date + Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        // Daily series only: no capacity rule, so nothing needs what was told.
        for f in rules::evaluate(std::slice::from_ref(rules), &obs, now, &rules::Told::new()) {
            let previous = state.insert(f.rule, f.level).unwrap_or_default();
            if previous != f.level {
                events.push(Event {
                    date,
                    rule: f.rule,
                    state: f.level,
                    previous,
                    message: f.message,
                    projected_breach: f.projected_breach,
                    breach_uncertainty_days: f.breach_uncertainty_days,
                });
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_util::{flat, rules};

    #[test]
    fn csv_errors_are_located() {
        assert_eq!(parse_csv("when,amount\n", "f.csv"), Err(Error::Header("f.csv".into())));
        assert_eq!(
            parse_csv("date,value\n2026-01-01,1\n2026-01-02,lots\n", "f.csv").unwrap_err().to_string(),
            "f.csv line 3: \"lots\" is not a number"
        );
        assert_eq!(
            parse_csv("date,value\n2026-01-01,1\n2026-01-01,2\n", "f.csv").unwrap_err().to_string(),
            "f.csv line 3: 2026-01-01 already appears on line 2; one value per day (daily totals)"
        );
        let ok = parse_csv("\"value\",\"date\"\n5,\"2026-01-02\"\n4,2026-01-01\n", "f.csv").unwrap();
        assert_eq!(ok, vec![("2026-01-01".parse().unwrap(), 4.0), ("2026-01-02".parse().unwrap(), 5.0)]);
    }

    #[test]
    fn replay_raises_the_forecast_before_the_threshold_and_only_on_transitions() {
        // 30 flat days at 50, then +3%/day: the forecast warns well before growth goes critical.
        let mut v = vec![50.0; 30];
        v.extend((1..=40).map(|i| 50.0 * 1.03f64.powi(i)));
        let d0: NaiveDate = "2026-01-01".parse().unwrap();
        let series: Vec<_> = v.iter().enumerate().map(|(i, v)| (d0 + Days::new(i as u64), *v)).collect();
        let mut r = rules(Some(flat(100.0)));
        r.anomaly = false;
        let events = replay(&r, &series);
        let first = |rule, state| events.iter().find(|e| e.rule == rule && e.state == state).map(|e| e.date);
        let warn = first(RuleKind::Forecast, Level::Warning).unwrap();
        let crit = first(RuleKind::Growth, Level::Critical).unwrap();
        // 13 days: the warning waits until even the shallow end of the slope's 90% range crosses,
        // which cut false warnings on prophet-wp's R series from 14 to 6 for a day less of
        // warning on the bench's synthetic growth onset (`cargo bench --bench detect`).
        assert!(crit - warn >= chrono::Duration::days(12), "forecast {warn}, critical {crit}");
        // No state is reported twice in a row.
        for rule in [RuleKind::Forecast, RuleKind::Growth] {
            let states: Vec<Level> = events.iter().filter(|e| e.rule == rule).map(|e| e.state).collect();
            assert!(states.windows(2).all(|w| w[0] != w[1]), "{rule:?}: {states:?}");
        }
    }
}
