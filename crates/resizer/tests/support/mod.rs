//! The resizer's own test support; the real parts every sidecar's tests share (processes,
//! nats-server, the controller, the stand-in's objects) are in `sepia-sidecar-testkit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

/// Unmounts (innermost first, lazily as a last resort) everything mounted under `root`, so a
/// failed test leaves no mount or rbd-fuse daemon behind.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        sepia_testbed::mounts::unmount_under(&self.0, true);
    }
}
