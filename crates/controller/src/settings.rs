//! What the controller is told at start-up (from flags in the binary, from a fixture in tests).
//! [`flags`]: the flags both controller plugins share.

pub mod flags;

use std::path::PathBuf;
use std::time::Duration;

use events::Publisher;

use crate::advertised::AlphaCapabilities;
use failpoint::Failpoints;

/// ceph-csi's clone-depth limits (`--rbdsoftmaxclonedepth`, `--rbdhardmaxclonedepth`): at the
/// soft limit a clone chain is flattened in the background, at the hard limit a restore or
/// clone is refused (ABORTED) until the flatten is done. The kernel maps at most 16 levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneDepth {
    pub soft: u32,
    pub hard: u32,
}

impl Default for CloneDepth {
    fn default() -> Self {
        CloneDepth { soft: 4, hard: 8 }
    }
}

impl CloneDepth {
    /// Checks ceph-csi's bounds (hard 1..=14, soft ≤ hard).
    pub fn new(soft: u32, hard: u32) -> Result<Self, String> {
        if !(1..=14).contains(&hard) {
            return Err(format!("hard clone depth {hard} is outside 1..=14"));
        }
        if soft == 0 || soft > hard {
            return Err(format!("soft clone depth {soft} must be within 1..={hard}"));
        }
        Ok(CloneDepth { soft, hard })
    }
}

/// How trashed images are purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrashPurge {
    /// ceph-csi's way: a mgr `rbd task add trash remove`, so a delete returns at once whatever
    /// the image size, and the mgr retries images that still have clones. The mgr runs these
    /// tasks one at a time for the whole cluster.
    #[default]
    Mgr,
    /// Remove from the trash within the call: predictable for small images or a busy mgr; an
    /// image that still has clones stays in the trash until a later delete frees it.
    Direct,
    /// Leave the purge to a mgr `rbd trash purge schedule` (every minute) on the pool and
    /// namespace, added once per process: a delete makes no mgr call at all, so deletes are not
    /// serialised through the mgr, and an image trashed just before a crash is purged anyway.
    /// The schedule purges every expired trash entry of the namespace, not only ours: for
    /// namespaces that belong to the driver.
    Schedule,
}

impl std::str::FromStr for TrashPurge {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "mgr" => Ok(TrashPurge::Mgr),
            "direct" => Ok(TrashPurge::Direct),
            "schedule" => Ok(TrashPurge::Schedule),
            other => Err(format!("{other:?} is not mgr, direct or schedule")),
        }
    }
}

/// Start-up settings of the controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The CSI driver name (`rbd.csi.sepia.io`, or ceph-csi's to take over its volumes).
    pub driver_name: String,
    /// ceph-csi's `--instanceid`: names the journal directories and the node registry object.
    pub instance_id: String,
    /// Deadlines of single Ceph calls (connect, and every other call).
    pub ceph_timeouts: ceph::Timeouts,
    /// Overall budget of one RPC (a gRPC deadline sent by the client shortens it).
    pub rpc_timeout: Duration,
    /// How long an unused Ceph connection is kept.
    pub connection_idle: Duration,
    /// Connects in flight, in total and per user (`--max-concurrent-connects`,
    /// `--max-connects-per-user`); beyond them a request needing a new connection answers
    /// UNAVAILABLE at once.
    pub connect_limits: ceph::ConnectLimits,
    /// How long a RADOS lock outlives its holder's last renewal (renewed at a third of it):
    /// the time another process waits after a crash. See [`crate::locks`].
    pub lock_duration: Duration,
    pub clone_depth: CloneDepth,
    pub trash_purge: TrashPurge,
    /// A mounted Secret (files `userID`, `userKey`) for the RPCs CSI sends without secrets.
    pub controller_credentials_dir: Option<PathBuf>,
    /// Crash points for tests; disarmed in production.
    pub failpoints: Failpoints,
    /// Where lifecycle events go; [`Publisher::disabled`] without `--nats-url`.
    pub events: Publisher,
    /// Alpha CSI capabilities advertised and served (`--alpha-capabilities`).
    pub alpha: AlphaCapabilities,
    /// Counted RPCs, lock contention and background work; registered nowhere by default.
    pub metrics: crate::metrics::Metrics,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            driver_name: "rbd.csi.sepia.io".to_owned(),
            instance_id: journal::DEFAULT_INSTANCE.to_owned(),
            ceph_timeouts: ceph::Timeouts::default(),
            rpc_timeout: Duration::from_secs(60),
            connection_idle: Duration::from_secs(600),
            connect_limits: ceph::ConnectLimits::default(),
            lock_duration: Duration::from_secs(30),
            clone_depth: CloneDepth::default(),
            trash_purge: TrashPurge::default(),
            controller_credentials_dir: None,
            failpoints: Failpoints::default(),
            events: Publisher::disabled(),
            alpha: AlphaCapabilities::default(),
            metrics: crate::metrics::Metrics::default(),
        }
    }
}
