//! CreateSnapshot: a subvolume snapshot `csi-snap-<uuid>` of the source volume's subvolume,
//! ready at once; its size is the source's quota (what a restore needs at least).
//!
//! Recipe: name lock, shared lock on the source volume, reservation in the snapshot journal
//! (recording the source subvolume as `csi.source`, as ceph-csi does), the snapshot (an
//! existing one of that name is this request's). A crash after the snapshot is repaired by
//! the retry, which finds the reservation and the snapshot.

use controller::error::{Error, Result};
use controller::locks::{self, EntryLock, Local};
use csi::SecretMap;
use csi::quote::quote;
use tracing::{info, warn};

use crate::driver::Driver;
use crate::failpoints::snapshot as points;
use crate::lookup;
use crate::params::SnapshotParams;
use crate::secrets::Creds;
use crate::snapshot::time;

/// A validated CreateSnapshot.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    pub name: String,
    pub source_volume_id: String,
    pub params: SnapshotParams,
    pub secrets: SecretMap,
}

/// What CreateSnapshot (and ListSnapshots) answer.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub snapshot_id: String,
    pub source_volume_id: String,
    pub size: u64,
    pub created: Option<prost_types::Timestamp>,
}

pub async fn create_snapshot(driver: &Driver, req: CreateSnapshot) -> Result<SnapshotInfo> {
    let state = &driver.state;
    let name_lock = Local::name(
        state,
        &locks::create_snapshot_key(&req.name),
        format!("snapshot name {}", quote(&req.name)),
    )?;
    let volume =
        lookup::find_volume(state, &req.source_volume_id, Creds::Request(&req.secrets)).await?;
    let fs = &volume.fs;
    if let Some(cluster_id) = &req.params.cluster_id
        && cluster_id != &fs.cluster.id
    {
        return Err(Error::parameter(
            "clusterID",
            format!(
                "{} is not the source volume's cluster {:?}",
                quote(cluster_id),
                fs.cluster.id
            ),
        ));
    }
    let _name = name_lock
        .request_name(state, &fs.snapshots, &req.name)
        .await?;
    let _source = Local::shared(
        state,
        &locks::volume_key(&req.source_volume_id),
        format!("volume {}", req.source_volume_id),
    )?
    .entry(state, &fs.volumes, &volume.location(), EntryLock::Shared)
    .await?
    .ok_or_else(|| Error::VolumeNotFound {
        volume_id: req.source_volume_id.clone(),
        why: "it was deleted meanwhile".to_owned(),
    })?;
    let parent = &volume.entry.image_name;
    let mut request = journal::Request::new(req.name.clone()).with_source(parent.clone());
    if let Some(prefix) = &req.params.snapshot_name_prefix {
        request = request.with_image_prefix(prefix.clone());
    }
    let reservation = fs.snapshots.reserve(&request).await?;
    let entry = reservation.entry;
    let snap = &entry.image_name;
    let outcome = async {
        let quota = match fs.info(parent).await? {
            Some(info) if !info.is_retained() => info.quota().unwrap_or(0),
            _ => {
                return Err(Error::VolumeNotFound {
                    volume_id: req.source_volume_id.clone(),
                    why: format!("its subvolume {} is gone", fs.spec(parent)),
                });
            }
        };
        fs.snapshot_create(parent, snap).await?;
        state.failpoint(points::AFTER_SNAPSHOT_CREATED).await?;
        let created = fs
            .snapshot_info(parent, snap)
            .await?
            .and_then(|i| time::parse(&i.created_at));
        Ok((quota, created))
    }
    .await;
    match outcome {
        Ok((size, created)) => {
            info!(request_name = %req.name, snapshot = %format!("{}@{snap}", fs.spec(parent)), "snapshot ready");
            Ok(SnapshotInfo {
                snapshot_id: fs.id_of(entry.location.uuid)?,
                source_volume_id: req.source_volume_id,
                size,
                created,
            })
        }
        Err(e) => {
            if reservation.fresh && e.should_roll_back() {
                if let Err(e) = fs.snapshot_remove(parent, snap).await {
                    warn!(error = %e, "rollback: cannot remove the snapshot");
                } else if let Err(e) = fs.snapshots.undo(&req.name, &entry.location).await {
                    warn!(error = %e, "rollback: cannot undo the reservation");
                }
            }
            Err(e)
        }
    }
}
