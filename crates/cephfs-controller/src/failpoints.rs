//! Crash points between the CephFS controller's Ceph writes (the journal has its own). A test
//! arms one, the request fails there as if the process died, and the retry must end with
//! exactly one subvolume or snapshot and no journal leftovers.

/// CreateVolume (empty).
pub mod create {
    pub const AFTER_SUBVOLUME_CREATED: &str = "cephfs.create.after_subvolume_created";
    pub const ALL: [&str; 1] = [AFTER_SUBVOLUME_CREATED];
}

/// CreateVolume from a snapshot or a volume.
pub mod clone {
    /// From a volume: the temporary snapshot of the source exists.
    pub const AFTER_TEMP_SNAPSHOT: &str = "cephfs.clone.after_temp_snapshot";
    pub const AFTER_CLONE_STARTED: &str = "cephfs.clone.after_clone_started";
    pub const AFTER_RESIZE: &str = "cephfs.clone.after_resize";
    /// From a volume: the temporary snapshot is gone.
    pub const AFTER_TEMP_SNAPSHOT_REMOVED: &str = "cephfs.clone.after_temp_snapshot_removed";
    pub const ALL: [&str; 4] = [
        AFTER_TEMP_SNAPSHOT,
        AFTER_CLONE_STARTED,
        AFTER_RESIZE,
        AFTER_TEMP_SNAPSHOT_REMOVED,
    ];
}

/// DeleteVolume.
pub mod delete {
    pub const AFTER_SUBVOLUME_REMOVED: &str = "cephfs.delete.after_subvolume_removed";
    pub const ALL: [&str; 1] = [AFTER_SUBVOLUME_REMOVED];
}

/// CreateSnapshot.
pub mod snapshot {
    pub const AFTER_SNAPSHOT_CREATED: &str = "cephfs.snapshot.after_snapshot_created";
    pub const ALL: [&str; 1] = [AFTER_SNAPSHOT_CREATED];
}

/// DeleteSnapshot.
pub mod delete_snapshot {
    pub const AFTER_SNAPSHOT_REMOVED: &str = "cephfs.delete_snapshot.after_snapshot_removed";
    pub const ALL: [&str; 1] = [AFTER_SNAPSHOT_REMOVED];
}
