//! Loop devices over the file rbd-fuse exposes, via losetup(8) and sysfs.
//!
//! Which loop device belongs to which image is read from sysfs
//! (`/sys/block/loopN/loop/backing_file`), never by opening the backing file: on a dead
//! rbd-fuse mount that open fails, and clean-up must still find and detach the device.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::NodeError;
use crate::process::ChildCommand;
use crate::syscall;

const SYS_BLOCK: &str = "/sys/block";

/// Attaches `file` to the first free loop device and returns its path (`/dev/loopN`).
pub async fn attach(file: &Path, read_only: bool, deadline: Duration) -> Result<String, NodeError> {
    let mut cmd = ChildCommand::new("losetup", deadline).args(["-f", "--show"]);
    if read_only {
        cmd = cmd.arg("-r");
    }
    let output = cmd.arg(file).run().await?;
    let device = output.stdout.trim().to_string();
    if !device.starts_with("/dev/loop") {
        return Err(NodeError::Device {
            step: "losetup",
            message: format!("unexpected output {device:?} for {}", file.display()),
        });
    }
    Ok(device)
}

/// Detaches `device` and waits until the kernel has let go of the backing file (detach of a
/// device still open is deferred, and the FUSE mount cannot be unmounted before it is done).
pub async fn detach(device: &str, deadline: Duration) -> Result<(), NodeError> {
    let name = device_name(device)?;
    if backing_file(&name).await?.is_none() {
        return Ok(());
    }
    let cmd = ChildCommand::new("losetup", deadline).args(["-d", device]);
    let output = cmd.output().await?;
    if !output.status.success() && backing_file(&name).await?.is_some() {
        return Err(cmd.failed(&output));
    }
    let give_up = tokio::time::Instant::now() + deadline;
    while backing_file(&name).await?.is_some() {
        if tokio::time::Instant::now() >= give_up {
            return Err(NodeError::Device {
                step: "losetup -d",
                message: format!("{device} still attached after {deadline:?} (still open?)"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Makes `device` pick up a new size of its backing file.
pub async fn refresh(device: &str, deadline: Duration) -> Result<(), NodeError> {
    ChildCommand::new("losetup", deadline)
        .args(["-c", device])
        .run()
        .await?;
    Ok(())
}

/// Loop devices (`/dev/loopN`) whose backing file is `file`.
pub async fn find_by_backing_file(file: &Path) -> Result<Vec<String>, NodeError> {
    let file = file.to_path_buf();
    syscall::blocking("scan loop devices in", Path::new(SYS_BLOCK), move || {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(SYS_BLOCK)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            if read_backing_file(&name)?.as_deref() == Some(file.as_path()) {
                found.push(format!("/dev/{name}"));
            }
        }
        found.sort();
        Ok(found)
    })
    .await
}

/// The backing file of loop device `name` (`loop3`), or `None` when it is not attached.
pub async fn backing_file(name: &str) -> Result<Option<PathBuf>, NodeError> {
    let owned = name.to_string();
    let path = Path::new(SYS_BLOCK).join(name);
    syscall::blocking("read backing file of", &path, move || {
        read_backing_file(&owned)
    })
    .await
}

/// [`backing_file`] on the calling thread, for work already off the executor.
pub fn read_backing_file(name: &str) -> std::io::Result<Option<PathBuf>> {
    match std::fs::read_to_string(Path::new(SYS_BLOCK).join(name).join("loop/backing_file")) {
        Ok(text) => Ok(Some(parse_backing_file(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// sysfs appends " (deleted)" when the backing file was unlinked.
fn parse_backing_file(text: &str) -> PathBuf {
    let text = text.trim_end_matches('\n');
    PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(text))
}

/// `loop3` from `/dev/loop3`; anything else is not a loop device.
pub fn device_name(device: &str) -> Result<String, NodeError> {
    device
        .strip_prefix("/dev/")
        .filter(|n| {
            n.starts_with("loop") && n[4..].chars().all(|c| c.is_ascii_digit()) && n.len() > 4
        })
        .map(str::to_string)
        .ok_or_else(|| NodeError::Device {
            step: "loop device",
            message: format!("{device:?} is not a loop device path"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_checked() {
        assert_eq!(device_name("/dev/loop12").unwrap(), "loop12");
        assert!(device_name("/dev/loop").is_err());
        assert!(device_name("/dev/rbd0").is_err());
        assert!(device_name("/dev/loop1/../sda").is_err());
    }

    #[test]
    fn deleted_suffix_is_stripped() {
        assert_eq!(
            parse_backing_file("/var/lib/sepia-node/fuse/v/img (deleted)\n"),
            PathBuf::from("/var/lib/sepia-node/fuse/v/img")
        );
    }

    #[tokio::test]
    async fn a_loop_device_is_attached_found_refreshed_and_detached() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::canonicalize(dir.path()).unwrap().join("backing");
        std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
        let d = Duration::from_secs(30);
        let device = attach(&file, false, d).await.unwrap();
        assert_eq!(
            find_by_backing_file(&file).await.unwrap(),
            vec![device.clone()]
        );

        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        refresh(&device, d).await.unwrap();
        let size = crate::device::size_of_device(&device).await.unwrap();
        assert_eq!(size, 2 << 20);

        detach(&device, d).await.unwrap();
        assert!(find_by_backing_file(&file).await.unwrap().is_empty());
        // Detaching again is a no-op.
        detach(&device, d).await.unwrap();
    }
}
