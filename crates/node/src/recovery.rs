//! Start-up recovery: what a restart of the plugin cut, re-established before Probe answers
//! ready, and reported per volume.
//!
//! The volumes are found as kubelet left them: each mount at `<staging>/<volume-id>` below
//! kubelet's CSI staging directory for this driver whose staging directory holds a stage
//! record, Sepia's or ceph-csi's (a volume ceph-csi staged is recovered the same way). Each is proven this plugin's ([`crate::ownership`]) and locked like any operation
//! on it; then its mapper says what is left ([`Mappers::recover`](crate::mapper::Mappers)):
//! a krbd mapping lives in the kernel; an rbd-fuse or rbd-nbd daemon lives on when only the
//! plugin process died; after a container restart the daemons are gone, and rbd-nbd is
//! re-attached to the same device (the kernel keeps it waiting for the reattach timeout),
//! while an rbd-fuse volume stays lost. Each outcome is logged, and a lost volume is kept on
//! the [`RecoveryBoard`](crate::recovery_board::RecoveryBoard) so NodeGetVolumeStats reports it abnormal until it is unstaged or
//! staged again.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::access::check_volume_id;
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mapper::{RecoverRequest, Recovered};
use crate::mapper_kind::MapperKind;
use crate::mount::mountinfo::{self, MountEntry};
use crate::ownership;
use crate::registration::node_registry::read_credentials;
use crate::secret::Secret;
use crate::stash;
use crate::syscall;

/// kubelet's directory of CSI staging paths, below its root.
const CSI_STAGING_DIR: &str = "plugins/kubernetes.io/csi";
/// Volumes recovered at once: re-attaches connect to the cluster, and all must finish within
/// the reattach timeout, so they run side by side, but not hundreds of daemons at one moment.
const PARALLEL: usize = 8;

/// What recovery found for one volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRecovery {
    pub volume_id: String,
    pub staging_path: PathBuf,
    pub mapper: MapperKind,
    pub outcome: Recovered,
}

impl Recovered {
    /// A short word for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Recovered::Kernel => "kernel-mapping",
            Recovered::DaemonAlive => "daemon-alive",
            Recovered::Reattached => "reattached",
            Recovered::Lost(_) => "lost",
        }
    }
}

/// Recovers every volume staged on this node, then marks recovery done. `credentials_dir`
/// holds the standing credentials (`--node-credentials-dir`) a re-attach connects with: a
/// restart brings no node-stage secret.
pub async fn run(driver: Arc<NodeDriver>, credentials_dir: Option<PathBuf>) -> Vec<VolumeRecovery> {
    let found = match staged_volumes(&driver).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "cannot look for staged volumes; none recovered");
            Vec::new()
        }
    };
    let credentials: Arc<Result<(String, Secret), String>> = Arc::new(match &credentials_dir {
        Some(dir) => read_credentials(dir).await.map_err(|e| e.to_string()),
        None => Err("the plugin has no standing credentials (--node-credentials-dir)".into()),
    });
    let limit = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (volume_id, staging_path) in found {
        let (driver, credentials, limit) = (driver.clone(), credentials.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            recover_one(&driver, volume_id, staging_path, &credentials).await
        });
    }
    let mut recovered = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Some(volume)) => recovered.push(volume),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "a volume's recovery task failed"),
        }
    }
    driver.recovery.end();
    let lost = recovered
        .iter()
        .filter(|v| matches!(v.outcome, Recovered::Lost(_)))
        .count();
    tracing::info!(
        volumes = recovered.len(),
        lost,
        "start-up recovery done; ready"
    );
    recovered
}

