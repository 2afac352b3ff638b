use serde::Deserialize;

use super::d_true;
use super::rules::{Plan, PlanSpec};
use super::validate::Validator;

pub const CE_METRICS: &[&str] =
    &["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct Cost<P = Plan> {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    /// The cost-allocation tag key that groups the scanner's resources.
    pub tag_key: String,
    #[serde(default = "d_ce_metric")]
    pub metric: String,
    #[serde(default = "d_ce_history")]
    pub history_days: u32,
    /// Hours between re-reads of yesterday's totals while Cost Explorer marks them Estimated
    /// (between daily runs); 0: never.
    #[serde(default = "d_reread_hours")]
    pub reread_hours: u32,
    #[serde(default)]
    pub tags: Vec<TagValue<P>>,
    /// The role the Cost Explorer client assumes (CE answers in the payer account); default: none.
    pub role: Option<super::Role>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct TagValue<P = Plan> {
    pub value: String,
    pub owner: Option<String>,
    pub plan: Option<P>,
    /// USD per calendar month: month-to-date plus forecast is checked against it.
    pub monthly_budget: Option<f64>,
    /// Overrides `rules.anomaly_drops` for this tag value.
    pub anomaly_drops: Option<bool>,
    pub snooze: Option<super::Snooze>,
    /// The buckets whose scanning this value pays for (its warnings' why, its cost per GB);
    /// default: every scanned bucket; `[]`: none (a fixed cost, such as the Console's instance).
    pub pays_for: Option<Vec<String>>,
}

impl Cost<PlanSpec> {
    pub(super) fn resolve(self, v: &mut Validator) -> Cost {
        v.schedule("cost.schedule", self.schedule.as_deref());
        v.non_empty("cost.tag_key", &self.tag_key);
        v.check(
            "cost.tag_key",
            !self.tag_key.contains('$'),
            "must not contain '$' (Cost Explorer uses it as the key$value separator)",
        );
        v.check(
            "cost.metric",
            CE_METRICS.contains(&self.metric.as_str()),
            &format!("must be one of {}", CE_METRICS.join(", ")),
        );
        v.days("cost.history_days", self.history_days);
        super::Role::check(&self.role, "cost", v);
        v.check("cost.reread_hours", self.reread_hours <= 24, "must be 0 (never) to 24 hours");
        let mut seen = std::collections::HashSet::new();
        for (i, t) in self.tags.iter().enumerate() {
            if !seen.insert(t.value.as_str()) {
                v.push(&format!("cost.tags[{i}].value"), format!("duplicate tag value {:?}", t.value));
            }
        }
        let resolve = |(i, t): (usize, TagValue<PlanSpec>), v: &mut Validator| {
            v.team(&format!("cost.tags[{i}].owner"), &t.owner);
            let plan = t.plan.map(|p| p.resolve(&format!("cost.tags[{i}].plan"), v));
            super::Snooze::validate(&t.snooze, &format!("cost.tags[{i}]"), v);
            if let Some(b) = t.monthly_budget {
                v.check(&format!("cost.tags[{i}].monthly_budget"), b > 0.0, "must be above 0");
            }
            if let Some(list) = &t.pays_for {
                let at = format!("cost.tags[{i}].pays_for");
                if let Some(bad) = list.iter().find(|b| b.is_empty() || b.len() > 63) {
                    v.push(&at, format!("{bad:?} is not a bucket name (1 to 63 characters)"));
                }
            }
            TagValue {
                value: t.value,
                owner: t.owner,
                plan,
                monthly_budget: t.monthly_budget,
                anomaly_drops: t.anomaly_drops,
                snooze: t.snooze,
                pays_for: t.pays_for,
            }
        };
        let tags = self.tags.into_iter().enumerate().map(|t| resolve(t, v)).collect();
        Cost {
            enabled: self.enabled,
            schedule: self.schedule,
            tag_key: self.tag_key,
            metric: self.metric,
            history_days: self.history_days,
            reread_hours: self.reread_hours,
            tags,
            role: self.role,
        }
    }
}

fn d_reread_hours() -> u32 {
    12
}
fn d_ce_history() -> u32 {
    90
}
fn d_ce_metric() -> String {
    "UnblendedCost".into()
}
