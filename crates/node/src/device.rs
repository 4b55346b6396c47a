//! Block devices by number: size and name from sysfs, so no I/O is sent to a device that may
//! be hung, and a path is mapped to the device behind it with a plain `stat`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::NodeError;
use crate::syscall;

/// A device number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNumber {
    pub major: u32,
    pub minor: u32,
}

impl DeviceNumber {
    fn sysfs(self) -> PathBuf {
        PathBuf::from(format!("/sys/dev/block/{}:{}", self.major, self.minor))
    }

    /// Size in bytes (sysfs counts 512-byte sectors whatever the logical block size).
    pub async fn size(self) -> Result<u64, NodeError> {
        syscall::run_blocking("read size of", &self.sysfs(), move || self.size_now()).await
    }

    /// [`DeviceNumber::size`] on the calling thread, for work already off the executor.
    pub fn size_now(self) -> Result<u64, NodeError> {
        let path = self.sysfs().join("size");
        let text =
            std::fs::read_to_string(&path).map_err(|e| NodeError::io("read size of", &path, &e))?;
        text.trim()
            .parse::<u64>()
            .map(|sectors| sectors * 512)
            .map_err(|e| NodeError::Device {
                step: "device size",
                message: format!("{}: {e}", path.display()),
            })
    }

    /// `/dev/<name>` of this device, from its uevent.
    pub async fn dev_path(self) -> Result<String, NodeError> {
        syscall::run_blocking("read", &self.sysfs(), move || self.dev_path_now()).await
    }

    /// [`DeviceNumber::dev_path`] on the calling thread, for work already off the executor.
    pub fn dev_path_now(self) -> Result<String, NodeError> {
        let path = self.sysfs().join("uevent");
        let text = std::fs::read_to_string(&path).map_err(|e| NodeError::io("read", &path, &e))?;
        text.lines()
            .find_map(|l| l.strip_prefix("DEVNAME="))
            .map(|name| format!("/dev/{name}"))
            .ok_or_else(|| NodeError::Device {
                step: "device name",
                message: format!("no DEVNAME in {}", path.display()),
            })
    }
}

/// What a path is, as far as the node cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A block device node (raw block volumes): the device itself.
    BlockDevice(DeviceNumber),
    /// A directory or file on a file system: the device holding that file system.
    OnFilesystem(DeviceNumber),
}

impl PathKind {
    pub fn device(self) -> DeviceNumber {
        match self {
            PathKind::BlockDevice(d) | PathKind::OnFilesystem(d) => d,
        }
    }
}

/// `stat`s `path`; `Ok(Err(io))` hands back ENOENT/ENOTCONN for the caller to classify.
pub async fn inspect(path: &Path) -> Result<std::io::Result<PathKind>, NodeError> {
    let owned = path.to_path_buf();
    syscall::blocking_raw("stat", path, move || inspect_now(&owned)).await
}

/// [`inspect`] on the calling thread, for work already off the executor.
pub fn inspect_now(path: &Path) -> std::io::Result<PathKind> {
    let meta = std::fs::metadata(path)?;
    let split = |dev: u64| DeviceNumber {
        major: rustix::fs::major(dev),
        minor: rustix::fs::minor(dev),
    };
    Ok(if meta.file_type().is_block_device() {
        PathKind::BlockDevice(split(meta.rdev()))
    } else {
        PathKind::OnFilesystem(split(meta.dev()))
    })
}

/// Size in bytes of the block device at `device` (a `/dev/...` path).
pub async fn size_of_device(device: &str) -> Result<u64, NodeError> {
    match inspect(Path::new(device)).await? {
        Ok(PathKind::BlockDevice(d)) => d.size().await,
        Ok(PathKind::OnFilesystem(_)) => Err(NodeError::Device {
            step: "device size",
            message: format!("{device} is not a block device"),
        }),
        Err(e) => Err(NodeError::io("stat", device, &e)),
    }
}
