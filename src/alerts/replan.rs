//! What to do, as configuration: the thresholds.toml lines that re-plan a series at today's
//! level and trend (after a growth or forecast warning), or budget its projected month (after a
//! budget warning), so a team whose growth is expected answers in one paste. Pure.

use crate::config::Config;
use crate::metrics::{Unit, DIM_BUCKET, DIM_SOURCE, DIM_TAG_VALUE, SOURCE_GUARDDUTY};
use crate::rules::{Finding, Level, RuleKind};

/// Headroom of a budget replanned to the projected month: 10%, to the next USD 10.
const BUDGET_HEADROOM: f64 = 1.1;

/// The lines for `f` (a WARNING or CRITICAL of growth, forecast or budget), given every finding
/// of its series in this run; None for other rules, for OK, and for a series with no place in
/// thresholds.toml (an ECS service has no plan).
pub fn snippet(cfg: &Config, f: &Finding, series: &[&Finding]) -> Option<String> {
    if f.level == Level::Ok {
        return None;
    }
    let entry = entry(cfg, f)?;
    let line = match f.rule {
        RuleKind::Growth | RuleKind::Forecast => plan(cfg, f, series)?,
        RuleKind::Budget if f.unit == Unit::Usd => {
            let budget = (f.value? * BUDGET_HEADROOM / 10.0).ceil() * 10.0;
            format!("monthly_budget = {budget:.0}  # the projected month, {:.0}% more", 100.0 * (BUDGET_HEADROOM - 1.0))
        }
        _ => return None,
    };
    Some(match entry {
        Entry::Listed(at) => format!("# thresholds.toml, in {at}, set:\n{line}"),
        Entry::New(at) => format!("# thresholds.toml, add:\n{at}\n{line}"),
    })
}

/// Where the series is configured (`[[antivirus.buckets]] name = "b"`), or the entry to add.
enum Entry {
    Listed(String),
    New(String),
}

fn entry(cfg: &Config, f: &Finding) -> Option<Entry> {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let (table, key, name) = match (f.series.dim(DIM_BUCKET), f.series.dim(DIM_TAG_VALUE)) {
        (Some(b), _) if f.series.dim(DIM_SOURCE) == Some(SOURCE_GUARDDUTY) => ("guardduty.buckets", "name", b),
        (Some(b), _) => ("antivirus.buckets", "name", b),
        (None, Some(t)) => ("cost.tags", "value", t),
        (None, None) => return None,
    };
    Some(match crate::alerts::route::entry(cfg, &f.series).is_some() {
        true => Entry::Listed(format!("[[{table}]] {key} = {}", quoted(name))),
        false => Entry::New(format!("[[{table}]]\n{key} = {}", quoted(name))),
    })
}

/// `plan = { baseline, since, monthly_growth }` at the 7-day mean the growth rule judged (else
/// the forecast's level), from the day judged, growing at the forecast's trend (else at the
/// series' current plan, else flat): judged against it, today's level is at plan.
fn plan(cfg: &Config, f: &Finding, series: &[&Finding]) -> Option<String> {
    let of = |rule: RuleKind| series.iter().find(|x| x.rule == rule);
    let level = of(RuleKind::Growth).and_then(|g| g.value).or(f.value).filter(|v| v.is_finite() && *v > 0.0)?;
    let since = f.day?;
    let current = crate::alerts::route::plan(cfg, &f.series).map(|p| p.monthly_growth);
    let growth = of(RuleKind::Forecast).and_then(|x| x.trend_per_month).or(current).unwrap_or(0.0);
    let baseline = match f.unit {
        Unit::Bytes => format!("\"{:.3} GB\"", level / 1e9),
        _ => format!("{level:.2}"),
    };
    Some(format!("plan = {{ baseline = {baseline}, since = {since}, monthly_growth = {:.3} }}", growth.max(-0.99)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metric, DIM_TAG_KEY};
    use crate::model::SeriesKey;

    fn finding(rule: RuleKind, level: Level, value: f64, trend: Option<f64>) -> Finding {
        let key = SeriesKey::new(Metric::Cost, vec![(DIM_TAG_KEY, "c".into()), (DIM_TAG_VALUE, "agents \"x\"".into())]);
        let rules = crate::rules::SeriesRules {
            key,
            label: "cost".into(),
            owner: None,
            unit: Unit::Usd,
            threshold: None,
            monthly_budget: None,
            capacity: None,
            anomaly: false,
            params: crate::rules::Params::default(),
        };
        let mut f = Finding::new(&rules, rule, Some("2026-12-04".parse().unwrap()));
        (f.level, f.value, f.trend_per_month) = (level, Some(value), trend);
        f
    }

    #[test]
    fn growth_replans_at_the_judged_mean_and_the_forecasts_trend_budget_at_the_projection() {
        let cfg = Config::parse("[cost]\ntag_key = \"c\"\n", "t").unwrap();
        let growth = finding(RuleKind::Growth, Level::Critical, 94.14, None);
        let forecast = finding(RuleKind::Forecast, Level::Warning, 96.98, Some(0.3517));
        let series = [&growth, &forecast];
        assert_eq!(
            snippet(&cfg, &forecast, &series).unwrap(),
            "# thresholds.toml, add:\n[[cost.tags]]\nvalue = 'agents \"x\"'\nplan = { baseline = 94.14, since = 2026-12-04, monthly_growth = 0.352 }"
        );
        let budget = finding(RuleKind::Budget, Level::Warning, 3400.94, None);
        assert_eq!(
            snippet(&cfg, &budget, &[&budget]).unwrap().lines().last().unwrap(),
            "monthly_budget = 3750  # the projected month, 10% more"
        );
        let ok = finding(RuleKind::Growth, Level::Ok, 1.0, None);
        assert_eq!(snippet(&cfg, &ok, &[&ok]), None);
        let anomaly = finding(RuleKind::Anomaly, Level::Warning, 1.0, None);
        assert_eq!(snippet(&cfg, &anomaly, &[&anomaly]), None);
    }
}
