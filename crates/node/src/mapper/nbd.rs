//! rbd-nbd: librbd in a user-space daemon behind /dev/nbdX, for kernels without krbd or for
//! image features krbd lacks.
//!
//! The daemon survives the request (it detaches), and resizes the device itself when the image
//! grows. Options are ceph-csi's: netlink interface, a reattach window so a restarted plugin
//! can take over, and no I/O timeout (a slow cluster must not fail the file system).
//!
//! The daemon lives in the plugin's container: a container restart kills it, while the kernel
//! keeps the device waiting for a new daemon for the reattach window. [`Nbd::reattach`] is
//! that new daemon (`rbd-nbd attach --device <same device>`). Each device is mapped with the
//! volume ID as its cookie, which the kernel keeps with the device, so an attach can only
//! take over the device of the volume it names.
//!
//! `rbd-nbd map` forks the daemon into a session of its own before it connects, so a map killed
//! at its deadline leaves a daemon the group kill misses, which may still get through and map
//! the device after the request gave up, when an immediate unmap has found nothing. So after a
//! map whose outcome is unknown, `list-mapped` is watched for as long as the daemon may take to
//! connect, and what appears for the image with this volume's cookie is unmapped
//! ([`Nbd::unmap_late_mapping`]).

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use serde::Deserialize;

use super::{ImageSpec, MapRequest, Mapper, Mapping, Recovered, conf_arg, connect_timeout_arg};
use crate::error::NodeError;
use crate::mapper_kind::MapperKind;
use crate::process::ChildCommand;
use crate::secret::{CephAccess, KeyDir};
use crate::settings::NodeSettings;

#[derive(Debug)]
pub struct Nbd {
    /// `rbd-nbd`, found through PATH; tests point it at a fake.
    program: String,
    conf: PathBuf,
    connect_timeout: String,
    reattach_timeout: String,
    keys: KeyDir,
    map_deadline: Duration,
    unmap_deadline: Duration,
    /// How long a daemon a killed map left behind may still take to connect and map.
    late_map_window: Duration,
}

/// How often `list-mapped` is asked while a late mapping is watched for.
const LATE_MAP_POLL: Duration = Duration::from_millis(500);

/// One re-attach after a restart: what the stage record says was mapped, and how.
#[derive(Debug)]
pub struct ReattachRequest<'a> {
    pub volume_id: &'a str,
    pub image: &'a ImageSpec,
    /// The device the volume was mapped to (and its file system is mounted from).
    pub device: &'a str,
    /// Credentials to connect with, or why there are none (needed only when a daemon must be
    /// started).
    pub access: Result<&'a CephAccess, &'a str>,
    pub read_only: bool,
    /// The checked rbd-nbd options the volume was mapped with.
    pub options: &'a [String],
}

/// One entry of `rbd-nbd list-mapped --format json`: a device some live rbd-nbd serves (a
/// device whose daemon died is not listed).
#[derive(Debug, Deserialize)]
struct MappedDevice {
    pool: String,
    #[serde(default)]
    namespace: String,
    image: String,
    #[serde(default)]
    snap: String,
    device: String,
    /// The cookie the device was mapped with, where rbd-nbd lists one.
    #[serde(default)]
    cookie: String,
}

impl MappedDevice {
    fn is(&self, image: &ImageSpec) -> bool {
        self.pool == image.pool
            && self.namespace == image.namespace
            && self.image == image.image
            && (self.snap.is_empty() || self.snap == "-")
    }

    /// `image` mapped for `volume_id`, or with no cookie to tell (an older kernel or rbd-nbd).
    fn is_for(&self, image: &ImageSpec, volume_id: &str) -> bool {
        self.is(image) && (self.cookie.is_empty() || self.cookie == volume_id)
    }

    fn spec(&self) -> ImageSpec {
        ImageSpec {
            pool: self.pool.clone(),
            namespace: self.namespace.clone(),
            image: self.image.clone(),
        }
    }
}

/// What rbd-nbd says when the kernel cannot keep a cookie with a device (before Linux 5.14):
/// such a device has none to check, and an attach must not send one.
const NO_COOKIE_SUPPORT: &str = "does not have cookie support";

impl Nbd {
    pub fn new(settings: &NodeSettings, keys: &KeyDir) -> Self {
        Self {
            program: "rbd-nbd".into(),
            conf: conf_arg(settings),
            connect_timeout: connect_timeout_arg(settings),
            reattach_timeout: format!(
                "--reattach-timeout={}",
                settings.deadlines.nbd_reattach.as_secs()
            ),
            keys: keys.clone(),
            map_deadline: settings.deadlines.map,
            unmap_deadline: settings.deadlines.unmap,
            late_map_window: settings.deadlines.connect,
        }
    }

