//! Operations by uuid (what a decoded volume or snapshot ID gives): reading an entry and
//! recording its image id (fenced: see [`Journal::record_image_id`]).

use ceph::WriteOp;

use crate::attributes::IMAGE_ID;
use crate::entry::{Entry, Parsed, parse};
use crate::error::{Error, Result};
use crate::id::Location;
use crate::journal::{Journal, ceph_error};

impl Journal {
    /// The entry at `location` (from a decoded volume or snapshot ID).
    ///
    /// [`Error::NotFound`] when there is no object (or no pool), [`Error::Incomplete`] when the
    /// object lacks its request name (DeleteVolume can still [`Journal::delete`] it).
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), uuid = %location.uuid))]
    pub async fn entry(&self, location: &Location) -> Result<Entry> {
        let not_found = || Error::NotFound {
            kind: self.kind(),
            uuid: location.uuid,
            pool_id: location.pool_id,
        };
        let oid = self.layout.entry_oid(&location.uuid);
        let io = match self.entry_io(location.pool_id).await {
            Ok(io) => io,
            Err(err) if err.is_not_found() => return Err(not_found()),
            Err(err) => return Err(ceph_error("open entry pool", &oid, err)),
        };
        let omap = self
            .read_entry_omap(&io, &oid)
            .await?
            .ok_or_else(not_found)?;
        match parse(self.kind(), *location, &oid, omap)? {
            Parsed::Complete(entry) => Ok(*entry),
            Parsed::Incomplete { defect, .. } => Err(Error::Incomplete {
                kind: self.kind(),
                uuid: location.uuid,
                pool_id: location.pool_id,
                defect,
            }),
        }
    }

    /// Records the RBD image id once the image exists (`csi.imageid`), reading the entry first;
    /// [`Journal::record_image_id`] when the caller has read it already.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), uuid = %location.uuid, image_id = %image_id))]
    pub async fn store_image_id(&self, location: &Location, image_id: &str) -> Result<()> {
        let entry = self.entry(location).await?;
        self.record_image_id(&entry, image_id).await
    }

    /// Records the image id of `entry` in one write op that asserts the entry object still
    /// exists and still names the request `entry` was read for: a write that comes late (after
    /// a delete) fails instead of re-creating the entry as an object holding only
    /// `csi.imageid`. Inside a lock scope it also asserts the scope's locks on the entry.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), uuid = %entry.location.uuid, image_id = %image_id))]
    pub async fn record_image_id(&self, entry: &Entry, image_id: &str) -> Result<()> {
        if image_id.is_empty() || image_id.contains('\0') {
            return Err(Error::InvalidArgument {
                field: "image_id",
                rule: "must be a non-empty string without NUL",
            });
        }
        let location = &entry.location;
        let _lock = self.lock_name(&entry.request_name).await;
        let oid = self.layout.entry_oid(&location.uuid);
        let io = self
            .entry_io(location.pool_id)
            .await
            .map_err(|err| ceph_error("open entry pool", &oid, err))?;
        let op = WriteOp::new("write image id")
            .assert_exists()
            .omap_cmp_eq(self.kind().name_key(), entry.request_name.as_bytes())
            .omap_set(&[(IMAGE_ID, image_id.as_bytes())]);
        match io.operate(&oid, op).await {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() || err.is_compare_failed() => Err(Error::NotFound {
                kind: self.kind(),
                uuid: location.uuid,
                pool_id: location.pool_id,
            }),
            Err(err) => Err(ceph_error("write image id", &oid, err)),
        }
    }
}
