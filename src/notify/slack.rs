//! Slack incoming webhook with a Block Kit message. The webhook URL is a secret: it never
//! appears in an error or a log line.

use serde_json::{json, Value};

use super::Notification;
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

/// The Block Kit payload (pure). Every text in it may hold a name read from outside (a
/// bucket, a tag value): mrkdwn text is escaped (`text::mrkdwn`), so it can neither mention
/// nor link; links are built here from URLs whose parts were percent-encoded.
pub fn payload(n: &Notification) -> Value {
    use crate::text::mrkdwn;
    let icon = match n.level {
        Level::Critical => ":red_circle:",
        Level::Warning => ":large_yellow_circle:",
        Level::Ok => ":large_green_circle:",
    };
    let mut fields = vec![format!("*State*\n{} → {}", n.previous, n.level), format!("*Rule*\n{}", n.rule)];
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
            Some(u) => format!("{d} ± {u} d"),
            None => d.to_string(),
        }),
    );
    field("Owner", &n.team);
    field("Day", &n.day.map(|d| d.to_string()));
    // A link's URL may not hold `|`, `<` or `>`: they would end it early.
    let link =
        |u: &str, label: &str| format!("<{}|{label}>", u.replace('|', "%7C").replace('<', "%3C").replace('>', "%3E"));
    let mut links = Vec::new();
    if let Some(u) = &n.dashboard_url {
        links.push(link(u, "Datadog dashboard"));
    }
    if let Some(u) = &n.console_url {
        links.push(link(u, "AWS console"));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&mrkdwn(&format!("{} {}", n.level, n.resource)), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("{icon} {}", mrkdwn(&n.message)), 3000)}}),
        json!({"type": "section", "fields": fields.iter().take(10).map(|f| json!({"type": "mrkdwn", "text": f})).collect::<Vec<_>>()}),
    ];
    if !links.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join(" · ")}]}));
    }
    json!({"text": mrkdwn(&n.title), "blocks": blocks})
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

pub async fn send(http: &reqwest::Client, webhook: &Secret, n: &Notification, timeout: Duration) -> Result<(), Error> {
    // Not retried: a webhook that timed out may have posted, and a repeat is a second message.
    let resp = wire::http::send(Api::SlackWebhook, http.post(webhook.expose()).json(&payload(n)), timeout)
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

    #[test]
    fn payload_carries_what_crossed_what() {
        let n = Notification {
            title: "[WARNING] bucket uploads (console) forecast raised".into(),
            kind: "raised",
            rule: "forecast",
            level: Level::Warning,
            previous: Level::Ok,
            resource: "bucket uploads (console)".into(),
            series: "ScannedBytes{Bucket=uploads,Source=console}".into(),
            team: Some("media".into()),
            value: Some("52.3 GB".into()),
            threshold: Some("75.0 GB".into()),
            planned: Some("50.0 GB".into()),
            projected_breach: Some("2026-12-20".parse().unwrap()),
            breach_uncertainty_days: Some(4),
            day: Some("2026-11-27".parse().unwrap()),
            message: "trend +6.1%/week".into(),
            dashboard_url: Some("https://app.datadoghq.com/dashboard/abc".into()),
            console_url: Some("https://s3.console.aws.amazon.com/s3/buckets/uploads".into()),
        };
        let p = payload(&n);
        assert_eq!(p["text"], "[WARNING] bucket uploads (console) forecast raised");
        assert_eq!(p["blocks"][0]["text"]["text"], "WARNING bucket uploads (console)");
        let fields: Vec<&str> =
            p["blocks"][2]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            vec![
                "*State*\nOK → WARNING",
                "*Rule*\nforecast",
                "*Current*\n52.3 GB",
                "*Threshold*\n75.0 GB",
                "*Planned*\n50.0 GB",
                "*Projected breach*\n2026-12-20 ± 4 d",
                "*Owner*\nmedia",
                "*Day*\n2026-11-27",
            ]
        );
        assert_eq!(
            p["blocks"][3]["elements"][0]["text"],
            "<https://app.datadoghq.com/dashboard/abc|Datadog dashboard> · <https://s3.console.aws.amazon.com/s3/buckets/uploads|AWS console>"
        );
    }
}
