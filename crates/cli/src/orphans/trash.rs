//! The trash half of `orphans`. The controller deletes an image by moving it to the trash and
//! having it purged (by the mgr, or at once); a trashed driver image whose journal entry is gone
//! and whose deferment end is past (plus `--trash-grace` for the purge in flight) is one of:
//! - kept by clones: a deleted volume (or snapshot) whose snapshots still have clones — the
//!   snapshots and volumes restored from it. Not removable; it goes with the last clone.
//! - expired: nothing keeps it, so the purge its delete queued was lost (a mgr restart, a
//!   crash between the purge of a last clone and its parent). Removed by `--delete`, without
//!   `force`, so librbd itself refuses one still deferred, watched or with clones.
//!
//! An entry whose journal entry still exists belongs to a DeleteVolume in flight or crashed
//! (then the entry is listed, and its removal is the controller's DeleteVolume, which finishes
//! the purge).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use ceph::rbd::TrashSource;
use controller::pool::cluster::Pool;
use journal::Location;

use super::{Finding, What, driver_image, progress, since};
use crate::context::{Context, object_exists};
use crate::error::{Error, Result};

/// Adds the trash findings of `pool`; `images` are its live images (the clones are among them).
pub async fn findings(
    cx: &Context,
    pool: &Pool,
    images: &BTreeSet<String>,
    grace: Duration,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let entries = ceph::rbd::trash_list(&pool.io)
        .await
        .map_err(|e| Error::ceph(format!("list the trash of {}", pool.spec("")), e))?;
    let now = SystemTime::now();
    let mut candidates = Vec::new();
    for entry in entries {
        // Mirroring, migration and `rbd rm` put images there too: not the driver's.
        if !matches!(entry.source, TrashSource::User | TrashSource::UserParent) {
            continue;
        }
        let Some((kind, uuid)) = driver_image(&entry.name) else {
            continue;
        };
        // A grace too long to add up never ends.
        let due = entry.deferment_end_time.checked_add(grace);
        if due.is_none_or(|due| due > now) {
            continue;
        }
        let oid = kind.entry_oid(&uuid);
        if object_exists(pool, &oid).await? {
            continue;
        }
        candidates.push((entry, kind, uuid));
    }
    if candidates.is_empty() {
        return Ok(());
    }
    let clones = clones_of_trashed(pool, images).await?;
    for (entry, kind, uuid) in candidates {
        let location = Location {
            pool_id: pool.io.pool_id(),
            uuid,
        };
        let deleted = humantime::format_rfc3339_seconds(entry.deletion_time);
        let (what, why, removable) = match clones.get(&entry.id) {
            Some(kept_by) => (
                What::KeptByClones,
                format!(
                    "deleted {deleted} but kept in the trash by its clones {}: it goes with the \
                     last of them (not removed)",
                    kept_by.join(", ")
                ),
                false,
            ),
            None => (
                What::TrashExpired,
                format!(
                    "trashed {deleted}, deferred until {}, and no journal entry nor clone keeps \
                     it: the purge its delete queued never ran",
                    humantime::format_rfc3339_seconds(entry.deferment_end_time)
                ),
                true,
            ),
        };
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            what,
            kind: kind.noun(),
            pool: String::new(),
            object: format!("{} (trash id {})", pool.spec(&entry.name), entry.id),
            id: Some(controller::pool::lookup::volume_id(&cx.cluster, &location)?),
            uuid: None,
            request_name: None,
            why,
            age_seconds: since(entry.deletion_time),
            removable,
            location: Some(location),
            trash_id: Some(entry.id),
        });
    }
    Ok(())
}

/// Trash id of each trashed parent in this pool and namespace → its live clones (clones in
/// other pools are not seen; they make the removal fail, which is then reported).
async fn clones_of_trashed(
    pool: &Pool,
    images: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut clones: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let bar = progress(images.len(), "clones of trashed images");
    for name in images {
        bar.inc(1);
        let Some(image) = controller::pool::image::open(pool, name).await? else {
            continue;
        };
        let parent = image.parent().await;
        controller::pool::image::close(pool, image).await?;
        let parent =
            parent.map_err(|e| Error::ceph(format!("parent of {}", pool.spec(name)), e))?;
        if let Some(parent) = parent.filter(|p| {
            p.trash && p.pool_id == pool.io.pool_id() && p.namespace == pool.io.namespace()
        }) {
            clones
                .entry(parent.image_id)
                .or_default()
                .push(name.clone());
        }
    }
    bar.finish_and_clear();
    Ok(clones)
}

/// Removes expired trash findings, in passes while some go: a trashed clone must be gone
/// before its trashed parent can follow. Returns one line per finding.
pub async fn remove(trashed: &[(&Pool, &Finding)]) -> Vec<String> {
    let mut outcomes: Vec<Option<String>> = vec![None; trashed.len()];
    loop {
        let mut progressed = false;
        for (n, (pool, finding)) in trashed.iter().enumerate() {
            if outcomes[n].as_deref() == Some("removed") {
                continue;
            }
            let outcome = match remove_one(pool, finding).await {
                Ok(()) => {
                    progressed = true;
                    "removed".to_owned()
                }
                Err(e) => format!("not removed: {e}"),
            };
            outcomes[n] = Some(outcome);
        }
        if !progressed || outcomes.iter().all(|o| o.as_deref() == Some("removed")) {
            break;
        }
    }
    trashed
        .iter()
        .zip(outcomes)
        .map(|((_, f), outcome)| format!("{}: {}", f.object, outcome.unwrap_or_default()))
        .collect()
}

async fn remove_one(pool: &Pool, finding: &Finding) -> Result<()> {
    let (Some(location), Some(trash_id)) = (finding.location, finding.trash_id.as_deref()) else {
        return Err(Error::Usage {
            what: "the finding names no trash entry".to_owned(),
        });
    };
    let kind = if finding.kind == journal::Kind::Snapshot.noun() {
        journal::Kind::Snapshot
    } else {
        journal::Kind::Volume
    };
    let oid = kind.entry_oid(&location.uuid);
    if object_exists(pool, &oid).await? {
        return Err(Error::Usage {
            what: format!("its journal entry {oid} exists now"),
        });
    }
    match ceph::rbd::trash_remove(&pool.io, trash_id, false).await {
        Ok(()) => Ok(()),
        // Purged meanwhile (the lost purge ran after all, or a DeleteVolume retry did it).
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::ceph(format!("remove trash id {trash_id}"), e)),
    }
}