/// Recovers one volume under its lock; `None` when it is not looked at (an operation holds
/// it, or it is not a stage of this plugin after all).
#[tracing::instrument(skip_all, fields(%volume_id, staging = %staging_path.display()))]
async fn recover_one(
    driver: &NodeDriver,
    volume_id: String,
    staging_path: PathBuf,
    credentials: &Result<(String, Secret), String>,
) -> Option<VolumeRecovery> {
    let Ok(_guard) = driver.locks.lock_volume(&volume_id) else {
        tracing::info!("an operation on the volume is running; it is left to that operation");
        return None;
    };
    let staged = match ownership::staged_at(driver, &volume_id, &staging_path).await {
        Ok(Some(staged)) => staged,
        Ok(None) => {
            tracing::info!("no longer staged; nothing to recover");
            return None;
        }
        Err(error) => {
            tracing::warn!(%error, "not recovered: not a stage of this plugin's");
            return None;
        }
    };
    let stash = &staged.stash;
    let access = match credentials {
        Ok((user, key)) => cluster_of(stash.cluster_id.as_deref(), &volume_id).and_then(|id| {
            driver
                .ceph_access(&id, user.clone(), key.clone())
                .map_err(|e| e.to_string())
        }),
        Err(why) => Err(why.clone()),
    };
    let mapping = stash.mapping();
    let request = RecoverRequest {
        volume_id: &volume_id,
        mapping: &mapping,
        read_only: stash.read_only,
        map_options: &stash.map_options,
        access,
    };
    let outcome = driver
        .mappers
        .recover(stash.mapper, &request)
        .await
        .unwrap_or_else(|error| Recovered::Lost(error.to_string()));
    match &outcome {
        Recovered::Lost(why) => {
            tracing::warn!(mapper = %stash.mapper, device = ?stash.device, origin = ?stash.origin, outcome = outcome.label(), why, "volume not recovered after the restart; it is reported abnormal until unstaged")
        }
        _ => {
            tracing::info!(mapper = %stash.mapper, device = ?stash.device, origin = ?stash.origin, outcome = outcome.label(), "volume recovered after the restart")
        }
    }
    driver.recovery.record(&volume_id, &outcome);
    Some(VolumeRecovery {
        volume_id,
        staging_path,
        mapper: stash.mapper,
        outcome,
    })
}

/// The clusterID the stage record names, else the one the volume ID encodes.
fn cluster_of(recorded: Option<&str>, volume_id: &str) -> Result<String, String> {
    match recorded {
        Some(cluster_id) => Ok(cluster_id.to_string()),
        None => journal::CompositeId::decode(volume_id)
            .map(|id| id.cluster_id().to_string())
            .map_err(|e| {
                format!(
                    "the stage record names no cluster, and the volume ID does not either ({e})"
                )
            }),
    }
}

/// `(volume_id, staging_path)` of every mounted staging target with a stage record beside it.
async fn staged_volumes(driver: &NodeDriver) -> Result<Vec<(String, PathBuf)>, NodeError> {
    let root = driver.settings.kubelet_root.clone();
    let root = syscall::blocking("resolve", &root.clone(), move || {
        std::fs::canonicalize(&root)
    })
    .await?;
    let csi_dir = root.join(CSI_STAGING_DIR);
    let entries = mountinfo::read().await?;
    let mut found = Vec::new();
    for candidate in candidates(&csi_dir, &driver.settings.driver_name, &entries) {
        let stash_path = stash::path(&candidate.staging_path);
        let legacy_owner = candidate.legacy.then(|| {
            candidate
                .staging_path
                .parent()
                .map(|pv| pv.join("vol_data.json"))
                .unwrap_or_default()
        });
        let driver_name = driver.settings.driver_name.clone();
        let ours = syscall::blocking("look at", &stash_path.clone(), move || {
            if !stash_path.try_exists()? {
                return Ok(false);
            }
            Ok(match legacy_owner {
                None => true,
                Some(vol_data) => legacy_driver(&vol_data)?.as_deref() == Some(&driver_name),
            })
        })
        .await?;
        if ours {
            found.push((candidate.volume_id, candidate.staging_path));
        }
    }
    Ok(found)
}

/// A staging target in the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    volume_id: String,
    staging_path: PathBuf,
    /// kubelet's older layout (`csi/pv/<pv>/globalmount`), shared by every driver: its
    /// `vol_data.json` says whose it is.
    legacy: bool,
}

