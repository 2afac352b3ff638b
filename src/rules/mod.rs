//! The evaluation core: `evaluate(rules, observations, now)`. Pure: no I/O, no clock reads, so
//! the daemon, `status` and `backtest` all run exactly this code.

pub mod anomaly;
pub mod budget;
pub mod capacity;
pub mod coverage;
pub mod forecast;
pub mod growth;
pub mod stats;
pub mod unit_cost;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::Unit;
use crate::model::{Daily, SeriesKey};
pub use stats::median;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    #[default]
    Ok = 0,
    Warning = 1,
    Critical = 2,
}

impl Level {
    pub fn from_value(v: f64) -> Level {
        match v.round() as i64 {
            2 => Level::Critical,
            1 => Level::Warning,
            _ => Level::Ok,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Growth,
    Forecast,
    Capacity,
    Budget,
    Anomaly,
    Coverage,
    UnitCost,
}

impl RuleKind {
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Growth => "growth",
            RuleKind::Forecast => "forecast",
            RuleKind::Capacity => "capacity",
            RuleKind::Budget => "budget",
            RuleKind::Anomaly => "anomaly",
            RuleKind::Coverage => "coverage",
            RuleKind::UnitCost => "unit_cost",
        }
    }
}

/// A threshold that grows with the product's planned growth:
/// planned(d) = baseline × (1 + monthly_growth)^(months since `since`); warning and critical
/// are planned × their tolerance. A fixed threshold is the same with zero growth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    pub baseline: f64,
    pub since: NaiveDate,
    pub monthly_growth: f64,
    pub warn: f64,
    pub crit: f64,
    /// True for `backtest --threshold`: a flat critical level with no planned curve.
    pub fixed: bool,
}

/// Average days per month, so that 12 "months" of planned growth make one year.
pub const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

impl Threshold {
    pub fn planned(&self, d: NaiveDate) -> f64 {
        let months = (d - self.since).num_days() as f64 / DAYS_PER_MONTH;
        self.baseline * (1.0 + self.monthly_growth).powf(months)
    }
    pub fn warn_at(&self, d: NaiveDate) -> f64 {
        self.planned(d) * self.warn
    }
    pub fn crit_at(&self, d: NaiveDate) -> f64 {
        self.planned(d) * self.crit
    }
}

/// The parameters of every rule, one type from thresholds.toml to the rules: `[rules]` is read
/// into it (defaults filled in, unknown keys refused; `config` validates it), and a series gets
/// its copy with its own overrides (`for_series`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Warning when the level reaches planned × warn_tolerance.
    pub warn_tolerance: f64,
    /// Critical when the level reaches planned × crit_tolerance.
    pub crit_tolerance: f64,
    /// A growth level is kept until the 7-day mean falls below this fraction of its threshold.
    pub growth_recovery: f64,
    /// Warn when the projection crosses critical within this many days.
    pub horizon_days: u32,
    /// Days of history the trend is fitted on.
    pub trend_window_days: u32,
    /// The forecast warns only of a crossing within this multiple of the level (the lower of
    /// the trend's and the last 7 days' median).
    pub forecast_max_rise: f64,
    /// A forecast WARNING stays this many days after the last day that forecast a crossing.
    pub forecast_hold_days: u32,
    /// Spike / level-shift detection on every daily series.
    pub anomaly: bool,
    /// Robust z-score (MADs above the baseline median) that makes a day anomalous.
    pub anomaly_z: f64,
    /// ... and the least ratio to the baseline median, so tiny series do not page anyone.
    pub anomaly_ratio: f64,
    /// A spike must be the highest of this many days (of its weekday, with a weekly pattern).
    pub anomaly_new_high_days: u32,
    /// An anomaly stays WARNING until this many days are back within its baseline (quiet).
    pub anomaly_hold_days: u32,
    /// Falls (below median / ratio, the same z below) alert too. Unset in `[rules]`: the
    /// series' kind decides (`DROPS_ON_VOLUME`, `DROPS_ON_COST`); a series' copy is always set.
    pub anomaly_drops: Option<bool>,
    /// A level shift: this many days (0: off) all beyond the 28 days before, their median at
    /// least `anomaly_shift_z` robust SDs and `anomaly_shift_ratio` × away.
    pub anomaly_shift_days: u32,
    pub anomaly_shift_z: f64,
    pub anomaly_shift_ratio: f64,
    /// ECS task capacity: warning and critical shares of the maximum.
    pub capacity_warn: f64,
    pub capacity_crit: f64,
    /// A capacity level the team was told of is kept until the share falls below this fraction
    /// of its threshold.
    pub capacity_recovery: f64,
    /// The cost per GB scanned warns when its 7-day mean is this much above the 28 days
    /// before (0.25: +25%); 0: off.
    pub unit_cost_rise: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            warn_tolerance: 1.2,
            crit_tolerance: 1.5,
            growth_recovery: 0.95,
            horizon_days: 45,
            trend_window_days: 28,
            forecast_max_rise: 1.5,
            forecast_hold_days: 7,
            anomaly: true,
            anomaly_z: 6.0,
            anomaly_ratio: 1.5,
            anomaly_new_high_days: 364,
            anomaly_hold_days: 7,
            anomaly_drops: None,
            anomaly_shift_days: 5,
            anomaly_shift_z: 3.0,
            anomaly_shift_ratio: 1.2,
            capacity_warn: 0.7,
            capacity_crit: 1.0,
            capacity_recovery: 0.85,
            unit_cost_rise: 0.25,
        }
    }
}

