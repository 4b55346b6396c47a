//! NodeStageVolume: mount the subvolume at `<staging>/<volume-id>` with ceph-fuse or the
//! kernel client.
//!
//! The stage record is written before anything is mounted, and any failure runs the same
//! teardown as NodeUnstage, so a failed stage (a wrong key, an unknown path) leaves no mount,
//! no daemon, no key file and no record behind. A stage that finds its own earlier,
//! unfinished attempt (a record but no mount: the plugin was killed mid-way, or the mount
//! died) undoes it first; so does one that finds its ceph-fuse mount dead.

use std::path::PathBuf;
use std::time::Instant;

use node::NodeError;
use node::access::AccessKind;
use node::access::staged_target;
use node::mount::mountinfo::{self, MountEntry};
use node::mount::target;
use node::secret::Secret;

use crate::client_mount::{self, MountSpec};
use crate::driver::CephfsNode;
use crate::health;
use crate::mounter::{Mounter, rw};
use crate::ownership::{self, is_recorded_mount};
use crate::record::{self, StageRecord};
use crate::unstage;

/// NodeStage in domain terms, validated by the gRPC layer.
#[derive(Debug)]
pub struct StageRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root.
    pub staging_path: PathBuf,
    /// A reader-only access mode: mounted read-only.
    pub read_only: bool,
    pub cluster_id: String,
    pub fs_name: String,
    pub subvolume_path: String,
    pub user: String,
    pub key: Secret,
    /// The volume context's `mounter`, if any.
    pub mounter: Option<Mounter>,
    /// Checked `fuseMountOptions` / `kernelMountOptions` of the volume context; `None` when it
    /// has none (the cluster config's are used then).
    pub fuse_options: Option<Vec<String>>,
    pub kernel_options: Option<Vec<String>>,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id))]
pub async fn stage(node: &CephfsNode, request: StageRequest) -> Result<(), NodeError> {
    let _guard = node.locks.lock_volume(&request.volume_id)?;
    let mount_point = staged_target(&request.staging_path, &request.volume_id)?;
    let existing =
        match ownership::record_at(node, &request.volume_id, &request.staging_path).await? {
            Ok(existing) => existing,
            Err(other) => {
                return Err(NodeError::StagedDifferently {
                    volume_id: request.volume_id.clone(),
                    path: request.staging_path.clone(),
                    reason: format!(
                        "the staging path holds the stage of volume {}",
                        csi::quote::quote(&other)
                    ),
                });
            }
        };
    if let Some(mount) = mountinfo::mount_at(&mount_point).await? {
        already_staged(&request, existing.as_ref(), &mount)?;
        // Ours and as asked. But a ceph-fuse that died under it (killed, or gone with a
        // restarted plugin container) serves nothing: the stage is redone below, its dead
        // mount torn down first, so the pod about to use it gets a live one.
        let dead = match &existing {
            Some(record) if record.mounter == Mounter::Fuse => {
                health::daemon_problem(&mount_point).await?
            }
            _ => None,
        };
        let Some(problem) = dead else {
            return Ok(());
        };
        tracing::warn!(%problem, "the staged ceph-fuse mount is dead; mounting it afresh");
    }

    // Everything that can be refused is resolved before the node changes.
    let (access, cluster_fs) = node.ceph_access(
        &request.cluster_id,
        request.user.clone(),
        request.key.clone(),
    )?;
    let mounter = node
        .support
        .select(node.settings.mounter, request.mounter)?;
    let options = match mounter {
        Mounter::Fuse => match &request.fuse_options {
            Some(options) => options.clone(),
            None => crate::mount_options::parse_fuse(
                "cluster config cephFS.fuseMountOptions",
                &cluster_fs.fuse_mount_options,
            )?,
        },
        Mounter::Kernel => match &request.kernel_options {
            Some(options) => options.clone(),
            None => crate::mount_options::parse_kernel(
                "cluster config cephFS.kernelMountOptions",
                &cluster_fs.kernel_mount_options,
            )?,
        },
    };
    let spec = MountSpec {
        access,
        fs_name: request.fs_name.clone(),
        subvolume_path: request.subvolume_path.clone(),
        read_only: request.read_only,
        options,
    };

    if let Some(stale) = existing {
        tracing::info!("undoing an earlier, unfinished stage first");
        unstage::teardown(node, &stale).await?;
    }

    let record = StageRecord {
        version: record::VERSION,
        volume_id: request.volume_id.clone(),
        staging_path: request.staging_path.clone(),
        mount_point: mount_point.clone(),
        cluster_id: request.cluster_id.clone(),
        fs_name: request.fs_name.clone(),
        subvolume_path: request.subvolume_path.clone(),
        mounter,
        user: request.user.clone(),
        read_only: request.read_only,
    };
    let started = Instant::now();
    let result = async {
        node.records.write(&record).await?;
        target::create(&mount_point, AccessKind::Mount).await?;
        client_mount::mount(node, mounter, &spec, &mount_point).await
    }
    .await;
    match &result {
        Ok(()) => tracing::info!(%mounter, took = ?started.elapsed(), "volume staged"),
        Err(error) => {
            tracing::warn!(%error, "stage failed; undoing what it did");
            if let Err(undo) = unstage::teardown(node, &record).await {
                tracing::error!(error = %undo, "undo of the failed stage failed; the next stage or unstage retries it");
            }
        }
    }
    node.sweep_keys().await;
    result
}

/// The mount point is mounted: success if it is this volume's stage, made as the request
/// asks.
fn already_staged(
    request: &StageRequest,
    record: Option<&StageRecord>,
    mount: &MountEntry,
) -> Result<(), NodeError> {
    let differently = |reason: String| NodeError::StagedDifferently {
        volume_id: request.volume_id.clone(),
        path: request.staging_path.clone(),
        reason,
    };
    let Some(record) = record else {
        return Err(differently(format!(
            "{} ({}) is mounted there, but this plugin staged nothing",
            mount.source, mount.fs_type
        )));
    };
    if !is_recorded_mount(mount, record) {
        return Err(differently(format!(
            "{} ({}) is mounted there, not the {} mount it recorded",
            mount.source, mount.fs_type, record.mounter
        )));
    }
    let wanted = [
        ("fsName", &record.fs_name, &request.fs_name),
        (
            "subvolumePath",
            &record.subvolume_path,
            &request.subvolume_path,
        ),
        ("clusterID", &record.cluster_id, &request.cluster_id),
    ];
    for (what, staged, asked) in wanted {
        if staged != asked {
            return Err(differently(format!(
                "staged with {what} {}, asked for {}",
                csi::quote::quote(staged),
                csi::quote::quote(asked)
            )));
        }
    }
    if let Some(mounter) = request.mounter
        && mounter != record.mounter
    {
        return Err(differently(format!(
            "staged with mounter {}, asked for {mounter}",
            record.mounter
        )));
    }
    if record.read_only != request.read_only {
        return Err(differently(format!(
            "staged {}, asked for {}",
            rw(record.read_only),
            rw(request.read_only),
        )));
    }
    Ok(())
}
