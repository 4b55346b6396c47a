//! Getting an RBD image onto this node as a block device, three ways behind one trait:
//! [`krbd`] (the kernel client), [`nbd`] (rbd-nbd, librbd in user space behind /dev/nbdX) and
//! [`fuse`] (rbd-fuse exposing the image as a file, plus a loop device) for kernels with
//! neither module. `auto` takes the first one this node supports, in that order.
//! [`loop_device`] is here because it is how the fuse mapper turns rbd-fuse's file into a
//! device.

pub mod fuse;
pub mod krbd;
pub mod loop_device;
pub mod nbd;
pub mod support;

use std::path::PathBuf;

use crate::error::NodeError;
use crate::mapper_kind::{MapperChoice, MapperKind};
use crate::secret::{CephAccess, KeyDir};
use crate::settings::NodeSettings;

pub use support::Support;

/// pool / RADOS namespace / image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub pool: String,
    pub namespace: String,
    pub image: String,
}

impl std::fmt::Display for ImageSpec {
    /// `pool/image` or `pool/namespace/image`, the spec `rbd` and `rbd-nbd` take.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.pool, self.image)
        } else {
            write!(f, "{}/{}/{}", self.pool, self.namespace, self.image)
        }
    }
}

/// One map call.
#[derive(Debug)]
pub struct MapRequest<'a> {
    pub volume_id: &'a str,
    pub image: &'a ImageSpec,
    pub access: &'a CephAccess,
    pub read_only: bool,
    /// Options for this mapper from the volume context's `mapOptions` (checked by
    /// [`crate::checks::map_options`]).
    pub options: Vec<String>,
}

/// Where a mapping is (or will be): all an unmap needs, recorded in the stash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub image: ImageSpec,
    pub device: Option<String>,
    pub fuse_mount_dir: Option<PathBuf>,
    /// Options for this mapper from the volume context's `unmapOptions` (checked).
    pub unmap_options: Vec<String>,
}

/// What a restart left of a mapping, as [`Mappers::recover`] found (or made) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The kernel holds the mapping (krbd): no process of the plugin's serves it.
    Kernel,
    /// The daemon serving the mapping lives on (only the plugin restarted).
    DaemonAlive,
    /// A new rbd-nbd took over the device the old one served.
    Reattached,
    /// Nothing serves the mapping and nothing can again; why. The volume stays abnormal until
    /// it is unstaged.
    Lost(String),
}

/// One mapping to recover after a restart, as the stage record has it.
#[derive(Debug)]
pub struct RecoverRequest<'a> {
    pub volume_id: &'a str,
    pub mapping: &'a Mapping,
    pub read_only: bool,
    /// The checked options the image was mapped with.
    pub map_options: &'a [String],
    /// Credentials to reconnect with (a re-attach connects anew); `None` when the plugin has
    /// none (no `--node-credentials-dir`) or cannot tell the volume's cluster.
    pub access: Result<CephAccess, String>,
}

/// One way of mapping. Every method is idempotent: mapping an image that is already mapped
/// returns the existing device, unmapping one that is not mapped succeeds.
pub trait Mapper {
    fn kind(&self) -> MapperKind;

    /// Where the mapping will live, known before anything is done, so the stash can record it
    /// first and a crash mid-map can be undone.
    fn plan(&self, volume_id: &str, image: &ImageSpec) -> Mapping;

    /// Maps the image; on failure nothing of this attempt is left mapped.
    fn map(
        &self,
        request: &MapRequest<'_>,
    ) -> impl Future<Output = Result<Mapping, NodeError>> + Send;

    fn unmap(&self, mapping: &Mapping) -> impl Future<Output = Result<(), NodeError>> + Send;

    /// Makes the device show the image's current size (after a resize). `min_size` is the size
    /// the CO expects, when it said; a mapper whose size updates lag may wait for it.
    fn refresh_size(
        &self,
        mapping: &Mapping,
        min_size: Option<u64>,
    ) -> impl Future<Output = Result<(), NodeError>> + Send;
}

/// The three mappers plus what this node supports; dispatches by kind.
#[derive(Debug)]
pub struct Mappers {
    keys: KeyDir,
    krbd: krbd::Krbd,
    nbd: nbd::Nbd,
    fuse: fuse::Fuse,
    choice: MapperChoice,
    support: Support,
}

impl Mappers {
    pub fn new(settings: &NodeSettings, support: Support) -> Self {
        let keys = KeyDir::new(settings.state_dir.join("keys"));
        Self {
            krbd: krbd::Krbd::new(settings, &keys),
            nbd: nbd::Nbd::new(settings, &keys),
            fuse: fuse::Fuse::new(settings, &keys),
            keys,
            choice: settings.mapper,
            support,
        }
    }

    pub fn support(&self) -> &Support {
        &self.support
    }

    /// Where the mappers' short-lived key files go (swept by the driver).
    pub fn keys(&self) -> &KeyDir {
        &self.keys
    }

