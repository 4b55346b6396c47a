//! The rig's one error type: what stops a run's set-up (flags, bed env file, key file, Ceph
//! calls of the namespace and inventory, set-up RPCs, the trash purge wait).
//!
//! Messages name the file, flag, object or RPC at fault and never carry a cephx key.

use std::path::PathBuf;

/// `Result` with the rig's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or value refused before touching anything.
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
    /// A Ceph call made by the tool itself (connect, namespace, inventory, purge wait).
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
    /// The mgr did not purge the trash in time.
    #[error("trash of {namespace:?} still holds {left} image(s) after {waited_secs} s")]
    PurgeTimeout {
        namespace: String,
        left: usize,
        waited_secs: u64,
    },
}

impl Error {
    /// [`Error::Ceph`] at `step`.
    pub fn ceph(step: impl Into<String>, source: ceph::Error) -> Error {
        Error::Ceph {
            step: step.into(),
            source,
        }
    }

    /// [`Error::Rpc`] from the status `rpc` answered.
    pub fn rpc(rpc: &'static str, status: &tonic::Status) -> Error {
        Error::Rpc {
            rpc,
            code: crate::grpc_code::code_name(status.code()),
            message: status.message().to_owned(),
        }
    }
}
