//! Sepia's CSI node plugin for CephFS: many pods on many nodes sharing one subvolume.
//!
//! It is built from the RBD node plugin's pieces (crate `node`): kubelet path confinement,
//! the mount table, mount/umount and child processes with deadlines, key files, volume locks,
//! FUSE connection aborts and the one mapping of [`node::NodeError`] to gRPC codes. What is
//! CephFS's own lives here.
//!
//! Module map (a request flows top to bottom):
//! - gRPC layer: [`service`] (Identity and Node; validation of secrets, names ([`names`]) and
//!   options ([`mount_options`])), [`server`] (sockets, kubelet registration, shutdown).
//! - Operations: [`stage`], [`unstage`], [`publish`], [`stats`], each a plain async function
//!   over the [`driver::CephfsNode`] state. All but stage first prove the path is this
//!   volume's own ([`ownership`]).
//! - Mounting: [`mounter`] (ceph-fuse or the kernel client, and what this node supports),
//!   [`client_mount`] (their command lines, the key file), [`health`] (is the client behind a
//!   mount alive; cutting a dead or stuck one off).
//! - Local state: [`record`] (stage records in the state directory), [`settings`].

pub mod client_mount;
pub mod driver;
pub mod health;
pub mod mount_options;
pub mod mounter;
pub mod names;
pub mod ownership;
pub mod publish;
pub mod record;
pub mod server;
pub mod service;
pub mod settings;
pub mod stage;
pub mod stats;
pub mod unstage;
