//! Names of the controller's crash points: one after every Ceph write of every operation (so
//! there is one between every two writes, and one where only the reply is lost). The journal's
//! own points (`journal::failpoints`) sit between its writes inside reserve/undo/delete.
//!
//! Crash tests iterate the per-operation lists: arm a point, expect the simulated crash, retry,
//! and compare the pool with what one clean run leaves.
//!
//! Two more kinds are not in those lists, because a clean run does not reach them or they add
//! no state a neighbouring point lacks:
//! - `before_*`: right before a blocking Ceph call (a clone, a cut, a journal or publication
//!   write). Tests hold a process there (`pause`) to race another process against it, or
//!   `kill -9` it there to crash with the call about to be in flight.
//! - `after_half_made_*_removed`: after a clone that failed its proof was removed, before it
//!   is cloned again ([`crate::pool::verified_clone`]).

/// CreateVolume (empty volume).
pub mod create {
    pub const AFTER_IMAGE_CREATED: &str = "controller.create.after_image_created";
    pub const AFTER_METADATA: &str = "controller.create.after_metadata";
    pub const AFTER_IMAGE_ID_STORED: &str = "controller.create.after_image_id_stored";
    pub const ALL: [&str; 3] = [AFTER_IMAGE_CREATED, AFTER_METADATA, AFTER_IMAGE_ID_STORED];
}

/// CreateVolume from a snapshot.
pub mod restore {
    pub const AFTER_SOURCE_RECORDED: &str = "controller.restore.after_source_recorded";
    pub const BEFORE_CLONE: &str = "controller.restore.before_clone";
    pub const AFTER_HALF_MADE_CLONE_REMOVED: &str =
        "controller.restore.after_half_made_clone_removed";
    pub const AFTER_CLONE: &str = "controller.restore.after_clone";
    pub const AFTER_RESIZE: &str = "controller.restore.after_resize";
    pub const AFTER_METADATA: &str = "controller.restore.after_metadata";
    pub const AFTER_IMAGE_ID_STORED: &str = "controller.restore.after_image_id_stored";
    pub const ALL: [&str; 5] = [
        AFTER_SOURCE_RECORDED,
        AFTER_CLONE,
        AFTER_RESIZE,
        AFTER_METADATA,
        AFTER_IMAGE_ID_STORED,
    ];
}

/// CreateVolume from a volume (ceph-csi's `-temp` sequence).
pub mod clone {
    pub const AFTER_SOURCE_RECORDED: &str = "controller.clone.after_source_recorded";
    pub const AFTER_SOURCE_SNAPSHOT: &str = "controller.clone.after_source_snapshot";
    pub const BEFORE_TEMP_CLONE: &str = "controller.clone.before_temp_clone";
    pub const AFTER_HALF_MADE_TEMP_REMOVED: &str = "controller.clone.after_half_made_temp_removed";
    pub const AFTER_TEMP_CLONE: &str = "controller.clone.after_temp_clone";
    pub const AFTER_SOURCE_SNAPSHOT_REMOVED: &str =
        "controller.clone.after_source_snapshot_removed";
    pub const AFTER_TEMP_SNAPSHOT: &str = "controller.clone.after_temp_snapshot";
    pub const BEFORE_CLONE: &str = "controller.clone.before_clone";
    pub const AFTER_HALF_MADE_CLONE_REMOVED: &str =
        "controller.clone.after_half_made_clone_removed";
    pub const AFTER_CLONE: &str = "controller.clone.after_clone";
    pub const AFTER_TEMP_SNAPSHOT_REMOVED: &str = "controller.clone.after_temp_snapshot_removed";
    pub const AFTER_RESIZE: &str = "controller.clone.after_resize";
    pub const AFTER_METADATA: &str = "controller.clone.after_metadata";
    pub const AFTER_IMAGE_ID_STORED: &str = "controller.clone.after_image_id_stored";
    pub const ALL: [&str; 10] = [
        AFTER_SOURCE_RECORDED,
        AFTER_SOURCE_SNAPSHOT,
        AFTER_TEMP_CLONE,
        AFTER_SOURCE_SNAPSHOT_REMOVED,
        AFTER_TEMP_SNAPSHOT,
        AFTER_CLONE,
        AFTER_TEMP_SNAPSHOT_REMOVED,
        AFTER_RESIZE,
        AFTER_METADATA,
        AFTER_IMAGE_ID_STORED,
    ];
}

