//! CreateSnapshot and DeleteSnapshot at the floor, in ceph-csi's shape: a snapshot is a clone
//! image `csi-snap-<uuid>` holding a snapshot of the same name.

use ceph::rbd::{self, Features};
use journal::Kind;
use journal::attributes::{IMAGE_ID, IMAGE_NAME, SOURCE};
use uuid::Uuid;

use super::{Floor, FloorVolume};
use crate::outcome::{OpError, OpResult};
use crate::phase::Done;

/// What the floor's CreateSnapshot made (the "snapshot id").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorSnapshot {
    pub uuid: Uuid,
}

impl Floor {
    /// Directory read by key → reservation writes (with `csi.source`) → snapshot of the source
    /// → clone of it into `csi-snap-<uuid>` → removal of the source snapshot → snapshot of the
    /// clone → image id → `csi.imageid`. Two snapshot creations and one removal: three monitor
    /// commits.
    pub async fn create_snapshot(
        &self,
        source: FloorVolume,
        request_name: String,
    ) -> OpResult<Done<FloorSnapshot>> {
        let layout = &self.snapshots;
        self.expect_unreserved(layout, &request_name).await?;
        let uuid = Uuid::new_v4();
        let uuid_text = uuid.hyphenated().to_string();
        let key = layout.directory_key(&request_name);
        self.io
            .omap_set_creating(layout.directory_oid(), &[(&key, uuid_text.as_bytes())])
            .await
            .map_err(|e| OpError::from_ceph("write directory key", &e))?;
        let oid = layout.entry_oid(&uuid);
        let snap_image = format!("{}{uuid_text}", Kind::Snapshot.default_image_prefix());
        self.io
            .create_with_omap(
                &oid,
                &[
                    (Kind::Snapshot.name_key(), request_name.as_bytes()),
                    (IMAGE_NAME, snap_image.as_bytes()),
                    (SOURCE, source.image_name.as_bytes()),
                ],
            )
            .await
            .map_err(|e| OpError::from_ceph("create entry object", &e))?;

        let parent = rbd::open(&self.io, &source.image_name)
            .await
            .map_err(|e| OpError::from_ceph("open source", &e))?;
        let cloned = self
            .clone_from_temporary_snapshot(&parent, &source, &snap_image)
            .await;
        let closed = parent.close().await;
        cloned?;
        closed.map_err(|e| OpError::from_ceph("close source", &e))?;

        let clone = rbd::open(&self.io, &snap_image)
            .await
            .map_err(|e| OpError::from_ceph("open clone", &e))?;
        let snapped = clone.snap_create(&snap_image).await;
        let image_id = clone.id().await;
        let closed = clone.close().await;
        snapped.map_err(|e| OpError::from_ceph("snap create on clone", &e))?;
        let image_id = image_id.map_err(|e| OpError::from_ceph("get image id", &e))?;
        closed.map_err(|e| OpError::from_ceph("close clone", &e))?;
        self.io
            .omap_set(&oid, &[(IMAGE_ID, image_id.as_bytes())])
            .await
            .map_err(|e| OpError::from_ceph("write image id", &e))?;
        Ok(Done::now(FloorSnapshot { uuid }))
    }

    /// `snap create source@csi-snap-<u>` → `clone` → `snap rm` (with clone v2 the snapshot
    /// moves to the trash namespace while the clone depends on it).
    async fn clone_from_temporary_snapshot(
        &self,
        parent: &rbd::Image,
        source: &FloorVolume,
        snap_image: &str,
    ) -> OpResult<()> {
        parent
            .snap_create(snap_image)
            .await
            .map_err(|e| OpError::from_ceph("snap create on source", &e))?;
        rbd::clone(
            &self.io,
            &source.image_name,
            snap_image,
            &self.io,
            snap_image,
            &self.create_options(Features::DEEP_FLATTEN),
        )
        .await
        .map_err(|e| OpError::from_ceph("clone", &e))?;
        parent
            .snap_remove(snap_image)
            .await
            .map_err(|e| OpError::from_ceph("snap rm on source", &e))
    }

    /// Entry read → open the clone, remove its snapshot, close → trash move → mgr purge task
    /// → directory key and entry object removal.
    pub async fn delete_snapshot(&self, snapshot: FloorSnapshot) -> OpResult<Done<()>> {
        let entry = self
            .journaled(Kind::Snapshot, &self.snapshots, &snapshot.uuid)
            .await?;
        let snap_image = entry.image_name.as_str();
        let clone = rbd::open(&self.io, snap_image)
            .await
            .map_err(|e| OpError::from_ceph("open clone", &e))?;
        let removed = clone.snap_remove(snap_image).await;
        let closed = clone.close().await;
        removed.map_err(|e| OpError::from_ceph("snap rm on clone", &e))?;
        closed.map_err(|e| OpError::from_ceph("close clone", &e))?;
        self.discard(&self.snapshots, &snapshot.uuid, &entry)
            .await?;
        Ok(Done::now(()))
    }
}
