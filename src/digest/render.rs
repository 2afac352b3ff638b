//! A digest's forms: the text a person reads (the terminal, and Slack's code block), Slack's
//! Block Kit payload, SNS's JSON. Pure. Labels are names read from outside: escaped for where
//! they land (`text::terminal`, `text::mrkdwn`).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Digest, Row};
use crate::rules::human;
use crate::text::{mrkdwn, terminal};

/// Rows shown at most in one message: Slack's section holds 3,000 characters.
const MAX_ROWS: usize = 25;

pub fn title(d: &Digest) -> String {
    format!("Weekly scan cost digest for team {}: the 7 days to {}", d.team, d.week_to)
}

fn amount(v: Option<f64>, r: &Row) -> String {
    v.map_or("-".into(), |v| human(v, r.unit))
}

/// One row: last week's total, the change, the sparkline.
fn row(r: &Row) -> String {
    let change = r.change.map_or("   new".into(), |c| format!("{:+5.0}%", 100.0 * c));
    let partial = if r.last_week_days < 7 { format!(" ({} of 7 days)", r.last_week_days) } else { String::new() };
    format!("{:>12} {change}  {}  {}{partial}", amount(r.last_week, r), r.sparkline, terminal(&r.label))
}

fn month_end(r: &Row) -> Option<String> {
    let m = r.month_end?;
    let unit = r.unit;
    let budget = m.budget.map_or(String::new(), |b| {
        let verdict = match (m.projected >= b, m.high >= b) {
            (true, _) => "OVER",
            (false, true) => "within; its range reaches it",
            (false, false) => "within",
        };
        format!(" against the budget {} ({verdict}, {:.0}%)", human(b, unit), 100.0 * m.projected / b)
    });
    Some(format!(
        "{}: month end {} (range {} to {}){budget}",
        terminal(&r.label),
        human(m.projected, unit),
        human(m.low, unit),
        human(m.high, unit)
    ))
}

/// The digest as text (`costwarden digest`).
pub fn text(d: &Digest) -> String {
    format!("{}\n{}", terminal(&title(d)), body(d))
}

/// All but the title (Slack's code block, under its header).
fn body(d: &Digest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  week: last 7 days' total, change on the 7 before, last 28 days");
    for r in d.rows.iter().take(MAX_ROWS) {
        let _ = writeln!(out, "    {}", row(r));
    }
    if d.rows.len() > MAX_ROWS {
        let _ = writeln!(out, "    … and {} more series: see the dashboard", d.rows.len() - MAX_ROWS);
    }
    let months: Vec<String> = d.rows.iter().filter_map(month_end).collect();
    section(&mut out, "month end", &months);
    let movers: Vec<String> = d
        .movers
        .iter()
        .map(|m| {
            let why = m.why.iter().map(|w| format!("\n        {}", terminal(w))).collect::<String>();
            format!("{} {:+.0}%{why}", terminal(&m.label), 100.0 * m.change)
        })
        .collect();
    section(&mut out, "largest moves", &movers);
    section(&mut out, "open alerts", &d.open.iter().map(|s| terminal(s).into_owned()).collect::<Vec<_>>());
    section(&mut out, "snoozed", &d.snoozed.iter().map(|s| terminal(s).into_owned()).collect::<Vec<_>>());
    section(
        &mut out,
        "where the bytes come from",
        &d.where_from.iter().map(|s| terminal(s).into_owned()).collect::<Vec<_>>(),
    );
    if let Some(line) = &d.inventory {
        let _ = writeln!(out, "  periodic inventory: {}", terminal(line));
    }
    if let Some(n) = d.unscanned.filter(|n| *n > 0) {
        let _ = writeln!(out, "  unscanned buckets: {n} (costwarden coverage names them)");
    }
    if let Some(u) = &d.dashboard_url {
        let _ = writeln!(out, "  dashboard: {}", terminal(u));
    }
    out
}

fn section(out: &mut String, name: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {name}:");
    for l in lines {
        let _ = writeln!(out, "    {l}");
    }
}

/// Slack: a header, the text in a code block (the sparklines line up), the dashboard link.
/// The text is escaped for mrkdwn (a name can neither mention nor link) and cut to a section.
pub fn slack(d: &Digest) -> Value {
    let header: String = title(d).chars().take(149).collect();
    // A backtick in a name would end the code block and format what follows.
    let body = body(d).replace('`', "'");
    let body: String = mrkdwn(&body).chars().take(2_900).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": mrkdwn(&header)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("```{body}```")}}),
    ];
    if let Some(u) = &d.dashboard_url {
        let link = crate::notify::slack::link(u, "Datadog dashboard");
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]}));
    }
    json!({"text": mrkdwn(&header), "blocks": blocks})
}

/// SNS: the digest as JSON; its attributes say what it is, for subscription filters.
pub fn sns(d: &Digest) -> (String, Vec<(&'static str, &'static str, String)>) {
    let body = serde_json::to_string(d).unwrap_or_default();
    (body, vec![("kind", "String", "digest".into()), ("team", "String", d.team.clone())])
}
