//! The resizer's error type. Messages name the claim, volume or Secret and the step; Secret
//! values never reach them (only the Secret's name and the offending key's name do).

/// Failures of one reconcile or of start-up.
#[derive(Debug, thiserror::Error)]
pub enum ResizerError {
    /// A Kubernetes API call failed.
    #[error("{op}: {source}")]
    Kube {
        op: String,
        #[source]
        source: kube::Error,
    },

    /// The driver cannot expand volumes from the controller side.
    #[error("CSI driver {driver:?} does not offer the controller capability EXPAND_VOLUME")]
    NoExpandCapability { driver: String },

    /// The shared sidecar runtime failed, or a Secret the PV names could not be read (missing,
    /// not text, or the read failed).
    #[error(transparent)]
    Sidecar(#[from] sidecar::SidecarError),
}

impl ResizerError {
    pub fn kube(op: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let op = op.into();
        move |source| Self::Kube { op, source }
    }

    /// A 409 from the API server: our copy of the object is stale, re-read and redo.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
    }
}