    /// The mapper for a new stage. A fixed `--mapper` wins; with `auto`, the volume's
    /// `mounter` is honoured when this node supports it, else the first supported one.
    pub fn select(&self, mounter: Option<MapperKind>) -> Result<MapperKind, NodeError> {
        let kind = match (self.choice, mounter) {
            (MapperChoice::Only(kind), _) => kind,
            (MapperChoice::Auto, Some(kind)) if self.support.reason(kind).is_none() => kind,
            (MapperChoice::Auto, _) => {
                self.support
                    .first_supported()
                    .ok_or_else(|| NodeError::MapperUnavailable {
                        mapper: "auto".into(),
                        reason: self.support.summary(),
                    })?
            }
        };
        match self.support.reason(kind) {
            None => Ok(kind),
            Some(reason) => Err(NodeError::MapperUnavailable {
                mapper: kind.name().into(),
                reason: reason.to_string(),
            }),
        }
    }

    pub fn plan(&self, kind: MapperKind, volume_id: &str, image: &ImageSpec) -> Mapping {
        match kind {
            MapperKind::Krbd => self.krbd.plan(volume_id, image),
            MapperKind::Nbd => self.nbd.plan(volume_id, image),
            MapperKind::Fuse => self.fuse.plan(volume_id, image),
        }
    }

    pub async fn map(
        &self,
        kind: MapperKind,
        request: &MapRequest<'_>,
    ) -> Result<Mapping, NodeError> {
        match kind {
            MapperKind::Krbd => self.krbd.map(request).await,
            MapperKind::Nbd => self.nbd.map(request).await,
            MapperKind::Fuse => self.fuse.map(request).await,
        }
    }

    pub async fn unmap(&self, kind: MapperKind, mapping: &Mapping) -> Result<(), NodeError> {
        match kind {
            MapperKind::Krbd => self.krbd.unmap(mapping).await,
            MapperKind::Nbd => self.nbd.unmap(mapping).await,
            MapperKind::Fuse => self.fuse.unmap(mapping).await,
        }
    }

    /// Before a teardown unmounts anything above a mapping: cuts off its daemon if it is gone
    /// or stuck (rbd-fuse; the kernel mappers have no daemon that could hang a teardown this
    /// way), so the unmounts fail fast instead of hanging.
    pub async fn cut_off_if_stuck(
        &self,
        kind: MapperKind,
        mapping: &Mapping,
    ) -> Result<(), NodeError> {
        match (kind, &mapping.fuse_mount_dir) {
            (MapperKind::Fuse, Some(dir)) => {
                self.fuse
                    .cut_off_if_stuck(dir, &dir.join(&mapping.image.image), false)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Where the kernel maps `image` with krbd, if it does (for a record that names no device).
    pub async fn krbd_device(&self, image: &ImageSpec) -> Result<Option<String>, NodeError> {
        self.krbd.find_mapped(image).await
    }

    /// After a restart: whether the mapping is still served, re-establishing it where the
    /// mapper can (rbd-nbd re-attaches to the same device).
    pub async fn recover(
        &self,
        kind: MapperKind,
        request: &RecoverRequest<'_>,
    ) -> Result<Recovered, NodeError> {
        let mapping = request.mapping;
        match kind {
            MapperKind::Krbd => Ok(Recovered::Kernel),
            MapperKind::Fuse => match &mapping.fuse_mount_dir {
                Some(dir) => {
                    self.fuse
                        .daemon_state(dir, &dir.join(&mapping.image.image))
                        .await
                }
                None => Ok(Recovered::Lost(format!(
                    "no rbd-fuse directory recorded for {}",
                    mapping.image
                ))),
            },
            MapperKind::Nbd => {
                let Some(device) = &mapping.device else {
                    return Ok(Recovered::Lost(format!(
                        "no nbd device recorded for {}",
                        mapping.image
                    )));
                };
                self.nbd
                    .reattach(&nbd::ReattachRequest {
                        volume_id: request.volume_id,
                        image: &mapping.image,
                        device,
                        access: request.access.as_ref().map_err(String::as_str),
                        read_only: request.read_only,
                        options: request.map_options,
                    })
                    .await
            }
        }
    }

    pub async fn refresh_size(
        &self,
        kind: MapperKind,
        mapping: &Mapping,
        min_size: Option<u64>,
    ) -> Result<(), NodeError> {
        match kind {
            MapperKind::Krbd => self.krbd.refresh_size(mapping, min_size).await,
            MapperKind::Nbd => self.nbd.refresh_size(mapping, min_size).await,
            MapperKind::Fuse => self.fuse.refresh_size(mapping, min_size).await,
        }
    }
}

/// `--client_mount_timeout` for the Ceph tools, so librados gives up connecting (wrong key,
/// unreachable monitors) with a readable error, normally before the map deadline kills it.
fn connect_timeout_arg(settings: &NodeSettings) -> String {
    format!(
        "--client_mount_timeout={}",
        settings.deadlines.connect.as_secs().max(1)
    )
}

/// The `-c` argument for the Ceph tools.
fn conf_arg(settings: &NodeSettings) -> PathBuf {
    settings
        .ceph_conf
        .clone()
        .unwrap_or_else(|| PathBuf::from("/dev/null"))
}

#[cfg(test)]
mod tests;
