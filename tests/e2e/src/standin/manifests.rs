//! The shipped manifests, rendered as a user would apply them: `kubectl kustomize` of an overlay
//! with the pinned kubectl `scripts/validate-manifests.sh` installs. The stand-in run takes
//! everything from here (RBAC, CSIDriver, classes, and each workload's containers), so a flag,
//! a verb or an object the manifests lack shows in the run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

/// The overlay the stand-in run deploys: Sepia next to a Rook-managed Ceph.
pub const OVERLAY: &str = "rook-ceph";

/// The kubectl to render with: `SEPIA_KUBECTL`, else the one `scripts/validate-manifests.sh`
/// keeps in `${SEPIA_TOOLS_DIR:-/var/tmp/sepia-tools}/validate-venv/bin`.
pub fn kubectl() -> PathBuf {
    if let Some(path) = std::env::var_os("SEPIA_KUBECTL") {
        return path.into();
    }
    let tools = std::env::var_os("SEPIA_TOOLS_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/sepia-tools"), PathBuf::from);
    tools.join("validate-venv/bin/kubectl")
}

fn repository() -> PathBuf {
    // tests/e2e → the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The rendered overlay, split into what is applied to the API and what runs as processes.
pub struct Rendered {
    /// Deployments and DaemonSets: their pods run as processes.
    pub workloads: Vec<Value>,
    /// Everything else, applied to the stand-in as rendered.
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Renders `deploy/kustomize/overlays/<overlay>`; fails loudly without kubectl.
    pub fn overlay(overlay: &str) -> Result<Self> {
        let kubectl = kubectl();
        ensure!(
            kubectl.is_file(),
            "no kubectl at {} to render the manifests: run scripts/validate-manifests.sh (it \
             installs the pinned one there) or set SEPIA_KUBECTL",
            kubectl.display()
        );
        let dir = repository().join("deploy/kustomize/overlays").join(overlay);
        let output = std::process::Command::new(&kubectl)
            .arg("kustomize")
            .arg(&dir)
            .output()
            .with_context(|| format!("running {}", kubectl.display()))?;
        if !output.status.success() {
            bail!(
                "kubectl kustomize {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let documents = kube_standin::parse_yaml(&String::from_utf8(output.stdout)?)?;
        let (workloads, objects) = documents
            .into_iter()
            .partition(|d| matches!(d["kind"].as_str(), Some("Deployment" | "DaemonSet")));
        Ok(Self { workloads, objects })
    }

    /// The one object of `kind` (the overlay ships one StorageClass).
    pub fn only(&self, kind: &str) -> Result<&Value> {
        self.only_where(kind, "", |_| true)
    }

    /// The one object of `kind` that `matches` (described by `which` in errors), e.g. the
    /// VolumeSnapshotClass with `deletionPolicy: Delete` beside the Retain one for backups.
    pub fn only_where(
        &self,
        kind: &str,
        which: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<&Value> {
        let mut found = self
            .objects
            .iter()
            .filter(|o| o["kind"] == kind && matches(o));
        let first = found
            .next()
            .with_context(|| format!("no {kind}{which} rendered"))?;
        ensure!(
            found.next().is_none(),
            "more than one {kind}{which} rendered"
        );
        Ok(first)
    }

    /// The namespaces the workloads run in (where their leases and secrets live).
    pub fn namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = self
            .workloads
            .iter()
            .filter_map(|w| w["metadata"]["namespace"].as_str().map(str::to_owned))
            .collect();
        namespaces.sort();
        namespaces.dedup();
        namespaces
    }
}
