//! Locks that keep two requests apart — in this process and in every other controller process
//! on the cluster (docs/architecture.md §9: every sidecar pod runs its own controller).
//!
//! Design:
//! - **What is locked where.** Request names (CreateVolume, CreateSnapshot): an exclusive
//!   cls_lock `sepia.request.<name>` on the journal's directory object, whose reservation write
//!   then asserts it ([`journal::Journal::lock_request_name`]). Volumes and snapshots: cls_lock
//!   `sepia.id` on their entry object `csi.volume.<uuid>` / `csi.snap.<uuid>` — shared by
//!   snapshots, clones and restores of it, exclusive for delete and expand (ceph-csi's matrix).
//!   A snapshot's preparation: exclusive `sepia.prepare` on `csi.snap.<uuid>`. A volume's
//!   publication records: exclusive `sepia.publish` on `csi.volume.<uuid>`. Entry locks are
//!   taken only while the entry exists, so no lock ever re-creates a deleted entry.
//! - **In front, in memory.** Each lock is first taken in this process ([`journal::OperationLocks`]
//!   for names, [`crate::id_locks`] for ids): contention inside the process answers at once
//!   without a round trip. A RADOS lock this process is still releasing does not refuse its own
//!   next request (that one waits the round trip), so a retry right after a deadline goes
//!   through.
//! - **Contention** answers ABORTED at once (CSI's "operation pending"; the sidecars retry with
//!   back-off) — except waiting for a snapshot's preparation (restore, DeleteSnapshot,
//!   DeleteVolume of its source), which lasts about a second: those poll the lock for the
//!   request's budget rather than push the caller into a back-off of seconds to minutes.
//! - **Durations.** Each lock lasts `--lock-duration` (30 s) past its last renewal; renewals
//!   run at a third of it while the request (or the background preparation) runs. A crashed
//!   holder's lock expires by itself; a holder that finds its lock lost is stopped (ABORTED)
//!   and its fenced writes fail. Cookies name the process (host, pid, random) and the lock.
//! - **Fencing.** Requests run in a `ceph::lock_scope`: journal writes assert the request's
//!   locks on their object in the same op, and a lock is released only after every Ceph call
//!   made under it has returned — also librbd calls abandoned at their deadline, which cannot
//!   carry an assertion — so nothing a request started acts after it let go of its lock. (A
//!   lock can still expire under a process cut off from the cluster for a whole duration: its
//!   request is then stopped and its journal writes refused, but a librbd call it had already
//!   sent may land late — the limit of any lease without fencing inside librbd.)

use std::time::Duration;

use ceph::{Lease, LockKind};
use journal::{Journal, Kind, Location, LockGuard};

use crate::error::{Error, Result};
use crate::id_locks::IdGuard;
use crate::metrics::{Holder, Lock};
use crate::pool::lookup::Found;
use crate::state::State;

/// cls_lock name of the shared/exclusive lock on a volume or snapshot entry.
pub const ID_LOCK: &str = "sepia.id";
/// cls_lock name of a snapshot's preparation, on its entry.
pub const PREPARE_LOCK: &str = "sepia.prepare";
/// cls_lock name of a volume's publication records, on its entry.
pub const PUBLISH_LOCK: &str = "sepia.publish";

/// How often a waiter asks RADOS again for a lock held by another process.
const POLL: Duration = Duration::from_millis(200);

/// Lock key of a volume id.
pub fn volume_key(volume_id: &str) -> String {
    format!("volume/{volume_id}")
}

/// Lock key of a snapshot id.
pub fn snapshot_key(snapshot_id: &str) -> String {
    format!("snapshot/{snapshot_id}")
}

/// Name-lock key of a CreateVolume request name.
pub fn create_volume_key(request_name: &str) -> String {
    format!("create-volume/{request_name}")
}

/// Name-lock key of a CreateSnapshot request name.
pub fn create_snapshot_key(request_name: &str) -> String {
    format!("create-snapshot/{request_name}")
}

/// Name-lock key of a snapshot's preparation (clone, inner snapshot, image id): held by the
/// background task of the first CreateSnapshot, waited for by restores and deletes.
pub fn prepare_key(uuid: &uuid::Uuid) -> String {
    format!("snapshot-prepare/{uuid}")
}

/// Lock key of a volume's publication records.
pub fn publish_key(volume_id: &str) -> String {
    format!("publish/{volume_id}")
}

/// Which lock on an entry object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryLock {
    /// `sepia.id`, shared: snapshots, clones, restores of the volume or snapshot.
    Shared,
    /// `sepia.id`, exclusive: delete, expand.
    Exclusive,
    /// `sepia.prepare`.
    Prepare,
    /// `sepia.publish`.
    Publish,
}

