//! SNS: one team's changes of a run as one JSON body, with message attributes for subscription
//! filters (severity, rule, team, kind).

use aws_sdk_sns::types::MessageAttributeValue;

use super::{Message, Notification};
use crate::wire::aws_message;

#[derive(Debug, thiserror::Error)]
#[error("SNS Publish: {0}")]
pub struct Error(String);

/// SNS refuses a message over 256 KiB; a message cut to fit says how many changes it left out.
const MAX_BODY: usize = 250 * 1024;

/// The filterable attributes: the worst severity and the team as strings; every rule and kind
/// among the changes as string arrays (a filter policy `{"rule": ["growth"]}` matches a message
/// holding a growth change).
pub fn attributes(m: &Message) -> Vec<(&'static str, &'static str, String)> {
    let list = |f: fn(&Notification) -> &'static str| {
        let mut v: Vec<&str> = m.transitions.iter().map(f).collect();
        v.sort_unstable();
        v.dedup();
        serde_json::to_string(&v).expect("strings serialise")
    };
    let mut a = vec![
        ("severity", "String", m.level.name().to_string()),
        ("rule", "String.Array", list(|n| n.rule)),
        ("kind", "String.Array", list(|n| n.kind)),
    ];
    if let Some(t) = &m.team {
        a.push(("team", "String", t.clone()));
    }
    a
}

/// The JSON body: the message, cut (least severe changes first) to SNS's limit.
pub fn body(m: &Message) -> Result<String, Error> {
    let mut cut = std::borrow::Cow::Borrowed(m);
    loop {
        let body = serde_json::to_string(&cut).map_err(|e| Error(e.to_string()))?;
        if body.len() <= MAX_BODY || cut.transitions.len() <= 1 {
            return Ok(body);
        }
        // Fewer than now (the body is over the limit), at least one.
        let keep = (cut.transitions.len() * MAX_BODY / body.len()).max(1);
        let owned = cut.to_mut();
        owned.transitions.truncate(keep);
        let left_out = m.transitions.len() - keep;
        owned.title = format!("{} ({left_out} less severe changes left out: see the run's report)", m.title);
    }
}

pub async fn publish(client: &aws_sdk_sns::Client, topic_arn: &str, m: &Message) -> Result<(), Error> {
    publish_json(client, topic_arn, &m.title, body(m)?, attributes(m)).await
}

/// One publish of a JSON body with its attributes (data type, value) by name.
pub async fn publish_json(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    title: &str,
    body: String,
    attributes: Vec<(&'static str, &'static str, String)>,
) -> Result<(), Error> {
    let mut req = client
        .publish()
        .topic_arn(topic_arn)
        // SNS subjects: ASCII without line breaks or control characters, under 100 characters
        // (a name with a newline would otherwise have the publish refused).
        .subject(title.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(99).collect::<String>())
        .message(body);
    for (k, data_type, v) in attributes {
        let attr = MessageAttributeValue::builder()
            .data_type(data_type)
            .string_value(v)
            .build()
            .map_err(|e| Error(e.to_string()))?;
        req = req.message_attributes(k, attr);
    }
    req.send().await.map(|_| ()).map_err(|e| Error(aws_message(&e)))
}
