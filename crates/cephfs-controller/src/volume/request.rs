//! The validated CreateVolume every kind of create works from: `create` places and reserves it,
//! `clone` copies content into it, `clone_watch` announces the clone's end to it. A leaf, so
//! those three depend on it and not on each other upward (docs/architecture.md).

use controller::capabilities::Capability;
use controller::size::Capacity;
use csi::SecretMap;
use journal::records::source::ContentSource;

use crate::params::VolumeParams;

/// A validated CreateVolume.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub capacity: Capacity,
    pub capabilities: Vec<Capability>,
    pub params: VolumeParams,
    pub source: Option<ContentSource>,
    pub secrets: SecretMap,
}
