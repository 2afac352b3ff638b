use serde::Deserialize;

use super::antivirus::{resolve_buckets, Bucket};
use super::d_true;
use super::rules::{Plan, PlanSpec};
use super::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct GuardDuty<P = Plan> {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    pub plan_id: String,
    #[serde(default = "d_gd_history")]
    pub history_days: u32,
    /// Write ScannedObjects per bucket (on by default: GuardDuty prices each 1,000 objects).
    #[serde(default = "d_true")]
    pub object_counts: bool,
    #[serde(default)]
    pub buckets: Vec<Bucket<P>>,
    /// The role the client reading GuardDuty's CloudWatch metrics assumes; default: none.
    pub role: Option<super::Role>,
}

impl GuardDuty<PlanSpec> {
    pub(super) fn resolve(self, v: &mut Validator) -> GuardDuty {
        v.schedule("guardduty.schedule", self.schedule.as_deref());
        super::Role::check(&self.role, "guardduty", v);
        v.non_empty("guardduty.plan_id", &self.plan_id);
        v.days("guardduty.history_days", self.history_days);
        v.check(
            "guardduty.buckets",
            !self.enabled || !self.buckets.is_empty(),
            "must list at least one bucket when guardduty is enabled",
        );
        let buckets = resolve_buckets("guardduty.buckets", self.buckets, v);
        GuardDuty {
            enabled: self.enabled,
            schedule: self.schedule,
            plan_id: self.plan_id,
            history_days: self.history_days,
            object_counts: self.object_counts,
            buckets,
            role: self.role,
        }
    }
}

fn d_gd_history() -> u32 {
    90
}
