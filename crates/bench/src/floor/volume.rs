//! CreateVolume and DeleteVolume at the floor.

use ceph::rbd::{self, Features};
use journal::Kind;
use journal::attributes::{IMAGE_ID, IMAGE_NAME};
use uuid::Uuid;

use super::Floor;
use crate::outcome::{OpError, OpResult};
use crate::phase::Done;

/// What the floor's CreateVolume made (the "volume id").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorVolume {
    pub uuid: Uuid,
    pub image_name: String,
}

impl Floor {
    /// Directory read by key → directory key → entry object with its keys (one write op) →
    /// `rbd create` → image id (one object read) → `csi.imageid`.
    pub async fn create_volume(&self, request_name: String) -> OpResult<Done<FloorVolume>> {
        let layout = &self.volumes;
        self.expect_unreserved(layout, &request_name).await?;
        let uuid = Uuid::new_v4();
        let uuid_text = uuid.hyphenated().to_string();
        let key = layout.directory_key(&request_name);
        self.io
            .omap_set_creating(layout.directory_oid(), &[(&key, uuid_text.as_bytes())])
            .await
            .map_err(|e| OpError::from_ceph("write directory key", &e))?;
        let oid = layout.entry_oid(&uuid);
        let image_name = format!("{}{uuid_text}", Kind::Volume.default_image_prefix());
        self.io
            .create_with_omap(
                &oid,
                &[
                    (Kind::Volume.name_key(), request_name.as_bytes()),
                    (IMAGE_NAME, image_name.as_bytes()),
                ],
            )
            .await
            .map_err(|e| OpError::from_ceph("create entry object", &e))?;
        rbd::create(
            &self.io,
            &image_name,
            self.size,
            &self.create_options(Features::empty()),
        )
        .await
        .map_err(|e| OpError::from_ceph("rbd create", &e))?;
        let image_id = self.image_id(&image_name).await?;
        self.io
            .omap_set(&oid, &[(IMAGE_ID, image_id.as_bytes())])
            .await
            .map_err(|e| OpError::from_ceph("write image id", &e))?;
        Ok(Done::now(FloorVolume { uuid, image_name }))
    }

    /// Entry read → open, watchers, close (refuse when someone else watches) → trash move →
    /// mgr purge task → directory key and entry object removal.
    pub async fn delete_volume(&self, volume: FloorVolume) -> OpResult<Done<()>> {
        let entry = self
            .journaled(Kind::Volume, &self.volumes, &volume.uuid)
            .await?;
        let image_name = entry.image_name.as_str();
        let image = rbd::open(&self.io, image_name)
            .await
            .map_err(|e| OpError::from_ceph("open", &e))?;
        let watchers = image.watchers().await;
        image
            .close()
            .await
            .map_err(|e| OpError::from_ceph("close", &e))?;
        let watchers = watchers.map_err(|e| OpError::from_ceph("list watchers", &e))?;
        let users = self.users_among(&watchers).await?;
        if users > 0 {
            return Err(OpError::new(
                "Busy",
                format!("{image_name} is in use ({users} watchers besides ours and the mgr's)"),
            ));
        }
        self.discard(&self.volumes, &volume.uuid, &entry).await?;
        Ok(Done::now(()))
    }

    /// The image id, read from the image's `rbd_id.<name>` object: one object read, where
    /// opening the image would cost a watch, several reads and a close.
    pub(super) async fn image_id(&self, image_name: &str) -> OpResult<String> {
        let raw = self
            .io
            .read_full(&rbd::id_object_name(image_name))
            .await
            .map_err(|e| OpError::from_ceph("read image id", &e))?;
        rbd::decode_id_object(&raw).ok_or_else(|| {
            OpError::new(
                "InvalidResponse",
                format!("rbd_id.{image_name} holds no image id"),
            )
        })
    }
}
