//! Slack incoming webhook with a Block Kit message. The webhook URL is a secret: it never
//! appears in an error or a log line.

use serde_json::{json, Value};

use super::{Message, Notification};
use crate::rules::Level;
use crate::secret::Secret;
use std::time::Duration;

use crate::wire::{self, Api};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Slack webhook: HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Slack webhook: {0}")]
    Transport(String),
}

/// Slack's limits on a message: blocks, and characters of a header and of a section's text.
pub const MAX_BLOCKS: usize = 50;
const MAX_HEADER: usize = 150;
const MAX_SECTION: usize = 3000;
/// Fields of a section (Slack's limit is 10).
const MAX_FIELDS: usize = 10;

fn icon(level: Level) -> &'static str {
    match level {
        Level::Critical => ":red_circle:",
        Level::Warning => ":large_yellow_circle:",
        Level::Ok => ":large_green_circle:",
    }
}

/// A link's URL may not hold `|`, `<` or `>`: they would end it early.
pub fn link(u: &str, label: &str) -> String {
    format!("<{}|{label}>", u.replace('|', "%7C").replace('<', "%3C").replace('>', "%3E"))
}

/// The Block Kit payload (pure): a header, one section per series (worst first: its changes,
/// each rule's reason, the worst change's figures as fields, its AWS console link), the
/// dashboard link. What does not fit Slack's 50 blocks is counted in a last section, never
/// sent as a payload Slack would refuse. Every text in it may hold a name read from outside
/// (a bucket, a tag value): mrkdwn text is escaped (`text::mrkdwn`), so it can neither mention
/// nor link; links are built here from URLs whose parts were percent-encoded.
pub fn payload(m: &Message) -> Value {
    use crate::text::mrkdwn;
    let header = match m.transitions.as_slice() {
        [one] => format!("{} {}", one.level, one.resource),
        all => format!(
            "{} {} changes{}",
            m.level,
            all.len(),
            m.team.as_ref().map_or(String::new(), |t| format!(" for {t}"))
        ),
    };
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&mrkdwn(&header), MAX_HEADER)}})];
    let series = m.by_series();
    // Blocks for the series: all but the header and the links; one of them for what does not fit.
    let room = MAX_BLOCKS - 1 - usize::from(m.dashboard_url.is_some());
    let shown = if series.len() > room { room - 1 } else { series.len() };
    for changes in &series[..shown] {
        blocks.push(section(changes));
    }
    if shown < series.len() {
        let rest: usize = series[shown..].iter().map(|s| s.len()).sum();
        let text = format!(
            "… and {rest} more changes on {} more series, less severe than those above: every change is in the run's report and on the dashboard",
            series.len() - shown
        );
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(u) = &m.dashboard_url {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": link(u, "Datadog dashboard")}]}));
    }
    json!({"text": truncate(&mrkdwn(&m.title), MAX_SECTION), "blocks": blocks})
}

/// One series' section: its worst change first, each change's reason under it.
fn section(changes: &[Notification]) -> Value {
    use crate::text::mrkdwn;
    let n = &changes[0];
    let mut text = format!("{} *{}*", icon(n.level), mrkdwn(&n.resource));
    for c in changes.iter().filter(|c| !super::redundant(c, changes)) {
        // The series is named once, above its changes.
        let why = c.message.strip_prefix(&format!("{}: ", c.resource)).unwrap_or(&c.message);
        text.push_str(&format!("\n*{}* {} ({} → {}): {}", c.rule, c.kind, c.previous, c.level, mrkdwn(why)));
    }
    // The series' why and price once, though each of its changes carries them.
    let mut said: Vec<&str> = Vec::new();
    for line in changes.iter().flat_map(|c| c.why.iter().chain(&c.costs)) {
        if !said.contains(&line.as_str()) {
            said.push(line);
            text.push_str(&format!("\n> {}", mrkdwn(line)));
        }
    }
    // Every change's replan in one block: the same entry, its distinct lines (growth and
    // forecast replan alike; a budget adds its own).
    let mut lines: Vec<_> = Vec::new();
    for line in changes.iter().filter_map(|c| c.replan.as_deref()).flat_map(str::lines) {
        let line = mrkdwn(line);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        text.push_str(&format!("\n*Expected?* Replan in one paste:\n```{}```", lines.join("\n")));
    }
    if let Some(u) = &n.console_url {
        text.push_str(&format!("\n{}", link(u, "AWS console")));
    }
    let mut fields = Vec::new();
    let mut field = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            fields.push(format!("*{name}*\n{}", mrkdwn(v)));
        }
    };
    field("Current", &n.value);
    field("Threshold", &n.threshold);
    field("Planned", &n.planned);
    field(
        "Projected breach",
        &n.projected_breach.map(|d| match n.breach_uncertainty_days {
            _ if n.day.is_some_and(|day| d <= day) => "now (already at critical)".to_string(),
            Some(u) => format!("{d} ± {u} d"),
            None => d.to_string(),
        }),
    );
    field("Owner", &n.team);
    field("Day", &n.day.map(|d| d.to_string()));
    let fields: Vec<Value> = fields.iter().take(MAX_FIELDS).map(|f| json!({"type": "mrkdwn", "text": f})).collect();
    let mut s = json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, MAX_SECTION)}});
    if !fields.is_empty() {
        s["fields"] = Value::Array(fields);
    }
    s
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