    /// Runs `program` instead of `rbd-nbd` (a fake that records its calls, in tests).
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    pub(crate) fn map_command(
        &self,
        request: &MapRequest<'_>,
        key_file: &std::path::Path,
    ) -> ChildCommand {
        let cmd = ChildCommand::new(&self.program, self.map_deadline)
            .args(["map", &request.image.to_string()])
            .arg(format!("--cookie={}", request.volume_id));
        self.connect_args(
            cmd,
            request.access,
            key_file,
            request.read_only,
            &request.options,
        )
    }

    /// `rbd-nbd attach`: a new daemon for `device`, which the kernel kept after the old one
    /// died. With `cookie`, the kernel refuses unless the device was mapped for this volume.
    pub(crate) fn attach_command(
        &self,
        request: &ReattachRequest<'_>,
        access: &CephAccess,
        key_file: &std::path::Path,
        cookie: bool,
    ) -> ChildCommand {
        let mut cmd = ChildCommand::new(&self.program, self.map_deadline).args([
            "attach",
            "--device",
            request.device,
        ]);
        if cookie {
            cmd = cmd.arg(format!("--cookie={}", request.volume_id));
        }
        let cmd = cmd.arg(request.image.to_string());
        self.connect_args(cmd, access, key_file, request.read_only, request.options)
    }

    /// What map and attach share: how to reach the cluster, the device's timeouts (an attach
    /// sets them anew, so a later restart gets the same window) and the volume's options.
    fn connect_args(
        &self,
        cmd: ChildCommand,
        access: &CephAccess,
        key_file: &std::path::Path,
        read_only: bool,
        options: &[String],
    ) -> ChildCommand {
        let mut cmd = cmd
            .arg("-c")
            .arg(&self.conf)
            .args(["--id", &access.user, "-m", &access.monitors])
            .arg("--keyfile")
            .arg(key_file)
            .arg(&self.connect_timeout)
            .args(["--try-netlink", &self.reattach_timeout, "--io-timeout=0"])
            .redact(access.key.expose());
        if read_only {
            cmd = cmd.arg("--read-only");
        }
        // rbd-nbd takes its options as flags: `mapOptions: "nbd:timeout=30"` → `--timeout=30`.
        for option in options {
            cmd = cmd.arg(format!("--{option}"));
        }
        cmd
    }

    pub(crate) fn unmap_command(&self, device: &str) -> ChildCommand {
        ChildCommand::new(&self.program, self.unmap_deadline).args(["unmap", device])
    }

    /// `rbd-nbd list-mapped` as it printed it.
    async fn list_mapped_json(&self) -> Result<String, NodeError> {
        let output = ChildCommand::new(&self.program, self.unmap_deadline)
            .args(["list-mapped", "--format", "json"])
            .run()
            .await?;
        Ok(output.stdout)
    }

    async fn list_mapped(&self) -> Result<Vec<MappedDevice>, NodeError> {
        parse_list(&self.list_mapped_json().await?)
    }

    async fn find_mapped(&self, image: &ImageSpec) -> Result<Option<String>, NodeError> {
        find_in_list(&self.list_mapped_json().await?, image)
    }

    /// `rbd-nbd unmap <device>`; a device already gone is fine.
    async fn unmap_device(&self, device: &str) -> Result<(), NodeError> {
        let cmd = self.unmap_command(device);
        let output = cmd.output().await?;
        if output.status.success() || is_not_mapped(&output.stderr) {
            Ok(())
        } else {
            Err(cmd.failed(&output))
        }
    }

