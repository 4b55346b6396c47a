//! Snapshots: create (a subvolume snapshot `csi-snap-<uuid>`, ready at once) and delete.

pub mod create;
pub mod delete;
pub mod time;
