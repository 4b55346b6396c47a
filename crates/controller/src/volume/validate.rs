//! ValidateVolumeCapabilities for every access mode and type, with the rules of
//! `capabilities`. A volume has a content source when we recorded one, or (for volumes made by
//! ceph-csi, which records none) when its image is a clone.

use csi::SecretMap;

use crate::capabilities::Capability;
use crate::error::{Error, Result};
use crate::pool::image;
use crate::pool::lookup;
use crate::secrets::Source;
use crate::state::State;
use crate::volume::source;

/// `Ok(None)` when every capability is supported, `Ok(Some(reason))` otherwise.
pub async fn validate(
    state: &State,
    volume_id: &str,
    capabilities: &[Capability],
    secrets: &SecretMap,
) -> Result<Option<String>> {
    let source = Source::RequestOrStanding(secrets, "ValidateVolumeCapabilities");
    let volume = lookup::find_volume(state, volume_id, source).await?;
    let pool = &volume.pool;
    let Some(img) = image::open(pool, &volume.entry.image_name).await? else {
        return Err(Error::VolumeNotFound {
            volume_id: volume_id.to_owned(),
            why: format!("its image {} is gone", volume.spec()),
        });
    };
    let recorded = source::read(pool, &volume.entry.location.uuid).await;
    let has_source = image::with_closed(pool, img, |img| async move {
        if recorded?.is_some() {
            return Ok(true);
        }
        let parent = img
            .parent()
            .await
            .map_err(|e| Error::ceph("read parent", pool.spec(img.name()), e))?;
        Ok(parent.is_some())
    })
    .await?;
    Ok(capabilities
        .iter()
        .find_map(|cap| cap.unsupported(has_source)))
}
