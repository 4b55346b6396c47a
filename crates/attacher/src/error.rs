//! The attacher's error type. Messages name the object and the step; Secret values never
//! reach them.

#[derive(Debug, thiserror::Error)]
pub enum AttacherError {
    /// A Kubernetes API call failed.
    #[error("{op}: {source}")]
    Kube {
        op: String,
        #[source]
        source: kube::Error,
    },

    /// The shared sidecar runtime failed, or a Secret the PV names could not be read (missing,
    /// not text, or the read failed).
    #[error(transparent)]
    Sidecar(#[from] sidecar::SidecarError),
}

impl AttacherError {
    pub fn kube(op: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let op = op.into();
        move |source| Self::Kube { op, source }
    }

    /// 409: our copy is stale; re-read and redo.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
    }

    /// 404: the object is gone (a released VA disappears with its last finalizer).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.code == 404)
    }
}
