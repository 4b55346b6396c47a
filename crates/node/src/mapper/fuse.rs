//! rbd-fuse + a loop device, for nodes whose kernel has neither rbd nor nbd (CI machines,
//! some managed kernels).
//!
//! Each mapping gets its own rbd-fuse mount (`<state-dir>/fuse/<volume>`), restricted to the
//! one image (`-r`), so unmapping one volume never disturbs another. rbd-fuse runs with the
//! librbd cache off: its fsync does not reliably flush librbd's cache, and the loop device on
//! top only promises durability as far as the backing file's writes, so every write must
//! reach the OSDs before it returns. Attribute caching is off too, so a resized image shows
//! its new size at once and `losetup -c` picks it up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{ImageSpec, MapRequest, Mapper, MapperKind, Mapping, conf_arg, connect_timeout_arg};
use crate::error::NodeError;
use crate::loop_device;
use crate::mount;
use crate::mountinfo;
use crate::process::ChildCommand;
use crate::secret::KeyFile;
use crate::settings::NodeSettings;
use crate::syscall;

#[derive(Debug)]
pub struct Fuse {
    conf: PathBuf,
    connect_timeout: String,
    fuse_dir: PathBuf,
    key_dir: PathBuf,
    map_deadline: Duration,
    unmap_deadline: Duration,
    command_deadline: Duration,
    resize_deadline: Duration,
}

impl Fuse {
    pub fn new(settings: &NodeSettings) -> Self {
        Self {
            conf: conf_arg(settings),
            connect_timeout: connect_timeout_arg(settings),
            fuse_dir: settings.state_dir.join("fuse"),
            key_dir: settings.state_dir.join("keys"),
            map_deadline: settings.deadlines.map,
            unmap_deadline: settings.deadlines.unmap,
            command_deadline: settings.deadlines.command,
            resize_deadline: settings.deadlines.resize,
        }
    }

    pub(crate) fn mount_command(
        &self,
        request: &MapRequest<'_>,
        key_file: &Path,
        mount_dir: &Path,
    ) -> ChildCommand {
        let image = request.image;
        let mut cmd = ChildCommand::new("rbd-fuse", self.map_deadline)
            .arg("-c")
            .arg(&self.conf)
            .args(["-m", &request.access.monitors, "--id", &request.access.user])
            .arg("--keyfile")
            .arg(key_file)
            .arg(&self.connect_timeout)
            .args(["-p", &image.pool]);
        if !image.namespace.is_empty() {
            cmd = cmd.args(["-s", &image.namespace]);
        }
        let mut fuse_options = vec!["attr_timeout=0", "entry_timeout=0"];
        if request.read_only {
            fuse_options.push("ro");
        }
        cmd.args([
            "-r",
            &image.image,
            "--rbd_cache=false",
            "-o",
            &fuse_options.join(","),
        ])
        .arg(mount_dir)
        .redact(request.access.key.expose())
    }

    /// Starts rbd-fuse at `dir` unless a live one is already there, and waits until the image
    /// file answers (rbd-fuse returns once mounted; the image is opened on first access).
    async fn mount_image(
        &self,
        request: &MapRequest<'_>,
        dir: &Path,
        file: &Path,
    ) -> Result<(), NodeError> {
        if mountinfo::is_mount_point(dir).await? {
            if stat_size(file).await?.is_ok() {
                return Ok(());
            }
            // A dead or wrong rbd-fuse from an earlier attempt.
            mount::unmount(dir, self.unmap_deadline).await?;
        }
        create_private_dir(dir).await?;
        let key = KeyFile::create(&self.key_dir, &request.access.key).await?;
        let started = self.mount_command(request, key.path(), dir).run().await;
        let ready = match started {
            Ok(_) => self.wait_for_image(request.image, file).await,
            Err(e) => Err(e),
        };
        // The key is only needed to connect, which has happened (or failed) by now.
        drop(key);
        ready
    }

