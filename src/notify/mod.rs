//! Notifiers: Slack incoming webhooks, SNS, and the log. Each turns one team's changes of a run
//! (a `Message`) into its wire form (pure, tested from the payload) and sends it.

pub mod slack;
pub mod sns;

use std::collections::BTreeMap;

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
    /// thresholds.toml lines that replan the series (`alerts::replan`), when there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replan: Option<String>,
    /// Why, from the run's other series (`alerts::explain`): contributors, cost per GB.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// What the volume costs a month at its level and at its plan, and at which price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub costs: Option<String>,
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
            replan: None,
            why: Vec::new(),
            costs: None,
        }
    }
}

/// Every change of one run for one team: what one Slack message and one SNS publish carry.
/// The changes are ordered worst first, those of one series together (the series in the order
/// of their worst level, then by name), so a cut message keeps what matters most.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// One change: its own title; several: the worst level, how many, for whom.
    pub title: String,
    pub team: Option<String>,
    /// The worst level among the changes.
    pub level: Level,
    pub dashboard_url: Option<String>,
    pub transitions: Vec<Notification>,
}

impl Message {
    pub fn new(team: Option<&str>, dashboard_url: Option<&str>, mut transitions: Vec<Notification>) -> Message {
        let mut worst: BTreeMap<String, Level> = BTreeMap::new();
        for t in &transitions {
            let w = worst.entry(t.series.clone()).or_insert(t.level);
            *w = (*w).max(t.level);
        }
        transitions.sort_by(|a, b| {
            (worst[&b.series], &a.resource, &a.series, b.level, a.rule).cmp(&(
                worst[&a.series],
                &b.resource,
                &b.series,
                a.level,
                b.rule,
            ))
        });
        let level = transitions.iter().map(|t| t.level).max().unwrap_or(Level::Ok);
        let title = match transitions.as_slice() {
            [one] => one.title.clone(),
            all => format!(
                "[{level}] {} changes for {}",
                all.len(),
                team.map_or("no team".into(), |t| format!("team {t}"))
            ),
        };
        Message {
            title,
            team: team.map(str::to_string),
            level,
            dashboard_url: dashboard_url.map(str::to_string),
            transitions,
        }
    }

    /// The changes of each series, in the message's order: (the series' changes, of which the
    /// first is its worst).
    pub fn by_series(&self) -> Vec<&[Notification]> {
        self.transitions.chunk_by(|a, b| a.series == b.series).collect()
    }
}

/// Whether a change adds nothing beside the others of its series: a forecast WARNING (a crossing
/// ahead) next to a rule of the same series already CRITICAL. It is still told (and its state
/// kept); the message just does not say it.
pub fn redundant(n: &Notification, series: &[Notification]) -> bool {
    n.rule == "forecast" && n.level == Level::Warning && series.iter().any(|o| o.level == Level::Critical)
}
