//! The kernel RBD client: `rbd map` / `rbd unmap` with `--device-type krbd`.
//!
//! `noudev` because the node plugin runs in a container without udevd: `rbd` would otherwise
//! wait for a udev event that never comes. Unmap goes by image spec, as ceph-csi does, so a
//! stale device path in the stash can never unmap someone else's image.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ImageSpec, MapRequest, Mapper, Mapping, conf_arg, connect_timeout_arg};
use crate::error::NodeError;
use crate::mapper_kind::MapperKind;
use crate::process::ChildCommand;
use crate::secret::KeyDir;
use crate::settings::NodeSettings;

#[derive(Debug)]
pub struct Krbd {
    conf: PathBuf,
    connect_timeout: String,
    keys: KeyDir,
    map_deadline: Duration,
    unmap_deadline: Duration,
}

/// One entry of `rbd device list --format json`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct MappedDevice {
    pub pool: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub snap: String,
    pub device: String,
}

impl Krbd {
    pub fn new(settings: &NodeSettings, keys: &KeyDir) -> Self {
        Self {
            conf: conf_arg(settings),
            connect_timeout: connect_timeout_arg(settings),
            keys: keys.clone(),
            map_deadline: settings.deadlines.map,
            unmap_deadline: settings.deadlines.unmap,
        }
    }

    /// `rbd map` for `request` with the key in `key_file`.
    pub(crate) fn map_command(
        &self,
        request: &MapRequest<'_>,
        key_file: &std::path::Path,
    ) -> ChildCommand {
        let mut cmd = ChildCommand::new("rbd", self.map_deadline)
            .arg("-c")
            .arg(&self.conf)
            .args(["--id", &request.access.user, "-m", &request.access.monitors])
            .arg("--keyfile")
            .arg(key_file)
            .arg(&self.connect_timeout)
            .args([
                "map",
                &request.image.to_string(),
                "--device-type",
                "krbd",
                "--options",
                "noudev",
            ])
            .redact(request.access.key.expose());
        if request.read_only {
            cmd = cmd.arg("--read-only");
        }
        if !request.options.is_empty() {
            cmd = cmd.args(["--options", &request.options.join(",")]);
        }
        cmd
    }

    /// `rbd unmap` by image spec; `options` are the checked `unmapOptions` (`force`).
    pub(crate) fn unmap_command(&self, image: &ImageSpec, options: &[String]) -> ChildCommand {
        let options = std::iter::once("noudev")
            .chain(options.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(",");
        ChildCommand::new("rbd", self.unmap_deadline)
            .arg("-c")
            .arg(&self.conf)
            .args([
                "unmap",
                &image.to_string(),
                "--device-type",
                "krbd",
                "--options",
                &options,
            ])
    }

    pub(crate) async fn find_mapped(&self, image: &ImageSpec) -> Result<Option<String>, NodeError> {
        let output = ChildCommand::new("rbd", self.unmap_deadline)
            .arg("-c")
            .arg(&self.conf)
            .args([
                "device",
                "list",
                "--device-type",
                "krbd",
                "--format",
                "json",
            ])
            .run()
            .await?;
        find_in_list(&output.stdout, image)
    }
}

pub(crate) fn find_in_list(json: &str, image: &ImageSpec) -> Result<Option<String>, NodeError> {
    let list: Vec<MappedDevice> =
        serde_json::from_str(json.trim()).map_err(|e| NodeError::Device {
            step: "rbd device list",
            message: format!("unexpected output: {e}"),
        })?;
    Ok(list
        .into_iter()
        .find(|d| {
            d.pool == image.pool
                && d.namespace == image.namespace
                && d.name == image.image
                && (d.snap.is_empty() || d.snap == "-")
        })
        .map(|d| d.device))
}

/// `rbd unmap` messages that mean "nothing to unmap".
pub(crate) fn is_not_mapped(output: &str) -> bool {
    output.contains("not a mapped image") || output.contains("not mapped")
}

impl Mapper for Krbd {
    fn kind(&self) -> MapperKind {
        MapperKind::Krbd
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
        match result {
            Ok(output) => {
                let device = output.stdout.trim().to_string();
                if device.starts_with("/dev/") {
                    mapping.device = Some(device);
                    Ok(mapping)
                } else {
                    // Mapped, but we cannot tell where: take it back rather than lose it.
                    let _ = self.unmap(&mapping).await;
                    Err(NodeError::Device {
                        step: "rbd map",
                        message: format!("unexpected output {device:?}"),
                    })
                }
            }
            Err(e) => {
                // A timed-out map can complete in the kernel after the tool is gone; ceph-csi
                // unmaps on "Connection timed out" for the same reason.
                let _ = self.unmap(&mapping).await;
                Err(e)
            }
        }
    }

    async fn unmap(&self, mapping: &Mapping) -> Result<(), NodeError> {
        let cmd = self.unmap_command(&mapping.image, &mapping.unmap_options);
        let output = cmd.output().await?;
        if output.status.success() || is_not_mapped(&output.stderr) {
            Ok(())
        } else {
            Err(cmd.failed(&output))
        }
    }

    /// krbd watches the image header and resizes the device itself.
    async fn refresh_size(
        &self,
        _mapping: &Mapping,
        _min_size: Option<u64>,
    ) -> Result<(), NodeError> {
        Ok(())
    }
}
