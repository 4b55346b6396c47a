//! Removing entries: [`Journal::undo`] (by name, rolling back a create) and
//! [`Journal::delete`] (by uuid, for DeleteVolume / DeleteSnapshot).
//!
//! The two orders differ on purpose; see the write-ordering notes in [`crate::journal`]. Every
//! removal compares what it read in the same op (the entry's name, the key's value), so a
//! removal that runs late never takes away what another request wrote meanwhile.

use ceph::WriteOp;
use tracing::info;

use crate::error::{Error, Result};
use crate::failpoints::Step;
use crate::id::Location;
use crate::journal::{Journal, ceph_error};
use crate::layout::decode_directory_value;

impl Journal {
    /// Rolls back the reservation of `request_name` at `location`: the attribute object (only
    /// if it still names `request_name`), then the directory key (only if it still points at
    /// `location`, so a late undo never removes a newer reservation of the same name). Missing
    /// pieces are success.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), request_name = %request_name, uuid = %location.uuid))]
    pub async fn undo(&self, request_name: &str, location: &Location) -> Result<()> {
        let _lock = self.lock_name(request_name).await;
        let key = self.layout.directory_key(request_name);
        let pointer = self.pointer_to(&key, location).await?;
        let oid = self.layout.entry_oid(&location.uuid);
        match self.entry_io(location.pool_id).await {
            Ok(io) => {
                let op = WriteOp::new("remove entry object")
                    .omap_cmp_eq(self.kind().name_key(), request_name.as_bytes())
                    .remove();
                match io.operate(&oid, op).await {
                    Ok(()) => {}
                    // Gone already, or it is not this name's (then it is not ours to remove).
                    Err(err) if err.is_not_found() || err.is_compare_failed() => {}
                    Err(err) => return Err(ceph_error("remove entry object", &oid, err)),
                }
            }
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(ceph_error("open entry pool", &oid, err)),
        }
        self.failpoint(Step::UndoAfterEntryObjectRemoved).await?;
        if let Some(value) = pointer {
            self.remove_directory_key_if(&key, &value).await?;
        }
        info!("reservation undone");
        Ok(())
    }

    /// Removes the entry at `location` and, when the entry names its request, that name's
    /// directory key (if it points here). A missing entry is success, so DeleteVolume stays
    /// idempotent.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), uuid = %location.uuid))]
    pub async fn delete(&self, location: &Location) -> Result<()> {
        let request_name = match self.entry(location).await {
            Ok(entry) => Some(entry.request_name),
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(Error::Incomplete { .. }) => None,
            Err(err) => return Err(err),
        };
        let _lock = match &request_name {
            Some(name) => Some(self.lock_name(name).await),
            None => None,
        };
        if let Some(name) = &request_name {
            let key = self.layout.directory_key(name);
            if let Some(value) = self.pointer_to(&key, location).await? {
                self.remove_directory_key_if(&key, &value).await?;
            }
        }
        self.failpoint(Step::DeleteAfterDirectoryKeyRemoved).await?;
        let oid = self.layout.entry_oid(&location.uuid);
        match self.entry_io(location.pool_id).await {
            Ok(io) => self.remove_entry_object(&io, &oid).await?,
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(ceph_error("open entry pool", &oid, err)),
        }
        info!(
            request_name = request_name.as_deref().unwrap_or(""),
            "entry deleted"
        );
        Ok(())
    }

    /// The raw value of directory key `key` when it points at `location` (what a
    /// compare-and-remove of the key must compare).
    async fn pointer_to(&self, key: &str, location: &Location) -> Result<Option<Vec<u8>>> {
        Ok(self.read_directory_value(key).await?.filter(|value| {
            decode_directory_value(value)
                .is_some_and(|target| target.location(self.pool_id()) == *location)
        }))
    }
}
