//! The one place child processes are started: every `rbd`, `rbd-fuse`, `losetup`, `mkfs`,
//! `mount` … runs here, with a deadline past which it is killed, so no handler can forget one.
//!
//! A child runs in its own process group; on timeout or when the request is cancelled (the
//! future dropped) the whole group gets SIGKILL, so a helper the child forked dies with it.
//! Daemons that detach on purpose (`rbd-fuse`, `rbd-nbd`) start a new session and are not
//! touched. Waiting for a killed child is bounded too ([`KILL_GRACE`]): one stuck in the
//! kernel cannot be killed, and must not hold the request with it. Output is captured (capped) for the typed error; anything listed with
//! [`ChildCommand::redact`] is replaced before it can reach an error or a log. Keys never go on
//! the command line in the first place (they travel in key files), so this is a second fence.

use std::ffi::{OsStr, OsString};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

use crate::error::NodeError;

/// Output kept per stream; enough for any error message, bounded against a chatty child.
const OUTPUT_CAP: usize = 64 * 1024;
/// After the child exits, how long its pipes may stay open (held by a grandchild) before the
/// output collected so far is used.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// After SIGKILL, how long to wait for the child to be gone before answering without it.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A command line plus its deadline.
#[derive(Clone)]
pub struct ChildCommand {
    program: String,
    args: Vec<OsString>,
    deadline: Duration,
    redact: Vec<String>,
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct ChildOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ChildOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl ChildCommand {
    pub fn new(program: impl Into<String>, deadline: Duration) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            deadline,
            redact: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Never let `secret` appear in captured output.
    pub fn redact(mut self, secret: &str) -> Self {
        if !secret.is_empty() {
            self.redact.push(secret.to_string());
        }
        self
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The command as a human reads it, for errors and logs (arguments never hold secrets).
    pub fn command_line(&self) -> String {
        let mut line = self.program.clone();
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }

    /// Runs the child and returns its output whatever the exit status; errors only when it
    /// cannot start or misses its deadline.
    pub async fn output(&self) -> Result<ChildOutput, NodeError> {
        let command = self.scrub(self.command_line());
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| NodeError::CommandSpawn {
            command: command.clone(),
            message: e.to_string(),
        })?;
        let group = GroupKill::new(child.id());
        let stdout = child.stdout.take().map(|s| tokio::spawn(read_capped(s)));
        let stderr = child.stderr.take().map(|s| tokio::spawn(read_capped(s)));
        tracing::debug!(%command, pid = child.id(), "child started");

        match tokio::time::timeout(self.deadline, child.wait()).await {
            Ok(Ok(status)) => {
                group.disarm();
                let stdout = self.scrub(collect(stdout).await);
                let stderr = self.scrub(collect(stderr).await);
                tracing::debug!(%command, ?status, "child finished");
                Ok(ChildOutput {
                    status,
                    stdout,
                    stderr,
                })
            }
            Ok(Err(e)) => Err(NodeError::CommandSpawn {
                command,
                message: format!("waiting for the child failed: {e}"),
            }),
            Err(_elapsed) => {
                group.kill_now();
                abort(stdout);
                abort(stderr);
                // Reap it, so "killed" means gone, not a zombie; but only for a while: a child
                // in uninterruptible sleep (a request to a stuck FUSE daemon, a hung device)
                // does not die from SIGKILL until the kernel lets go of it, and the request
                // must still answer. Dropping `child` leaves it to tokio's orphan reaper.
                let _ = child.start_kill();
                match tokio::time::timeout(KILL_GRACE, child.wait()).await {
                    Ok(_) => {
                        tracing::warn!(%command, deadline = ?self.deadline, "child killed at its deadline")
                    }
                    Err(_) => tracing::warn!(
                        %command, deadline = ?self.deadline, grace = ?KILL_GRACE,
                        "child killed at its deadline but still not gone (uninterruptible sleep); left to the reaper"
                    ),
                }
                Err(NodeError::CommandTimedOut {
                    command,
                    after: self.deadline,
                })
            }
        }
    }

    /// Runs the child and requires exit status 0.
    pub async fn run(&self) -> Result<ChildOutput, NodeError> {
        let output = self.output().await?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failed(&output))
        }
    }

    /// The typed error for a child that exited unsuccessfully.
    pub fn failed(&self, output: &ChildOutput) -> NodeError {
        let detail = if output.stderr.trim().is_empty() {
            output.stdout.trim()
        } else {
            output.stderr.trim()
        };
        NodeError::CommandFailed {
            command: self.scrub(self.command_line()),
            code: output.code(),
            output: detail.to_string(),
        }
    }

    fn scrub(&self, mut text: String) -> String {
        for secret in &self.redact {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }
}

impl std::fmt::Debug for ChildCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildCommand")
            .field("command", &self.command_line())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Kills the child's process group when dropped armed: a cancelled request must not leave a
/// `mkfs` or `rbd map` running behind it.
struct GroupKill {
    pgid: Option<rustix::process::Pid>,
}

impl GroupKill {
    fn new(pid: Option<u32>) -> Self {
        let pgid = pid
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw);
        Self { pgid }
    }

    fn disarm(mut self) {
        self.pgid = None;
    }

    fn kill_now(&self) {
        if let Some(pgid) = self.pgid {
            // ESRCH (already gone) is the outcome we want anyway.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill_now();
    }
}

async fn read_capped(mut pipe: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                // Keep draining past the cap so the child never blocks on a full pipe.
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

async fn collect(task: Option<JoinHandle<Vec<u8>>>) -> String {
    let Some(mut task) = task else {
        return String::new();
    };
    match tokio::time::timeout(PIPE_GRACE, &mut task).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(Err(_)) => String::new(),
        Err(_) => {
            task.abort();
            String::new()
        }
    }
}

fn abort(task: Option<JoinHandle<Vec<u8>>>) {
    if let Some(task) = task {
        task.abort();
    }
}

#[cfg(test)]
mod tests;
