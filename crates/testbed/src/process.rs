//! Child processes of real binaries. Each writes stdout and stderr to `<dir>/<name>.log`, so a
//! failing test can show what its processes said, and is killed (SIGKILL) when dropped, so a
//! failing test leaves nothing running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tokio::process::{Child, Command};

/// How often the waits below look again.
const POLL: Duration = Duration::from_millis(50);

/// A running child process.
pub struct Process {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` (whose program, arguments and environment the caller set), logging
    /// to `<dir>/<name>.log`.
    pub fn start(name: &str, mut command: Command, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Starts `program args` with `RUST_LOG=info`.
    pub fn spawn(name: &str, program: &Path, args: &[String], dir: &Path) -> Self {
        let mut command = Command::new(program);
        command.args(args).env("RUST_LOG", "info");
        Self::start(name, command, dir)
    }

    /// 0 once the process has been reaped.
    pub fn pid(&self) -> i32 {
        self.child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or(0)
    }

    /// SIGKILL and reap: a crash, no clean-up, no Lease release.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGKILL without waiting, for `Drop` (which cannot await); the runtime reaps it.
    pub fn sigkill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// SIGTERM: the graceful stop Kubernetes asks for first.
    pub fn sigterm(&self) {
        if let Some(pid) = Pid::from_raw(self.pid()) {
            let _ = kill_process(pid, Signal::TERM);
        }
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> ExitStatus {
        self.child.wait().await.unwrap()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        self.sigterm();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a line of the log satisfies `matches`; fails the test with the log's tail
    /// when the process exits first or `limit` passes.
    pub async fn wait_for_log_line(
        &mut self,
        what: &str,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.log().lines().any(&matches) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {what}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not log {what} within {limit:?}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until something accepts connections on the unix socket `path`; fails the test
    /// with the log's tail when the process exits first or `limit` passes.
    pub async fn wait_for_unix_socket(&mut self, path: &Path, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before serving {}:\n{}",
                    self.name,
                    path.display(),
                    self.log_tail()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not serve {} within {limit:?}:\n{}",
                self.name,
                path.display(),
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The last 40 lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Resident memory in KiB (0 when the process is gone).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The binary of another workspace package: next to the running test or example
/// (`target/<profile>/`), else in the target directory's `debug/`. A missing one is built
/// with `cargo build -p <name>` first, and its absence after that fails the test.
pub fn workspace_binary(name: &str) -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(name)));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("debug")
        .join(name);
    let found = || {
        [beside.clone(), Some(target.clone())]
            .into_iter()
            .flatten()
            .find(|p| p.exists())
    };
    if let Some(path) = found() {
        return path;
    }
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "-p", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build -p {name} failed");
    found().unwrap_or_else(|| {
        panic!(
            "{name} is not built: run `cargo build -p {name}` first (looked at {beside:?} and {})",
            target.display()
        )
    })
}

/// A free loopback port (for `--http-endpoint`, nats-server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `127.0.0.1:port`; fails the test after 20 s.
pub async fn wait_tcp(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port} after 20 s");
}
