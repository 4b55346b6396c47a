//! NodeStageVolume: map the image, put a file system on it if it has none, mount it at
//! `<staging>/<volume-id>` (or bind the device there for block access).
//!
//! Every step is recorded before it is taken (the stash), and any failure runs the same
//! teardown as NodeUnstage over what was recorded, so a failed stage leaves no mount, no
//! mapping and no stash behind. A stage that finds its own earlier half-done attempt (a stash
//! but no mount: the plugin crashed or was killed mid-way) undoes it first.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::access::{Access, AccessKind, staged_target};
use crate::checks::map_options::MapperOptions;
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mapper::{ImageSpec, MapRequest};
use crate::mapper_kind::MapperKind;
use crate::mount;
use crate::mount::mountinfo::{self, MountEntry};
use crate::mount::target;
use crate::operation::prepare;
use crate::operation::unstage;
use crate::ownership;
use crate::secret::{CephAccess, Secret};
use crate::stash::{self, Stash};

/// NodeStage in domain terms (validated by the gRPC layer: names follow [`crate::checks::names`],
/// options the allowlists, the staging path is confined to kubelet's root).
#[derive(Debug)]
pub struct StageRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root ([`crate::checks::kubelet_paths`]).
    pub staging_path: PathBuf,
    pub access: Access,
    /// Mapped and mounted read-only (reader-only access modes).
    pub read_only: bool,
    pub cluster_id: String,
    pub image: ImageSpec,
    pub user: String,
    pub key: Secret,
    /// The volume context's `mounter`, if any.
    pub mounter: Option<MapperKind>,
    /// The volume context's `mapOptions`, checked per mapper.
    pub map_options: MapperOptions,
    /// The volume context's `unmapOptions`, checked per mapper; recorded for NodeUnstage.
    pub unmap_options: MapperOptions,
    /// The volume context's `mkfsOptions`, checked and split into arguments; replaces the
    /// defaults.
    pub mkfs_options: Option<Vec<String>>,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, image = %request.image))]
pub async fn stage(driver: &NodeDriver, request: StageRequest) -> Result<(), NodeError> {
    let _guard = driver.locks.lock_volume(&request.volume_id)?;
    let target = staged_target(&request.staging_path, &request.volume_id)?;
    let stash_path = stash::path(&request.staging_path);
    let existing = ownership::read_stash(driver, &request.volume_id, &request.staging_path).await?;

    if let Some(mount) = mountinfo::mount_at(&target).await? {
        return already_staged(&request, &target, existing.as_ref(), &mount).await;
    }
    // Resolve everything that can be refused before touching the node.
    let access = driver.ceph_access(
        &request.cluster_id,
        request.user.clone(),
        request.key.clone(),
    )?;
    let mapper = driver.mappers.select(request.mounter)?;
    let plan = MapPlan {
        mapper,
        map_options: request.map_options.for_mapper(mapper).to_vec(),
        unmap_options: request.unmap_options.for_mapper(mapper).to_vec(),
        access,
    };

    if let Some(stale) = existing {
        tracing::info!(stash = %stash_path.display(), "undoing an earlier, unfinished stage first");
        unstage::teardown(
            driver,
            &request.volume_id,
            &target,
            &stash_path,
            Some(stale),
        )
        .await?;
    }

    let started = Instant::now();
    let mut record = None;
    let result = stage_steps(driver, &request, plan, &target, &stash_path, &mut record).await;
    match &result {
        Ok(()) => {
            driver.recovery.forget(&request.volume_id);
            tracing::info!(%mapper, took = ?started.elapsed(), "volume staged")
        }
        Err(error) => {
            tracing::warn!(%error, "stage failed; undoing what it did");
            if let Err(undo) =
                unstage::teardown(driver, &request.volume_id, &target, &stash_path, record).await
            {
                tracing::error!(error = %undo, "undo of the failed stage failed; the next stage or unstage will retry it");
            }
        }
    }
    // Whatever happened, no key file of this stage outlives it, nor one a killed predecessor
    // left.
    driver.sweep_keys().await;
    result
}

/// How the image will be mapped, decided before anything on the node changes.
struct MapPlan {
    mapper: MapperKind,
    map_options: Vec<String>,
    unmap_options: Vec<String>,
    access: CephAccess,
}

