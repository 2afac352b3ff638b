//! `costwarden health`: is the daemon alive and ticking? The daemon writes a heartbeat file when
//! it starts and after every run; `health` (the image's HEALTHCHECK, the Kubernetes liveness
//! probe) reads it and fails when no run has finished for longer than two of its intervals.
//! A run whose sources failed is still a beat: restarting the container would not mend a
//! Console that is down, and the run's own exit status and metrics say so.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub at: DateTime<Utc>,
    /// None when the daemon has only started; else whether the last run was complete.
    pub ok: Option<bool>,
    /// The daemon stopped (SIGTERM, SIGINT): no run will come, whatever the beat's age.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
}

/// The heartbeat file of a namespace, beside its lock (the system's temporary folder).
pub fn path_for(namespace: &str) -> PathBuf {
    super::lock::path_for(namespace).with_extension("health")
}

/// Written to a temporary file and renamed, so a reader never sees half a beat.
pub fn record(path: &Path, beat: &Beat) -> std::io::Result<()> {
    let tmp = path.with_extension("health.tmp");
    std::fs::write(&tmp, serde_json::to_vec(beat).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

/// Two intervals of the schedule and a minute: a beat older than that means the daemon no
/// longer runs its schedule.
pub fn max_age(runs_per_month: f64) -> chrono::TimeDelta {
    let interval = crate::price::HOURS_PER_MONTH * 3600.0 / runs_per_month.max(1.0);
    chrono::TimeDelta::seconds((2.0 * interval) as i64 + 60)
}

/// The verdict on a beat read at `now`: Ok(what is fine) or Err(what is wrong). Pure.
pub fn judge(beat: Option<&Beat>, now: DateTime<Utc>, max_age: chrono::TimeDelta) -> Result<String, String> {
    let Some(b) = beat else {
        return Err("no heartbeat: the daemon has not started on this host (or TMPDIR differs)".into());
    };
    let age = now - b.at;
    if b.stopped {
        return Err(format!("the daemon stopped at {}", b.at.format("%Y-%m-%d %H:%M:%SZ")));
    }
    let what = match b.ok {
        None => "started".to_string(),
        Some(true) => "last run complete".to_string(),
        Some(false) => "last run incomplete (see its log and the SourceUp metric)".to_string(),
    };
    let at = b.at.format("%Y-%m-%d %H:%M:%SZ");
    if age > max_age {
        Err(format!("{what} at {at}, {} s ago: more than {} s without a run", age.num_seconds(), max_age.num_seconds()))
    } else {
        Ok(format!("{what} at {at}, {} s ago", age.num_seconds().max(0)))
    }
}

/// The beat in `path`, None when there is none (or it cannot be read).
pub fn read(path: &Path) -> Option<Beat> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_beat_is_fresh_for_two_intervals_and_a_minute() {
        let max = max_age(2920.0);
        assert_eq!(max.num_seconds(), 1860);
        let beat = Beat { at: at("2026-12-03T10:00:00Z"), ok: Some(false), stopped: false };
        assert_eq!(
            judge(Some(&beat), at("2026-12-03T10:31:00Z"), max),
            Ok("last run incomplete (see its log and the SourceUp metric) at 2026-12-03 10:00:00Z, 1860 s ago".into())
        );
        assert_eq!(
            judge(Some(&beat), at("2026-12-03T10:31:01Z"), max),
            Err("last run incomplete (see its log and the SourceUp metric) at 2026-12-03 10:00:00Z, 1861 s ago: more than 1860 s without a run".into())
        );
        assert!(judge(None, at("2026-12-03T10:00:00Z"), max).unwrap_err().starts_with("no heartbeat"));
        // Stopped: unhealthy at once, however fresh.
        let stopped = Beat { stopped: true, ..beat };
        assert_eq!(
            judge(Some(&stopped), at("2026-12-03T10:00:01Z"), max),
            Err("the daemon stopped at 2026-12-03 10:00:00Z".into())
        );
    }

    #[test]
    fn a_beat_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.health");
        assert_eq!(read(&path), None);
        let beat = Beat { at: at("2026-12-03T10:00:00Z"), ok: None, stopped: false };
        record(&path, &beat).unwrap();
        assert_eq!(read(&path), Some(beat));
    }
}
