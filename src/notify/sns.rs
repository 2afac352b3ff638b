//! SNS: the notification as a JSON body, with message attributes for subscription filters
//! (severity, rule, team, kind).

use aws_sdk_sns::types::MessageAttributeValue;

use super::Notification;
use crate::wire::aws_message;

#[derive(Debug, thiserror::Error)]
#[error("SNS Publish: {0}")]
pub struct Error(String);

pub fn attributes(n: &Notification) -> Vec<(&'static str, String)> {
    let mut a =
        vec![("severity", n.level.name().to_string()), ("rule", n.rule.to_string()), ("kind", n.kind.to_string())];
    if let Some(t) = &n.team {
        a.push(("team", t.clone()));
    }
    a
}

pub async fn publish(client: &aws_sdk_sns::Client, topic_arn: &str, n: &Notification) -> Result<(), Error> {
    let body = serde_json::to_string(n).map_err(|e| Error(e.to_string()))?;
    let mut req = client
        .publish()
        .topic_arn(topic_arn)
        // SNS subjects: ASCII without line breaks or control characters, under 100 characters
        // (a name with a newline would otherwise have the publish refused).
        .subject(n.title.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(99).collect::<String>())
        .message(body);
    for (k, v) in attributes(n) {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .map_err(|e| Error(e.to_string()))?;
        req = req.message_attributes(k, attr);
    }
    req.send().await.map(|_| ()).map_err(|e| Error(aws_message(&e)))
}
