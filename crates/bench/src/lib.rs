//! `sepia-bench`: drives any CSI controller over its socket and measures it against the floor —
//! the bare librados/librbd calls the same work needs — at the same concurrency.
//!
//! Module map (a run flows top to bottom):
//! - [`options`]: the flags (access, sizes and the scratch namespace are `sepia-rig`'s, shared
//!   with the demo).
//! - [`run`]: one run — scratch namespace, floor, controller, CSI phases, purge, leftovers.
//! - [`controller`]: `--spawn-controller` (generated config.json, own socket, SIGTERM on stop);
//!   [`rss`]: VmRSS/VmHWM sampling of the controller.
//! - [`csi_target`]: the CSI requests; [`csi_run`]: the four CSI phases.
//! - [`floor`]: the same operations as bare Ceph calls; [`floor_run`]: its phases.
//! - [`phase`]: runs one operation over many inputs, C at a time, timing each;
//!   [`outcome`]: failures by gRPC code / Ceph class, "in use" refusals;
//!   [`stats`]: nearest-rank percentiles and ops/s.
//! - [`report`]: the results and the project's targets; [`render`]: the table.
//! - [`cephfs`]: `--fs-name`, the CephFS mode (CSI vs the bare mgr `volumes` calls).
//! - [`error`]: what stops a run.

pub mod cephfs;
pub mod controller;
pub mod csi_run;
pub mod csi_target;
pub mod error;
pub mod floor;
pub mod floor_run;
pub mod options;
pub mod outcome;
pub mod phase;
pub mod render;
pub mod report;
pub mod rss;
pub mod run;
pub mod stats;

pub use error::{Error, Result};
pub use options::{Mode, Options};
pub use report::Report;
pub use run::run;
