//! Keeps the parsed config.json current without reading it on every request.
//!
//! Kubernetes updates a mounted ConfigMap by swapping a symlink, so the file's identity (device,
//! inode), length and mtime change together; polling that fingerprint is cheap, needs no inotify
//! support in the container, and a parse happens only when it changes. A bad new file never
//! replaces a good old one: requests keep the last good clusters while the error is reported.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;
use crate::error::ConfigError;

/// A local file read has no business taking longer; past this the file system is sick and the
/// read is reported as an error instead of hanging the watcher.
const READ_DEADLINE: Duration = Duration::from_secs(10);

/// What the watcher currently knows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The last configuration that parsed and passed the checks (empty until one did).
    pub config: Arc<ClusterConfig>,
    /// Why the file as it is now is not in use; `None` when `config` is the file's content.
    pub error: Option<ConfigError>,
    /// Bumped on every change of `config` or `error`, for callers that wait for a reload.
    pub generation: u64,
}

/// Handle on a background poller; cloning is cheap and all clones see the same value. The
/// poller stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct ClusterConfigWatcher {
    rx: watch::Receiver<Snapshot>,
    _poller: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct AbortOnDrop(Option<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: Option<SystemTime>,
}

impl ClusterConfigWatcher {
    /// Reads the file once (so the first request already sees it), then polls every
    /// `interval`. A missing or bad file is not fatal: the watcher starts with an empty
    /// configuration and the error, and picks the file up when it appears or is fixed.
    pub async fn start(path: impl Into<PathBuf>, interval: Duration) -> Self {
        let path = path.into();
        let mut state = Poller {
            path,
            last: None,
            snapshot: Snapshot::default(),
        };
        state.poll().await;
        let (tx, rx) = watch::channel(state.snapshot.clone());
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await; // the first tick fires at once; the file was just read
            loop {
                ticker.tick().await;
                if state.poll().await {
                    tx.send_replace(state.snapshot.clone());
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Self {
            rx,
            _poller: Arc::new(AbortOnDrop(Some(task))),
        }
    }

    /// A watcher that never reloads: for configurations built in code (tests, embedding).
    pub fn fixed(config: ClusterConfig) -> Self {
        let (_tx, rx) = watch::channel(Snapshot {
            config: Arc::new(config),
            error: None,
            generation: 1,
        });
        Self {
            rx,
            _poller: Arc::new(AbortOnDrop(None)),
        }
    }

    /// The last good configuration (one `Arc` clone, no I/O).
    pub fn current(&self) -> Arc<ClusterConfig> {
        self.rx.borrow().config.clone()
    }

    /// Why the file on disk is not the configuration in use, if it is not.
    pub fn last_error(&self) -> Option<ConfigError> {
        self.rx.borrow().error.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.rx.borrow().clone()
    }

    /// A receiver that is notified on every reload, for callers that act on changes.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.rx.clone()
    }
}

struct Poller {
    path: PathBuf,
    last: Option<Fingerprint>,
    snapshot: Snapshot,
}

impl Poller {
    /// Re-reads the file if its fingerprint moved; returns whether the snapshot changed.
    async fn poll(&mut self) -> bool {
        let fingerprint = match fingerprint(&self.path).await {
            Ok(f) => f,
            Err(error) => return self.record(None, Err(error)),
        };
        if self.last.as_ref() == Some(&fingerprint) {
            return false;
        }
        let outcome = read_config(&self.path).await;
        self.record(Some(fingerprint), outcome)
    }

    fn record(
        &mut self,
        fingerprint: Option<Fingerprint>,
        outcome: Result<ClusterConfig, ConfigError>,
    ) -> bool {
        self.last = fingerprint;
        let changed = match outcome {
            Ok(config) => {
                let changed = self.snapshot.error.is_some() || *self.snapshot.config != config;
                if changed {
                    tracing::info!(path = %self.path.display(), clusters = config.entries().len(), "cluster config loaded");
                }
                self.snapshot.config = Arc::new(config);
                self.snapshot.error = None;
                changed
            }
            Err(error) => {
                let changed = self.snapshot.error.as_ref() != Some(&error);
                if changed {
                    tracing::warn!(%error, "cluster config not loaded; keeping the previous one");
                }
                self.snapshot.error = Some(error);
                changed
            }
        };
        if changed {
            self.snapshot.generation += 1;
        }
        changed
    }
}

async fn fingerprint(path: &Path) -> Result<Fingerprint, ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let meta = with_deadline(path, tokio::fs::metadata(path)).await?;
    Ok(Fingerprint {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: meta.modified().ok(),
    })
}

async fn read_config(path: &Path) -> Result<ClusterConfig, ConfigError> {
    let bytes = with_deadline(path, tokio::fs::read(path)).await?;
    ClusterConfig::parse(path, &bytes)
}

async fn with_deadline<T>(
    path: &Path,
    io: impl Future<Output = std::io::Result<T>>,
) -> Result<T, ConfigError> {
    let read_error = |message: String| ConfigError::Read {
        path: path.to_path_buf(),
        message,
    };
    match tokio::time::timeout(READ_DEADLINE, io).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(read_error(e.to_string())),
        Err(_) => Err(read_error(format!("no answer within {READ_DEADLINE:?}"))),
    }
}

#[cfg(test)]
mod tests;
