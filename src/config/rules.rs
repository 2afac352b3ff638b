use chrono::NaiveDate;
use serde::Deserialize;

use super::validate::Validator;

/// `[rules]`: the defaults of every rule, read straight into the rules' own parameters; a
/// series' `plan` (or an ECS service) may override some.
pub use crate::rules::Params as RuleDefaults;

/// `[rules]`'s values, each problem at its key.
pub(super) fn validate(r: &RuleDefaults, v: &mut Validator) {
    v.tolerances("rules", Some(r.warn_tolerance), Some(r.crit_tolerance));
    v.check(
        "rules.growth_recovery",
        r.growth_recovery > 0.0 && r.growth_recovery <= 1.0,
        "must be above 0 and at most 1",
    );
    v.check("rules.horizon_days", (1..=365).contains(&r.horizon_days), "must be between 1 and 365");
    v.check(
        "rules.trend_window_days",
        (21..=400).contains(&r.trend_window_days),
        "must be between 21 and 400 (the forecast needs 21 days)",
    );
    v.check("rules.forecast_max_rise", r.forecast_max_rise > 1.0, "must be above 1");
    v.check("rules.forecast_hold_days", r.forecast_hold_days <= 56, "must be between 0 and 56");
    v.check("rules.anomaly_z", r.anomaly_z > 0.0, "must be above 0");
    v.check("rules.anomaly_ratio", r.anomaly_ratio >= 1.0, "must be at least 1");
    v.check("rules.anomaly_new_high_days", (7..=430).contains(&r.anomaly_new_high_days), "must be between 7 and 430");
    v.check("rules.anomaly_hold_days", r.anomaly_hold_days <= 56, "must be between 0 and 56");
    v.check("rules.anomaly_shift_days", r.anomaly_shift_days <= 28, "must be between 0 (off) and 28");
    v.check("rules.anomaly_shift_z", r.anomaly_shift_z > 0.0, "must be above 0");
    v.check("rules.anomaly_shift_ratio", r.anomaly_shift_ratio >= 1.0, "must be at least 1");
    v.ratios("rules", r.capacity_warn, r.capacity_crit);
    v.check(
        "rules.capacity_recovery",
        r.capacity_recovery > 0.0 && r.capacity_recovery <= 1.0,
        "must be above 0 and at most 1",
    );
    v.check(
        "rules.unit_cost_rise",
        r.unit_cost_rise >= 0.0 && r.unit_cost_rise <= 10.0,
        "must be between 0 (off) and 10 (+1000%)",
    );
}

/// `snooze = { until = 2026-12-20, reason = "launch week" }` on a bucket, tag value or service:
/// nothing is sent for its series before that day; a change still pending then is told once.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snooze {
    #[serde(deserialize_with = "date")]
    pub until: NaiveDate,
    pub reason: String,
}

impl Snooze {
    /// The longest snooze: a quarter is long enough to replan; longer is forgetting.
    pub const MAX_DAYS: u64 = 90;

    /// Whether it silences its series on `today` (up to the day before `until`).
    pub fn active(&self, today: NaiveDate) -> bool {
        today < self.until
    }

    /// A reason, and (when the day is known) a date at most `MAX_DAYS` ahead; with `strict`
    /// (`costwarden validate`) a snooze that has ended is a problem too (remove it). A run
    /// does not refuse an ended snooze: it simply ends.
    pub(super) fn validate(s: &Option<Snooze>, path: &str, v: &mut Validator) {
        let Some(s) = s else { return };
        v.non_empty(&format!("{path}.snooze.reason"), &s.reason);
        if let Some((today, strict)) = v.today {
            let last = today + chrono::Days::new(Snooze::MAX_DAYS);
            if s.until > last {
                let msg = format!(
                    "{} is more than {} days ahead (at most {last}): replan instead",
                    s.until,
                    Snooze::MAX_DAYS
                );
                v.push(&format!("{path}.snooze.until"), msg);
            } else if strict && !s.active(today) {
                v.push(&format!("{path}.snooze.until"), format!("{} has passed: remove the snooze", s.until));
            }
        }
    }
}

/// A TOML date (`2026-12-20`) or the same as a string.
pub(super) fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    toml_date(&PlanDate::deserialize(d)?).ok_or_else(|| serde::de::Error::custom("must be a date (YYYY-MM-DD)"))
}

