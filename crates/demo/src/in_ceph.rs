//! What Ceph holds of the story, in the words a Ceph user knows and decoded: [`images`] (the
//! namespace's RBD images) and [`journal_view`] (the omap journal, decoded through
//! `sepia-journal` and raw, with [`hexdump`] printing values as `rados listomapvals` does).
//! Grouped because they are Ceph's side of each step, next to the node's side in
//! [`crate::on_node`]; they read Ceph and know nothing of what the story made, which
//! [`crate::made`] checks against them.

pub mod hexdump;
pub mod images;
pub mod journal_view;
