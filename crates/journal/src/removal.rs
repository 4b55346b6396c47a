//! Removing entries: [`Journal::undo`] (by name, rolling back a create) and
//! [`Journal::delete`] (by uuid, for DeleteVolume / DeleteSnapshot).
//!
//! The two orders differ on purpose; see the write-ordering notes in [`crate::journal`].

use tracing::info;

use crate::error::{Error, Result};
use crate::failpoints::Step;
use crate::journal::{Journal, ceph_error};
use crate::layout::{Location, decode_directory_value};

impl Journal {
    /// Rolls back the reservation of `request_name` at `location`: the attribute object,
    /// then the directory key (only if it still points at `location`, so a late undo never
    /// removes a newer reservation of the same name). Missing pieces are success.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), request_name = %request_name, uuid = %location.uuid))]
    pub async fn undo(&self, request_name: &str, location: &Location) -> Result<()> {
        let _lock = self.lock_name(request_name).await;
        let key = self.layout.directory_key(request_name);
        let points_here = self.points_at(&key, location).await?;
        let oid = self.layout.entry_oid(&location.uuid);
        match self.entry_io(location.pool_id).await {
            Ok(io) => self.remove_entry_object(&io, &oid).await?,
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(ceph_error("open entry pool", &oid, err)),
        }
        self.failpoint(Step::UndoAfterEntryObjectRemoved).await?;
        if points_here {
            self.remove_directory_key(&key).await?;
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
            if self.points_at(&key, location).await? {
                self.remove_directory_key(&key).await?;
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

    /// Whether directory key `key` currently points at `location`.
    async fn points_at(&self, key: &str, location: &Location) -> Result<bool> {
        Ok(self
            .read_directory_value(key)
            .await?
            .and_then(|value| decode_directory_value(&value))
            .is_some_and(|target| target.location(self.pool_id()) == *location))
    }
}
