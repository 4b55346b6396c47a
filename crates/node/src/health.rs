//! Is the device behind a volume still alive? For a loop device over rbd-fuse the answer is in
//! the backing file: when rbd-fuse dies, stat on it fails with ENOTCONN, long before the file
//! system on top notices. Used by stats (VolumeCondition).

use std::path::{Path, PathBuf};

use crate::device::DeviceNumber;
use crate::error::NodeError;
use crate::loop_device;
use crate::syscall;

/// The backing file of `device` if it is a loop device.
async fn loop_backing_file(device: DeviceNumber) -> Result<Option<(String, PathBuf)>, NodeError> {
    let dev_path = device.dev_path().await?;
    let Ok(name) = loop_device::device_name(&dev_path) else {
        return Ok(None);
    };
    Ok(loop_device::backing_file(&name)
        .await?
        .map(|file| (dev_path, file)))
}

/// `None` when the device looks healthy, else why not.
pub async fn device_problem(device: DeviceNumber) -> Result<Option<String>, NodeError> {
    let Some((dev_path, file)) = loop_backing_file(device).await? else {
        return Ok(None);
    };
    let owned = file.clone();
    Ok(
        match syscall::blocking_raw("stat", Path::new(&file), move || std::fs::metadata(owned))
            .await
        {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(format!(
                "{dev_path} is backed by {}, which is not reachable: {e} (rbd-fuse gone?)",
                file.display()
            )),
            Err(e) => Some(format!("{dev_path}: {e}")),
        },
    )
}