    /// After a map killed at its deadline: watches `list-mapped` for [`Nbd::late_map_window`]
    /// and unmaps the device that appears for the image with this volume's cookie, if one
    /// does. A mapping of the image with another cookie is someone else's and left alone. The
    /// map's own error is what the caller reports; what happens here is logged.
    async fn unmap_late_mapping(&self, request: &MapRequest<'_>) {
        let until = Instant::now() + self.late_map_window;
        loop {
            match self.list_mapped().await {
                Ok(mapped) => {
                    if let Some(late) = mapped
                        .iter()
                        .find(|d| d.is_for(request.image, request.volume_id))
                    {
                        match self.unmap_device(&late.device).await {
                            Ok(()) => tracing::warn!(
                                device = %late.device,
                                "rbd-nbd mapped the image after its map was killed; unmapped"
                            ),
                            Err(e) => tracing::error!(
                                device = %late.device, error = %e,
                                "rbd-nbd mapped the image after its map was killed, and unmapping it failed; a retried stage will take it over"
                            ),
                        }
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "watching for a late rbd-nbd mapping")
                }
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep(LATE_MAP_POLL.min(until - now)).await;
        }
    }

    /// After a restart: makes sure a daemon serves the volume's device again. Nothing is
    /// started when a live daemon already serves it (only the plugin restarted); a device
    /// that a live daemon serves for another image, or an image mapped at another device, is
    /// left alone and reported.
    pub async fn reattach(&self, request: &ReattachRequest<'_>) -> Result<Recovered, NodeError> {
        let mapped = self.list_mapped().await?;
        if let Some(serving) = mapped.iter().find(|d| d.device == request.device) {
            return Ok(if serving.is(request.image) {
                Recovered::DaemonAlive
            } else {
                Recovered::Lost(format!(
                    "{} is served by rbd-nbd for {}, not for {}",
                    request.device,
                    serving.spec(),
                    request.image
                ))
            });
        }
        if let Some(elsewhere) = mapped.iter().find(|d| d.is(request.image)) {
            return Ok(Recovered::Lost(format!(
                "{} is mapped at {}, not at the recorded {}",
                request.image, elsewhere.device, request.device
            )));
        }
        let access = match request.access {
            Ok(access) => access,
            Err(why) => {
                return Ok(Recovered::Lost(format!(
                    "no daemon serves {} and none can be started: {why}",
                    request.device
                )));
            }
        };
        let key = self.keys.write(&access.key).await?;
        let mut cmd = self.attach_command(request, access, key.path(), true);
        let mut output = cmd.output().await?;
        if !output.status.success() && output.stderr.contains(NO_COOKIE_SUPPORT) {
            cmd = self.attach_command(request, access, key.path(), false);
            output = cmd.output().await?;
        }
        drop(key);
        if !output.status.success() {
            return Err(cmd.failed(&output));
        }
        let attached = output.stdout.trim();
        if attached != request.device {
            return Err(NodeError::Device {
                step: "rbd-nbd attach",
                message: format!("attached {attached:?}, not the recorded {}", request.device),
            });
        }
        // The attach returns once its daemon is connected; it must now be listed as serving.
        match self.find_mapped(request.image).await? {
            Some(device) if device == request.device => Ok(Recovered::Reattached),
            other => Err(NodeError::Device {
                step: "rbd-nbd attach",
                message: format!(
                    "after the attach, list-mapped shows {} at {other:?}, not at {}",
                    request.image, request.device
                ),
            }),
        }
    }
}

fn parse_list(json: &str) -> Result<Vec<MappedDevice>, NodeError> {
    let text = json.trim();
    // Older rbd-nbd prints nothing at all when nothing is mapped.
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| NodeError::Device {
        step: "rbd-nbd list-mapped",
        message: format!("unexpected output: {e}"),
    })
}

pub(crate) fn find_in_list(json: &str, image: &ImageSpec) -> Result<Option<String>, NodeError> {
    Ok(parse_list(json)?
        .into_iter()
        .find(|d| d.is(image))
        .map(|d| d.device))
}

fn is_not_mapped(output: &str) -> bool {
    output.contains("not mapped") || output.contains("No such file or directory")
}

impl Mapper for Nbd {
    fn kind(&self) -> MapperKind {
        MapperKind::Nbd
    }

    fn plan(&self, _volume_id: &str, image: &ImageSpec) -> Mapping {
        Mapping {
            image: image.clone(),
            device: None,
            fuse_mount_dir: None,
            unmap_options: Vec::new(),
        }
    }

    async fn map(&self, request: &MapRequest<'_>) -> Result<Mapping, NodeError> {
        let mut mapping = self.plan(request.volume_id, request.image);
        if let Some(device) = self.find_mapped(request.image).await? {
            mapping.device = Some(device);
            return Ok(mapping);
        }
        let key = self.keys.write(&request.access.key).await?;
        let result = self.map_command(request, key.path()).run().await;
        drop(key);
        let output = match result {
            Ok(output) => output,
            // Killed (at its deadline, or by a signal): its daemon may still map the image.
            Err(
                e @ (NodeError::CommandTimedOut { .. }
                | NodeError::CommandFailed { code: None, .. }),
            ) => {
                self.unmap_late_mapping(request).await;
                return Err(e);
            }
            // rbd-nbd said why it failed, after its daemon did.
            Err(e) => {
                let _ = self.unmap(&mapping).await;
                return Err(e);
            }
        };
        let device = output.stdout.trim().to_string();
        if !device.starts_with("/dev/nbd") {
            let _ = self.unmap(&mapping).await;
            return Err(NodeError::Device {
                step: "rbd-nbd map",
                message: format!("unexpected output {device:?}"),
            });
        }
        mapping.device = Some(device);
        Ok(mapping)
    }

    async fn unmap(&self, mapping: &Mapping) -> Result<(), NodeError> {
        // Found by image spec, never by the stash's device path alone: after a reboot that
        // path may belong to another image.
        let Some(device) = self.find_mapped(&mapping.image).await? else {
            return Ok(());
        };
        self.unmap_device(&device).await
    }

    /// rbd-nbd watches the image and resizes the nbd device itself.
    async fn refresh_size(
        &self,
        _mapping: &Mapping,
        _min_size: Option<u64>,
    ) -> Result<(), NodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
