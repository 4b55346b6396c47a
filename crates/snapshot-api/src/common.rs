//! The two types VolumeSnapshot, VolumeSnapshotContent and VolumeSnapshotClass share.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens to a content and its backend snapshot when the VolumeSnapshot goes away.
/// The CRDs allow exactly these two values, so an unknown one cannot reach us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// The content and the backend snapshot are deleted.
    Delete,
    /// Both stay; the content is released.
    Retain,
}

impl DeletionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionPolicy::Delete => "Delete",
            DeletionPolicy::Retain => "Retain",
        }
    }
}

impl fmt::Display for DeletionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last error seen while creating a snapshot; cleared on success. The message is shown
/// to users, so it must never carry secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotError {
    /// When the error was encountered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl VolumeSnapshotError {
    pub fn new(time: Time, message: impl Into<String>) -> Self {
        Self {
            time: Some(time),
            message: Some(message.into()),
        }
    }
}