/// Whether falls alert where neither the series nor `[rules]` says. Scanned volume falling is a
/// scanner that stopped or uploads that stopped reaching it: files go unscanned, and the team
/// hears of it from no one else. A cost falling is good news, and Cost Explorer's latest days
/// are estimates that start low and rise as they settle.
pub const DROPS_ON_VOLUME: bool = true;
pub const DROPS_ON_COST: bool = false;

impl Params {
    /// A series' parameters: its plan's horizon where it has one; its own `anomaly_drops`, else
    /// `[rules]`'s, else its kind's.
    pub fn for_series(&self, horizon_days: Option<u32>, anomaly_drops: Option<bool>, kind_drops: bool) -> Params {
        Params {
            horizon_days: horizon_days.unwrap_or(self.horizon_days),
            anomaly_drops: Some(anomaly_drops.or(self.anomaly_drops).unwrap_or(kind_drops)),
            ..self.clone()
        }
    }

    /// Whether falls alert (a series' copy is always set; unset means no).
    pub fn drops(&self) -> bool {
        self.anomaly_drops.unwrap_or(false)
    }
}

/// Every rule that applies to one series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesRules {
    pub key: SeriesKey,
    /// What a person calls it: "bucket acme-uploads", "cost of costwarden:component=agents".
    pub label: Arc<str>,
    /// The owning team, routed to by the notifiers (None: the default team).
    pub owner: Option<String>,
    pub unit: Unit,
    pub threshold: Option<Threshold>,
    pub monthly_budget: Option<f64>,
    /// Capacity ratios (warning, critical) for a utilisation gauge in percent.
    pub capacity: Option<(f64, f64)>,
    pub anomaly: bool,
    pub params: Params,
}

/// What the sources said: daily series and gauges read now.
#[derive(Debug, Default, Clone)]
pub struct Observations {
    pub daily: BTreeMap<SeriesKey, Daily>,
    pub gauges: BTreeMap<SeriesKey, f64>,
    /// Buckets' scanned bytes by scan type, where a source tells them (a warning's why).
    pub scan_types: BTreeMap<SeriesKey, crate::model::ScanTypes>,
    /// ECS services' task-hours a day (the daily run's, for a cost value's why).
    pub task_hours: BTreeMap<SeriesKey, Daily>,
}

