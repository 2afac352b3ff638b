//! Secrets (the Console password, webhook URLs) in a type that cannot be printed by accident.

use std::fmt;

use crate::config::Credentials;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct ConsoleCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (Console API user credentials)")]
    MissingEnv(String),
    #[error("cannot read secret {id}: {message}")]
    Fetch { id: String, message: String },
    // The secret's text is never echoed: serde's messages quote the offending value.
    #[error("secret {0} must be a JSON object with string fields \"username\" and \"password\"")]
    Shape(String),
}

/// Resolves the Console credentials from Secrets Manager when `secret_id` is set, else from the
/// environment variables the config names.
pub async fn console_credentials(
    cfg: &Credentials,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<ConsoleCredentials, SecretError> {
    if let Some(id) = &cfg.secret_id {
        let text = secret_string(secrets, id).await?;
        #[derive(serde::Deserialize)]
        struct Pair {
            username: String,
            password: String,
        }
        let pair: Pair = serde_json::from_str(text.expose()).map_err(|_| SecretError::Shape(id.clone()))?;
        return Ok(ConsoleCredentials { username: pair.username, password: Secret(pair.password) });
    }
    let env = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| SecretError::MissingEnv(name.to_string()))
    };
    Ok(ConsoleCredentials { username: env(&cfg.username_env)?, password: Secret(env(&cfg.password_env)?) })
}

pub async fn secret_string(secrets: &aws_sdk_secretsmanager::Client, id: &str) -> Result<Secret, SecretError> {
    let out = secrets
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| SecretError::Fetch { id: id.to_string(), message: crate::wire::aws_message(&e) })?;
    out.secret_string
        .map(Secret)
        .ok_or_else(|| SecretError::Fetch { id: id.to_string(), message: "the secret has no SecretString".into() })
}
