//! The CephFS part of the bed a stand-in run uses: a subvolume group and a journal RADOS
//! namespace (in the filesystem's metadata pool) of its own, named in the cluster config's
//! `cephFS` section, so that what the run leaves can be listed exactly and removed, while other
//! tests use the same filesystem.

use anyhow::{Context, Result};
use sepia_testbed::Bed;
use serde_json::Value;

/// The journal's directory objects (ceph-csi's names, instance `default`): they stay once made.
const DIRECTORIES: [&str; 2] = ["csi.volumes.default", "csi.snaps.default"];

pub struct CephFsScope {
    pub fs: String,
    /// Subvolume group of this run's volumes (`cephFS.subvolumeGroup`).
    pub group: String,
    /// RADOS namespace of this run's journal (`cephFS.radosNamespace`).
    pub namespace: String,
    metadata_pool: String,
}

impl CephFsScope {
    /// Creates the run's subvolume group in the bed's filesystem.
    pub fn create(bed: &Bed, name: &str) -> Result<Self> {
        let filesystems: Vec<Value> =
            serde_json::from_str(&bed.cli("ceph", &["fs", "ls", "--format", "json"]))?;
        let metadata_pool = filesystems
            .iter()
            .find(|f| f["name"] == bed.fs.as_str())
            .and_then(|f| f["metadata_pool"].as_str())
            .with_context(|| format!("the bed has no filesystem {}", bed.fs))?
            .to_owned();
        bed.cli("ceph", &["fs", "subvolumegroup", "create", &bed.fs, name]);
        Ok(Self {
            fs: bed.fs.clone(),
            group: name.to_owned(),
            namespace: name.to_owned(),
            metadata_pool,
        })
    }

    /// `cephFS` section of the cluster config.
    pub fn config(&self) -> Value {
        serde_json::json!({"subvolumeGroup": self.group, "radosNamespace": self.namespace})
    }

    /// Names of the subvolumes in the run's group (`ceph fs subvolume ls <fs> <group>`).
    pub fn subvolumes(&self, bed: &Bed) -> Result<Vec<String>> {
        let out = bed.cli(
            "ceph",
            &[
                "fs",
                "subvolume",
                "ls",
                &self.fs,
                &self.group,
                "--format",
                "json",
            ],
        );
        let entries: Vec<Value> = serde_json::from_str(&out)
            .with_context(|| format!("unreadable `ceph fs subvolume ls` output: {out}"))?;
        Ok(entries
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// Subvolumes, journal objects and journal directory keys the run left.
    pub fn leftovers(&self, bed: &Bed) -> Vec<String> {
        let mut left: Vec<String> = match self.subvolumes(bed) {
            Ok(names) => names
                .into_iter()
                .map(|n| format!("subvolume {n}"))
                .collect(),
            Err(error) => vec![format!("subvolumes unknown: {error:#}")],
        };
        let scope = ["-p", &self.metadata_pool, "-N", &self.namespace];
        for object in bed.cli("rados", &[&scope[..], &["ls"]].concat()).lines() {
            if DIRECTORIES.contains(&object) {
                let keys = bed.cli("rados", &[&scope[..], &["listomapkeys", object]].concat());
                left.extend(keys.lines().map(|k| format!("{object} key {k}")));
            } else {
                left.push(format!("journal object {object}"));
            }
        }
        left
    }

    /// Removes the group (refused by Ceph while it holds subvolumes, which then stay as
    /// evidence) and the journal's directory objects once they are empty.
    pub fn remove(&self, bed: &Bed) {
        if !self.leftovers(bed).is_empty() {
            return;
        }
        let run = |args: &[&str]| {
            let _ = std::process::Command::new("timeout")
                .arg("60")
                .args(args)
                .env("CEPH_CONF", &bed.conf_path)
                .status();
        };
        run(&["ceph", "fs", "subvolumegroup", "rm", &self.fs, &self.group]);
        let scope = ["-p", &self.metadata_pool, "-N", &self.namespace];
        let objects = bed.cli("rados", &[&scope[..], &["ls"]].concat());
        // Only the directories a run made (a run without CephFS volumes has none).
        for object in objects.lines().filter(|o| DIRECTORIES.contains(o)) {
            run(&[
                "rados",
                "-p",
                &self.metadata_pool,
                "-N",
                &self.namespace,
                "rm",
                object,
            ]);
        }
    }
}