/// The steps, in order; `record` always holds the last stash written (or about to be), so the
/// caller can undo exactly what happened.
async fn stage_steps(
    driver: &NodeDriver,
    request: &StageRequest,
    plan: MapPlan,
    target: &Path,
    stash_path: &Path,
    record: &mut Option<Stash>,
) -> Result<(), NodeError> {
    let deadlines = &driver.settings.deadlines;
    let MapPlan {
        mapper,
        map_options,
        unmap_options,
        access,
    } = plan;
    let planned = driver
        .mappers
        .plan(mapper, &request.volume_id, &request.image);
    let mut stash = Stash {
        version: stash::VERSION,
        volume_id: request.volume_id.clone(),
        cluster_id: Some(request.cluster_id.clone()),
        pool: request.image.pool.clone(),
        rados_namespace: request.image.namespace.clone(),
        image: request.image.image.clone(),
        mapper,
        device: None,
        fuse_mount_dir: planned.fuse_mount_dir,
        access_type: request.access.kind(),
        fs_type: request.access.fs_type(),
        read_only: request.read_only,
        unmap_options,
        map_options: map_options.clone(),
        origin: stash::Origin::Sepia,
    };
    *record = Some(stash.clone());
    stash::write(stash_path, &stash).await?;

    let mapping = driver
        .mappers
        .map(
            mapper,
            &MapRequest {
                volume_id: &request.volume_id,
                image: &request.image,
                access: &access,
                read_only: request.read_only,
                options: map_options,
            },
        )
        .await?;
    stash.device = mapping.device.clone();
    stash.fuse_mount_dir = mapping.fuse_mount_dir.clone();
    *record = Some(stash.clone());
    stash::write(stash_path, &stash).await?;
    let device = mapping.device.ok_or_else(|| NodeError::Device {
        step: "map",
        message: format!("{mapper} reported no device for {}", request.image),
    })?;

    match &request.access {
        Access::Mount { fs_type, flags } => {
            prepare::prepare_filesystem(
                driver,
                &device,
                *fs_type,
                request.read_only,
                request.mkfs_options.as_deref(),
            )
            .await?;
            target::create(target, AccessKind::Mount).await?;
            let mut options: Vec<String> = fs_type
                .mount_options()
                .iter()
                .map(|o| o.to_string())
                .collect();
            options.extend(flags.iter().cloned());
            if request.read_only {
                options.push("ro".into());
            }
            mount::mount_fs(&device, target, fs_type.name(), &options, deadlines.command).await
        }
        Access::Block => {
            target::create(target, AccessKind::Block).await?;
            mount::bind(
                Path::new(&device),
                target,
                request.read_only,
                &[],
                deadlines.command,
            )
            .await
        }
    }
}

/// The target is mounted: success if it is this volume's device, staged the way the request
/// asks.
async fn already_staged(
    request: &StageRequest,
    target: &Path,
    stash: Option<&Stash>,
    mount: &MountEntry,
) -> Result<(), NodeError> {
    let differently = |reason: String| NodeError::StagedDifferently {
        volume_id: request.volume_id.clone(),
        path: target.to_path_buf(),
        reason,
    };
    let Some(stash) = stash else {
        return Err(differently(
            "something is mounted there, but no stage record exists".into(),
        ));
    };
    if !ownership::is_stash_device(mount, stash).await? {
        return Err(differently(format!(
            "{} is mounted there, not the device this stage mapped",
            mount.source
        )));
    }
    if stash.access_type != request.access.kind() {
        return Err(differently(format!(
            "staged with access type {:?}, asked for {:?}",
            stash.access_type,
            request.access.kind()
        )));
    }
    if stash.fs_type != request.access.fs_type() {
        return Err(differently(format!(
            "staged as {:?}, asked for {:?}",
            stash.fs_type,
            request.access.fs_type()
        )));
    }
    if stash.read_only != request.read_only {
        return Err(differently(format!(
            "staged {}, asked for {}",
            if stash.read_only {
                "read-only"
            } else {
                "read-write"
            },
            if request.read_only {
                "read-only"
            } else {
                "read-write"
            }
        )));
    }
    Ok(())
}