/// CreateSnapshot: the cut on the reply path, then the preparation (in the background on the
/// first call, inline on a retry that finds it unfinished).
pub mod snapshot {
    /// Between reading the source's size and cutting it.
    pub const BEFORE_CUT: &str = "controller.snapshot.before_cut";
    pub const AFTER_CUT: &str = "controller.snapshot.after_cut";
    pub const AFTER_RECORDED: &str = "controller.snapshot.after_recorded";
    pub const BEFORE_CLONE: &str = "controller.snapshot.before_clone";
    pub const AFTER_HALF_MADE_CLONE_REMOVED: &str =
        "controller.snapshot.after_half_made_clone_removed";
    pub const AFTER_CLONE: &str = "controller.snapshot.after_clone";
    pub const AFTER_SOURCE_SNAPSHOT_REMOVED: &str =
        "controller.snapshot.after_source_snapshot_removed";
    pub const AFTER_METADATA: &str = "controller.snapshot.after_metadata";
    pub const BEFORE_INNER_SNAPSHOT: &str = "controller.snapshot.before_inner_snapshot";
    pub const AFTER_INNER_SNAPSHOT: &str = "controller.snapshot.after_inner_snapshot";
    /// Right before the journal write that marks the snapshot prepared.
    pub const BEFORE_IMAGE_ID_STORED: &str = "controller.snapshot.before_image_id_stored";
    pub const AFTER_IMAGE_ID_STORED: &str = "controller.snapshot.after_image_id_stored";
    /// Points on the reply path of the first call.
    pub const CUT: [&str; 2] = [AFTER_CUT, AFTER_RECORDED];
    /// Points of the preparation.
    pub const PREPARE: [&str; 5] = [
        AFTER_CLONE,
        AFTER_SOURCE_SNAPSHOT_REMOVED,
        AFTER_METADATA,
        AFTER_INNER_SNAPSHOT,
        AFTER_IMAGE_ID_STORED,
    ];
}

/// DeleteVolume.
pub mod delete {
    pub const AFTER_TRASH_MOVE: &str = "controller.delete.after_trash_move";
    pub const AFTER_PURGE_QUEUED: &str = "controller.delete.after_purge_queued";
    pub const AFTER_TEMP_SNAPSHOT_REMOVED: &str = "controller.delete.after_temp_snapshot_removed";
    pub const AFTER_TEMP_TRASH_MOVE: &str = "controller.delete.after_temp_trash_move";
    pub const AFTER_TEMP_PURGE_QUEUED: &str = "controller.delete.after_temp_purge_queued";
    /// Points every DeleteVolume reaches.
    pub const PLAIN: [&str; 2] = [AFTER_TRASH_MOVE, AFTER_PURGE_QUEUED];
    /// Points a DeleteVolume of a cloned volume (with its `-temp` image) reaches too.
    pub const TEMP: [&str; 2] = [AFTER_TEMP_TRASH_MOVE, AFTER_TEMP_PURGE_QUEUED];
}

/// DeleteSnapshot.
pub mod delete_snapshot {
    pub const AFTER_SOURCE_SNAPSHOT_REMOVED: &str =
        "controller.delete_snapshot.after_source_snapshot_removed";
    pub const AFTER_INNER_SNAPSHOT_REMOVED: &str =
        "controller.delete_snapshot.after_inner_snapshot_removed";
    pub const AFTER_TRASH_MOVE: &str = "controller.delete_snapshot.after_trash_move";
    pub const AFTER_PURGE_QUEUED: &str = "controller.delete_snapshot.after_purge_queued";
    /// Points a DeleteSnapshot of a ready snapshot reaches.
    pub const READY: [&str; 3] = [
        AFTER_INNER_SNAPSHOT_REMOVED,
        AFTER_TRASH_MOVE,
        AFTER_PURGE_QUEUED,
    ];
}

/// ControllerExpandVolume.
pub mod expand {
    pub const AFTER_RESIZE: &str = "controller.expand.after_resize";
    pub const ALL: [&str; 1] = [AFTER_RESIZE];
}

/// ControllerPublishVolume.
pub mod publish {
    /// After the records were read and checked, before this node's is written.
    pub const BEFORE_RECORD: &str = "controller.publish.before_record";
    pub const AFTER_RECORD: &str = "controller.publish.after_record";
    pub const ALL: [&str; 1] = [AFTER_RECORD];
}
