//! rbd-fuse + a loop device, for nodes whose kernel has neither rbd nor nbd (CI machines,
//! some managed kernels).
//!
//! Each mapping gets its own rbd-fuse mount (`<state-dir>/fuse/<volume>`), restricted to the
//! one image (`-r`), so unmapping one volume never disturbs another. rbd-fuse runs with the
//! librbd cache off: its fsync does not reliably flush librbd's cache, and the loop device on
//! top only promises durability as far as the backing file's writes, so every write must
//! reach the OSDs before it returns. Attribute caching is off too, so a resized image shows
//! its new size at once and `losetup -c` picks it up.
//!
//! An rbd-fuse that stops answering (a user without caps on the pool makes librbd wait
//! forever; a stopped or killed daemon) would hang everything above it, teardown included: so
//! teardown first checks the daemon, and cuts a stuck one off ([`crate::mount::fuse_connection`])
//! before unmounting anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{ImageSpec, MapRequest, Mapper, Mapping, Recovered, conf_arg, connect_timeout_arg};
use crate::error::NodeError;
use crate::mapper::loop_device;
use crate::mapper_kind::MapperKind;
use crate::mount;
use crate::mount::fuse_connection;
use crate::mount::mountinfo;
use crate::process::ChildCommand;
use crate::secret::KeyDir;
use crate::settings::NodeSettings;
use crate::syscall;

#[derive(Debug)]
pub struct Fuse {
    conf: PathBuf,
    connect_timeout: String,
    fuse_dir: PathBuf,
    /// Where fusectl is mounted for an abort when the host has not mounted it.
    fusectl_dir: PathBuf,
    keys: KeyDir,
    map_deadline: Duration,
    unmap_deadline: Duration,
    command_deadline: Duration,
    resize_deadline: Duration,
}

impl Fuse {
    pub fn new(settings: &NodeSettings, keys: &KeyDir) -> Self {
        Self {
            conf: conf_arg(settings),
            connect_timeout: connect_timeout_arg(settings),
            fuse_dir: settings.state_dir.join("fuse"),
            fusectl_dir: settings.state_dir.join("fusectl"),
            keys: keys.clone(),
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
            let health = self.probe(file).await?;
            if health == Health::Answers {
                return Ok(());
            }
            // A dead or stuck rbd-fuse from an earlier attempt.
            self.cut_off_if_stuck(dir, file, health == Health::Stuck)
                .await?;
            self.unmount_dir(dir).await?;
        }
        syscall::create_private_dir(dir).await?;
        let key = self.keys.write(&request.access.key).await?;
        let started = self.mount_command(request, key.path(), dir).run().await;
        let ready = match started {
            Ok(_) => self.wait_for_image(request.image, file).await,
            Err(e) => Err(e),
        };
        // The key is only needed to connect, which has happened (or failed) by now.
        drop(key);
        ready
    }

