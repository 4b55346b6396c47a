//! Finding a request name's entry: one by-key read of the directory, one read of the entry.
//!
//! Whatever a crash (ours or ceph-csi's) left under the name is recognised here and cleaned
//! so the caller can reserve afresh; only a real conflict or an unreadable value is an error.

use tracing::warn;

use crate::entry::{Entry, Parsed, check_compatible, parse};
use crate::error::Result;
use crate::failpoints::Step;
use crate::id::Location;
use crate::journal::Journal;
use crate::layout::decode_directory_value;
use crate::request::Request;

/// Why a directory key was found stale.
#[derive(Debug, Clone, Copy)]
enum Stale {
    /// The value is not a (pool/)uuid.
    MalformedValue,
    /// The value names a pool that no longer exists.
    PoolGone,
    /// No attribute object (a reservation or undo crashed between its two writes).
    NoEntryObject,
    /// The object belongs to another request name; it is not ours to remove.
    OtherName,
    /// The object is missing mandatory keys (ceph-csi's non-atomic reservation crashed).
    Incomplete,
}

impl Journal {
    /// The complete entry reserved for `request`'s name, or `None` when there is none (stale
    /// leftovers are removed first). Fails with [`crate::Error::NameConflict`] when the entry was
    /// reserved with another source or other encryption settings.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), request_name = %request.request_name))]
    pub async fn lookup(&self, request: &Request) -> Result<Option<Entry>> {
        request.validate(self.kind())?;
        let _lock = self.lock_name(&request.request_name).await;
        self.find(request).await
    }

    /// [`Journal::lookup`] without taking the name lock (the caller holds it).
    pub(crate) async fn find(&self, request: &Request) -> Result<Option<Entry>> {
        let name = request.request_name.as_str();
        let key = self.layout.directory_key(name);
        let Some(value) = self.read_directory_value(&key).await? else {
            return Ok(None);
        };
        let Some(target) = decode_directory_value(&value) else {
            return self.forget(&key, &value, None, Stale::MalformedValue).await;
        };
        let location = target.location(self.pool_id());
        let io = match self.entry_io(location.pool_id).await {
            Ok(io) => io,
            Err(err) if err.is_not_found() => {
                return self
                    .forget(&key, &value, Some(location), Stale::PoolGone)
                    .await;
            }
            Err(err) => return Err(crate::journal::ceph_error("open entry pool", &key, err)),
        };
        let oid = self.layout.entry_oid(&location.uuid);
        let Some(omap) = self.read_entry_omap(&io, &oid).await? else {
            return self
                .forget(&key, &value, Some(location), Stale::NoEntryObject)
                .await;
        };
        match parse(self.kind(), location, &oid, omap)? {
            Parsed::Complete(entry) if entry.request_name == name => {
                check_compatible(&entry, request)?;
                Ok(Some(*entry))
            }
            Parsed::Complete(_) => {
                self.forget(&key, &value, Some(location), Stale::OtherName)
                    .await
            }
            Parsed::Incomplete {
                request_name: Some(stored),
                ..
            } if stored != name => {
                self.forget(&key, &value, Some(location), Stale::OtherName)
                    .await
            }
            Parsed::Incomplete { defect, .. } => {
                warn!(%oid, defect, "removing incomplete journal entry");
                self.remove_entry_object(&io, &oid).await?;
                self.failpoint(Step::RepairAfterEntryObjectRemoved).await?;
                self.forget(&key, &value, Some(location), Stale::Incomplete)
                    .await
            }
        }
    }

    /// Removes a stale directory key (if it still holds the `value` found stale) and reports
    /// "no reservation".
    async fn forget(
        &self,
        key: &str,
        value: &[u8],
        location: Option<Location>,
        why: Stale,
    ) -> Result<Option<Entry>> {
        warn!(key, ?location, ?why, "removing stale journal directory key");
        self.remove_directory_key_if(key, value).await?;
        Ok(None)
    }
}
