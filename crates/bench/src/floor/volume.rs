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
            .omap_set(layout.directory_oid(), &[(&key, uuid_text.as_bytes())])
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
        let layout = &self.volumes;
        let oid = layout.entry_oid(&volume.uuid);
        let attributes = self
            .entry_attributes(&oid, &[Kind::Volume.name_key(), IMAGE_NAME, IMAGE_ID])
            .await?;
        let (Some(request_name), Some(image_name), Some(image_id)) = (
            attributes.get(Kind::Volume.name_key()),
            attributes.get(IMAGE_NAME),
            attributes.get(IMAGE_ID),
        ) else {
            return Err(OpError::new(
                "NotFound",
                format!(
                    "{oid} lacks {}, {IMAGE_NAME} or {IMAGE_ID}",
                    Kind::Volume.name_key()
                ),
            ));
        };
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
        rbd::trash_move(&self.io, image_name)
            .await
            .map_err(|e| OpError::from_ceph("trash move", &e))?;
        self.purge_task(image_id).await?;
        self.remove_entry(layout, request_name, &volume.uuid)
            .await?;
        Ok(Done::now(()))
    }

    /// The image id, read from the image's `rbd_id.<name>` object: one object read, where
    /// opening the image would cost a watch, several reads and a close.
    pub(super) async fn image_id(&self, image_name: &str) -> OpResult<String> {
        let raw = self
            .io
            .read_full(&format!("rbd_id.{image_name}"))
            .await
            .map_err(|e| OpError::from_ceph("read image id", &e))?;
        decode_id_object(&raw).ok_or_else(|| {
            OpError::new(
                "InvalidResponse",
                format!("rbd_id.{image_name} holds no image id"),
            )
        })
    }
}

/// `rbd_id.<name>` holds the id as Ceph encodes a string (cls_rbd `set_id`): a little-endian
/// u32 length, then the bytes.
pub fn decode_id_object(bytes: &[u8]) -> Option<String> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let id = std::str::from_utf8(rest.get(..len)?).ok()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_objects_decode_as_length_prefixed_strings() {
        assert_eq!(
            decode_id_object(b"\x0c\x00\x00\x002319fb67d2fb").as_deref(),
            Some("2319fb67d2fb")
        );
        assert_eq!(decode_id_object(b"\x0c\0\0\0short"), None, "truncated");
        assert_eq!(decode_id_object(b"\0\0\0\0"), None, "empty");
        assert_eq!(decode_id_object(b"\x02\0"), None, "no length");
        assert_eq!(decode_id_object(b"\x02\0\0\0a/"), None, "not an id");
    }
}
