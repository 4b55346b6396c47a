//! The whole config.json: parse, check, look up.

use std::collections::HashMap;
use std::path::Path;

use crate::entry::ClusterEntry;
use crate::error::ConfigError;

/// All clusters of one config.json, indexed by clusterID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    entries: Vec<ClusterEntry>,
    by_id: HashMap<String, usize>,
}

impl ClusterConfig {
    /// Parses the file's bytes. `path` only names the file in errors. Every entry must have a
    /// clusterID and at least one non-empty monitor, and clusterIDs must be unique: a cluster
    /// that cannot be reached, or one name meaning two clusters, is an operator error better
    /// reported at load time than on the first volume that needs it.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, ConfigError> {
        let entries: Vec<ClusterEntry> =
            serde_json::from_slice(bytes).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Self::from_entries(entries)
    }

    /// Builds a configuration from entries, applying the same rules as [`ClusterConfig::parse`].
    pub fn from_entries(entries: Vec<ClusterEntry>) -> Result<Self, ConfigError> {
        let mut by_id = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            check_entry(index, entry)?;
            if let Some(first) = by_id.insert(entry.cluster_id.clone(), index) {
                return Err(ConfigError::DuplicateClusterId {
                    cluster_id: entry.cluster_id.clone(),
                    first,
                    second: index,
                });
            }
        }
        Ok(Self { entries, by_id })
    }

    /// The entry for `cluster_id`, or [`ConfigError::UnknownCluster`].
    pub fn get(&self, cluster_id: &str) -> Result<&ClusterEntry, ConfigError> {
        self.by_id
            .get(cluster_id)
            .and_then(|&i| self.entries.get(i))
            .ok_or_else(|| ConfigError::UnknownCluster {
                cluster_id: cluster_id.to_string(),
            })
    }

    pub fn entries(&self) -> &[ClusterEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn check_entry(index: usize, entry: &ClusterEntry) -> Result<(), ConfigError> {
    let invalid = |field, rule| ConfigError::Invalid {
        index,
        cluster_id: entry.cluster_id.clone(),
        field,
        rule,
    };
    if entry.cluster_id.is_empty() {
        return Err(invalid("clusterID", "must be set and non-empty"));
    }
    if entry.monitors.is_empty() {
        return Err(invalid("monitors", "must list at least one monitor"));
    }
    if entry.monitors.iter().any(|m| m.trim().is_empty()) {
        return Err(invalid("monitors", "must not contain an empty address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
