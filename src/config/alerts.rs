use serde::Deserialize;

use super::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    pub enabled: bool,
    /// The team of series whose owner is not set.
    pub default_team: Option<String>,
    /// Linked from every notification.
    pub dashboard_url: Option<String>,
    /// How far back the last notified state is looked for: more than a day, since the states
    /// of daily series are written once a day (see docs/configuration.md, "Alert state").
    pub state_lookback_hours: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts { enabled: true, default_team: None, dashboard_url: None, state_lookback_hours: 50 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Environment variable holding the Slack incoming-webhook URL.
    pub slack_webhook_env: Option<String>,
    /// Or a Secrets Manager secret whose SecretString is the webhook URL.
    pub slack_webhook_secret_id: Option<String>,
    pub sns_topic_arn: Option<String>,
    /// Environment variable holding the SNS topic ARN (instead of sns_topic_arn).
    pub sns_topic_arn_env: Option<String>,
    /// Datadog handle the generated monitors mention, e.g. "@slack-platform-alerts".
    pub datadog_handle: Option<String>,
}

impl Alerts {
    /// The alerts section and every team.
    pub(super) fn validate(&self, v: &mut Validator) {
        v.team("alerts.default_team", &self.default_team);
        v.check(
            "alerts.state_lookback_hours",
            (1..=336).contains(&self.state_lookback_hours),
            "must be between 1 and 336 (CloudWatch ListMetrics sees two weeks)",
        );
        if let Some(u) = &self.dashboard_url {
            v.check("alerts.dashboard_url", u.starts_with("https://"), "must be an https:// URL");
        }
        for (name, t) in v.teams {
            t.validate(&format!("teams.{name}"), v);
        }
    }
}

impl Team {
    fn validate(&self, p: &str, v: &mut Validator) {
        if self.slack_webhook_env.is_some() && self.slack_webhook_secret_id.is_some() {
            v.push(p, "set slack_webhook_env or slack_webhook_secret_id, not both".into());
        }
        if self.sns_topic_arn.is_some() && self.sns_topic_arn_env.is_some() {
            v.push(p, "set sns_topic_arn or sns_topic_arn_env, not both".into());
        }
        if let Some(arn) = &self.sns_topic_arn {
            v.check(
                &format!("{p}.sns_topic_arn"),
                arn.starts_with("arn:") && arn.contains(":sns:"),
                "must be an SNS topic ARN (arn:aws:sns:...)",
            );
        }
        if let Some(h) = &self.datadog_handle {
            v.check(&format!("{p}.datadog_handle"), h.starts_with('@') && h.len() > 1, "must start with '@'");
        }
    }
}
