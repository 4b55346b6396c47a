//! ControllerExpandVolume: the quota grows (`fs subvolume resize --no_shrink`); nothing is
//! left for the node (a mounted CephFS sees the new quota at once).

use controller::error::{Error, Result};
use controller::locks::{self, EntryLock, Local};
use controller::size::Capacity;
use csi::SecretMap;

use crate::driver::Driver;
use crate::lookup;
use crate::secrets::Creds;

/// Returns the volume's size after the call (never less than before).
pub async fn expand_volume(
    driver: &Driver,
    volume_id: &str,
    capacity: Capacity,
    secrets: &SecretMap,
) -> Result<u64> {
    let state = &driver.state;
    let volume = lookup::find_volume(state, volume_id, Creds::Request(secrets)).await?;
    let _lock = Local::exclusive(
        state,
        &locks::volume_key(volume_id),
        format!("volume {volume_id}"),
    )?
    .entry(
        state,
        &volume.fs.volumes,
        &volume.location(),
        EntryLock::Exclusive,
    )
    .await?
    .ok_or_else(|| Error::VolumeNotFound {
        volume_id: volume_id.to_owned(),
        why: "it was deleted meanwhile".to_owned(),
    })?;
    let name = &volume.entry.image_name;
    let info = volume
        .fs
        .info(name)
        .await?
        .ok_or_else(|| Error::VolumeNotFound {
            volume_id: volume_id.to_owned(),
            why: format!("its subvolume {} is gone", volume.fs.spec(name)),
        })?;
    let current = info.quota().unwrap_or(0);
    let size = capacity.expanded_size()?;
    if size <= current {
        return Ok(current);
    }
    volume.fs.resize(name, size).await?;
    Ok(size)
}
