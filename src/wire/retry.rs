//! The one retry policy: up to `max_attempts` attempts, jittered exponential backoff (about
//! 200 ms, 400 ms, 800 ms ... capped at 10 s). AWS clients get it as the SDK's standard retry
//! strategy, whose classifiers already know each service's throttling and transient errors
//! (Cost Explorer's `LimitExceededException` among them); the Console gets it from `http`.
//! Either way each attempt is counted at the wire (`count`).

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;

const INITIAL: Duration = Duration::from_millis(200);
const CAP: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts per request, the first included (`collector.max_attempts`).
    pub max_attempts: u32,
    /// Timeout of one HTTP request to the Console or Slack (`collector.request_timeout_secs`).
    pub request_timeout: Duration,
}

impl Policy {
    pub fn of(collector: &crate::config::Collector) -> Policy {
        Policy {
            max_attempts: collector.max_attempts.max(1),
            request_timeout: Duration::from_secs(collector.request_timeout_secs),
        }
    }

    pub(crate) fn aws(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts).with_initial_backoff(INITIAL).with_max_backoff(CAP)
    }

    /// The pause before attempt `attempt + 1`; the jitter (half to full delay) keeps many
    /// collectors from retrying in step.
    pub(crate) fn backoff(attempt: u32) -> Duration {
        let full = (INITIAL.as_millis() as u64)
            .saturating_mul(1 << attempt.saturating_sub(1).min(6))
            .min(CAP.as_millis() as u64);
        Duration::from_millis(full / 2 + fastrand::u64(0..=full / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        for (attempt, full) in [(1, 200), (2, 400), (3, 800), (7, 10_000), (30, 10_000)] {
            let d = Policy::backoff(attempt).as_millis() as u64;
            assert!((full / 2..=full).contains(&d), "attempt {attempt}: {d} ms");
        }
    }
}
