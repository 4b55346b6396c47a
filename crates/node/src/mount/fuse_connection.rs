//! Cutting off a FUSE mount whose daemon is gone or stuck.
//!
//! While a FUSE daemon does not answer, every process touching its mount waits in the kernel,
//! uninterruptibly once the daemon has read the request: `stat`, `umount(8)`, the loop device
//! over its file, the file system on that loop device. SIGKILL does not free them. Aborting the
//! connection does (`abort` in the fusectl file system, as `fusermount`'s documentation and the
//! kernel's fuse.rst describe): every request pending or to come fails with ENOTCONN, the
//! waiters return, and the mounts above and the FUSE mount itself can be unmounted. The daemon
//! is then killed, so a stopped one does not linger.
//!
//! fusectl is used where the host mounted it (`/sys/fs/fuse/connections`); where it is not
//! mounted, the plugin mounts it in its own state directory for the one write and unmounts it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::NodeError;
use crate::mount;
use crate::mount::mountinfo::{self, MountEntry};
use crate::process::ChildCommand;
use crate::syscall;

/// A process serving a FUSE mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub pid: i32,
    /// The state letter of `/proc/<pid>/stat` (`R`, `S`, `D`, `T` stopped, `Z` zombie …).
    pub state: char,
}

impl Daemon {
    /// Stopped (SIGSTOP, a debugger) or already dead: it will answer nothing.
    pub fn is_stopped_or_dead(&self) -> bool {
        matches!(self.state, 'T' | 't' | 'Z' | 'X' | 'x')
    }
}

/// Processes named `program` with `dir` as one of their arguments: the daemon serving the
/// mount at `dir` (each rbd-fuse mount directory is one volume's own).
pub async fn daemons_serving(program: &'static str, dir: &Path) -> Result<Vec<Daemon>, NodeError> {
    let dir = dir.as_os_str().as_encoded_bytes().to_vec();
    syscall::blocking("scan processes in", Path::new("/proc"), move || {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc")? {
            let Some(pid) = entry?
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            // A process may exit while it is looked at: skip what cannot be read.
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let mut argv = cmdline.split(|b| *b == 0);
            let named = argv
                .next()
                .and_then(|argv0| argv0.rsplit(|b| *b == b'/').next())
                .is_some_and(|name| name == program.as_bytes());
            if !named || !argv.any(|arg| arg == dir.as_slice()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some(state) = process_state(&stat) {
                found.push(Daemon { pid, state });
            }
        }
        Ok(found)
    })
    .await
}

/// The state letter from `/proc/<pid>/stat`: after the command name, which is in parentheses
/// and may itself hold `)`.
fn process_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// SIGKILL to each daemon; one already gone is fine.
pub fn kill(daemons: &[Daemon]) {
    for daemon in daemons {
        if let Some(pid) = rustix::process::Pid::from_raw(daemon.pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Aborts the FUSE connection of `mount` (a FUSE mount's entry in the mount table).
/// `private_dir` is where fusectl is mounted when the host has not mounted it.
pub async fn abort(
    mount: &MountEntry,
    private_dir: &Path,
    deadline: Duration,
) -> Result<(), NodeError> {
    // fusectl names a connection by the mount's device number as the kernel encodes it.
    let connection = (u64::from(mount.major) << 20) | u64::from(mount.minor);
    let entries = mountinfo::read().await?;
    if let Some(fusectl) = entries.iter().rev().find(|e| e.fs_type == "fusectl") {
        return write_abort(&fusectl.mount_point.join(connection.to_string())).await;
    }
    syscall::create_private_dir(private_dir).await?;
    ChildCommand::new("mount", deadline)
        .args(["-t", "fusectl", "fusectl"])
        .arg(private_dir)
        .run()
        .await?;
    let written = write_abort(&private_dir.join(connection.to_string())).await;
    let unmounted = mount::unmount(private_dir, deadline).await;
    written.and(unmounted)
}

/// `1` into `<connection>/abort`; a connection that is already gone needs no abort.
async fn write_abort(connection: &Path) -> Result<(), NodeError> {
    let file: PathBuf = connection.join("abort");
    let owned = file.clone();
    match syscall::blocking_raw("abort FUSE connection", &file, move || {
        std::fs::write(owned, "1")
    })
    .await?
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NodeError::io("abort FUSE connection", &file, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_comes_after_the_command_name_whatever_it_holds() {
        assert_eq!(process_state("1189 (rbd-fuse) S 1 1189 ..."), Some('S'));
        assert_eq!(process_state("7 (a) b) T 1 7"), Some('T'));
        assert_eq!(process_state("garbage"), None);
        assert!(Daemon { pid: 1, state: 'T' }.is_stopped_or_dead());
        assert!(!Daemon { pid: 1, state: 'S' }.is_stopped_or_dead());
    }

    #[tokio::test]
    async fn a_daemon_is_found_by_its_exact_mount_directory_argument() {
        // `; :` keeps sh from exec'ing sleep, so its command line keeps the directory.
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 4545.5; :", "sh", "/some/fuse/dir"])
            .process_group(0)
            .spawn()
            .unwrap();
        // Right after the spawn, sh's fork for `sleep` may not have exec'd yet and carries
        // the same command line: wait until only the daemon itself is left.
        let mut found = Vec::new();
        for _ in 0..100 {
            found = daemons_serving("sh", Path::new("/some/fuse/dir"))
                .await
                .unwrap();
            if found.len() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let others = daemons_serving("sh", Path::new("/some/fuse"))
            .await
            .unwrap();
        let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process_group(group, rustix::process::Signal::KILL).unwrap();
        child.wait().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid as u32, child.id());
        assert!(others.iter().all(|d| d.pid as u32 != child.id()));
    }
}
