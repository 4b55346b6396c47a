//! kubelet's paths for a CSI volume, under a root of the demo's own instead of
//! `/var/lib/kubelet`, so the node plugin gets the paths it gets under Kubernetes:
//!
//! - staging path (one per volume and node; NodeStage mounts the file system below it):
//!   `<root>/plugins/kubernetes.io/csi/<driver>/<sha256 of the volume ID>/globalmount`
//! - target path (one per pod; NodePublish bind-mounts there):
//!   `<root>/pods/<pod uid>/volumes/kubernetes.io~csi/<PV name>/mount`
//!
//! As kubelet does, the demo creates the staging directory and the target's parent, and
//! leaves the target itself to the plugin.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::bounded::blocking;
use crate::error::Result;

/// kubelet's root directory for one driver.
#[derive(Debug, Clone)]
pub struct Kubelet {
    root: PathBuf,
    driver: String,
}

/// Where one volume is staged and published for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePaths {
    pub staging: PathBuf,
    pub target: PathBuf,
}

impl Kubelet {
    /// `root` stands for `/var/lib/kubelet`; `driver` is the name GetPluginInfo answered.
    pub fn new(root: impl Into<PathBuf>, driver: impl Into<String>) -> Kubelet {
        Kubelet {
            root: root.into(),
            driver: driver.into(),
        }
    }

    /// [`Kubelet::new`] over `root` created if missing and resolved to its canonical path,
    /// which is what the mount table shows.
    pub async fn open(root: &Path, driver: impl Into<String>) -> Result<Kubelet> {
        let owned = root.to_path_buf();
        let canonical = blocking(format!("create {}", root.display()), move || {
            std::fs::create_dir_all(&owned)?;
            std::fs::canonicalize(&owned)
        })
        .await?;
        Ok(Kubelet::new(canonical, driver))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The paths of volume `volume_id` (PV `pv_name`) in pod `pod_uid`.
    pub fn paths(&self, volume_id: &str, pv_name: &str, pod_uid: &str) -> VolumePaths {
        let handle = hex::encode(Sha256::digest(volume_id.as_bytes()));
        VolumePaths {
            staging: self
                .root
                .join("plugins/kubernetes.io/csi")
                .join(&self.driver)
                .join(handle)
                .join("globalmount"),
            target: self
                .root
                .join("pods")
                .join(pod_uid)
                .join("volumes/kubernetes.io~csi")
                .join(pv_name)
                .join("mount"),
        }
    }
}

impl VolumePaths {
    /// Creates the staging directory and the target's parent, as kubelet does before
    /// NodeStage and NodePublish.
    pub async fn prepare(&self) -> Result<()> {
        let staging = self.staging.clone();
        let parent = self.target.parent().map(Path::to_path_buf);
        blocking(
            format!("create kubelet directories for {}", self.staging.display()),
            move || {
                std::fs::create_dir_all(&staging)?;
                if let Some(parent) = parent {
                    std::fs::create_dir_all(parent)?;
                }
                Ok(())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_kubelets_layout() {
        let kubelet = Kubelet::new("/k", "rbd.csi.sepia.io");
        let paths = kubelet.paths("0001-vol", "pvc-1", "pod-uid");
        assert_eq!(
            paths.staging,
            PathBuf::from(format!(
                "/k/plugins/kubernetes.io/csi/rbd.csi.sepia.io/{}/globalmount",
                hex::encode(Sha256::digest(b"0001-vol"))
            ))
        );
        assert_eq!(
            paths.target,
            PathBuf::from("/k/pods/pod-uid/volumes/kubernetes.io~csi/pvc-1/mount")
        );
    }

    #[tokio::test]
    async fn prepare_makes_the_staging_dir_and_only_the_targets_parent() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Kubelet::new(dir.path(), "d").paths("v", "pv", "pod");
        paths.prepare().await.unwrap();
        assert!(paths.staging.is_dir());
        assert!(paths.target.parent().unwrap().is_dir());
        assert!(!paths.target.exists());
    }
}
