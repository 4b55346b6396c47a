//! Mounts a test made under its own directory, for best-effort clean-up after a failed test:
//! a test that panics mid-way must not leave mounts on a machine other runs share.

use std::path::Path;
use std::process::Command;

/// Mount points at or below `root` (as mountinfo shows paths: give a canonical path), the most
/// recent first, so inner mounts come before what they sit on.
pub fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&root))
        .collect();
    mounts.reverse();
    mounts
}

/// Unmounts everything at or below `root`, innermost first; with `lazy`, a busy mount is
/// detached (`umount -l`) instead of kept. Errors are ignored: this is clean-up.
pub fn unmount_under(root: &Path, lazy: bool) {
    for mount in mounts_under(root) {
        let _ = Command::new("umount").arg(&mount).status();
        if lazy {
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
    }
}
