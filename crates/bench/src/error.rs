//! The bench's one error type: everything that stops a run before or between phases. Failures of
//! single operations inside a phase are not errors of the run; they are counted ([`crate::outcome`]).
//!
//! Messages name the file, flag, object or RPC at fault and never carry a cephx key.

use std::path::PathBuf;

/// `Result` with the bench's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or value the bench refuses before touching anything.
    #[error("invalid {field}: {rule}")]
    InvalidArgument { field: &'static str, rule: String },
    /// The bed's env file is missing or lacks a variable.
    #[error("bed env file {}: {reason}", path.display())]
    BedEnv { path: PathBuf, reason: String },
    /// A local file (key file, controller config, log) could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A Ceph call made by the bench itself (connect, namespace, inventory, purge wait).
    #[error("{step}: {source}")]
    Ceph {
        step: String,
        #[source]
        source: ceph::Error,
    },
    /// Dialing the CSI endpoint failed.
    #[error(transparent)]
    Connect(#[from] csi::Error),
    /// A set-up RPC (Probe, GetPluginInfo) failed; per-operation failures are counted instead.
    #[error("{rpc} failed with {code}: {message}")]
    Rpc {
        rpc: &'static str,
        code: &'static str,
        message: String,
    },
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
    /// The mgr did not purge the trash in time.
    #[error("trash of {namespace:?} still holds {left} image(s) after {waited_secs} s")]
    PurgeTimeout {
        namespace: String,
        left: usize,
        waited_secs: u64,
    },
}

impl Error {
    pub(crate) fn ceph(step: impl Into<String>, source: ceph::Error) -> Error {
        Error::Ceph {
            step: step.into(),
            source,
        }
    }

    pub(crate) fn rpc(rpc: &'static str, status: &tonic::Status) -> Error {
        Error::Rpc {
            rpc,
            code: crate::outcome::code_name(status.code()),
            message: status.message().to_owned(),
        }
    }
}
