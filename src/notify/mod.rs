//! Notifiers: Slack incoming webhooks, SNS, and the log. Each turns one alert transition into
//! its wire form (pure, tested from the payload) and sends it.

pub mod slack;
pub mod sns;

use chrono::NaiveDate;
use serde::Serialize;

use crate::rules::{human, Finding, Level};

/// Everything a team needs to act, in one place, for every channel.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub title: String,
    pub kind: &'static str,
    pub rule: &'static str,
    pub level: Level,
    pub previous: Level,
    pub resource: String,
    pub series: String,
    pub team: Option<String>,
    pub value: Option<String>,
    pub threshold: Option<String>,
    pub planned: Option<String>,
    pub projected_breach: Option<NaiveDate>,
    pub breach_uncertainty_days: Option<u32>,
    pub day: Option<NaiveDate>,
    pub message: String,
    pub dashboard_url: Option<String>,
    pub console_url: Option<String>,
}

impl Notification {
    /// The finding `f` that moved its series from `previous`; `kind` says how (raised, ...).
    pub fn new(
        f: &Finding,
        (previous, kind): (Level, &'static str),
        team: Option<&str>,
        dashboard_url: Option<&str>,
        console_url: Option<String>,
    ) -> Notification {
        let fmt = |v: Option<f64>| v.map(|v| human(v, f.unit));
        Notification {
            title: format!("[{}] {} {} {}", f.level, f.label, f.rule.name(), kind),
            kind,
            rule: f.rule.name(),
            level: f.level,
            previous,
            resource: f.label.to_string(),
            series: f.series.to_string(),
            team: team.map(str::to_string),
            value: fmt(f.value),
            threshold: fmt(f.threshold),
            planned: fmt(f.planned),
            projected_breach: f.projected_breach,
            breach_uncertainty_days: f.breach_uncertainty_days,
            day: f.day,
            message: f.message.clone(),
            dashboard_url: dashboard_url.map(str::to_string),
            console_url,
        }
    }
}
