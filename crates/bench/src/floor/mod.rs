//! The floor: what a CSI operation costs in Ceph when nothing but the necessary librados and
//! librbd calls are made, at the same concurrency, with no gRPC, no driver logic, no locks.
//!
//! The calls are those a ceph-csi compatible driver cannot avoid (docs/architecture.md §4,
//! §6), in ceph-csi's order and journal layout, issued straight through `sepia-ceph`:
//! - `volume`: CreateVolume (directory key read by key, reservation writes, `rbd create`, image
//!   id, `csi.imageid`) and DeleteVolume (entry read, watcher check, trash move, mgr purge
//!   task, journal removal);
//! - `snapshot`: CreateSnapshot (reservation, snapshot + clone + snapshot of the clone) and
//!   DeleteSnapshot (inner snapshot removal, trash move, purge task, journal removal);
//! - `watchers`: the "in use" check, which must not count the mgr's own transient watch;
//! - `bare`: the irreducible core of each operation (`rbd create`, `snap create`, `snap rm`,
//!   `trash mv` + purge task) printed next to the floor for transparency.

mod bare;
mod snapshot;
mod volume;
mod watchers;

use std::sync::Arc;

use ceph::rbd::{self, CreateOptions, Features};
use ceph::{Cluster, IoCtx};
use journal::attributes::{IMAGE_ID, IMAGE_NAME};
use journal::{DEFAULT_INSTANCE, Kind, Layout};
use parking_lot::Mutex;
use serde_json::json;
use uuid::Uuid;

use crate::error::Result;
use crate::outcome::{OpError, OpResult};

pub use snapshot::FloorSnapshot;
pub use volume::FloorVolume;

/// One pool + namespace where the floor works, shared by all concurrent operations (one
/// librados client, as a driver has one per cluster).
#[derive(Clone)]
pub struct Floor {
    cluster: Cluster,
    io: IoCtx,
    size: u64,
    features: Features,
    volumes: Layout,
    snapshots: Layout,
    /// Nonces of the mgr modules' RADOS clients (see `watchers`).
    mgr_nonces: Arc<Mutex<Vec<u64>>>,
}

impl Floor {
    /// A floor creating images of `size` bytes with `features` in `io`'s pool and namespace,
    /// journaling under ceph-csi's default instance id.
    pub fn new(cluster: Cluster, io: IoCtx, size: u64, features: Features) -> Result<Floor> {
        let layout = |kind| {
            Layout::new(kind, DEFAULT_INSTANCE).map_err(|e| rig::Error::InvalidArgument {
                field: "instance",
                rule: e.to_string(),
            })
        };
        Ok(Floor {
            cluster,
            io,
            size,
            features,
            volumes: layout(Kind::Volume)?,
            snapshots: layout(Kind::Snapshot)?,
            mgr_nonces: Arc::default(),
        })
    }

    fn create_options(&self, extra: Features) -> CreateOptions {
        CreateOptions {
            features: Some(self.features | extra),
            ..Default::default()
        }
    }

    /// Asks the mgr to purge a trashed image in the background, as ceph-csi's DeleteVolume does.
    async fn purge_task(&self, image_id: &str) -> OpResult<()> {
        let spec = trash_spec(self.io.pool_name(), self.io.namespace(), image_id);
        self.cluster
            .mgr_command(json!({
                "prefix": "rbd task add trash remove",
                "image_id_spec": spec,
                "format": "json",
            }))
            .await
            .map(drop)
            .map_err(|e| OpError::from_ceph("rbd task add trash remove", &e))
    }

    /// The first read of a delete: the entry's request name, image name and image id, by key.
    async fn journaled(&self, kind: Kind, layout: &Layout, uuid: &Uuid) -> OpResult<Journaled> {
        let oid = layout.entry_oid(uuid);
        let name_key = kind.name_key();
        let mut found = self
            .io
            .omap_get_by_keys(&oid, &[name_key, IMAGE_NAME, IMAGE_ID])
            .await
            .map_err(|e| OpError::from_ceph("read entry attributes", &e))?;
        let mut take = |key: &str| {
            found
                .remove(key)
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        match (take(name_key), take(IMAGE_NAME), take(IMAGE_ID)) {
            (Some(request_name), Some(image_name), Some(image_id)) => Ok(Journaled {
                request_name,
                image_name,
                image_id,
            }),
            _ => Err(OpError::new(
                "NotFound",
                format!("{oid} lacks {name_key}, {IMAGE_NAME} or {IMAGE_ID}"),
            )),
        }
    }

    /// The last writes of a delete: trash move, mgr purge task, journal removal.
    async fn discard(&self, layout: &Layout, uuid: &Uuid, entry: &Journaled) -> OpResult<()> {
        rbd::trash_move(&self.io, &entry.image_name)
            .await
            .map_err(|e| OpError::from_ceph("trash move", &e))?;
        self.purge_task(&entry.image_id).await?;
        self.remove_entry(layout, &entry.request_name, uuid).await
    }

    /// The directory read of a lookup: one key by key. A fresh name must be absent.
    async fn expect_unreserved(&self, layout: &Layout, request_name: &str) -> OpResult<()> {
        let key = layout.directory_key(request_name);
        match self
            .io
            .omap_get_by_keys(layout.directory_oid(), &[&key])
            .await
        {
            Ok(found) if found.contains_key(&key) => Err(OpError::new(
                "AlreadyExists",
                format!("{key} is already reserved; request names are unique per run"),
            )),
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(OpError::from_ceph("read directory key", &e)),
        }
    }

    /// Removes a directory key and an entry object (DeleteVolume's journal undo).
    async fn remove_entry(&self, layout: &Layout, request_name: &str, uuid: &Uuid) -> OpResult<()> {
        let key = layout.directory_key(request_name);
        self.io
            .omap_remove_keys(layout.directory_oid(), &[&key])
            .await
            .map_err(|e| OpError::from_ceph("remove directory key", &e))?;
        self.io
            .remove(&layout.entry_oid(uuid))
            .await
            .map_err(|e| OpError::from_ceph("remove entry object", &e))
    }
}

/// What a journal entry names, as a delete reads it.
struct Journaled {
    request_name: String,
    image_name: String,
    image_id: String,
}

/// `pool/namespace/id`, or `pool/id` in the default namespace: the `image_id_spec` the mgr's
/// `rbd task add trash remove` takes.
pub fn trash_spec(pool: &str, namespace: &str, image_id: &str) -> String {
    if namespace.is_empty() {
        format!("{pool}/{image_id}")
    } else {
        format!("{pool}/{namespace}/{image_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trash_specs_name_the_namespace_only_when_there_is_one() {
        assert_eq!(trash_spec("rbd", "", "10a2b3"), "rbd/10a2b3");
        assert_eq!(trash_spec("rbd", "bench-1", "10a2b3"), "rbd/bench-1/10a2b3");
    }
}
