//! Where the cross-process locks on a journal live: the journal knows its object names, so it
//! places the locks (the controller decides which to take and for how long).
//!
//! - A request name: exclusive cls_lock `sepia.request.<name>` on the directory object. On the
//!   directory, not on an object of its own, because the reservation's directory write lands
//!   there: inside the holder's lock scope that write asserts the lock in the same op, so a
//!   reservation that lost its lock cannot overwrite another process's key (a key can only be
//!   compared when present, never when absent). The lock's xattr is removed at release, so no
//!   record stays behind per name; a crashed holder's expired record goes at the name's next
//!   lock. ceph-csi reads only the directory's omap, never its xattrs.
//! - An entry (`csi.volume.<uuid>`, `csi.snap.<uuid>`): any named lock on the entry object,
//!   taken only while the object exists (never re-created by a lock), kept as an xattr of the
//!   entry and removed with it.

use ceph::{Lease, LockKind, LockSpec, Locker};

use crate::error::{Error, Result};
use crate::id::Location;
use crate::journal::{Journal, ceph_error};

/// Prefix of the request-name locks on the directory object.
pub const REQUEST_LOCK_PREFIX: &str = "sepia.request.";

impl Journal {
    /// The exclusive lock on `request_name`, for a whole create (lookup, reservation, image,
    /// rollback). [`Error::InProgress`] while another request holds it.
    pub async fn lock_request_name(
        &self,
        locker: &Locker,
        request_name: &str,
        description: String,
    ) -> Result<Lease> {
        let oid = self.layout.directory_oid();
        let spec = LockSpec {
            oid: oid.to_owned(),
            name: format!("{REQUEST_LOCK_PREFIX}{request_name}"),
            kind: LockKind::Exclusive,
            description,
            // The directory's first creation may come from here.
            must_exist: false,
            forget_on_release: true,
        };
        locker.lock(&self.io, spec).await.map_err(|err| {
            if err.is_busy() {
                Error::InProgress {
                    key: format!("{} name {request_name}", self.kind()),
                }
            } else {
                ceph_error("lock request name", oid, err)
            }
        })
    }

    /// Lock `name` of `kind` on the entry object at `location`. [`Error::NotFound`] when the
    /// entry object is missing, [`Error::InProgress`] while the lock is held against us.
    pub async fn lock_entry(
        &self,
        locker: &Locker,
        location: &Location,
        name: &str,
        kind: LockKind,
        description: String,
    ) -> Result<Lease> {
        let oid = self.layout.entry_oid(&location.uuid);
        let not_found = || Error::NotFound {
            kind: self.kind(),
            uuid: location.uuid,
            pool_id: location.pool_id,
        };
        let io = match self.entry_io(location.pool_id).await {
            Ok(io) => io,
            Err(err) if err.is_not_found() => return Err(not_found()),
            Err(err) => return Err(ceph_error("open entry pool", &oid, err)),
        };
        let spec = LockSpec {
            oid: oid.clone(),
            name: name.to_owned(),
            kind,
            description,
            must_exist: true,
            forget_on_release: false,
        };
        locker.lock(&io, spec).await.map_err(|err| {
            if err.is_busy() {
                Error::InProgress {
                    key: format!("{} {} ({name})", self.kind(), location.uuid),
                }
            } else if err.is_not_found() {
                not_found()
            } else {
                ceph_error("lock journal entry", &oid, err)
            }
        })
    }
}
