//! rbd-nbd: librbd in a user-space daemon behind /dev/nbdX, for kernels without krbd or for
//! image features krbd lacks.
//!
//! The daemon survives the request (it detaches), and resizes the device itself when the image
//! grows. Options are ceph-csi's: netlink interface, a reattach window so a restarted plugin
//! can take over, and no I/O timeout (a slow cluster must not fail the file system).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ImageSpec, MapRequest, Mapper, MapperKind, Mapping, conf_arg, connect_timeout_arg};
use crate::error::NodeError;
use crate::process::ChildCommand;
use crate::secret::KeyDir;
use crate::settings::NodeSettings;

#[derive(Debug)]
pub struct Nbd {
    conf: PathBuf,
    connect_timeout: String,
    keys: KeyDir,
    map_deadline: Duration,
    unmap_deadline: Duration,
}

/// One entry of `rbd-nbd list-mapped --format json`.
#[derive(Debug, Deserialize)]
struct MappedDevice {
    pool: String,
    #[serde(default)]
    namespace: String,
    image: String,
    #[serde(default)]
    snap: String,
    device: String,
}

impl Nbd {
    pub fn new(settings: &NodeSettings, keys: &KeyDir) -> Self {
        Self {
            conf: conf_arg(settings),
            connect_timeout: connect_timeout_arg(settings),
            keys: keys.clone(),
            map_deadline: settings.deadlines.map,
            unmap_deadline: settings.deadlines.unmap,
        }
    }

    pub(crate) fn map_command(
        &self,
        request: &MapRequest<'_>,
        key_file: &std::path::Path,
    ) -> ChildCommand {
        let mut cmd = ChildCommand::new("rbd-nbd", self.map_deadline)
            .args(["map", &request.image.to_string()])
            .arg("-c")
            .arg(&self.conf)
            .args(["--id", &request.access.user, "-m", &request.access.monitors])
            .arg("--keyfile")
            .arg(key_file)
            .arg(&self.connect_timeout)
            .args(["--try-netlink", "--reattach-timeout=300", "--io-timeout=0"])
            .redact(request.access.key.expose());
        if request.read_only {
            cmd = cmd.arg("--read-only");
        }
        // rbd-nbd takes its options as flags: `mapOptions: "nbd:timeout=30"` → `--timeout=30`.
        for option in &request.options {
            cmd = cmd.arg(format!("--{option}"));
        }
        cmd
    }

    pub(crate) fn unmap_command(&self, device: &str) -> ChildCommand {
        ChildCommand::new("rbd-nbd", self.unmap_deadline).args(["unmap", device])
    }

    async fn find_mapped(&self, image: &ImageSpec) -> Result<Option<String>, NodeError> {
        let output = ChildCommand::new("rbd-nbd", self.unmap_deadline)
            .args(["list-mapped", "--format", "json"])
            .run()
            .await?;
        find_in_list(&output.stdout, image)
    }
}

pub(crate) fn find_in_list(json: &str, image: &ImageSpec) -> Result<Option<String>, NodeError> {
    let text = json.trim();
    // Older rbd-nbd prints nothing at all when nothing is mapped.
    if text.is_empty() {
        return Ok(None);
    }
    let list: Vec<MappedDevice> = serde_json::from_str(text).map_err(|e| NodeError::Device {
        step: "rbd-nbd list-mapped",
        message: format!("unexpected output: {e}"),
    })?;
    Ok(list
        .into_iter()
        .find(|d| {
            d.pool == image.pool
                && d.namespace == image.namespace
                && d.image == image.image
                && (d.snap.is_empty() || d.snap == "-")
        })
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
        let cmd = self.unmap_command(&device);
        let output = cmd.output().await?;
        if output.status.success() || is_not_mapped(&output.stderr) {
            Ok(())
        } else {
            Err(cmd.failed(&output))
        }
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
