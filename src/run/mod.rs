//! How a cycle runs (`cycle`) and the entry points beyond one `run`: the Lambda handler and the
//! cron daemon, both thin.

pub mod bounds;
pub mod cadence;
pub mod collect;
pub mod cycle;
pub mod daemon;
pub mod health;
pub mod lambda;
pub mod lock;
pub mod publish;
pub mod revise;

/// Logs on stderr: text for people, JSON for Lambda and log pipelines. `COSTWARDEN_LOG` filters.
/// `summary_names_alerts`: the command prints each alert change in its own summary (`run`), so
/// the log does not say them a second time; the daemon and Lambda have only the log.
pub fn init_logs(json: bool, summary_names_alerts: bool) {
    let mut directives = std::env::var("COSTWARDEN_LOG").unwrap_or_else(|_| "warn,costwarden=info".to_string());
    // Unless the filter names the alert lines itself.
    if summary_names_alerts && !directives.contains(crate::alerts::LOG_TARGET) {
        directives.push_str(&format!(",{}=off", crate::alerts::LOG_TARGET));
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,costwarden=info"));
    // Colours only for a terminal: in a file or a log pipeline they are escape bytes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.init();
    }
}
