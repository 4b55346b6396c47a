//! ControllerExpandVolume: grow the image (never shrink), rounded as CreateVolume rounds.
//! The node plugin then grows the filesystem, unless the volume is raw block.

use csi::SecretMap;

use tracing::info;

use crate::error::{Error, Result};
use crate::failpoints::expand as points;
use crate::locks::{self, EntryLock, Local};
use crate::pool::image;
use crate::pool::lookup;
use crate::secrets::Source;
use crate::size::Capacity;
use crate::state::State;

/// The image's size after the call.
pub async fn expand_volume(
    state: &State,
    volume_id: &str,
    capacity: Capacity,
    secrets: &SecretMap,
) -> Result<u64> {
    let wanted = capacity.expanded_size()?;
    let local = Local::exclusive(
        state,
        &locks::volume_key(volume_id),
        format!("volume {volume_id} (being deleted, snapshotted or cloned)"),
    )?;
    let volume = lookup::find_volume(state, volume_id, Source::Request(secrets)).await?;
    let Some(_id) = local.found(state, &volume, EntryLock::Exclusive).await? else {
        return Err(Error::VolumeNotFound {
            volume_id: volume_id.to_owned(),
            why: "its journal entry was deleted meanwhile".to_owned(),
        });
    };
    let pool = &volume.pool;
    let spec = volume.spec();
    let Some(img) = image::open(pool, &volume.entry.image_name).await? else {
        return Err(Error::VolumeNotFound {
            volume_id: volume_id.to_owned(),
            why: format!("its image {spec} is gone"),
        });
    };
    image::with_closed(pool, img, |img| async move {
        let current = image::size(pool, &img).await?;
        if current >= wanted {
            return Ok(current);
        }
        img.resize(wanted)
            .await
            .map_err(|e| Error::ceph("resize image", spec.clone(), e))?;
        info!(volume_id, from = current, to = wanted, "volume expanded");
        state.failpoint(points::AFTER_RESIZE).await?;
        Ok(wanted)
    })
    .await
}
