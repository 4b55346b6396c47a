//! Sepia's users' scenarios (docs/architecture.md §1), written once and run against two kinds of
//! cluster: a real one named by KUBECONFIG (kind + Rook from `kind-rook-ceph.sh`, or yours),
//! and the in-process API stand-in with Sepia's real binaries and the local Ceph bed.
//!
//! # Module map
//! - [`scenario`]: the user stories step by step — RBD: PVC, write, snapshot, restore, clone,
//!   online expansion, delete, nothing left; CephFS: an RWX claim shared by two pods, snapshot,
//!   restore, expansion, delete, nothing left. Generic over [`cluster::Cluster`]; only the
//!   Kubernetes API and what a user can see.
//! - [`cluster`]: the [`cluster::Cluster`] trait: what differs between environments (running a
//!   workload on a volume, listing Ceph images).
//! - [`objects`]: the objects a user applies (PVCs, VolumeSnapshots), as JSON.
//! - [`wait`]: polling an object until a condition holds, with a deadline and a clear message.
//! - [`real`]: [`real::RealCluster`] — pods with busybox do the I/O, the Rook toolbox lists
//!   images and subvolumes.
//! - [`standin`]: [`standin::StandInCluster`] — the stand-in API server holding the rendered
//!   rook-ceph overlay (its RBAC enforced per ServiceAccount), each of the overlay's pods run as
//!   processes with the container args and env as rendered, and small actors doing what Rook,
//!   kube-controller-manager and kubelet would (secrets and cluster config, PV binding, attach,
//!   stage/publish over CSI, liveness probes).

pub mod cluster;
pub mod objects;
pub mod real;
pub mod scenario;
pub mod standin;
pub mod wait;

/// The RBD driver name every environment deploys (deploy/kustomize/base).
pub const DRIVER: &str = "rbd.csi.sepia.io";
/// The CephFS driver name every environment deploys (deploy/kustomize/base/cephfs).
pub const CEPHFS_DRIVER: &str = "cephfs.csi.sepia.io";
/// Both of Sepia's drivers.
pub const DRIVERS: [&str; 2] = [DRIVER, CEPHFS_DRIVER];
