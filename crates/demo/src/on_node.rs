//! What the node shows of the story, read where an administrator would look: [`mounted`]
//! (mount table, loop devices, rbd-fuse processes, `df`), [`stack`] (how a published volume
//! sits on the node), [`files`] (what the pods write and read back) and [`node_leftovers`]
//! (the scan for anything left mounted or mapped). Grouped because they are the node's side
//! of each step, next to Ceph's side in [`crate::in_ceph`].

pub mod files;
pub mod mounted;
pub mod node_leftovers;
pub mod stack;
