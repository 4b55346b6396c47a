//! Everything that can go wrong in the node plugin, in one enum. `status.rs` maps each variant
//! to the gRPC code the CSI spec names. Messages name the volume, path and step; they never
//! carry a key (keys only ever live in key files, and child output is scrubbed). Whatever a
//! client sent (IDs, paths, names) is quoted through [`quote`], which cuts it after 256 bytes,
//! so a huge value still comes back as a small, readable error.

use std::path::PathBuf;
use std::time::Duration;

use csi::quote::{quote, quote_path};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    // --- the request itself is wrong ---
    #[error("{field} is required")]
    MissingField { field: &'static str },
    #[error("{field}: {rule}")]
    InvalidField { field: &'static str, rule: String },

    /// NodePublish without the staging path a STAGE_UNSTAGE plugin needs; the spec names
    /// FAILED_PRECONDITION for exactly this case.
    #[error("staging_target_path is required: this plugin stages volumes (STAGE_UNSTAGE_VOLUME)")]
    StagingPathNotSet,

    // --- what the request names is not here ---
    #[error("volume {} is not staged at {}", quote(.volume_id), quote_path(.path))]
    NotStaged { volume_id: String, path: PathBuf },
    #[error("volume {}: nothing at {}", quote(.volume_id), quote_path(.path))]
    PathNotFound { volume_id: String, path: PathBuf },
    /// The path holds something this plugin did not make for this volume: it is never
    /// touched, whatever the request asks.
    #[error("volume {}: {} is not this volume's ({reason})", quote(.volume_id), quote_path(.path))]
    NotOurs {
        volume_id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("RBD image {image} does not exist (or is not visible with these credentials)")]
    ImageNotFound { image: String },

    // --- the request asks for more than there is ---
    #[error(
        "volume {}: {required} bytes asked for, but its device has {available} bytes \
         (has ControllerExpandVolume grown the image?)",
        quote(.volume_id)
    )]
    BeyondDevice {
        volume_id: String,
        required: u64,
        available: u64,
    },

    // --- it is here, but not as asked ---
    #[error("volume {} is already staged at {} differently: {reason}", quote(.volume_id), quote_path(.path))]
    StagedDifferently {
        volume_id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("volume {} is already published at {} differently: {reason}", quote(.volume_id), quote_path(.path))]
    PublishedDifferently {
        volume_id: String,
        path: PathBuf,
        reason: String,
    },

    // --- another operation holds the volume ---
    #[error("an operation on volume {} is already in progress", quote(.volume_id))]
    OperationInProgress { volume_id: String },

    // --- the node cannot do it (set-up, not request, problem) ---
    #[error("cluster {}: {reason}", quote(.cluster_id))]
    Cluster { cluster_id: String, reason: String },
    #[error("mapper {mapper} is not usable on this node: {reason}")]
    MapperUnavailable { mapper: String, reason: String },
    #[error("{device} already holds {found}, but the volume capability asks for {wanted}")]
    FilesystemMismatch {
        device: String,
        found: String,
        wanted: String,
    },
    #[error("cannot {step}: this process lacks {capability}: {detail}")]
    MissingPrivilege {
        step: &'static str,
        capability: &'static str,
        detail: String,
    },
    #[error("stash {} of volume {} belongs to volume {}", quote_path(.path), quote(.volume_id), quote(.other))]
    StashOfOtherVolume {
        volume_id: String,
        other: String,
        path: PathBuf,
    },

    // --- children and the kernel ---
    #[error("cannot start {command}: {message}")]
    CommandSpawn { command: String, message: String },
    #[error("{command} did not finish within {after:?} and was killed")]
    CommandTimedOut { command: String, after: Duration },
    #[error("{command} failed (exit {code:?}): {output}")]
    CommandFailed {
        command: String,
        code: Option<i32>,
        output: String,
    },
    #[error("{step} {}: {message}", quote_path(.path))]
    Io {
        step: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("{step} {}: no answer within {after:?}", quote_path(.path))]
    IoTimedOut {
        step: &'static str,
        path: PathBuf,
        after: Duration,
    },
    #[error("stash {} is unreadable: {message}", quote_path(.path))]
    BadStash { path: PathBuf, message: String },
    #[error("{step}: {message}")]
    Device { step: &'static str, message: String },

    // --- serving ---
    #[error("node registration in cluster {cluster_id:?}: {message}")]
    Registry { cluster_id: String, message: String },
    #[error("cannot serve {what}: {message}")]
    Serve { what: &'static str, message: String },
    #[error("kubelet rejected the plugin registration: {error}")]
    RegistrationRejected { error: String },
}

impl NodeError {
    pub fn io(step: &'static str, path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        NodeError::Io {
            step,
            path: path.into(),
            message: e.to_string(),
        }
    }

    pub fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        NodeError::InvalidField {
            field,
            rule: rule.into(),
        }
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;