impl EntryLock {
    fn rados(self) -> (&'static str, LockKind) {
        match self {
            EntryLock::Shared => (ID_LOCK, LockKind::Shared),
            EntryLock::Exclusive => (ID_LOCK, LockKind::Exclusive),
            EntryLock::Prepare => (PREPARE_LOCK, LockKind::Exclusive),
            EntryLock::Publish => (PUBLISH_LOCK, LockKind::Exclusive),
        }
    }

    fn metric(self) -> Lock {
        match self {
            EntryLock::Shared | EntryLock::Exclusive => Lock::id,
            EntryLock::Prepare => Lock::prepare,
            EntryLock::Publish => Lock::publish,
        }
    }
}

/// The metric label of an in-process lock key (see the `*_key` functions).
fn key_metric(key: &str) -> Lock {
    match key.split_once('/').map(|(kind, _)| kind) {
        Some("create-volume" | "create-snapshot") => Lock::request_name,
        Some("snapshot-prepare") => Lock::prepare,
        Some("publish") => Lock::publish,
        _ => Lock::id,
    }
}

/// ABORTED for a request that found `lock` held, counted in `sepia_lock_contention_total`.
fn refused(state: &State, lock: Lock, holder: Holder, what: String) -> Error {
    state.settings.metrics.contended(lock, holder);
    Error::InProgress { what }
}

/// A lock held in this process and in RADOS. Dropping it lets go of both: the RADOS lock is
/// released in the background once the Ceph calls made under it have returned; until then
/// this process's own next attempt waits for that release instead of being refused (see
/// `ceph::Locker`), while other processes find it held.
#[must_use = "the lock is released as soon as it is dropped"]
pub struct Held {
    // Field order is drop order: the RADOS release starts before the in-process key is free.
    lease: Lease,
    local: LocalGuard,
}

impl Held {
    /// The RADOS lease, for background work that takes it over
    /// ([`ceph::lock_scope::holding`]); the in-process half goes with it.
    pub fn into_lease(self) -> Lease {
        let Held { lease, local } = self;
        match local {
            LocalGuard::Name(guard) => lease.keep_until_released(guard),
            LocalGuard::Id(guard) => lease.keep_until_released(guard),
        }
        lease
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Held").field(&self.lease).finish()
    }
}

/// The in-process half of a lock, taken first; [`Local::request_name`] and [`Local::entry`]
/// add the RADOS half.
#[must_use = "the lock is released as soon as it is dropped"]
pub struct Local {
    guard: LocalGuard,
    what: String,
}

enum LocalGuard {
    Name(LockGuard),
    Id(IdGuard),
}

impl Local {
    /// A name lock (request names, preparations), or ABORTED naming `what`.
    pub fn name(state: &State, key: &str, what: String) -> Result<Local> {
        let guard = state
            .names
            .try_acquire(key)
            .map_err(|_| refused(state, key_metric(key), Holder::this_process, what.clone()))?;
        Ok(Local {
            guard: LocalGuard::Name(guard),
            what,
        })
    }

    /// A name lock, waiting for this process's holder to finish.
    pub async fn name_waiting(state: &State, key: &str, what: String) -> Local {
        Local {
            guard: LocalGuard::Name(state.names.acquire(key).await),
            what,
        }
    }

    /// An id lock held alone, or ABORTED.
    pub fn exclusive(state: &State, key: &str, what: String) -> Result<Local> {
        let guard = state
            .ids
            .try_exclusive(key, &what)
            .inspect_err(|_| counted_here(state, key))?;
        Ok(Local {
            guard: LocalGuard::Id(guard),
            what,
        })
    }

    /// An id lock shared with other shared holders, or ABORTED.
    pub fn shared(state: &State, key: &str, what: String) -> Result<Local> {
        let guard = state
            .ids
            .try_shared(key, &what)
            .inspect_err(|_| counted_here(state, key))?;
        Ok(Local {
            guard: LocalGuard::Id(guard),
            what,
        })
    }

