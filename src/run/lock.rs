//! One run at a time on a host: `costwarden run` and the daemon's ticks take an exclusive lock
//! on a file named after the namespace, so a run started by hand while the schedule runs (or
//! two schedulers) waits for the other and then reads the state it left: a change of state is
//! told once. Across hosts the lock does not reach; the Lambda has its reserved concurrency,
//! and a Kubernetes CronJob its `concurrencyPolicy: Forbid`.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file of a namespace, in the system's temporary folder.
pub fn path_for(namespace: &str) -> PathBuf {
    let name: String = namespace.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    std::env::temp_dir().join(format!("costwarden-{name}.lock"))
}

/// Held until dropped.
#[derive(Debug)]
pub struct RunLock(#[allow(dead_code)] File);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("another costwarden run still holds {path} after {waited} s; this run is skipped")]
    Busy { path: String, waited: u64 },
    #[error("cannot lock {path}: {io}")]
    Io { path: String, io: std::io::Error },
}

/// Takes the lock, waiting at most `wait` for a run that holds it.
pub async fn acquire(path: &Path, wait: Duration) -> Result<RunLock, Error> {
    let io = |io| Error::Io { path: path.display().to_string(), io };
    let file = File::options().create(true).truncate(false).write(true).open(path).map_err(io)?;
    let started = Instant::now();
    let mut logged = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(RunLock(file)),
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                if !logged {
                    tracing::info!(lock = %path.display(), "another run holds the lock; waiting for it");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Busy { path: path.display().to_string(), waited: wait.as_secs() })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_then_is_told_it_was_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.lock");
        let first = acquire(&path, Duration::ZERO).await.unwrap();
        let err = acquire(&path, Duration::from_millis(300)).await.unwrap_err();
        assert!(err.to_string().starts_with("another costwarden run still holds "), "{err}");
        drop(first);
        acquire(&path, Duration::ZERO).await.unwrap();
        assert_eq!(path_for("Costwarden/Scanner").file_name().unwrap(), "costwarden-Costwarden-Scanner.lock");
    }
}
