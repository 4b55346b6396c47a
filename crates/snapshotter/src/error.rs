//! The crate's one error type. Messages name the object, class parameter, flag or call and the
//! rule that failed; none carries a Secret's content (secrets only ever travel inside CSI
//! requests, whose Debug redacts them).
//!
//! Grouped by where they arise: class and object input (shown to users in
//! `status.error`), flags, and the Kubernetes and CSI calls of the runtime.

/// Everything that can go wrong in the snapshotter.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotterError {
    // Class parameters (users fix these; retried at the slowest rate).
    /// A `…-secret-name` / `…-secret-namespace` pair that cannot name a Secret: half a pair,
    /// a token the snapshotter's Secret may not use, an invalid result.
    #[error(transparent)]
    SecretTemplate(#[from] sidecar::secret_template::TemplateError),
    #[error(
        "cannot find a default VolumeSnapshotClass for driver {driver}: set spec.volumeSnapshotClassName or annotate one class snapshot.storage.kubernetes.io/is-default-class: \"true\""
    )]
    NoDefaultClass { driver: String },
    #[error(
        "{count} default VolumeSnapshotClasses were found for driver {driver} ({names}): set spec.volumeSnapshotClassName"
    )]
    SeveralDefaultClasses {
        driver: String,
        count: usize,
        names: String,
    },

    // Objects the CSI half cannot act on.
    #[error("VolumeSnapshotContent {content} has no spec.source.volumeHandle to snapshot")]
    NoVolumeHandle { content: String },
    #[error(
        "VolumeSnapshotContent {content} has no spec.volumeSnapshotRef.uid: the snapshot name is derived from it"
    )]
    NoSnapshotUid { content: String },
    #[error("VolumeSnapshotContent {content}: {what}")]
    ContentInput { content: String, what: String },

    // Runtime.
    #[error("invalid value for --{flag}: {rule}")]
    InvalidFlag { flag: &'static str, rule: String },
    /// A Kubernetes API call failed.
    #[error("{op}: {source}")]
    Kube {
        op: String,
        #[source]
        source: kube::Error,
    },
    /// A CSI call failed (the status keeps the code for the retry decision).
    #[error("CSI {method} for {object}: {code:?}: {message}")]
    Csi {
        method: &'static str,
        object: String,
        code: tonic::Code,
        message: String,
    },
    #[error(transparent)]
    Sidecar(#[from] sidecar::SidecarError),
    #[error(transparent)]
    Crd(#[from] snapshot_api::SnapshotApiError),
}

impl SnapshotterError {
    /// A Kubernetes failure while doing `op`.
    pub fn kube(op: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            op: op.into(),
            source,
        }
    }

    /// The API server refused a write because the object changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.is_conflict())
    }

    /// The object is gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.is_not_found())
    }

    /// The object exists already.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.is_already_exists())
    }
}

pub type Result<T, E = SnapshotterError> = std::result::Result<T, E>;
