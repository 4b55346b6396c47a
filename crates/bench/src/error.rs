//! The bench's one error type: everything that stops a run before or between phases. Failures of
//! single operations inside a phase are not errors of the run; they are counted ([`crate::outcome`]).
//!
//! Messages name the file, flag, object or RPC at fault and never carry a cephx key.

/// `Result` with the bench's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Set-up shared with the demo (flags, bed env file, key file, namespace, inventory, set-up
    /// RPCs, the purge wait): `sepia-rig`'s errors.
    #[error(transparent)]
    Rig(#[from] rig::Error),
    /// The untimed warm-up operation failed, so timing would measure a broken setup.
    #[error("warm-up {op} ({mode}) failed with {code}: {message}")]
    WarmUp {
        mode: &'static str,
        op: &'static str,
        code: &'static str,
        message: String,
    },
    /// The spawned controller did not come up (its log is kept and named).
    #[error("controller {binary}: {reason}")]
    Controller { binary: String, reason: String },
    /// Ctrl-C or SIGTERM stopped the run (its namespace was still cleaned up).
    #[error("interrupted")]
    Interrupted,
}

impl From<csi::Error> for Error {
    fn from(e: csi::Error) -> Self {
        Error::Rig(rig::Error::Connect(e))
    }
}

impl Error {
    pub(crate) fn ceph(step: impl Into<String>, source: ceph::Error) -> Error {
        Error::Rig(rig::Error::ceph(step, source))
    }
}
