//! What the node checks in a request before it acts on it. Everything here guards a root
//! process on the host: paths confined to kubelet's root ([`kubelet_paths`]), names that reach
//! command lines and file names ([`names`]), and the StorageClass options handed to `mkfs.*`
//! and the mappers ([`mkfs_options`], [`map_options`], sharing [`option_rules`]). They sit
//! together because the gRPC layer ([`crate::service`]) runs them all before any domain step,
//! and the CephFS plugin reuses them.

pub mod kubelet_paths;
pub mod map_options;
pub mod mkfs_options;
pub mod names;
pub mod option_rules;