    /// Waits, within the map deadline, until the image file answers a `stat`. A `stat` that
    /// does not come back at all is a stuck daemon (librbd waiting for an OSD that refuses the
    /// user, say): that is [`NodeError::IoTimedOut`], and the caller cuts the mount off.
    async fn wait_for_image(&self, image: &ImageSpec, file: &Path) -> Result<(), NodeError> {
        let give_up = tokio::time::Instant::now() + self.map_deadline;
        loop {
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            let stat = stat_size_within(file, left.max(Duration::from_millis(10))).await;
            match stat {
                Err(NodeError::IoTimedOut { path, .. }) => {
                    return Err(NodeError::IoTimedOut {
                        step: "rbd-fuse: open the image",
                        path,
                        after: self.map_deadline,
                    });
                }
                Err(e) => return Err(e),
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(NodeError::ImageNotFound {
                        image: image.to_string(),
                    });
                }
                Ok(Err(e)) if tokio::time::Instant::now() >= give_up => {
                    return Err(NodeError::Device {
                        step: "rbd-fuse",
                        message: format!(
                            "{} not usable within {:?}: {e}",
                            file.display(),
                            self.map_deadline
                        ),
                    });
                }
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Whether the rbd-fuse at the image file's directory answers, within the command
    /// deadline.
    async fn probe(&self, file: &Path) -> Result<Health, NodeError> {
        Ok(match stat_size_within(file, self.command_deadline).await {
            Err(NodeError::IoTimedOut { .. }) => Health::Stuck,
            Err(e) => return Err(e),
            Ok(Ok(_)) => Health::Answers,
            // rbd-fuse answered: it just has no such image.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Health::Answers,
            // ENOTCONN: the daemon is gone.
            Ok(Err(_)) => Health::Gone,
        })
    }

    /// After a restart: whether the rbd-fuse at `dir` still serves the image file. A FUSE
    /// connection cannot be handed to a new daemon, so one whose daemon is gone stays lost
    /// until the volume is unstaged and staged again.
    pub async fn daemon_state(&self, dir: &Path, file: &Path) -> Result<Recovered, NodeError> {
        let lost = |why: String| {
            Ok(Recovered::Lost(format!(
                "{why}; a new rbd-fuse cannot take over a FUSE connection: unstage the volume \
                 (restart its pods) to map it again"
            )))
        };
        match mountinfo::mount_at(dir).await? {
            Some(mount) if mount.fs_type.starts_with("fuse") => {}
            _ => return lost(format!("no rbd-fuse is mounted at {}", dir.display())),
        }
        let daemons = fuse_connection::daemons_serving("rbd-fuse", dir).await?;
        if daemons.is_empty() {
            return lost(format!("no rbd-fuse process serves {}", dir.display()));
        }
        if daemons
            .iter()
            .any(fuse_connection::Daemon::is_stopped_or_dead)
        {
            return lost(format!("the rbd-fuse serving {} is stopped", dir.display()));
        }
        match self.probe(file).await? {
            Health::Answers => Ok(Recovered::DaemonAlive),
            Health::Gone => lost(format!("the rbd-fuse serving {} is gone", dir.display())),
            Health::Stuck => lost(format!(
                "the rbd-fuse serving {} does not answer",
                dir.display()
            )),
        }
    }

    /// Aborts the FUSE connection at `dir` and kills its daemon when the daemon is stopped,
    /// gone or does not answer (`known_stuck`: the caller saw it not answering), so nothing
    /// above it can hang. A healthy daemon is left alone.
    pub async fn cut_off_if_stuck(
        &self,
        dir: &Path,
        file: &Path,
        known_stuck: bool,
    ) -> Result<(), NodeError> {
        let Some(mount) = mountinfo::mount_at(dir).await? else {
            return Ok(());
        };
        if !mount.fs_type.starts_with("fuse") {
            return Ok(());
        }
        let daemons = fuse_connection::daemons_serving("rbd-fuse", dir).await?;
        let why = if known_stuck {
            Some("it did not answer in time")
        } else if daemons
            .iter()
            .any(fuse_connection::Daemon::is_stopped_or_dead)
        {
            Some("its daemon is stopped")
        } else {
            match self.probe(file).await? {
                Health::Answers => None,
                Health::Gone => Some("its daemon is gone"),
                Health::Stuck => Some("it does not answer"),
            }
        };
        let Some(why) = why else {
            return Ok(());
        };
        tracing::warn!(dir = %dir.display(), why, daemons = ?daemons, "cutting off the rbd-fuse mount");
        fuse_connection::abort(&mount, &self.fusectl_dir, self.command_deadline).await?;
        fuse_connection::kill(&daemons);
        Ok(())
    }

    /// Cuts off a stuck rbd-fuse, detaches every loop device over `file`, unmounts rbd-fuse at
    /// `dir` (lazily if it will not go), removes `dir`.
    async fn teardown(&self, dir: &Path, file: &Path, known_stuck: bool) -> Result<(), NodeError> {
        self.cut_off_if_stuck(dir, file, known_stuck).await?;
        for device in loop_device::find_by_backing_file(file).await? {
            loop_device::detach(&device, self.unmap_deadline).await?;
        }
        self.unmount_dir(dir).await?;
        let owned = dir.to_path_buf();
        match syscall::blocking_raw("remove", dir, move || std::fs::remove_dir(owned)).await? {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NodeError::io("remove", dir, &e)),
        }
    }

    /// Unmounts the rbd-fuse mount at `dir`; one that will not go (busy after an abort) is
    /// detached lazily, so the request can finish and the kernel frees it when unused.
    async fn unmount_dir(&self, dir: &Path) -> Result<(), NodeError> {
        if let Err(error) = mount::unmount(dir, self.unmap_deadline).await {
            tracing::warn!(%error, dir = %dir.display(), "rbd-fuse mount did not unmount; detaching it lazily");
            mount::unmount_lazy(dir, self.command_deadline).await?;
        }
        Ok(())
    }
}

/// What a probe of the image file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Answers,
    Gone,
    Stuck,
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
            unmap_options: Vec::new(),
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
                let stuck = matches!(e, NodeError::IoTimedOut { .. });
                if let Err(cleanup) = self.teardown(&dir, &file, stuck).await {
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
        self.teardown(dir, &dir.join(&mapping.image.image), false)
            .await
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
        // librbd in rbd-fuse learns of a resize through a watch notification, which the
        // resizing client has normally had acknowledged before its resize returned. Give it a
        // moment at most: a size that does not come is the caller's to refuse (the image was
        // not grown that far), not a reason to wait out the whole deadline.
        if let Some(wanted) = min_size {
            let give_up = tokio::time::Instant::now() + SIZE_SETTLE.min(self.resize_deadline);
            loop {
                let size = stat_size_within(&file, self.command_deadline)
                    .await?
                    .map_err(|e| NodeError::io("stat", &file, &e))?;
                if size >= wanted || tokio::time::Instant::now() >= give_up {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        loop_device::refresh(device, self.command_deadline).await
    }
}

/// How long a resize may take to show through rbd-fuse before the device's size is taken as
/// it is.
const SIZE_SETTLE: Duration = Duration::from_secs(2);

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

/// The size of the image file, or the `stat` error; a `stat` that does not return within
/// `deadline` (a stuck daemon) is [`NodeError::IoTimedOut`].
async fn stat_size_within(
    file: &Path,
    deadline: Duration,
) -> Result<std::io::Result<u64>, NodeError> {
    let owned = file.to_path_buf();
    syscall::blocking_raw_within("stat", file, deadline, move || {
        std::fs::metadata(owned).map(|m| m.len())
    })
    .await
}
