//! CreateVolume: validation and placement shared by the three kinds, and the empty volume.
//!
//! The journal's recipe, as on the RBD side: take the name lock (here, then in RADOS), reserve
//! the name (or find the earlier reservation), bring the subvolume to the state the request
//! asks for. ceph-csi records no image id for CephFS, so a subvolume that exists (and, for a
//! clone, is complete) is what marks a finished volume. On a real failure of the attempt that
//! made the reservation, the subvolume (if any) is removed and the reservation undone.

use std::collections::HashMap;

use controller::capabilities::{AccessType, Capability};
use controller::error::{Error, Result};
use controller::locks::{self, Local};
use csi::quote::quote;
use journal::Entry;
use journal::records::source::ContentSource;
use tracing::{info, warn};

use crate::driver::Driver;
use crate::failpoints;
use crate::fs::{self, Fs, Which};
use crate::secrets::Creds;
use crate::volume::clone;
use crate::volume::context::volume_context;
use crate::volume::request::CreateRequest;

/// What CreateVolume answers.
#[derive(Debug, Clone)]
pub struct Created {
    pub volume_id: String,
    pub capacity: u64,
    pub context: HashMap<String, String>,
}

/// CephFS serves file systems only: every access mode, mount access.
pub fn check_capabilities(caps: &[Capability]) -> Result<()> {
    for (i, cap) in caps.iter().enumerate() {
        if let Some(rule) = unsupported(cap) {
            return Err(Error::invalid(format!("volume_capabilities[{i}]"), rule));
        }
    }
    Ok(())
}

/// Why a capability cannot be served, `None` when it can.
pub fn unsupported(cap: &Capability) -> Option<String> {
    (cap.access_type == AccessType::Block)
        .then(|| "block access is not supported by CephFS volumes (mount only)".to_owned())
}

pub async fn create_volume(driver: &Driver, req: CreateRequest) -> Result<Created> {
    let state = &driver.state;
    check_capabilities(&req.capabilities)?;
    let name = Local::name(
        state,
        &locks::create_volume_key(&req.name),
        format!("volume name {}", quote(&req.name)),
    )?;
    let fs = placement(driver, &req).await?;
    let _name = name.request_name(state, &fs.volumes, &req.name).await?;
    driver.ensure_group(&fs).await?;
    let reservation = fs.volumes.reserve(&journal_request(&req)).await?;
    let entry = reservation.entry;
    let outcome = match &req.source {
        None => create_empty(driver, &req, &fs, &entry, reservation.fresh).await,
        Some(ContentSource::Snapshot(id)) => {
            clone::from_snapshot(driver, &req, &fs, &entry, id).await
        }
        Some(ContentSource::Volume(id)) => clone::from_volume(driver, &req, &fs, &entry, id).await,
    };
    let outcome = match outcome {
        Ok(capacity) => fs
            .getpath(&entry.image_name)
            .await
            .map(|path| (capacity, path)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((capacity, path)) => {
            info!(request_name = %req.name, subvolume = %fs.spec(&entry.image_name), capacity, "volume ready");
            Ok(Created {
                volume_id: fs.id_of(entry.location.uuid)?,
                capacity,
                context: volume_context(&req.params, &fs, &entry.image_name, &path),
            })
        }
        Err(e) => {
            if let Error::Ceph { source, .. } = &e
                && source.errno() == Some(libc::ENOENT)
            {
                driver.forget_group(&fs);
            }
            // Only the attempt that reserved the name made everything there is to undo; a
            // later attempt leaves its failure to the next one, which repairs it.
            if reservation.fresh && e.should_roll_back() {
                rollback(&fs, &req, &entry).await;
            }
            Err(e)
        }
    }
}

/// The filesystem the parameters name, in the cluster they name.
async fn placement(driver: &Driver, req: &CreateRequest) -> Result<Fs> {
    let params = &req.params;
    let cluster = fs::connect(
        &driver.state,
        &params.cluster_id,
        Creds::Request(&req.secrets),
    )
    .await
    .map_err(|e| match e {
        Error::UnknownCluster { cluster_id } => Error::parameter(
            "clusterID",
            format!("{} is not in the cluster config", quote(&cluster_id)),
        ),
        other => other,
    })?;
    let fs = Fs::open(&driver.state, &cluster, Which::Name(&params.fs_name))
        .await?
        .ok_or_else(|| {
            Error::parameter(
                "fsName",
                format!(
                    "filesystem {} does not exist in cluster {:?}",
                    quote(&params.fs_name),
                    cluster.id
                ),
            )
        })?;
    // The mgr would only find out after the reservation.
    if let Some(pool) = &params.pool {
        let id = cluster.rados.pool_id(pool).await.map_err(|e| {
            if e.is_not_found() {
                Error::parameter("pool", format!("pool {} does not exist", quote(pool)))
            } else {
                Error::ceph("look up pool", quote(pool).to_string(), e)
            }
        })?;
        if !fs.data_pool_ids.contains(&id) {
            return Err(Error::parameter(
                "pool",
                format!(
                    "pool {} is not a data pool of filesystem {:?}",
                    quote(pool),
                    fs.name
                ),
            ));
        }
    }
    Ok(fs)
}

/// The journal request of a CreateVolume.
fn journal_request(req: &CreateRequest) -> journal::Request {
    let mut request = journal::Request::new(req.name.clone());
    if let Some(prefix) = &req.params.volume_name_prefix {
        request = request.with_image_prefix(prefix.clone());
    }
    if let Some(owner) = &req.params.owner {
        request = request.with_owner(owner.clone());
    }
    request
}

/// An empty subvolume with the requested size as quota.
async fn create_empty(
    driver: &Driver,
    req: &CreateRequest,
    fs: &Fs,
    entry: &Entry,
    fresh: bool,
) -> Result<u64> {
    let name = &entry.image_name;
    let size = req.capacity.new_volume_size()?;
    if !fresh && let Some(info) = fs.info(name).await? {
        let actual = info.quota().unwrap_or(0);
        req.capacity
            .accepts(actual)
            .map_err(|rule| Error::VolumeConflict {
                request_name: req.name.clone(),
                rule,
            })?;
        return Ok(actual);
    }
    fs.create(name, size, req.params.pool.as_deref()).await?;
    driver
        .state
        .failpoint(failpoints::create::AFTER_SUBVOLUME_CREATED)
        .await?;
    Ok(size)
}

/// Removes what this attempt made and undoes the reservation. Best effort: whatever fails is
/// left for the name's next attempt.
async fn rollback(fs: &Fs, req: &CreateRequest, entry: &Entry) {
    let name = &entry.image_name;
    if let Err(e) = fs.clone_cancel(name).await {
        warn!(subvolume = %fs.spec(name), error = %e, "rollback: cannot cancel a clone");
    }
    if let Err(e) = fs.remove(name, false, true).await {
        warn!(subvolume = %fs.spec(name), error = %e, "rollback: cannot remove the subvolume");
        return;
    }
    if let Err(e) = fs.volumes.undo(&req.name, &entry.location).await {
        warn!(request_name = %req.name, error = %e, "rollback: cannot undo the reservation");
    }
    info!(request_name = %req.name, "rolled back a failed CreateVolume");
}
