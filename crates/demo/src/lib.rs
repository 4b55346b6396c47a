//! `sepia-demo`: the README's first command. It walks a running CSI controller through what a
//! Kubernetes user does — a PVC, a snapshot, a restore, a clone, an expansion, the deletes — and
//! shows what Ceph holds in between, in the words a Ceph user knows (`rbd ls`, `rados
//! listomapvals`) and decoded (journal entries, volume IDs).
//!
//! Module map:
//! - [`options`]: the flags; [`flow`]: the story and its plan, run in four acts —
//!   [`setup`], [`provision`], [`inspect`], [`teardown`] — with [`cleanup`] after a failure;
//!   [`story`]: numbered steps, timings, the summary table; [`show`]: the text under a step.
//! - [`driver`]: the CSI calls as the Kubernetes sidecars make them.
//! - [`images`]: the namespace's RBD images; [`journal_view`]: the omap journal, decoded
//!   through `sepia-journal` and raw; [`hexdump`]: `rados listomapvals` formatting;
//!   [`ids`]: volume/snapshot IDs taken apart; [`table`]: aligned columns.
//! - [`made`]: what the story created and the checks that Ceph holds exactly that.
//! - [`error`]: the demo's error enum.
//!
//! `scripts/demo.sh` starts the bed and the controller (with a config.json naming a fresh RBD
//! namespace) and runs the binary; the namespace itself is created and removed by the demo.

pub mod cleanup;
pub mod driver;
pub mod error;
pub mod flow;
pub mod hexdump;
pub mod ids;
pub mod images;
pub mod inspect;
pub mod journal_view;
pub mod made;
pub mod options;
pub mod provision;
pub mod setup;
pub mod show;
pub mod story;
pub mod table;
pub mod teardown;

pub use error::{Error, Result};
pub use flow::run;
pub use options::Options;