    /// Adds the RADOS lock on `request_name` in `journal`'s directory; ABORTED while another
    /// process holds it.
    pub async fn request_name(
        self,
        state: &State,
        journal: &Journal,
        request_name: &str,
    ) -> Result<Held> {
        match journal
            .lock_request_name(&state.locker, request_name, self.what.clone())
            .await
        {
            Ok(lease) => Ok(self.attach(lease)),
            Err(journal::Error::InProgress { .. }) => Err(refused(
                state,
                Lock::request_name,
                Holder::other_process,
                self.what,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds `lock` on the entry object at `location`: `None` when the entry is gone, ABORTED
    /// while another process holds the lock against us.
    pub async fn entry(
        self,
        state: &State,
        journal: &Journal,
        location: &Location,
        lock: EntryLock,
    ) -> Result<Option<Held>> {
        match self.attempt(state, journal, location, lock).await? {
            Attempt::Locked(lease) => Ok(Some(self.attach(lease))),
            Attempt::Gone => Ok(None),
            Attempt::Busy => Err(refused(
                state,
                lock.metric(),
                Holder::other_process,
                self.what,
            )),
        }
    }

    /// [`Local::entry`] on a volume or snapshot just looked up.
    pub async fn found(
        self,
        state: &State,
        found: &Found,
        lock: EntryLock,
    ) -> Result<Option<Held>> {
        self.entry(state, &found.journal, &found.location(), lock)
            .await
    }

    /// [`Local::entry`], asking again every 200 ms while another process holds the lock; the
    /// caller's deadline bounds the wait.
    pub async fn entry_waiting(
        self,
        state: &State,
        journal: &Journal,
        location: &Location,
        lock: EntryLock,
    ) -> Result<Option<Held>> {
        loop {
            match self.attempt(state, journal, location, lock).await? {
                Attempt::Locked(lease) => return Ok(Some(self.attach(lease))),
                Attempt::Gone => return Ok(None),
                Attempt::Busy => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn attempt(
        &self,
        state: &State,
        journal: &Journal,
        location: &Location,
        lock: EntryLock,
    ) -> Result<Attempt> {
        let (name, kind) = lock.rados();
        match journal
            .lock_entry(&state.locker, location, name, kind, self.what.clone())
            .await
        {
            Ok(lease) => Ok(Attempt::Locked(lease)),
            Err(journal::Error::NotFound { .. }) => Ok(Attempt::Gone),
            Err(journal::Error::InProgress { .. }) => Ok(Attempt::Busy),
            Err(e) => Err(e.into()),
        }
    }

    fn attach(self, lease: Lease) -> Held {
        Held {
            lease,
            local: self.guard,
        }
    }
}

/// The id lock (`Shared` or `Exclusive`) on a volume or snapshot just looked up, in this
/// process and in RADOS; ABORTED on contention, NOT_FOUND when its entry was deleted meanwhile.
pub async fn id_lock(state: &State, found: &Found, lock: EntryLock, what: String) -> Result<Held> {
    let key = match found.entry.kind {
        Kind::Volume => volume_key(&found.id),
        Kind::Snapshot => snapshot_key(&found.id),
    };
    let local = match lock {
        EntryLock::Shared => Local::shared(state, &key, what)?,
        _ => Local::exclusive(state, &key, what)?,
    };
    local
        .found(state, found, lock)
        .await?
        .ok_or_else(|| gone(found))
}

/// A snapshot's preparation lock, waiting for its holder here or in another process (within
/// the caller's deadline); NOT_FOUND when the snapshot was deleted meanwhile.
pub async fn preparation(state: &State, snapshot: &Found) -> Result<Held> {
    let location = snapshot.location();
    let what = format!("the preparation of snapshot {}", snapshot.id);
    Local::name_waiting(state, &prepare_key(&location.uuid), what)
        .await
        .entry_waiting(state, &snapshot.journal, &location, EntryLock::Prepare)
        .await?
        .ok_or_else(|| gone(snapshot))
}

fn gone(found: &Found) -> Error {
    let why = "its journal entry was deleted meanwhile".to_owned();
    match found.entry.kind {
        Kind::Volume => Error::VolumeNotFound {
            volume_id: found.id.clone(),
            why,
        },
        Kind::Snapshot => Error::SnapshotNotFound {
            snapshot_id: found.id.clone(),
            why,
        },
    }
}

/// Counts an id lock this process holds against the request.
fn counted_here(state: &State, key: &str) {
    state
        .settings
        .metrics
        .contended(key_metric(key), Holder::this_process);
}

/// One try at an entry lock.
enum Attempt {
    Locked(Lease),
    /// The entry object is gone.
    Gone,
    /// Held against us.
    Busy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_locks_have_their_rados_names() {
        assert_eq!(EntryLock::Shared.rados(), (ID_LOCK, LockKind::Shared));
        assert_eq!(EntryLock::Exclusive.rados(), (ID_LOCK, LockKind::Exclusive));
        assert_eq!(
            EntryLock::Prepare.rados(),
            (PREPARE_LOCK, LockKind::Exclusive)
        );
        assert_eq!(
            EntryLock::Publish.rados(),
            (PUBLISH_LOCK, LockKind::Exclusive)
        );
    }
}
