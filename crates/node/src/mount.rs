//! mount(8)/umount(8) through the deadline-bound runner.
//!
//! The mount commands (not raw mount(2)) because they apply user-space options (`_netdev`),
//! resolve `-t` helpers and print errors an operator recognises; every call is still bounded
//! by a deadline like any other child.
//!
//! Beside them, everything else about mounts, grouped because each step that mounts or
//! unmounts uses them together and both node plugins (RBD and CephFS) share them: reading the
//! mount table ([`mountinfo`]), making and removing the targets ([`target`]), and cutting off a
//! FUSE mount whose daemon is gone or stuck ([`fuse_connection`]), so an unmount does not hang.

pub mod fuse_connection;
pub mod mountinfo;
pub mod target;

use std::path::Path;
use std::time::Duration;

use crate::error::NodeError;
use crate::process::ChildCommand;

/// Mounts `device` (a file system of `fs_type`) at `target`.
pub async fn mount_fs(
    device: &str,
    target: &Path,
    fs_type: &str,
    options: &[String],
    deadline: Duration,
) -> Result<(), NodeError> {
    let mut cmd = ChildCommand::new("mount", deadline).args(["-t", fs_type]);
    if !options.is_empty() {
        cmd = cmd.args(["-o", &options.join(",")]);
    }
    cmd.arg(device).arg(target).run().await?;
    Ok(())
}

/// Bind-mounts `source` onto `target` and, when `read_only` or `options` ask for it, remounts
/// the bind with them (a bind mount ignores options on the first call; the kernel applies
/// per-mount flags only on a bind remount).
pub async fn bind(
    source: &Path,
    target: &Path,
    read_only: bool,
    options: &[String],
    deadline: Duration,
) -> Result<(), NodeError> {
    ChildCommand::new("mount", deadline)
        .arg("--bind")
        .arg(source)
        .arg(target)
        .run()
        .await?;
    let mut flags: Vec<String> = options.to_vec();
    if read_only {
        flags.push("ro".to_string());
    }
    if flags.is_empty() {
        return Ok(());
    }
    let remount = format!("remount,bind,{}", flags.join(","));
    let result = ChildCommand::new("mount", deadline)
        .args(["-o", &remount])
        .arg(target)
        .run()
        .await;
    if let Err(e) = result {
        // Never leave a writable bind behind a request that asked for read-only.
        let _ = unmount(target, deadline).await;
        return Err(e);
    }
    Ok(())
}

/// Stacked mounts a single unmount call peels off at most: more than this at one path is a bug
/// elsewhere, reported instead of looped on.
const MAX_STACKED: usize = 8;

/// Unmounts everything at `target`; a path that is not mounted is already done.
pub async fn unmount(target: &Path, deadline: Duration) -> Result<(), NodeError> {
    for _ in 0..MAX_STACKED {
        if !mountinfo::is_mount_point(target).await? {
            return Ok(());
        }
        let cmd = ChildCommand::new("umount", deadline).arg(target);
        let output = cmd.output().await?;
        if !output.status.success() && mountinfo::is_mount_point(target).await? {
            return Err(cmd.failed(&output));
        }
    }
    if mountinfo::is_mount_point(target).await? {
        return Err(NodeError::Device {
            step: "unmount",
            message: format!(
                "{} still mounted after {MAX_STACKED} unmounts",
                target.display()
            ),
        });
    }
    Ok(())
}

/// Detaches the mount at `target` lazily (`umount -l`): gone from the mount table at once,
/// freed by the kernel when nothing uses it any more. Only for a mount that will not go
/// otherwise (an aborted FUSE mount still held open). `-c` skips umount(8)'s own `stat` of
/// the path, which a dead FUSE mount could hang.
pub async fn unmount_lazy(target: &Path, deadline: Duration) -> Result<(), NodeError> {
    if !mountinfo::is_mount_point(target).await? {
        return Ok(());
    }
    let cmd = ChildCommand::new("umount", deadline)
        .args(["-l", "-c"])
        .arg(target);
    let output = cmd.output().await?;
    if !output.status.success() && mountinfo::is_mount_point(target).await? {
        return Err(cmd.failed(&output));
    }
    Ok(())
}
