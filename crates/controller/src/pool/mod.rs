//! What Sepia does to one Ceph pool and the RBD images in it, below the CSI operations: the
//! domain ([`crate::volume`], [`crate::snapshot`]) decides what a request needs, these helpers do
//! it against RADOS and RBD. They know pools, journal entries and images, not RPCs, which is why
//! the CephFS controller and the operator tool (`sepia-cli`) share them.
//!
//! - [`cluster`]: a connected cluster and pools in it (in its RBD RADOS namespace); [`connect`]:
//!   a request's connection to the cluster its id names;
//! - [`lookup`]: from a volume or snapshot ID to its cluster, pool and journal entry;
//! - [`listing`]: paged walks of the pools' journal directories;
//! - [`image`]: open, close, ids, snapshots, size of an image;
//! - [`verified_clone`]: clones proven complete before a source snapshot goes;
//! - [`depth`]: clone depth and the mgr flatten ([`flatten_watch`] announces its end);
//! - [`metadata`]: the Kubernetes tags on an image;
//! - [`trash`]: deleting an image through the trash and the mgr purge.

pub mod cluster;
pub mod connect;
pub mod depth;
pub mod flatten_watch;
pub mod image;
pub mod listing;
pub mod lookup;
pub mod metadata;
pub mod trash;
pub mod verified_clone;
