//! How the rest of the cluster finds this node plugin: kubelet through its plugin-registration
//! socket ([`kubelet`]), the controller through this node's record in RADOS
//! ([`node_registry`]). Both announce the same process and its node id; neither serves CSI.

pub mod kubelet;
pub mod node_registry;
