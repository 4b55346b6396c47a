//! Operations by uuid (what a decoded volume or snapshot ID gives): reading an entry and
//! recording its image id.

use crate::attributes::IMAGE_ID;
use crate::entry::{Entry, Parsed, parse};
use crate::error::{Error, Result};
use crate::journal::{Journal, ceph_error};
use crate::layout::Location;

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

    /// Records the RBD image id once the image exists (`csi.imageid`).
    ///
    /// Checks first that the entry still exists: an omap write would otherwise re-create a
    /// deleted entry as an object holding only `csi.imageid`.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), uuid = %location.uuid, image_id = %image_id))]
    pub async fn store_image_id(&self, location: &Location, image_id: &str) -> Result<()> {
        if image_id.is_empty() || image_id.contains('\0') {
            return Err(Error::InvalidArgument {
                field: "image_id",
                rule: "must be a non-empty string without NUL",
            });
        }
        let entry = self.entry(location).await?;
        let _lock = self.lock_name(&entry.request_name).await;
        let oid = self.layout.entry_oid(&location.uuid);
        let io = self
            .entry_io(location.pool_id)
            .await
            .map_err(|err| ceph_error("open entry pool", &oid, err))?;
        io.omap_set(&oid, &[(IMAGE_ID, image_id.as_bytes())])
            .await
            .map_err(|err| ceph_error("write image id", &oid, err))
    }
}
