//! `orphans --fs NAME`: in the cluster's subvolume group and CephFS journal (config.json's
//! `cephFS.subvolumeGroup`/`radosNamespace`, `csi` by default) —
//! - a volume entry whose subvolume is gone, a snapshot entry whose subvolume snapshot is gone:
//!   removed by the CephFS controller's DeleteVolume/DeleteSnapshot under the request name's
//!   lock (a CreateVolume in flight holds it, so its entry is left alone);
//! - a `csi-vol-<uuid>` subvolume without an entry: removed like DeleteVolume removes one
//!   (snapshots retained, a running clone canceled);
//! - a subvolume removed with its snapshots retained and no entry: kept for those snapshots,
//!   never removed here.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use cephfs_controller::fs::Fs;
use controller::locks::{self, Local};
use journal::{Journal, Kind, Location};

use super::{Finding, What, driver_image, listed_locations, since};
use crate::context::{Context, object_exists_in};
use crate::error::{Error, Result};

/// `fs/group`, as CephFS findings name their place.
pub fn label(fs: &Fs) -> String {
    format!("{}/{}", fs.name, fs.group)
}

pub async fn scan(fs: &Fs) -> Result<Vec<Finding>> {
    let subvolumes: BTreeSet<String> = fs.subvolumes().await?.into_iter().collect();
    let mut findings = Vec::new();
    for location in entries(&fs.volumes, fs).await? {
        let entry = match fs.volumes.entry(&location).await {
            Ok(entry) => entry,
            // Reserved by a CreateVolume that has not completed its entry: left to its retry.
            Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if subvolumes.contains(&entry.image_name) {
            continue;
        }
        let why = format!(
            "its subvolume {} does not exist",
            fs.spec(&entry.image_name)
        );
        findings.push(entry_finding(fs, Kind::Volume, &location, entry.request_name, why).await?);
    }
    for location in entries(&fs.snapshots, fs).await? {
        let entry = match fs.snapshots.entry(&location).await {
            Ok(entry) => entry,
            Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let source = entry.source.clone().unwrap_or_default();
        if !source.is_empty()
            && fs
                .snapshot_info(&source, &entry.image_name)
                .await?
                .is_some()
        {
            continue;
        }
        let why = format!(
            "its subvolume snapshot {}@{} does not exist",
            fs.spec(&source),
            entry.image_name
        );
        findings.push(entry_finding(fs, Kind::Snapshot, &location, entry.request_name, why).await?);
    }
    for name in &subvolumes {
        let Some((Kind::Volume, uuid)) = driver_image(name) else {
            continue;
        };
        let oid = fs.volumes.layout().entry_oid(&uuid);
        if object_exists_in(&fs.io, &oid).await? {
            continue;
        }
        let Some(info) = fs.info(name).await? else {
            continue;
        };
        let (what, why, removable) = if info.is_retained() {
            (
                What::KeptByClones,
                "deleted with its snapshots retained: it goes with the last of them (not \
                 removed; the mgr keeps no age for it)"
                    .to_owned(),
                false,
            )
        } else {
            (
                What::ImageWithoutEntry,
                format!("no journal entry {oid}: no request can reach this subvolume"),
                true,
            )
        };
        let age = info
            .created_at
            .as_deref()
            .and_then(cephfs_controller::snapshot::time::parse)
            .and_then(|t| u64::try_from(t.seconds).ok())
            .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
            .and_then(since);
        findings.push(Finding {
            driver: "cephfs",
            cluster_id: String::new(),
            what,
            kind: Kind::Volume.noun(),
            pool: label(fs),
            object: fs.spec(name),
            id: Some(fs.id_of(uuid)?),
            uuid: Some(uuid.to_string()),
            request_name: None,
            why,
            age_seconds: age,
            removable,
            location: Some(fs.location(uuid)),
            trash_id: None,
        });
    }
    Ok(findings)
}

/// Every entry object of `journal`: those its directory names, and those it does not.
async fn entries(journal: &Journal, fs: &Fs) -> Result<Vec<Location>> {
    let mut all: Vec<Location> = journal.scan().await?.orphans;
    all.extend(listed_locations(journal, fs.io.pool_id()).await?);
    Ok(all)
}

async fn entry_finding(
    fs: &Fs,
    kind: Kind,
    location: &Location,
    request_name: String,
    why: String,
) -> Result<Finding> {
    let journal = match kind {
        Kind::Volume => &fs.volumes,
        Kind::Snapshot => &fs.snapshots,
    };
    let oid = journal.layout().entry_oid(&location.uuid);
    let modified = fs
        .io
        .modified(&oid)
        .await
        .map_err(|e| Error::ceph(format!("stat {oid}"), e))?;
    Ok(Finding {
        driver: "cephfs",
        cluster_id: String::new(),
        what: What::EntryWithoutImage,
        kind: kind.noun(),
        pool: label(fs),
        object: oid,
        id: Some(fs.id_of(location.uuid)?),
        uuid: Some(location.uuid.to_string()),
        request_name: Some(request_name),
        why,
        age_seconds: modified.and_then(since),
        removable: true,
        location: Some(*location),
        trash_id: None,
    })
}

/// Removes one CephFS finding, re-checked under the request name's lock where it has one.
pub async fn remove(cx: &Context, fs: &Fs, finding: &Finding) -> Result<()> {
    let state = &cx.state;
    let kind = if finding.kind == Kind::Snapshot.noun() {
        Kind::Snapshot
    } else {
        Kind::Volume
    };
    let location = finding.location.ok_or_else(|| Error::Usage {
        what: "the finding names no location".to_owned(),
    })?;
    let id = finding.id.as_deref().unwrap_or_default();
    match finding.what {
        What::EntryWithoutImage => {
            let name = finding.request_name.as_deref().unwrap_or_default();
            let (key, journal) = match kind {
                Kind::Volume => (locks::create_volume_key(name), &fs.volumes),
                Kind::Snapshot => (locks::create_snapshot_key(name), &fs.snapshots),
            };
            let local = Local::name(state, &key, format!("request {name}"))?;
            let _name = local.request_name(state, journal, name).await?;
            let entry = match journal.entry(&location).await {
                Ok(entry) => entry,
                Err(journal::Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let secrets = crate::cephfs::secrets(cx).await?;
            let driver = crate::cephfs::driver(cx);
            match kind {
                Kind::Volume => {
                    if fs.info(&entry.image_name).await?.is_some() {
                        return Err(Error::Usage {
                            what: format!("its subvolume {} exists now", entry.image_name),
                        });
                    }
                    cephfs_controller::volume::delete::delete_volume(&driver, id, &secrets).await?;
                }
                Kind::Snapshot => {
                    cephfs_controller::snapshot::delete::delete_snapshot(&driver, id, &secrets)
                        .await?;
                }
            }
        }
        What::ImageWithoutEntry => {
            let oid = fs.volumes.layout().entry_oid(&location.uuid);
            if object_exists_in(&fs.io, &oid).await? {
                return Err(Error::Usage {
                    what: format!("its entry {oid} exists now"),
                });
            }
            let name = finding.object.rsplit('/').next().unwrap_or_default();
            cephfs_controller::volume::delete::remove_subvolume(fs, name).await?;
        }
        _ => {}
    }
    Ok(())
}
