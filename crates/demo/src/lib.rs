//! `sepia-demo`: the README's first command. It walks a running CSI controller and node
//! plugin through what a Kubernetes user does — a PVC mounted in a pod that writes files, a
//! snapshot, a restore mounted beside it, a clone, an expansion while mounted, the unmounts
//! and the deletes — and shows what Ceph holds in between, in the words a Ceph user knows
//! (`rbd ls`, `rados listomapvals`) and decoded (journal entries, volume IDs), and what the
//! node has mounted (`findmnt`, `losetup`, `df`).
//!
//! Module map:
//! - [`options`]: the flags; [`flow`]: the story and its plan, run in six [`acts`] over a
//!   [`world`] (what the story holds: the node side, the attachments) —
//!   `setup`, `provision` (with the node's side in `node_act`), `inspect`, `detach`,
//!   `operator_tool` (`sepia inspect`, `sepia orphans`), `teardown` — with `cleanup` after a
//!   failure; [`story`]: numbered steps, timings, the summary table; [`show`]: the text under
//!   a Ceph step.
//! - [`drivers`]: the calls Kubernetes would make — `controller` (the controller's CSI calls
//!   as the provisioner, snapshotter and resizer make them), `attacher`
//!   (ControllerPublish/Unpublish as the external-attacher makes them), `node_plugin` (the
//!   node plugin's calls as kubelet makes them, with paths from `kubelet`).
//! - [`on_node`]: `mounted` (mount table, loop devices, rbd-fuse processes, `df`), `stack`
//!   (how a published volume sits on the node), `files` (what the pods write),
//!   `node_leftovers` (the scan for anything left mounted or mapped). [`bounded`]: every file
//!   system call and child process, off the async threads and with a deadline.
//! - [`in_ceph`]: `images` (the namespace's RBD images), `journal_view` (the omap journal,
//!   decoded through `sepia-journal` and raw), `hexdump` (`rados listomapvals` formatting).
//!   [`table`]: aligned columns and indented text.
//! - [`made`]: what the story created and the checks that Ceph holds exactly that; `ids`
//!   (volume/snapshot IDs taken apart).
//! - [`cephfs`], after the RBD story when its flags are given: `flow` (its plan and
//!   clean-up), `world` (what it holds), `act` (its steps: a volume shared by two pods, snapshot, restore
//!   retried while the mgr clones, clone, expansion, teardown), `in_ceph` (`fs subvolume
//!   ls/info`, clone status, the journal in the metadata pool).
//! - [`error`]: the demo's error enum.
//!
//! `scripts/demo.sh` starts the bed, the controller and the node plugin (with a config.json
//! naming a fresh RBD namespace) and runs the binary; the namespace itself is created and
//! removed by the demo.

pub mod acts;
pub mod bounded;
pub mod cephfs;
pub mod drivers;
pub mod error;
pub mod flow;
pub mod in_ceph;
pub mod made;
pub mod on_node;
pub mod options;
pub mod show;
pub mod story;
pub mod table;
pub mod world;

pub use error::{Error, Result};
pub use flow::run;
pub use options::Options;
