//! The application a command runs: the configuration, the injected clients, and the Console
//! client kept across runs. Only the entry points (`main.rs`, `run/`) take it; `check` and
//! `coverage` get its parts, the Console client through `console_if_enabled`.

use crate::config::Config;
use crate::model;
use crate::secret;
use crate::sources::antivirus;
use crate::wire::Clients;

pub use crate::sources::antivirus::ConsoleIfEnabled;

pub struct App {
    pub config: Config,
    pub clients: Clients,
    /// Overrides `antivirus.base_url` (`COSTWARDEN_CONSOLE_URL`), e.g. for the local double.
    pub console_url: Option<reqwest::Url>,
    console: tokio::sync::OnceCell<antivirus::ConsoleClient>,
    /// The week each team's digest is known sent, so that a long-lived process reads the
    /// markers once a week (`digest::send::Sent`).
    pub digest_sent: std::sync::Mutex<std::collections::BTreeMap<String, chrono::NaiveDate>>,
}

impl App {
    pub fn new(config: Config, clients: Clients) -> App {
        App {
            config,
            clients,
            console_url: None,
            console: tokio::sync::OnceCell::new(),
            digest_sent: Default::default(),
        }
    }

    /// The Console client is built on first use and kept, so its token survives across runs of
    /// a daemon or warm Lambda invocations. A failure (e.g. missing credentials) is retried on
    /// the next run.
    pub async fn console(&self) -> Result<&antivirus::ConsoleClient, antivirus::Error> {
        let av = self.config.antivirus.as_ref().expect("called only with [antivirus]");
        self.console
            .get_or_try_init(|| async {
                let base: reqwest::Url = match &self.console_url {
                    Some(u) => u.clone(),
                    None => av.base_url.parse().map_err(|e| antivirus::Error::Shape {
                        what: "antivirus.base_url".into(),
                        message: format!("{e}"),
                    })?,
                };
                if !model::secure(&base) {
                    return Err(antivirus::Error::Shape {
                        what: base.host_str().unwrap_or("?").to_string(),
                        message: "refusing to send the Console credentials in clear: use https".into(),
                    });
                }
                let creds = secret::console_credentials(&av.credentials, &self.clients.secrets).await?;
                Ok(antivirus::ConsoleClient::new(
                    self.clients.http.clone(),
                    base,
                    av.api.clone(),
                    creds,
                    self.clients.policy,
                ))
            })
            .await
    }

    /// The Console client when `[antivirus]` is enabled (or why it could not be built), for a
    /// command that hands it to the parts that read the Console.
    pub async fn console_if_enabled(&self) -> ConsoleIfEnabled<'_> {
        match self.config.antivirus.as_ref().is_some_and(|a| a.enabled) {
            true => Some(self.console().await.map_err(|e| e.to_string())),
            false => None,
        }
    }
}

/// The sources get the Console through this: built on their first call, inside their count.
impl antivirus::Access for App {
    fn console(&self) -> futures::future::BoxFuture<'_, ConsoleIfEnabled<'_>> {
        Box::pin(self.console_if_enabled())
    }
}
