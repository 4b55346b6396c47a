//! Sepia's CSI node plugin for RBD.
//!
//! Module map (a request flows top to bottom):
//! - gRPC layer: [`service`] (Identity and Node servers; validation turns CSI messages into
//!   the domain requests below, and `status` turns [`NodeError`] into a gRPC status). What it
//!   checks, [`checks`]: paths confined to kubelet's root, names, `mkfsOptions` and
//!   `mapOptions`. Beside it: [`server`] (sockets, shutdown) and [`registration`]: `kubelet`
//!   (the plugin-registration service kubelet dials) and `node_registry` (this node's record
//!   in RADOS for the controller).
//! - Operations, [`operation`]: `stage`, `unstage`, `publish`, `expand`, `stats`, each a plain
//!   async function over the [`driver::NodeDriver`] state, testable without gRPC. All but
//!   stage first prove the path is this volume's own ([`ownership`]). [`recovery`] runs once
//!   at start-up, before Probe answers ready: it re-establishes what a restart cut (rbd-nbd
//!   re-attach) and reports each staged volume. The driver is below all of them: what it
//!   holds for them ([`recovery_board`], what recovery found; `health::stats_gate`) lives below it.
//! - Mapping an image to a block device: [`mapper`] (trait + `krbd`, `nbd`, `fuse` and the
//!   start-up [`mapper::Support`] probe; `loop_device`, losetup/sysfs for the fuse mapper).
//!   The mappers' names and the `--mapper` choice are plain values in [`mapper_kind`], below
//!   [`settings`] and the stage record, which name a mapper without using one.
//! - Local state and the kernel: [`stash`] (the stage record beside the staging path; its
//!   `ceph_csi` reads ceph-csi's, so the volumes it staged can be taken over),
//!   [`filesystem`] (blkid probe, mkfs, grow; `operation::prepare` decides what stage does with
//!   it), [`mount`] (mount(8)/umount(8), with `mountinfo`, `target` for mount targets and
//!   `fuse_connection` for cutting off an rbd-fuse or ceph-fuse that is gone or stuck),
//!   [`device`] (sizes and names from sysfs), [`health`] (is the device behind a volume alive;
//!   its `stats_gate` keeps one stats measurement per volume in the kernel at a time, and the
//!   last one that came back), [`access`] (capability → what to do, and the access kind the
//!   stage record keeps and mount targets are made for).
//! - Plumbing: [`process`] (every child process, deadline-bound), [`syscall`] (blocking calls
//!   off the executor, deadline-bound), [`secret`] (keys, key files and their sweep),
//!   [`volume_lock`] (one operation per volume), [`settings`], [`error`], [`http_endpoint`]
//!   (`--http-endpoint`: metrics and probes, for this plugin and the CephFS one).

pub mod access;
pub mod checks;
pub mod device;
pub mod driver;
pub mod error;
pub mod filesystem;
pub mod health;
pub mod http_endpoint;
pub mod mapper;
pub mod mapper_kind;
pub mod mount;
pub mod operation;
pub mod ownership;
pub mod process;
pub mod recovery;
pub mod recovery_board;
pub mod registration;
pub mod secret;
pub mod server;
pub mod service;
pub mod settings;
pub mod stash;
pub mod syscall;
pub mod volume_lock;

pub use error::NodeError;
