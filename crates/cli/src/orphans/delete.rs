//! `--delete`: the confirmation, then each removable finding re-checked under the lock the
//! controller takes for it and removed by the controller's own code (CephFS ones by the CephFS
//! controller's, trashed images last: [`super::trash::remove`]).

use std::io::{BufRead, Write};

use controller::locks::{self, Local};
use controller::pool::cluster::Pool;
use journal::Kind;

use super::{Finding, What, pool_label, trash};
use crate::context::Context;
use crate::error::{Error, Result};

pub(super) fn confirm(count: usize) -> Result<bool> {
    let mut err = std::io::stderr();
    write!(err, "Remove these {count} leftovers? [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Removes each removable finding, re-checking it under the controller's lock for it; trashed
/// images last, in passes (a trashed clone must go before its trashed parent can).
pub(super) async fn delete(
    cx: &Context,
    pools: &[Pool],
    filesystems: &[cephfs_controller::fs::Fs],
    findings: &[Finding],
) -> Result<Vec<String>> {
    let secrets = cx.secrets().await?;
    // Asked again right before removing: a PV made since the scan protects its volume too.
    let pvs = match &cx.kube {
        Some(kube) => kube.persistent_volumes().await?,
        None => Vec::new(),
    };
    let mut removed = Vec::new();
    let mut trashed = Vec::new();
    for finding in findings.iter().filter(|f| f.removable) {
        if let Some(pv) = pvs
            .iter()
            .find(|pv| Some(&pv.handle) == finding.id.as_ref())
        {
            removed.push(format!(
                "{}: not removed: PersistentVolume {} references it",
                finding.object, pv.name
            ));
            continue;
        }
        if let Some(fs) = filesystems
            .iter()
            .find(|fs| finding.driver == "cephfs" && super::cephfs::label(fs) == finding.pool)
        {
            let outcome = match super::cephfs::remove(cx, fs, finding).await {
                Ok(()) => "removed".to_owned(),
                Err(e) => format!("not removed: {e}"),
            };
            removed.push(format!("{}: {outcome}", finding.object));
            continue;
        }
        let Some(pool) = pools.iter().find(|p| pool_label(p) == finding.pool) else {
            continue;
        };
        if finding.what == What::TrashExpired {
            trashed.push((pool, finding));
            continue;
        }
        let outcome = match delete_one(cx, pool, finding, &secrets).await {
            Ok(()) => "removed".to_owned(),
            Err(e) => format!("not removed: {e}"),
        };
        removed.push(format!("{}: {outcome}", finding.object));
    }
    removed.extend(trash::remove(&trashed).await);
    Ok(removed)
}

async fn delete_one(
    cx: &Context,
    pool: &Pool,
    finding: &Finding,
    secrets: &csi::SecretMap,
) -> Result<()> {
    let state = &cx.state;
    let kind = if finding.kind == Kind::Snapshot.noun() {
        Kind::Snapshot
    } else {
        Kind::Volume
    };
    let journal = match kind {
        Kind::Volume => pool.volumes()?,
        Kind::Snapshot => pool.snapshots()?,
    };
    let location = finding.location.ok_or_else(|| Error::Usage {
        what: "the finding names no location".to_owned(),
    })?;
    // The request name's lock, as CreateVolume/CreateSnapshot take it: held by a request in
    // flight, this fails (ABORTED) and the finding is left alone.
    let _name = match &finding.request_name {
        Some(name) => {
            let key = match kind {
                Kind::Volume => locks::create_volume_key(name),
                Kind::Snapshot => locks::create_snapshot_key(name),
            };
            let local = Local::name(state, &key, format!("request {name}"))?;
            Some(local.request_name(state, &journal, name).await?)
        }
        None => None,
    };
    match finding.what {
        What::EntryWithoutImage | What::UnreferencedEntry => {
            let id = finding.id.as_deref().unwrap_or_default();
            if let Ok(entry) = journal.entry(&location).await
                && controller::pool::image::exists(pool, &entry.image_name).await?
            {
                return Err(Error::Usage {
                    what: format!("its image {} exists now", entry.image_name),
                });
            }
            match kind {
                Kind::Volume => {
                    controller::volume::delete::delete_volume(state, id, secrets).await?
                }
                Kind::Snapshot => {
                    controller::snapshot::delete::delete_snapshot(state, id, secrets).await?
                }
            }
        }
        What::DanglingKey => {
            let request_name = finding.request_name.as_deref().unwrap_or_default();
            let oid = journal.layout().entry_oid(&location.uuid);
            if crate::context::object_exists(pool, &oid).await? {
                return Err(Error::Usage {
                    what: format!("its entry object {oid} exists now"),
                });
            }
            journal.undo(request_name, &location).await?;
        }
        What::ImageWithoutEntry => {
            let oid = kind.entry_oid(&location.uuid);
            if crate::context::object_exists(pool, &oid).await? {
                return Err(Error::Usage {
                    what: format!("its entry {oid} exists now"),
                });
            }
            let name = finding
                .object
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Some(image) = controller::pool::image::open(pool, &name).await? {
                let watched = controller::pool::image::refuse_if_watched(pool, &image, || {
                    format!("image {name}")
                })
                .await;
                controller::pool::image::close(pool, image).await?;
                watched?;
            }
            ceph::rbd::remove(&pool.io, &name)
                .await
                .map_err(|e| Error::ceph(format!("remove {}", pool.spec(&name)), e))?;
        }
        What::MalformedKey
        | What::NoPersistentVolume
        | What::PvWithoutVolume
        | What::TrashExpired
        | What::KeptByClones => {}
    }
    Ok(())
}