impl Observations {
    pub fn extend(&mut self, daily: Vec<Daily>, gauges: Vec<crate::model::Sample>) {
        self.daily.extend(daily.into_iter().map(|d| (d.key.clone(), d)));
        self.gauges.extend(gauges.into_iter().map(|s| (s.key, s.value)));
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: RuleKind,
    pub series: SeriesKey,
    pub label: Arc<str>,
    pub owner: Option<String>,
    pub unit: Unit,
    pub level: Level,
    /// The data day evaluated (None for gauges).
    pub day: Option<NaiveDate>,
    pub value: Option<f64>,
    /// The threshold that decided the level (critical, or warning when only that was crossed).
    pub threshold: Option<f64>,
    pub planned: Option<f64>,
    /// value / critical threshold (1.0 = at critical).
    pub utilisation: Option<f64>,
    pub projected_breach: Option<NaiveDate>,
    /// Half-width in days of the projected breach date's 90% range.
    pub breach_uncertainty_days: Option<u32>,
    /// The forecast's trend as a monthly growth rate (0.05 = +5% a month), when it has one: what
    /// a replan of the series would plan with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_per_month: Option<f64>,
    pub message: String,
}

impl Finding {
    pub(crate) fn new(rules: &SeriesRules, rule: RuleKind, day: Option<NaiveDate>) -> Finding {
        Finding {
            rule,
            series: rules.key.clone(),
            label: rules.label.clone(),
            owner: rules.owner.clone(),
            unit: rules.unit,
            level: Level::Ok,
            day,
            value: None,
            threshold: None,
            planned: None,
            utilisation: None,
            projected_breach: None,
            breach_uncertainty_days: None,
            trend_per_month: None,
            message: String::new(),
        }
    }

