//! Sepia's binaries as child processes, each with its log in the run's directory, ended
//! (SIGTERM, then SIGKILL) when the run ends. A process gets its container's environment and
//! `PATH` only, as a container gets the pod's env and not the test runner's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::process::{Child, Command};

/// Every binary a stand-in run starts.
pub const BINARIES: &[&str] = &[
    "sepia-controller",
    "sepia-node",
    "sepia-provisioner",
    "sepia-snapshotter",
    "sepia-resizer",
    "sepia-attacher",
    "sepia-cephfs-node",
    "sepia-cephfs-controller",
];

/// Where the binaries are: `SEPIA_BIN_DIR`, else the cargo target directory this test was
/// built into (`target/debug`, the parent of `deps/`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEPIA_BIN_DIR") {
        return dir.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target/debug"))
}

/// The binaries not built yet (the stand-in scenarios cannot run without them).
pub fn missing() -> Vec<String> {
    let dir = bin_dir();
    BINARIES
        .iter()
        .filter(|b| !dir.join(b).is_file())
        .map(|b| (*b).to_owned())
        .collect()
}

pub struct Processes {
    logs: PathBuf,
    /// Behind a lock so the run's guard can check them while a scenario holds the cluster.
    children: Mutex<Vec<(String, Child)>>,
}

impl Processes {
    pub fn new(logs: &Path) -> Result<Self> {
        std::fs::create_dir_all(logs)?;
        Ok(Self {
            logs: logs.to_owned(),
            children: Mutex::new(Vec::new()),
        })
    }

    fn children(&self) -> MutexGuard<'_, Vec<(String, Child)>> {
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `binary` with `args` and `env`; `label` names its log file.
    pub fn spawn(
        &self,
        label: &str,
        binary: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<()> {
        ensure!(
            BINARIES.contains(&binary),
            "{label}: image binary {binary} is not one of Sepia's ({})",
            BINARIES.join(", ")
        );
        let log = std::fs::File::create(self.logs.join(format!("{label}.log")))?;
        let child = Command::new(bin_dir().join(binary))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        self.children().push((label.to_owned(), child));
        Ok(())
    }

    /// Fails if a child has exited (a wrong flag, a crash): the scenario would only time out.
    pub fn check_running(&self) -> Result<()> {
        for (label, child) in self.children().iter_mut() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!(
                    "{label} exited with {status}; its log:\n{}",
                    tail(&self.logs.join(format!("{label}.log")))
                );
            }
        }
        Ok(())
    }

    /// The last lines of every log, for a failed scenario's report.
    pub fn dump_logs(&self) {
        for (label, _) in self.children().iter() {
            eprintln!(
                "----- {label} (last lines) -----\n{}",
                tail(&self.logs.join(format!("{label}.log")))
            );
        }
    }

    /// Each process's peak resident memory so far (VmHWM), for sizing the manifests' memory
    /// requests and limits from a real run.
    pub fn peak_memory(&self) -> Vec<(String, Option<u64>)> {
        self.children()
            .iter()
            .map(|(label, child)| {
                let kib = child.id().and_then(|pid| {
                    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
                    line.split_whitespace().nth(1)?.parse::<u64>().ok()
                });
                (label.clone(), kib)
            })
            .collect()
    }

    /// SIGTERM to all, then SIGKILL to whatever still runs after 10 s.
    pub async fn stop(&mut self) {
        let peaks: Vec<String> = self
            .peak_memory()
            .into_iter()
            .map(|(label, kib)| match kib {
                Some(kib) => format!("{label} {:.1} MiB", kib as f64 / 1024.0),
                None => format!("{label} gone"),
            })
            .collect();
        eprintln!(
            "peak RSS (VmHWM) of the run's processes: {}",
            peaks.join(", ")
        );
        let children = self
            .children
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, child) in children.iter() {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) on a pid we spawned and still own (not yet reaped).
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        for (_, child) in children.iter_mut() {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
