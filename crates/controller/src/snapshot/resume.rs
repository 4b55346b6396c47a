//! Snapshots whose preparation a restart cut short.
//!
//! CreateSnapshot answers at the cut and prepares ceph-csi's layout in the background
//! ([`crate::snapshot::prepare`]). Every user of a snapshot finishes an unfinished preparation
//! inline (restore, DeleteSnapshot, DeleteVolume of the source), so nothing depends on this
//! pass for correctness; it exists so that the layout does not wait for the snapshot's next
//! user after a restart: ceph-csi (or a person with `rbd ls`) expects the `csi-snap-<uuid>`
//! image, and the cut otherwise keeps a user snapshot on the source volume.
//!
//! At start-up the controller walks every snapshot journal it can reach with its standing
//! credentials and prepares the entries that have a recorded cut but no image id. An entry
//! whose prepare lock is held — in this process or, in RADOS, in any other — is being prepared
//! by someone else and is skipped, so every controller process can run this pass at once.

use std::sync::Arc;
use std::time::Instant;

use events::Outcome;

use journal::Kind;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::locks::{self, EntryLock, Local};
use crate::params::SnapshotTags;
use crate::pool::listing::{self, Token};
use crate::secrets::Source;
use crate::snapshot::announce;
use crate::snapshot::prepare::prepare;
use crate::snapshot::record;
use crate::state::State;

/// Journal entries read per page.
const PAGE: usize = 100;

/// Prepares every cut-but-unprepared snapshot; how many it prepared. Stops at the first error
/// (the next start-up, or the snapshot's next user, carries on).
pub async fn resume_unprepared(state: &Arc<State>) -> Result<usize> {
    let mut start: Option<Token> = None;
    let mut prepared = 0;
    loop {
        let page = listing::page_all(
            state,
            Kind::Snapshot,
            Source::Standing("resuming snapshot preparation"),
            start,
            PAGE,
        )
        .await?;
        for (directory, listed) in &page.entries {
            let Some(location) = listed.location else {
                continue;
            };
            let Some(pool) = directory.sibling_if_exists(location.pool_id).await? else {
                continue;
            };
            let journal = pool.snapshots()?;
            let entry = match journal.entry(&location).await {
                Ok(entry) => entry,
                // Reserved and never cut, or deleted meanwhile: nothing to prepare.
                Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if entry.image_id.is_some() || entry.source.is_none() {
                continue;
            }
            // Without a recorded cut the CreateSnapshot never answered: its retry decides.
            if record::read(&pool, &location.uuid).await?.is_none() {
                continue;
            }
            let what = format!(
                "the preparation of snapshot {}",
                pool.spec(&entry.image_name)
            );
            let Ok(local) = Local::name(state, &locks::prepare_key(&location.uuid), what) else {
                continue;
            };
            let _lock = match local
                .entry(state, &journal, &location, EntryLock::Prepare)
                .await
            {
                Ok(Some(held)) => held,
                // Deleted meanwhile, or being prepared by another process.
                Ok(None) | Err(Error::InProgress { .. }) => continue,
                Err(e) => return Err(e),
            };
            // Read again under the lock: another process may have finished it meanwhile.
            let entry = match journal.entry(&location).await {
                Ok(entry) if entry.image_id.is_none() => entry,
                Ok(_) | Err(journal::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            info!(snapshot = %pool.spec(&entry.image_name), "resuming an interrupted snapshot preparation");
            let started = Instant::now();
            let tags = SnapshotTags::default();
            let outcome = prepare(state, &pool, &journal, &entry, &tags).await;
            match &outcome {
                Err(e) if e.is_injected() => {}
                Err(e) => {
                    let failed = announce::failed(e);
                    announce::preparation_ended(
                        state,
                        &pool,
                        &entry,
                        &tags,
                        failed,
                        started.elapsed(),
                    );
                }
                Ok(()) => {
                    announce::preparation_ended(
                        state,
                        &pool,
                        &entry,
                        &tags,
                        Outcome::ok(),
                        started.elapsed(),
                    );
                }
            }
            outcome?;
            prepared += 1;
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(prepared),
        }
    }
}

/// [`resume_unprepared`] in the background, in a lock scope of its own, logged; for start-up.
pub fn spawn_resume(state: &Arc<State>) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let outcome = ceph::lock_scope::scoped(resume_unprepared(&state))
            .await
            .unwrap_or_else(|lost| Err(lost.into()));
        match outcome {
            Ok(0) => {}
            Ok(n) => info!(snapshots = n, "interrupted snapshot preparations finished"),
            Err(e) => {
                warn!(error = %e, "resuming snapshot preparations stopped; each snapshot's next user finishes it")
            }
        }
    });
}