/// Mounts at `<csi_dir>/<driver>/<hash>/globalmount/<volume-id>` (or the older
/// `<csi_dir>/pv/<pv>/globalmount/<volume-id>`), once each.
fn candidates(csi_dir: &Path, driver_name: &str, entries: &[MountEntry]) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    for entry in entries {
        let Ok(relative) = entry.mount_point.strip_prefix(csi_dir) else {
            continue;
        };
        let parts: Vec<&str> = relative
            .components()
            .map(|c| match c {
                Component::Normal(part) => part.to_str().unwrap_or(""),
                _ => "",
            })
            .collect();
        let [owner, _, "globalmount", volume_id] = parts.as_slice() else {
            continue;
        };
        let legacy = *owner == "pv";
        if (*owner != driver_name && !legacy) || check_volume_id(volume_id).is_err() {
            continue;
        }
        let Some(staging_path) = entry.mount_point.parent() else {
            continue;
        };
        let candidate = Candidate {
            volume_id: volume_id.to_string(),
            staging_path: staging_path.to_path_buf(),
            legacy,
        };
        if !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    found
}

/// The `driverName` kubelet recorded in a legacy staging path's `vol_data.json`.
fn legacy_driver(vol_data: &Path) -> std::io::Result<Option<String>> {
    let text = match std::fs::read_to_string(vol_data) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("driverName")?.as_str().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mount_point: &str) -> MountEntry {
        MountEntry {
            major: 7,
            minor: 3,
            root: "/".into(),
            mount_point: mount_point.into(),
            options: vec!["rw".into()],
            fs_type: "ext4".into(),
            source: "/dev/loop3".into(),
        }
    }

    #[test]
    fn staging_targets_of_this_driver_and_the_legacy_layout_are_candidates() {
        let csi = Path::new("/var/lib/kubelet/plugins/kubernetes.io/csi");
        let entries = [
            entry(
                "/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/globalmount/vol-1",
            ),
            // The same target twice (stacked mounts): one candidate.
            entry(
                "/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/globalmount/vol-1",
            ),
            entry("/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/globalmount/vol-2"),
            // Another driver's stage, a publish target, the staging dir itself, deeper paths.
            entry("/var/lib/kubelet/plugins/kubernetes.io/csi/other.csi.io/abc/globalmount/vol-3"),
            entry("/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount"),
            entry("/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/globalmount"),
            entry(
                "/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/globalmount/v/x",
            ),
            entry("/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.sepia.io/abc/other/vol-4"),
        ];
        let found = candidates(csi, "rbd.csi.sepia.io", &entries);
        assert_eq!(
            found,
            [
                Candidate {
                    volume_id: "vol-1".into(),
                    staging_path: csi.join("rbd.csi.sepia.io/abc/globalmount"),
                    legacy: false,
                },
                Candidate {
                    volume_id: "vol-2".into(),
                    staging_path: csi.join("pv/pvc-1/globalmount"),
                    legacy: true,
                },
            ]
        );
    }

    #[test]
    fn a_legacy_staging_path_is_this_drivers_only_when_kubelet_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let vol_data = dir.path().join("vol_data.json");
        assert_eq!(legacy_driver(&vol_data).unwrap(), None);
        std::fs::write(
            &vol_data,
            r#"{"driverName":"rbd.csi.sepia.io","volumeHandle":"vol-2"}"#,
        )
        .unwrap();
        assert_eq!(
            legacy_driver(&vol_data).unwrap().as_deref(),
            Some("rbd.csi.sepia.io")
        );
        std::fs::write(&vol_data, "garbage").unwrap();
        assert_eq!(legacy_driver(&vol_data).unwrap(), None);
    }

    #[test]
    fn the_cluster_is_the_recorded_one_else_the_volume_ids() {
        let id = "0001-0009-rook-ceph-0000000000000002-b0a3d8f4-8f5e-11ee-9d6b-0242ac120002";
        assert_eq!(cluster_of(Some("bed"), id).unwrap(), "bed");
        assert_eq!(cluster_of(None, id).unwrap(), "rook-ceph");
        assert!(cluster_of(None, "static-image").is_err());
    }
}
