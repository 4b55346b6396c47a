//! Why a configuration could not be read, parsed or used.

use std::path::PathBuf;

/// Cloneable (messages, not sources) so the watcher can keep the last one and hand it to every
/// Probe without re-reading the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read cluster config {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cluster config {path} is not valid JSON of the expected shape: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cluster config entry {index} (clusterID {cluster_id:?}): field {field} {rule}")]
    Invalid {
        index: usize,
        cluster_id: String,
        field: &'static str,
        rule: &'static str,
    },
    #[error(
        "cluster config lists clusterID {cluster_id:?} more than once (entries {first} and {second})"
    )]
    DuplicateClusterId {
        cluster_id: String,
        first: usize,
        second: usize,
    },
    #[error("clusterID {cluster_id:?} is not in the cluster config")]
    UnknownCluster { cluster_id: String },
}
