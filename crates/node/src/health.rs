//! Is the device behind a volume still alive? For a loop device over rbd-fuse the answer is in
//! the backing file: when rbd-fuse dies, stat on it fails with ENOTCONN, long before the file
//! system on top notices. Used by stats (VolumeCondition), inside its one measurement per
//! volume ([`stats_gate`]): these calls block (a `stat` on a stopped rbd-fuse does not
//! return), so they run on the calling thread, which must be off the executor.

pub mod stats_gate;

use std::path::PathBuf;

use crate::device::DeviceNumber;
use crate::error::NodeError;
use crate::mapper::loop_device;

/// The backing file of `device` if it is a loop device.
fn loop_backing_file(device: DeviceNumber) -> Result<Option<(String, PathBuf)>, NodeError> {
    let dev_path = device.dev_path_now()?;
    let Ok(name) = loop_device::device_name(&dev_path) else {
        return Ok(None);
    };
    let file = loop_device::read_backing_file(&name)
        .map_err(|e| NodeError::io("read backing file of", &dev_path, &e))?;
    Ok(file.map(|file| (dev_path, file)))
}

/// `None` when the device looks healthy, else why not. Blocking.
pub fn device_problem(device: DeviceNumber) -> Result<Option<String>, NodeError> {
    let Some((dev_path, file)) = loop_backing_file(device)? else {
        return Ok(None);
    };
    Ok(match std::fs::metadata(&file) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "{dev_path} is backed by {}, which is not reachable: {e} (rbd-fuse gone?)",
            file.display()
        )),
    })
}