pub async fn send(http: &reqwest::Client, webhook: &Secret, m: &Message, timeout: Duration) -> Result<(), Error> {
    post(http, webhook, &payload(m), timeout).await
}

/// Posts a Block Kit payload (a team's changes, or its digest) to the webhook.
pub async fn post(http: &reqwest::Client, webhook: &Secret, payload: &Value, timeout: Duration) -> Result<(), Error> {
    // Not retried: a webhook that timed out may have posted, and a repeat is a second message.
    let resp = wire::http::send(Api::SlackWebhook, http.post(webhook.expose()).json(payload), timeout)
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    if let Some(refused) = wire::http::redirect(&resp) {
        return Err(Error::Transport(format!("{refused}: configure the webhook's final https address")));
    }
    // Slack answers an error in a short word ("invalid_payload"); anything longer is not Slack.
    let body = wire::http::body(resp, 4096, timeout).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    Err(Error::Status {
        status: status.as_u16(),
        body: crate::text::terminal(&body.chars().take(200).collect::<String>()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(resource: &str, rule: &'static str, level: Level, message: &str) -> Notification {
        Notification {
            title: format!("[{level}] {resource} {rule} raised"),
            kind: "raised",
            rule,
            level,
            previous: Level::Ok,
            resource: resource.into(),
            series: format!("ScannedBytes{{Bucket={resource}}}"),
            team: Some("media".into()),
            value: Some("52.3 GB".into()),
            threshold: Some("75.0 GB".into()),
            planned: Some("50.0 GB".into()),
            projected_breach: Some("2026-12-20".parse().unwrap()),
            breach_uncertainty_days: Some(4),
            day: Some("2026-11-27".parse().unwrap()),
            message: message.into(),
            dashboard_url: Some("https://app.datadoghq.com/dashboard/abc".into()),
            console_url: Some(format!("https://s3.console.aws.amazon.com/s3/buckets/{resource}")),
            replan: None,
            why: Vec::new(),
            costs: None,
        }
    }

    #[test]
    fn payload_carries_what_crossed_what() {
        let n = note("uploads", "forecast", Level::Warning, "trend +6.1%/week");
        let p = payload(&Message::new(Some("media"), Some("https://app.datadoghq.com/dashboard/abc"), vec![n]));
        assert_eq!(p["text"], "[WARNING] uploads forecast raised");
        assert_eq!(p["blocks"][0]["text"]["text"], "WARNING uploads");
        assert_eq!(
            p["blocks"][1]["text"]["text"],
            ":large_yellow_circle: *uploads*\n*forecast* raised (OK → WARNING): trend +6.1%/week\n<https://s3.console.aws.amazon.com/s3/buckets/uploads|AWS console>"
        );
        let fields: Vec<&str> =
            p["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            vec![
                "*Current*\n52.3 GB",
                "*Threshold*\n75.0 GB",
                "*Planned*\n50.0 GB",
                "*Projected breach*\n2026-12-20 ± 4 d",
                "*Owner*\nmedia",
                "*Day*\n2026-11-27",
            ]
        );
        assert_eq!(
            p["blocks"][2]["elements"][0]["text"],
            "<https://app.datadoghq.com/dashboard/abc|Datadog dashboard>"
        );
        // A forecast already at critical is not "breached" on its own data day, yesterday.
        let mut now = note("uploads", "forecast", Level::Warning, "already at or above critical");
        now.projected_breach = now.day;
        let p = payload(&Message::new(Some("media"), None, vec![now]));
        assert!(p["blocks"][1]["fields"].to_string().contains("*Projected breach*\\nnow (already at critical)"), "{p}");
    }

    #[test]
    fn one_message_per_team_worst_series_first_without_redundant_forecasts() {
        let notes = vec![
            note("avatars", "anomaly", Level::Warning, "a spike"),
            note("uploads", "forecast", Level::Warning, "is already at or above critical"),
            note("uploads", "growth", Level::Critical, "7-day mean 189% of plan"),
        ];
        let m = Message::new(Some("media"), None, notes);
        assert_eq!(m.title, "[CRITICAL] 3 changes for team media");
        let p = payload(&m);
        assert_eq!(p["blocks"][0]["text"]["text"], "CRITICAL 3 changes for media");
        let uploads = p["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            uploads.starts_with(":red_circle: *uploads*\n*growth* raised (OK → CRITICAL): 7-day mean 189% of plan\n<"),
            "{uploads}"
        );
        assert!(!uploads.contains("forecast"), "the forecast adds nothing beside a CRITICAL: {uploads}");
        assert!(p["blocks"][2]["text"]["text"].as_str().unwrap().starts_with(":large_yellow_circle: *avatars*"));
        assert_eq!(p["blocks"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn past_slacks_block_limit_the_worst_are_shown_and_the_rest_counted() {
        let mut notes: Vec<Notification> =
            (0..200).map(|i| note(&format!("b-{i:03}"), "anomaly", Level::Warning, "a spike")).collect();
        notes.push(note("z-last", "growth", Level::Critical, "above plan"));
        let p = payload(&Message::new(Some("media"), Some("https://app.datadoghq.com/dashboard/abc"), notes));
        let blocks = p["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert!(blocks[1]["text"]["text"].as_str().unwrap().contains("*z-last*"), "the critical one first");
        assert_eq!(
            blocks[48]["text"]["text"],
            "… and 154 more changes on 154 more series, less severe than those above: every change is in the run's report and on the dashboard"
        );
    }
}
