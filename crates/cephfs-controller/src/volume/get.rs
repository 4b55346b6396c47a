//! ControllerGetVolume and ValidateVolumeCapabilities: the journal entry and the subvolume.

use controller::capabilities::Capability;
use controller::error::{Error, Result};
use csi::SecretMap;

use crate::driver::Driver;
use crate::lookup::{self, Found};
use crate::mgr::Info;
use crate::secrets::Creds;
use crate::volume::create::unsupported;

/// A volume and its subvolume's info (`None` when the subvolume is gone or retained only).
pub struct Got {
    pub volume: Found,
    pub info: Option<Info>,
}

pub async fn get_volume(driver: &Driver, volume_id: &str) -> Result<Got> {
    let volume = lookup::find_volume(
        &driver.state,
        volume_id,
        Creds::Standing("ControllerGetVolume"),
    )
    .await?;
    let info = volume
        .fs
        .info(&volume.entry.image_name)
        .await?
        .filter(|info| !info.is_retained());
    Ok(Got { volume, info })
}

/// `Ok(None)` when every capability is supported, `Ok(Some(reason))` otherwise.
pub async fn validate(
    driver: &Driver,
    volume_id: &str,
    capabilities: &[Capability],
    secrets: &SecretMap,
) -> Result<Option<String>> {
    let creds = Creds::RequestOrStanding(secrets, "ValidateVolumeCapabilities");
    let volume = lookup::find_volume(&driver.state, volume_id, creds).await?;
    let name = &volume.entry.image_name;
    if volume.fs.info(name).await?.is_none() {
        return Err(Error::VolumeNotFound {
            volume_id: volume_id.to_owned(),
            why: format!("its subvolume {} is gone", volume.fs.spec(name)),
        });
    }
    Ok(capabilities.iter().find_map(unsupported))
}
