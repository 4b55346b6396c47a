//! Names of the journal's failpoints, one between every two Ceph writes of an operation (and
//! one after the last write of a reservation, where a crash loses only the reply).
//!
//! Tests iterate [`ALL`] and, for each name, crash there and check that the operation's retry
//! leaves exactly one complete entry and nothing else.

use crate::kind::Kind;

/// Reserve: directory key written, attribute object not yet created.
pub const VOLUME_RESERVE_AFTER_DIRECTORY_KEY: &str = "journal.volume.reserve.after_directory_key";
/// Reserve: both writes done, reply not yet returned.
pub const VOLUME_RESERVE_AFTER_ENTRY_OBJECT: &str = "journal.volume.reserve.after_entry_object";
/// Lookup repair of an incomplete entry: object removed, directory key not yet.
pub const VOLUME_REPAIR_AFTER_ENTRY_OBJECT_REMOVED: &str =
    "journal.volume.repair.after_entry_object_removed";
/// Undo of a reservation: object removed, directory key not yet.
pub const VOLUME_UNDO_AFTER_ENTRY_OBJECT_REMOVED: &str =
    "journal.volume.undo.after_entry_object_removed";
/// Delete by uuid: directory key removed, object not yet.
pub const VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED: &str =
    "journal.volume.delete.after_directory_key_removed";

/// Snapshot counterpart of [`VOLUME_RESERVE_AFTER_DIRECTORY_KEY`].
pub const SNAPSHOT_RESERVE_AFTER_DIRECTORY_KEY: &str =
    "journal.snapshot.reserve.after_directory_key";
/// Snapshot counterpart of [`VOLUME_RESERVE_AFTER_ENTRY_OBJECT`].
pub const SNAPSHOT_RESERVE_AFTER_ENTRY_OBJECT: &str = "journal.snapshot.reserve.after_entry_object";
/// Snapshot counterpart of [`VOLUME_REPAIR_AFTER_ENTRY_OBJECT_REMOVED`].
pub const SNAPSHOT_REPAIR_AFTER_ENTRY_OBJECT_REMOVED: &str =
    "journal.snapshot.repair.after_entry_object_removed";
/// Snapshot counterpart of [`VOLUME_UNDO_AFTER_ENTRY_OBJECT_REMOVED`].
pub const SNAPSHOT_UNDO_AFTER_ENTRY_OBJECT_REMOVED: &str =
    "journal.snapshot.undo.after_entry_object_removed";
/// Snapshot counterpart of [`VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED`].
pub const SNAPSHOT_DELETE_AFTER_DIRECTORY_KEY_REMOVED: &str =
    "journal.snapshot.delete.after_directory_key_removed";

/// Every failpoint this crate declares.
pub const ALL: [&str; 10] = [
    VOLUME_RESERVE_AFTER_DIRECTORY_KEY,
    VOLUME_RESERVE_AFTER_ENTRY_OBJECT,
    VOLUME_REPAIR_AFTER_ENTRY_OBJECT_REMOVED,
    VOLUME_UNDO_AFTER_ENTRY_OBJECT_REMOVED,
    VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED,
    SNAPSHOT_RESERVE_AFTER_DIRECTORY_KEY,
    SNAPSHOT_RESERVE_AFTER_ENTRY_OBJECT,
    SNAPSHOT_REPAIR_AFTER_ENTRY_OBJECT_REMOVED,
    SNAPSHOT_UNDO_AFTER_ENTRY_OBJECT_REMOVED,
    SNAPSHOT_DELETE_AFTER_DIRECTORY_KEY_REMOVED,
];

/// A point inside a journal operation, independent of the journal kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// See [`VOLUME_RESERVE_AFTER_DIRECTORY_KEY`].
    ReserveAfterDirectoryKey,
    /// See [`VOLUME_RESERVE_AFTER_ENTRY_OBJECT`].
    ReserveAfterEntryObject,
    /// See [`VOLUME_REPAIR_AFTER_ENTRY_OBJECT_REMOVED`].
    RepairAfterEntryObjectRemoved,
    /// See [`VOLUME_UNDO_AFTER_ENTRY_OBJECT_REMOVED`].
    UndoAfterEntryObjectRemoved,
    /// See [`VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED`].
    DeleteAfterDirectoryKeyRemoved,
}

impl Step {
    /// The failpoint name of this step in a journal of `kind`.
    pub fn name(self, kind: Kind) -> &'static str {
        match (kind, self) {
            (Kind::Volume, Step::ReserveAfterDirectoryKey) => VOLUME_RESERVE_AFTER_DIRECTORY_KEY,
            (Kind::Volume, Step::ReserveAfterEntryObject) => VOLUME_RESERVE_AFTER_ENTRY_OBJECT,
            (Kind::Volume, Step::RepairAfterEntryObjectRemoved) => {
                VOLUME_REPAIR_AFTER_ENTRY_OBJECT_REMOVED
            }
            (Kind::Volume, Step::UndoAfterEntryObjectRemoved) => {
                VOLUME_UNDO_AFTER_ENTRY_OBJECT_REMOVED
            }
            (Kind::Volume, Step::DeleteAfterDirectoryKeyRemoved) => {
                VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED
            }
            (Kind::Snapshot, Step::ReserveAfterDirectoryKey) => {
                SNAPSHOT_RESERVE_AFTER_DIRECTORY_KEY
            }
            (Kind::Snapshot, Step::ReserveAfterEntryObject) => SNAPSHOT_RESERVE_AFTER_ENTRY_OBJECT,
            (Kind::Snapshot, Step::RepairAfterEntryObjectRemoved) => {
                SNAPSHOT_REPAIR_AFTER_ENTRY_OBJECT_REMOVED
            }
            (Kind::Snapshot, Step::UndoAfterEntryObjectRemoved) => {
                SNAPSHOT_UNDO_AFTER_ENTRY_OBJECT_REMOVED
            }
            (Kind::Snapshot, Step::DeleteAfterDirectoryKeyRemoved) => {
                SNAPSHOT_DELETE_AFTER_DIRECTORY_KEY_REMOVED
            }
        }
    }

    /// Every step, in operation order.
    pub const ALL: [Step; 5] = [
        Step::ReserveAfterDirectoryKey,
        Step::ReserveAfterEntryObject,
        Step::RepairAfterEntryObjectRemoved,
        Step::UndoAfterEntryObjectRemoved,
        Step::DeleteAfterDirectoryKeyRemoved,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_of_every_kind_is_listed_once() {
        let mut named: Vec<&str> = [Kind::Volume, Kind::Snapshot]
            .into_iter()
            .flat_map(|kind| Step::ALL.map(|step| step.name(kind)))
            .collect();
        named.sort_unstable();
        let mut all = ALL.to_vec();
        all.sort_unstable();
        assert_eq!(named, all);
        named.dedup();
        assert_eq!(named.len(), ALL.len());
    }
}
