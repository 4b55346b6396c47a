//! What Ceph holds of the story, in the words a Ceph user knows and decoded: [`images`] (the
//! namespace's RBD images), [`journal_view`] (the omap journal, decoded through
//! `sepia-journal` and raw, with [`hexdump`] printing values as `rados listomapvals` does)
//! and [`ids`] (volume and snapshot IDs taken apart). Grouped because they are Ceph's side of
//! each step, next to the node's side in [`crate::on_node`].

pub mod hexdump;
pub mod ids;
pub mod images;
pub mod journal_view;
