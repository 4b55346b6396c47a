//! ControllerPublish/Unpublish: which node holds a volume, recorded in the volume's journal
//! object so a single-node volume is never attached to two nodes at once (ceph-csi's long-open
//! gap, issue #578).
//!
//! Records are omap keys `sepia.publish.<node id>` on `csi.volume.<uuid>`
//! ([`journal::records::publication`] owns their format). Publish and unpublish of one
//! volume are serialised by a RADOS lock on that object (`sepia.publish`, see [`crate::locks`]),
//! which the record's write asserts, so two attachers — in two processes, during a leader
//! hand-over — cannot both see "free" and both record.

use std::collections::{BTreeMap, HashMap};

use csi::SecretMap;
use csi::v1::volume_capability::access_mode::Mode;
use journal::records::publication::{self as record, Publication};
use tracing::info;

use crate::capabilities::{self, Capability};
use crate::error::{Error, Result};
use crate::failpoints::publish as points;
use crate::locks::{self, EntryLock, Local};
use crate::node_registry;
use crate::pool::cluster::Pool;
use crate::pool::lookup::{self, Lookup};
use crate::secrets::Source;
use crate::state::State;
use journal::Kind;
use journal::records::source;

/// A validated ControllerPublishVolume.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub volume_id: String,
    pub node_id: String,
    pub capability: Capability,
    pub readonly: bool,
    pub secrets: SecretMap,
}

/// Records the publication; the publish context is empty (the node reads the volume context).
pub async fn publish(state: &State, req: &PublishRequest) -> Result<HashMap<String, String>> {
    let local = Local::exclusive(
        state,
        &locks::publish_key(&req.volume_id),
        format!("publications of volume {}", req.volume_id),
    )?;
    let source = Source::RequestOrStanding(&req.secrets, "ControllerPublishVolume");
    let volume = lookup::find_volume(state, &req.volume_id, source).await?;
    let Some(_lock) = local.found(state, &volume, EntryLock::Publish).await? else {
        return Err(Error::VolumeNotFound {
            volume_id: req.volume_id.clone(),
            why: "its journal entry was deleted meanwhile".to_owned(),
        });
    };
    let pool = &volume.pool;
    let has_source = source::read(&pool.io, &volume.entry.location.uuid)
        .await
        .map_err(Error::record)?
        .is_some();
    if let Some(rule) = req.capability.unsupported(has_source) {
        return Err(Error::invalid("volume_capability", rule));
    }
    if !node_registry::is_registered(state, &pool.cluster, &req.node_id).await? {
        return Err(Error::NodeNotFound {
            node_id: req.node_id.clone(),
            cluster_id: pool.cluster.id.clone(),
        });
    }
    let wanted = Publication {
        readonly: req.readonly,
        access_mode: req.capability.mode.as_str_name().to_owned(),
    };
    let records = read_all(pool, &volume.entry.location.uuid).await?;
    if let Some(existing) = records.get(&req.node_id) {
        if *existing == wanted {
            return Ok(HashMap::new());
        }
        return Err(Error::PublishConflict {
            volume_id: req.volume_id.clone(),
            node_id: req.node_id.clone(),
            rule: format!(
                "with readonly={} and access mode {} (the request asks for readonly={} and {})",
                existing.readonly, existing.access_mode, wanted.readonly, wanted.access_mode
            ),
        });
    }
    let exclusive = capabilities::is_single_node(req.capability.mode);
    for (node, existing) in &records {
        let theirs_exclusive =
            Mode::from_str_name(&existing.access_mode).is_none_or(capabilities::is_single_node);
        if exclusive || theirs_exclusive {
            return Err(Error::PublishedElsewhere {
                volume_id: req.volume_id.clone(),
                other_node: node.clone(),
                mode: if theirs_exclusive {
                    existing.access_mode.clone()
                } else {
                    wanted.access_mode.clone()
                },
            });
        }
    }
    state.failpoint(points::BEFORE_RECORD).await?;
    record::write(&pool.io, &volume.entry.location.uuid, &req.node_id, &wanted)
        .await
        .map_err(Error::record)?;
    state.failpoint(points::AFTER_RECORD).await?;
    info!(volume_id = %req.volume_id, node_id = %req.node_id, mode = %wanted.access_mode, "volume published");
    Ok(HashMap::new())
}

/// Removes the record of `node_id` (every record when empty). Absent volumes and nodes are
/// already unpublished.
pub async fn unpublish(
    state: &State,
    volume_id: &str,
    node_id: &str,
    secrets: &SecretMap,
) -> Result<()> {
    let local = Local::exclusive(
        state,
        &locks::publish_key(volume_id),
        format!("publications of volume {volume_id}"),
    )?;
    let source = Source::RequestOrStanding(secrets, "ControllerUnpublishVolume");
    let volume = match lookup::lookup(state, Kind::Volume, volume_id, source).await {
        Ok(Lookup::Found(volume)) => volume,
        Ok(_) | Err(Error::UnknownCluster { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(_lock) = local.found(state, &volume, EntryLock::Publish).await? else {
        return Ok(());
    };
    let pool = &volume.pool;
    let uuid = volume.entry.location.uuid;
    let nodes: Vec<String> = if node_id.is_empty() {
        read_all(pool, &uuid).await?.into_keys().collect()
    } else {
        vec![node_id.to_owned()]
    };
    if nodes.is_empty() {
        return Ok(());
    }
    record::remove(&pool.io, &uuid, &nodes)
        .await
        .map_err(Error::record)?;
    info!(volume_id, node_id, "volume unpublished");
    Ok(())
}

/// Node ids this volume is published to (ControllerGetVolume, ListVolumes).
pub async fn published_nodes(pool: &Pool, uuid: &uuid::Uuid) -> Result<Vec<String>> {
    Ok(read_all(pool, uuid).await?.into_keys().collect())
}

/// Every publication record of the volume `uuid`, by node id.
pub async fn read_all(pool: &Pool, uuid: &uuid::Uuid) -> Result<BTreeMap<String, Publication>> {
    record::read_all(&pool.io, uuid)
        .await
        .map_err(Error::record)
}
