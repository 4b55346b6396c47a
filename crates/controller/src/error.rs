//! The crate's one error type.
//!
//! Variants are grouped by the gRPC code `status.rs` gives them; each message names the volume,
//! snapshot, node or parameter and the step that failed. Nothing here can hold a secret: the
//! variants carry names, ids and Ceph's own errors, which are built from names only. A value
//! that came from the client is shown through [`quote`]: escaped, cut after 256 bytes.

use std::time::Duration;

use csi::quote::quote;

/// Errors of the controller's domain code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- INVALID_ARGUMENT: the request itself is wrong; retrying it unchanged cannot help.
    /// A required request field is empty or absent.
    #[error("{field} is required")]
    Missing { field: &'static str },
    /// A request field breaks a rule.
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    /// A StorageClass / VolumeSnapshotClass parameter is unknown or breaks a rule.
    #[error("parameter {}: {rule}", quote(key))]
    InvalidParameter { key: String, rule: String },
    /// The request's secrets lack `userID` or `userKey`.
    #[error("secret {key:?} is missing from the request's secrets")]
    MissingSecret { key: &'static str },
    /// `userID` / `userKey` is present but not usable (e.g. not a cephx key).
    #[error("secret {key:?} is not usable: {rule}")]
    InvalidSecret { key: &'static str, rule: String },

    // --- NOT_FOUND
    /// The volume ID is malformed, names no configured cluster or pool, or no journal entry.
    #[error("volume {volume_id} does not exist: {why}")]
    VolumeNotFound { volume_id: String, why: String },
    /// Same for a snapshot ID.
    #[error("snapshot {snapshot_id} does not exist: {why}")]
    SnapshotNotFound { snapshot_id: String, why: String },
    /// No node plugin registered this node id in the cluster.
    #[error(
        "node {} is not registered in cluster {cluster_id:?} (its node plugin never started there)",
        quote(node_id)
    )]
    NodeNotFound { node_id: String, cluster_id: String },

    // --- ALREADY_EXISTS: the name is taken by something incompatible with this request.
    /// The journal holds the name with other parameters (source snapshot, encryption).
    #[error(transparent)]
    NameConflict(journal::Error),
    /// The existing volume under this name does not satisfy the request.
    #[error("volume {} already exists and {rule}", quote(request_name))]
    VolumeConflict { request_name: String, rule: String },
    /// The volume is already published to this node with another capability / readonly flag.
    #[error(
        "volume {volume_id} is already published to node {} {rule}",
        quote(node_id)
    )]
    PublishConflict {
        volume_id: String,
        node_id: String,
        rule: String,
    },

    // --- ABORTED: something is in flight; the CO retries with back-off.
    /// Another request holds the lock on this name or id.
    #[error("an operation on {what} is already in progress")]
    InProgress { what: String },
    /// The request lost one of its RADOS locks (expired while this process could not renew
    /// it, broken, taken over) and was stopped so it does nothing without it.
    #[error("{0}; the request was stopped and can be retried")]
    LockLost(#[from] ceph::LeaseLost),
    /// The clone chain is at the hard depth limit; a flatten was asked of the mgr.
    #[error(
        "image {image} is {depth} clones deep, at the hard limit of {hard}; it is being flattened, retry later"
    )]
    FlattenPending {
        image: String,
        depth: u32,
        hard: u32,
    },
    /// ListVolumes / ListSnapshots got a token we did not hand out.
    #[error("starting_token {} is not valid: {rule}", quote(token))]
    InvalidToken { token: String, rule: &'static str },

    // --- FAILED_PRECONDITION: the system is not in a state that allows the operation.
    /// The image of a volume or snapshot (`what`) still has watchers: mapped on a node, open in
    /// another process, or open in one that crashed (its watch lasts until the OSD times it out).
    #[error(
        "{what} (image {image}) is in use: {watchers} watcher(s) besides the controller (a client that crashed keeps its watch until the OSD's watch timeout, 30 s by default)"
    )]
    InUse {
        what: String,
        image: String,
        watchers: usize,
    },
    /// The source volume's image lacks `layering`, which snapshots and clones need; librbd
    /// cannot add it to an existing image.
    #[error(
        "volume {volume_id} (image {image}) has no layering feature, which {needed_for} needs; layering cannot be added to an existing image (the volume was created with imageFeatures that leave it out)"
    )]
    NoLayering {
        volume_id: String,
        image: String,
        needed_for: &'static str,
    },
    /// librbd refused to purge a trashed image because it is still watched (EBUSY). Nothing
    /// else would retry the purge, so the delete fails until the watch is gone.
    #[error(
        "image {image} is in the trash but still watched (open somewhere, or by a client that crashed, until the OSD's watch timeout, 30 s by default); it cannot be purged yet"
    )]
    TrashedImageWatched { image: String },
    /// A single-node volume is published to another node.
    #[error(
        "volume {volume_id} is published to node {} with the single-node access mode {mode}",
        quote(other_node)
    )]
    PublishedElsewhere {
        volume_id: String,
        other_node: String,
        mode: String,
    },
    /// An RPC without secrets needs the controller's standing credentials.
    #[error(
        "{rpc} carries no secrets and the controller has no standing credentials: start it with --controller-credentials-dir (a directory holding the files userID and userKey)"
    )]
    NoStandingCredentials { rpc: &'static str },
    /// The standing credentials directory cannot be read.
    #[error("standing credentials: {what}")]
    StandingCredentials { what: String },
    /// A volume ID names a cluster the configuration does not know.
    #[error("clusterID {} is not in the cluster config", quote(cluster_id))]
    UnknownCluster { cluster_id: String },

    // --- OUT_OF_RANGE
    /// The capacity range cannot be met.
    #[error("capacity_range: {rule}")]
    OutOfRange { rule: String },

    // --- PERMISSION_DENIED
    /// cephx refused the credentials (wrong key, or no such user).
    #[error(
        "cluster {cluster_id:?} refused userID {} with the given userKey (wrong key or missing caps): {source}",
        quote(user)
    )]
    CredentialsRejected {
        cluster_id: String,
        user: String,
        #[source]
        source: Box<ceph::Error>,
    },

    /// Authentication never completed although a monitor accepts connections: cephx ignores a
    /// wrong key until librados gives up, so this is what a wrong `userKey` looks like.
    #[error(
        "cluster {cluster_id:?} did not accept userID {} with the given userKey: authentication did not complete although monitor {monitor} accepts connections (wrong key, or a user without mon caps): {source}",
        quote(user)
    )]
    AuthenticationTimedOut {
        cluster_id: String,
        user: String,
        monitor: String,
        #[source]
        source: Box<ceph::Error>,
    },

    // --- UNAVAILABLE
    /// The cluster could not be reached.
    #[error("cluster {cluster_id:?} (monitors {monitors}) is unreachable: {source}")]
    ClusterUnreachable {
        cluster_id: String,
        monitors: String,
        #[source]
        source: Box<ceph::Error>,
    },
    /// Too many connects in flight (in total or as this user): refused at once so that
    /// connects that hang (wrong keys, a dead cluster) cannot starve connected requests.
    #[error("not connecting to cluster {cluster_id:?} as {user:?} now, retry later: {source}")]
    ConnectsBusy {
        cluster_id: String,
        user: String,
        #[source]
        source: Box<ceph::Error>,
    },

    // --- UNIMPLEMENTED
    /// An alpha RPC whose capability `--alpha-capabilities` does not turn on.
    #[error(
        "{rpc} is an alpha RPC of CSI and is off: start the controller with --alpha-capabilities including {capability} to serve it"
    )]
    AlphaOff {
        rpc: &'static str,
        capability: &'static str,
    },

    // --- DEADLINE_EXCEEDED
    /// The RPC's overall budget ran out.
    #[error("did not complete within {after:?}")]
    Deadline { after: Duration },

    // --- by the Ceph error inside
    /// A Ceph call failed at a named step.
    #[error("{step} of {object} failed: {source}")]
    Ceph {
        step: &'static str,
        object: String,
        #[source]
        source: ceph::Error,
    },
    /// A journal operation failed.
    #[error(transparent)]
    Journal(journal::Error),

    // --- INTERNAL
    /// A test failpoint simulated a crash; never rolled back.
    #[error(transparent)]
    Injected(#[from] failpoint::Injected),
    /// Something that should not happen (a corrupt record, an unexpected Ceph answer).
    #[error("{what}")]
    Internal { what: String },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A simulated crash, to be propagated without any clean-up.
    pub fn is_injected(&self) -> bool {
        match self {
            Error::Injected(_) => true,
            Error::Journal(e) | Error::NameConflict(e) => e.is_injected(),
            _ => false,
        }
    }

    /// Whether a failure should undo the attempt: not a simulated crash (a crashed process cleans
    /// nothing), not a timeout or lost cluster (the call may still land; the retry repairs), and
    /// not a lost lock (another request may own the name's images now).
    pub fn should_roll_back(&self) -> bool {
        if self.is_injected() {
            return false;
        }
        let may_land_or_not_ours = |c: &ceph::Error| c.is_timed_out() || c.is_not_locked();
        match self {
            Error::Deadline { .. }
            | Error::ClusterUnreachable { .. }
            | Error::InProgress { .. }
            | Error::LockLost(_) => false,
            // Refusals before anything was made for this attempt.
            Error::VolumeConflict { .. }
            | Error::NameConflict(_)
            | Error::FlattenPending { .. } => false,
            Error::Ceph { source, .. } => !may_land_or_not_ours(source),
            Error::Journal(journal::Error::Ceph { source, .. }) => !may_land_or_not_ours(source),
            _ => true,
        }
    }

    /// Builds [`Error::Ceph`].
    pub fn ceph(step: &'static str, object: impl Into<String>, source: ceph::Error) -> Error {
        Error::Ceph {
            step,
            object: object.into(),
            source,
        }
    }

    /// A failed read or write of one of [`journal::records`]: Ceph failures keep the wording
    /// and handling of the controller's other Ceph steps, an unreadable record is INTERNAL.
    pub fn record(e: journal::Error) -> Error {
        match e {
            journal::Error::Ceph {
                step,
                object,
                source,
            } => Error::Ceph {
                step,
                object,
                source,
            },
            journal::Error::BadRecord { .. } => Error::Internal {
                what: e.to_string(),
            },
            other => Error::from(other),
        }
    }

    /// Builds [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// Builds [`Error::InvalidParameter`].
    pub fn parameter(key: impl Into<String>, rule: impl Into<String>) -> Error {
        Error::InvalidParameter {
            key: key.into(),
            rule: rule.into(),
        }
    }
}

impl From<journal::Error> for Error {
    fn from(e: journal::Error) -> Self {
        match e {
            journal::Error::NameConflict { .. } => Error::NameConflict(e),
            journal::Error::InProgress { key } => Error::InProgress { what: key },
            other => Error::Journal(other),
        }
    }
}
