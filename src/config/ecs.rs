use serde::Deserialize;

use super::d_true;
use super::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecs {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    #[serde(default)]
    pub count: TaskCount,
    /// Also write DesiredTaskCount, PendingTaskCount and MaxTaskCount every run. Off by
    /// default: each is a metric stream billed every hour (USD 0.30 a month per service), and
    /// RunningTaskCount with TaskCapacityUtilization carry what the alerts and monitors use.
    #[serde(default)]
    pub task_details: bool,
    #[serde(default)]
    pub services: Vec<EcsService>,
    /// The role the ECS and Application Auto Scaling clients assume; default: none.
    pub role: Option<super::Role>,
}

/// Which ECS count is compared with the maximum. `desired` is what the autoscaler asked for and
/// leads `running` by the task start time, so it warns a little earlier; `running` is the default
/// because it is what is actually scanning (and billed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskCount {
    #[default]
    Running,
    Desired,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    pub cluster: String,
    pub service: String,
    pub max_tasks: Option<u32>,
    pub owner: Option<String>,
    pub capacity_warn: Option<f64>,
    pub capacity_crit: Option<f64>,
    pub snooze: Option<super::Snooze>,
}

impl Ecs {
    pub(super) fn validate(&self, v: &mut Validator) {
        v.schedule("ecs.schedule", self.schedule.as_deref());
        super::Role::check(&self.role, "ecs", v);
        let mut seen = std::collections::HashSet::new();
        for (i, s) in self.services.iter().enumerate() {
            v.non_empty(&format!("ecs.services[{i}].cluster"), &s.cluster);
            v.non_empty(&format!("ecs.services[{i}].service"), &s.service);
            if s.max_tasks == Some(0) {
                v.push(&format!("ecs.services[{i}].max_tasks"), "must be at least 1".into());
            }
            if !seen.insert((s.cluster.as_str(), s.service.as_str())) {
                v.push(&format!("ecs.services[{i}]"), format!("duplicate service {}/{}", s.cluster, s.service));
            }
        }
        for (i, s) in self.services.iter().enumerate() {
            v.team(&format!("ecs.services[{i}].owner"), &s.owner);
            super::Snooze::validate(&s.snooze, &format!("ecs.services[{i}]"), v);
            let (warn, crit) = (v.rules.capacity_warn, v.rules.capacity_crit);
            v.ratios(&format!("ecs.services[{i}]"), s.capacity_warn.unwrap_or(warn), s.capacity_crit.unwrap_or(crit));
        }
    }
}
