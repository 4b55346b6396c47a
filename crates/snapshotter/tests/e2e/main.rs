//! The snapshotter end to end: the API stand-in, the real `sepia-controller` on the bed's Ceph
//! and the `sepia-snapshotter` binary, as a user would see them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod backup;
mod cluster;
mod controller_switch;
mod dynamic;
mod leader;
mod many;
mod namespace_delete;
mod observability;
mod orphaned;
mod pre_provisioned;
mod restore;
mod retain;
mod snapshot_query;
mod wakeup;