/// A series' planned growth, checked: its level per day (bytes for a bucket, USD for cost) on
/// `since`, growing by `monthly_growth`, with its own tolerances and horizon where set.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub baseline: f64,
    pub since: NaiveDate,
    pub monthly_growth: f64,
    /// The plan's own, else `[rules]`'s: lowered once, when the file is read.
    pub warn_tolerance: f64,
    pub crit_tolerance: f64,
    /// The plan's own forecast horizon, if it sets one.
    pub horizon_days: Option<u32>,
}

impl Plan {
    /// The planned curve the growth and forecast rules judge against.
    pub fn threshold(&self) -> crate::rules::Threshold {
        crate::rules::Threshold {
            baseline: self.baseline,
            since: self.since,
            monthly_growth: self.monthly_growth,
            warn: self.warn_tolerance,
            crit: self.crit_tolerance,
            fixed: false,
        }
    }
}

/// The planned growth of a series as written: a baseline level on a day and a monthly growth
/// rate. `resolve` checks it and turns it into a `Plan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Per day: bytes for a bucket ("40 GB", "1.5 TiB" or a number of bytes), USD for cost.
    pub baseline: Quantity,
    /// A TOML date (`2026-10-01`) or the same as a string (`"2026-10-01"`).
    pub since: PlanDate,
    /// 0.05 = +5% per month; must be above -1.
    #[serde(default)]
    pub monthly_growth: f64,
    pub warn_tolerance: Option<f64>,
    pub crit_tolerance: Option<f64>,
    pub horizon_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Number(f64),
    Text(String),
}

impl Quantity {
    /// The value in base units; "40 GB" = 40e9, "2 GiB" = 2 × 1024³.
    pub fn value(&self) -> Result<f64, String> {
        match self {
            Quantity::Number(n) => Ok(*n),
            Quantity::Text(t) => {
                let t = t.trim();
                let split = t
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == 'e' || c == '-' || c == '+'))
                    .unwrap_or(t.len());
                let (num, unit) = t.split_at(split);
                let n: f64 = num
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("{t:?} is not a number with an optional byte unit"))?;
                let f = match unit.trim() {
                    "" | "B" => 1.0,
                    "KB" => 1e3,
                    "MB" => 1e6,
                    "GB" => 1e9,
                    "TB" => 1e12,
                    "KiB" => 1024f64,
                    "MiB" => 1024f64.powi(2),
                    "GiB" => 1024f64.powi(3),
                    "TiB" => 1024f64.powi(4),
                    u => return Err(format!("unknown unit {u:?} (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")),
                };
                Ok(n * f)
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PlanDate {
    Date(toml::value::Datetime),
    Text(String),
}

/// The day a plan starts, if it is a plain date.
fn toml_date(d: &PlanDate) -> Option<chrono::NaiveDate> {
    match d {
        PlanDate::Date(d) => match (d.date, d.time) {
            (Some(date), None) => {
                chrono::NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
            }
            _ => None,
        },
        PlanDate::Text(t) => t.parse().ok(),
    }
}

impl PlanSpec {
    /// The plan, each problem pushed at its path. A plan with problems keeps a placeholder
    /// (NaN, the earliest date) that never leaves: a configuration with problems is refused.
    pub(super) fn resolve(self, path: &str, v: &mut Validator) -> Plan {
        let baseline = match self.baseline.value() {
            Ok(b) if b > 0.0 => b,
            Ok(_) => {
                v.push(&format!("{path}.baseline"), "must be above 0".into());
                f64::NAN
            }
            Err(e) => {
                v.push(&format!("{path}.baseline"), e);
                f64::NAN
            }
        };
        let since = toml_date(&self.since).unwrap_or_else(|| {
            v.push(&format!("{path}.since"), "must be a date (YYYY-MM-DD)".into());
            NaiveDate::MIN
        });
        v.check(
            &format!("{path}.monthly_growth"),
            self.monthly_growth > -1.0 && self.monthly_growth.is_finite(),
            "must be above -1 (a decline of more than 100% a month is impossible)",
        );
        // Defaults are checked once, at [rules]; a plan is checked only where it overrides them.
        if self.warn_tolerance.is_some() || self.crit_tolerance.is_some() {
            v.tolerances(path, self.warn_tolerance, self.crit_tolerance);
        }
        if let Some(h) = self.horizon_days {
            v.check(&format!("{path}.horizon_days"), (1..=365).contains(&h), "must be between 1 and 365");
        }
        Plan {
            baseline,
            since,
            monthly_growth: self.monthly_growth,
            warn_tolerance: self.warn_tolerance.unwrap_or(v.rules.warn_tolerance),
            crit_tolerance: self.crit_tolerance.unwrap_or(v.rules.crit_tolerance),
            horizon_days: self.horizon_days,
        }
    }
}