    pub fn days_to_breach(&self) -> Option<i64> {
        Some((self.projected_breach? - self.day?).num_days())
    }
}

/// What each team was last told, per (rule, series); absent is OK.
pub type Told = BTreeMap<AlertKey, Level>;

/// One rule on one series: what a team is told about, once per change of level.
pub type AlertKey = (RuleKind, SeriesKey);

/// Evaluates every rule of every series. `now` only fixes "the latest complete day"
/// (the UTC day before it); nothing here reads a clock. `told` is what the teams were last
/// told: the capacity rule, a gauge without history, keeps a level from it.
pub fn evaluate(rules: &[SeriesRules], obs: &Observations, now: DateTime<Utc>, told: &Told) -> Vec<Finding> {
    let last_complete = crate::model::day_before(now.date_naive());
    // Sized for the most verdicts the rules can give: doubling would leave up to half unused.
    let most = |r: &SeriesRules| {
        usize::from(r.capacity.is_some())
            + 2 * usize::from(r.threshold.is_some())
            + usize::from(r.monthly_budget.is_some())
            + usize::from(r.anomaly)
            + usize::from(r.key.metric == crate::metrics::Metric::UnscannedBuckets)
            + usize::from(r.key.metric == crate::metrics::Metric::CostPerScannedGb)
    };
    let mut out = Vec::with_capacity(rules.iter().map(most).sum());
    for r in rules {
        // A bucket's coverage, observed by the coverage source (route: only those).
        if r.key.metric == crate::metrics::Metric::UnscannedBuckets {
            if let Some(&v) = obs.gauges.get(&r.key) {
                out.push(coverage::evaluate(r, v));
            }
            continue;
        }
        if let Some((warn, crit)) = r.capacity {
            if let Some(&pct) = obs.gauges.get(&r.key) {
                let max_key = SeriesKey { metric: crate::metrics::Metric::MaxTasks, dims: r.key.dims.clone() };
                let max = obs.gauges.get(&max_key).copied();
                let was = told.get(&(RuleKind::Capacity, r.key.clone())).copied().unwrap_or_default();
                out.push(capacity::evaluate(r, pct, max, (warn, crit), was));
            }
            continue;
        }
        let Some(all) = obs.daily.get(&r.key) else {
            continue;
        };
        let history: Vec<(NaiveDate, f64)> = all.points().filter(|(d, _)| *d <= last_complete).collect();
        if history.is_empty() {
            continue;
        }
        if let Some(t) = &r.threshold {
            out.push(growth::evaluate(r, t, &history));
            out.push(forecast::evaluate(r, t, &history));
        }
        if let Some(budget) = r.monthly_budget {
            out.push(budget::evaluate(r, budget, &history));
        }
        if r.anomaly {
            out.push(anomaly::evaluate(r, &history));
        }
        if r.key.metric == crate::metrics::Metric::CostPerScannedGb && r.params.unit_cost_rise > 0.0 {
            out.extend(unit_cost::evaluate(r, &history));
        }
    }
    out
}

/// A value with its unit, as a person reads it: "52.3 GB", "USD 1234.50", "7".
pub fn human(v: f64, unit: Unit) -> String {
    // An empty sum is -0.0 (the budget's forecast on a month's last day): not "USD -0.00".
    let v = v + 0.0;
    match unit {
        Unit::Bytes => {
            let (div, suffix) = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
                .into_iter()
                .find(|(d, _)| v.abs() >= *d)
                .unwrap_or((1.0, "B"));
            format!("{:.1} {suffix}", v / div)
        }
        Unit::Usd => format!("USD {v:.2}"),
        Unit::UsdPerGb => format!("USD {v:.4}/GB"),
        Unit::None => format!("{v:.2}"),
        Unit::Percent => format!("{v:.0}%"),
        Unit::Seconds => format!("{v:.1} s"),
        Unit::Count => {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};

    pub fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    pub fn series(start: &str, values: &[f64]) -> Vec<(NaiveDate, f64)> {
        let d0 = day(start);
        values.iter().enumerate().map(|(i, v)| (d0 + chrono::Days::new(i as u64), *v)).collect()
    }

    pub fn rules(threshold: Option<Threshold>) -> SeriesRules {
        SeriesRules {
            key: SeriesKey::new(
                Metric::ScannedBytes,
                vec![(DIM_SOURCE, "console".into()), (DIM_BUCKET, "uploads".into())],
            ),
            label: "bucket uploads".into(),
            owner: None,
            unit: Unit::Bytes,
            threshold,
            monthly_budget: None,
            capacity: None,
            anomaly: true,
            params: Params::default(),
        }
    }

    pub fn flat(crit: f64) -> Threshold {
        Threshold { baseline: crit, since: day("2020-01-01"), monthly_growth: 0.0, warn: 0.8, crit: 1.0, fixed: true }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn planned_curve_compounds_monthly() {
        let t = Threshold {
            baseline: 100.0,
            since: day("2026-01-01"),
            monthly_growth: 0.05,
            warn: 1.2,
            crit: 1.5,
            fixed: false,
        };
        assert_eq!(t.planned(day("2026-01-01")), 100.0);
        // 365 days later is 11.99 months of 30.44 days: 100 × 1.05^11.9918.
        assert!((t.planned(day("2027-01-01")) - 179.513_679_771_948_5).abs() < 1e-6);
        assert!((t.crit_at(day("2026-01-01")) - 150.0).abs() < 1e-9);
        assert!((t.warn_at(day("2026-01-01")) - 120.0).abs() < 1e-9);
    }

    #[test]
    fn human_units() {
        assert_eq!(human(52_300_000_000.0, Unit::Bytes), "52.3 GB");
        assert_eq!(human(1234.5, Unit::Usd), "USD 1234.50");
        assert_eq!(human(12.0, Unit::None), "12.00", "days or a plain number are no money");
        assert_eq!(human(70.0, Unit::Percent), "70%");
        assert_eq!(human(7.0, Unit::Count), "7");
        assert_eq!(human(std::iter::empty::<f64>().sum(), Unit::Usd), "USD 0.00");
    }
}
