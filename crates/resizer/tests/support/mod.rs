//! The resizer's own test support; the real parts every sidecar's tests share (processes,
//! nats-server, the controller, the stand-in's objects) are in `sepia-sidecar-testkit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

/// Unmounts (innermost first, lazily as a last resort) everything mounted under `root`, so a
/// failed test leaves no mount or rbd-fuse daemon behind.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let root = self.0.display().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.reverse();
        for mount in mounts {
            let _ = Command::new("umount").arg(&mount).status();
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
    }
}