    async fn wait_for_image(&self, image: &ImageSpec, file: &Path) -> Result<(), NodeError> {
        let give_up = tokio::time::Instant::now() + self.map_deadline;
        loop {
            match stat_size(file).await? {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(NodeError::ImageNotFound {
                        image: image.to_string(),
                    });
                }
                Err(e) if tokio::time::Instant::now() >= give_up => {
                    return Err(NodeError::Device {
                        step: "rbd-fuse",
                        message: format!(
                            "{} not usable within {:?}: {e}",
                            file.display(),
                            self.map_deadline
                        ),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Detaches every loop device over `file`, unmounts rbd-fuse at `dir`, removes `dir`.
    async fn teardown(&self, dir: &Path, file: &Path) -> Result<(), NodeError> {
        for device in loop_device::find_by_backing_file(file).await? {
            loop_device::detach(&device, self.unmap_deadline).await?;
        }
        mount::unmount(dir, self.unmap_deadline).await?;
        let owned = dir.to_path_buf();
        match syscall::blocking_raw("remove", dir, move || std::fs::remove_dir(owned)).await? {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NodeError::io("remove", dir, &e)),
        }
    }
}

impl Mapper for Fuse {
    fn kind(&self) -> MapperKind {
        MapperKind::Fuse
    }

    fn plan(&self, volume_id: &str, image: &ImageSpec) -> Mapping {
        Mapping {
            image: image.clone(),
            device: None,
            fuse_mount_dir: Some(self.fuse_dir.join(dir_name(volume_id))),
        }
    }

    async fn map(&self, request: &MapRequest<'_>) -> Result<Mapping, NodeError> {
        let mut mapping = self.plan(request.volume_id, request.image);
        let dir = mapping.fuse_mount_dir.clone().unwrap_or_default();
        let file = dir.join(&request.image.image);
        let attached = async {
            self.mount_image(request, &dir, &file).await?;
            if let Some(device) = loop_device::find_by_backing_file(&file)
                .await?
                .into_iter()
                .next()
            {
                return Ok(device);
            }
            loop_device::attach(&file, request.read_only, self.command_deadline).await
        }
        .await;
        match attached {
            Ok(device) => {
                mapping.device = Some(device);
                Ok(mapping)
            }
            Err(e) => {
                if let Err(cleanup) = self.teardown(&dir, &file).await {
                    tracing::warn!(error = %cleanup, dir = %dir.display(), "clean-up after a failed rbd-fuse map failed");
                }
                Err(e)
            }
        }
    }

    async fn unmap(&self, mapping: &Mapping) -> Result<(), NodeError> {
        let Some(dir) = &mapping.fuse_mount_dir else {
            return Err(NodeError::Device {
                step: "rbd-fuse unmap",
                message: format!("no mount directory recorded for {}", mapping.image),
            });
        };
        self.teardown(dir, &dir.join(&mapping.image.image)).await
    }

    async fn refresh_size(
        &self,
        mapping: &Mapping,
        min_size: Option<u64>,
    ) -> Result<(), NodeError> {
        let (Some(dir), Some(device)) = (&mapping.fuse_mount_dir, &mapping.device) else {
            return Err(NodeError::Device {
                step: "rbd-fuse resize",
                message: format!("no mapping recorded for {}", mapping.image),
            });
        };
        let file = dir.join(&mapping.image.image);
        // librbd in rbd-fuse learns of a resize through a watch notification: normally at
        // once, but give it until the deadline to reach the size the CO asked for.
        if let Some(wanted) = min_size {
            let give_up = tokio::time::Instant::now() + self.resize_deadline;
            loop {
                let size = stat_size(&file)
                    .await?
                    .map_err(|e| NodeError::io("stat", &file, &e))?;
                if size >= wanted {
                    break;
                }
                if tokio::time::Instant::now() >= give_up {
                    return Err(NodeError::Device {
                        step: "rbd-fuse resize",
                        message: format!(
                            "{} is {size} bytes, still below {wanted} after {:?}",
                            file.display(),
                            self.resize_deadline
                        ),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        loop_device::refresh(device, self.command_deadline).await
    }
}

/// Directory name for a volume's rbd-fuse mount: the volume ID when it is a safe file name
/// (CSI IDs of Sepia and ceph-csi are), else a digest of it.
pub(crate) fn dir_name(volume_id: &str) -> String {
    let safe = !volume_id.is_empty()
        && volume_id.len() <= 200
        && volume_id != "."
        && volume_id != ".."
        && volume_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        volume_id.to_string()
    } else {
        let digest = Sha256::digest(volume_id.as_bytes());
        format!("v-{}", &hex::encode(digest)[..32])
    }
}

async fn stat_size(file: &Path) -> Result<std::io::Result<u64>, NodeError> {
    let owned = file.to_path_buf();
    syscall::blocking_raw("stat", file, move || {
        std::fs::metadata(owned).map(|m| m.len())
    })
    .await
}

async fn create_private_dir(dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::DirBuilderExt;
    let owned = dir.to_path_buf();
    syscall::blocking("create", dir, move || {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(owned)
    })
    .await
}
