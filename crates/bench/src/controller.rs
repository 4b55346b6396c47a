//! `--spawn-controller`: runs the controller under test as a child process on a socket of its
//! own, with a generated ceph-csi `config.json`, so its memory can be sampled and it cannot
//! outlive the bench.
//!
//! Secrets are not written anywhere: the controller gets them in each CSI request, as under
//! the external-provisioner.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::error::{Error, Result};

/// How long the controller may take to create its socket and answer.
const STARTUP: Duration = Duration::from_secs(60);
/// How long it may take to exit after SIGTERM before it is killed.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// The cluster the controller is configured for.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub cluster_id: String,
    pub monitors: Vec<String>,
    /// `rbd.radosNamespace`.
    pub rados_namespace: String,
}

impl ClusterSpec {
    /// The ceph-csi `config.json` with this one cluster.
    pub fn config_json(&self) -> serde_json::Value {
        json!([{
            "clusterID": self.cluster_id,
            "monitors": self.monitors,
            "rbd": { "radosNamespace": self.rados_namespace },
        }])
    }
}

/// A running controller, killed when dropped.
pub struct SpawnedController {
    binary: String,
    child: Child,
    dir: TempDir,
    pub endpoint: String,
    pub pid: u32,
}

impl SpawnedController {
    /// Starts `binary` with its socket and config in a fresh temporary directory and waits
    /// until the socket exists. The caller checks readiness with a Probe.
    pub async fn start(
        binary: &Path,
        driver_name: &str,
        extra_args: &[String],
        cluster: &ClusterSpec,
    ) -> Result<SpawnedController> {
        let name = binary.display().to_string();
        let fail = |reason: String| Error::Controller {
            binary: name.clone(),
            reason,
        };
        let dir = tempfile::Builder::new()
            .prefix("sepia-bench-controller-")
            .tempdir()
            .map_err(|source| rig::Error::Io {
                what: "creating a directory for",
                path: binary.to_owned(),
                source,
            })?;
        let config = dir.path().join("config.json");
        write(&config, &cluster.config_json().to_string())?;
        let socket = dir.path().join("csi.sock");
        let log = dir.path().join("controller.log");
        let log_file = std::fs::File::create(&log).map_err(|source| rig::Error::Io {
            what: "creating",
            path: log.clone(),
            source,
        })?;
        let log_err = log_file.try_clone().map_err(|source| rig::Error::Io {
            what: "opening",
            path: log.clone(),
            source,
        })?;
        let endpoint = format!("unix://{}", socket.display());
        let mut child = Command::new(binary)
            .arg("--endpoint")
            .arg(&endpoint)
            .arg("--driver-name")
            .arg(driver_name)
            .arg("--cluster-config")
            .arg(&config)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot start: {e}")))?;
        let pid = child
            .id()
            .ok_or_else(|| fail("exited at once".to_owned()))?;
        let start = Instant::now();
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let kept = dir.keep();
                return Err(fail(format!(
                    "exited with {status} before creating its socket; log: {}",
                    kept.join("controller.log").display()
                )));
            }
            if start.elapsed() > STARTUP {
                let kept = dir.keep();
                return Err(fail(format!(
                    "no socket after {STARTUP:?}; log: {}",
                    kept.join("controller.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(SpawnedController {
            binary: name,
            child,
            dir,
            endpoint,
            pid,
        })
    }

    /// The controller's log file (inside a directory removed on drop).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("controller.log")
    }

    /// SIGTERM, then SIGKILL after a grace period; keeps the log when the controller did not
    /// exit cleanly, and says where.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let status = match tokio::time::timeout(SHUTDOWN, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(self.failed(format!("cannot wait for exit: {e}"))),
            Err(_) => {
                let _ = self.child.kill().await;
                return Err(self.failed(format!("did not exit within {SHUTDOWN:?} of SIGTERM")));
            }
        };
        if status.success() {
            Ok(())
        } else {
            Err(self.failed(format!("exited with {status} after SIGTERM")))
        }
    }

    fn failed(self, reason: String) -> Error {
        let kept = self.dir.keep();
        Error::Controller {
            binary: self.binary,
            reason: format!("{reason}; log: {}", kept.join("controller.log").display()),
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| {
        rig::Error::Io {
            what: "writing",
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_json_is_ceph_csi_shaped() {
        let spec = ClusterSpec {
            cluster_id: "bench".into(),
            monitors: vec!["127.0.0.1:40123".into()],
            rados_namespace: "bench-1".into(),
        };
        assert_eq!(
            spec.config_json().to_string(),
            r#"[{"clusterID":"bench","monitors":["127.0.0.1:40123"],"rbd":{"radosNamespace":"bench-1"}}]"#
        );
    }
}
