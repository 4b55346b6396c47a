//! The calls Kubernetes would make, made by the demo instead: [`controller`] (the
//! provisioner's, snapshotter's and resizer's CSI calls), [`attacher`] (the
//! external-attacher's), [`node_plugin`] (kubelet's calls to the node plugin) with kubelet's
//! paths from [`kubelet`]. Grouped because together they stand in for the cluster: the story
//! reaches Sepia only through them, with the arguments the real callers would send.

pub mod attacher;
pub mod controller;
pub mod kubelet;
pub mod node_plugin;
