//! What Ceph holds of the CephFS half, read as a Ceph user would (`ceph fs subvolume ls`,
//! `info`, `snapshot ls`, `clone status`, all mgr `volumes` commands) and the journal in the
//! file system's metadata pool (through [`crate::in_ceph::journal_view`]); and the removal of the
//! demo's subvolume group and journal namespace at the end.

use ceph::{Cluster, IoCtx};
use rig::mgr::Mgr;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::in_ceph::journal_view::JournalView;

/// The demo's subvolume group of one file system, and the journal's namespace (same name) in
/// its metadata pool.
pub(crate) struct CephfsPlace {
    pub cluster: Cluster,
    pub fs: String,
    pub group: String,
    pub metadata_pool_id: i64,
    /// The metadata pool, in the journal's namespace.
    pub io: IoCtx,
}

impl CephfsPlace {
    /// Refuses a group that exists already: it may hold someone's subvolumes.
    pub async fn open(cluster: &Cluster, fs: &str, group: &str) -> Result<CephfsPlace> {
        let out = cluster
            .mon_command(json!({"prefix": "fs get", "fs_name": fs, "format": "json"}))
            .await
            .map_err(|e| Error::ceph(format!("fs get {fs}"), e))?;
        let got: Value = out
            .json()
            .map_err(|e| Error::ceph(format!("fs get {fs}"), e))?;
        let metadata_pool_id = got["mdsmap"]["metadata_pool"]
            .as_i64()
            .ok_or(Error::BadReply {
                rpc: "fs get",
                missing: "mdsmap.metadata_pool",
            })?;
        let io = cluster
            .ioctx_by_id(metadata_pool_id, group)
            .await
            .map_err(|e| Error::ceph("open the metadata pool", e))?;
        let place = CephfsPlace {
            cluster: cluster.clone(),
            fs: fs.to_owned(),
            group: group.to_owned(),
            metadata_pool_id,
            io,
        };
        let groups = place
            .names(json!({"prefix": "fs subvolumegroup ls"}))
            .await?;
        if groups.iter().any(|g| g == group) {
            return Err(Error::Check {
                problems: vec![format!(
                    "subvolume group {group} of {fs} exists already; the demo wants a new one"
                )],
            });
        }
        Ok(place)
    }

    /// A mgr `volumes` command on this file system (and group, where `cmd` names it).
    async fn mgr(&self, cmd: Value) -> Result<Value> {
        let what = cmd["prefix"].as_str().unwrap_or("mgr command").to_owned();
        self.mgr_of()
            .call(cmd)
            .await
            .map_err(|e| Error::ceph(what, e))
    }

    /// The `name`s of a listing command's answer.
    async fn names(&self, cmd: Value) -> Result<Vec<String>> {
        let what = cmd["prefix"].as_str().unwrap_or("mgr command").to_owned();
        self.mgr_of()
            .names(cmd)
            .await
            .map_err(|e| Error::ceph(what, e))
    }

    fn mgr_of(&self) -> Mgr {
        Mgr {
            cluster: self.cluster.clone(),
            fs: self.fs.clone(),
            group: self.group.clone(),
        }
    }

    /// `ceph fs subvolume ls <fs> <group>`.
    pub async fn subvolumes(&self) -> Result<Vec<String>> {
        self.names(json!({"prefix": "fs subvolume ls", "group_name": self.group}))
            .await
    }

    /// `ceph fs subvolume info <fs> <name> <group>`.
    pub async fn info(&self, name: &str) -> Result<Value> {
        self.mgr(json!({
            "prefix": "fs subvolume info",
            "sub_name": name,
            "group_name": self.group,
        }))
        .await
    }

    /// `ceph fs subvolume snapshot ls <fs> <name> <group>`.
    pub async fn snapshots(&self, name: &str) -> Result<Vec<String>> {
        self.names(json!({
            "prefix": "fs subvolume snapshot ls",
            "sub_name": name,
            "group_name": self.group,
        }))
        .await
    }

    /// `ceph fs clone status <fs> <name> <group>`: its state, and its progress report when the
    /// mgr gives one.
    pub async fn clone_status(&self, name: &str) -> Result<String> {
        let status = self
            .mgr(json!({
                "prefix": "fs clone status",
                "clone_name": name,
                "group_name": self.group,
            }))
            .await?;
        let status = &status["status"];
        let state = status["state"].as_str().unwrap_or("?");
        Ok(match status.get("progress_report") {
            Some(report) => format!("{state}, {report}"),
            None => state.to_owned(),
        })
    }

    /// The journal: decoded entries and raw omap.
    pub async fn journal(&self) -> Result<JournalView> {
        JournalView::read(&self.cluster, &self.io).await
    }

    /// `fs subvolumegroup rm`, then the journal's (empty) directory objects: what the
    /// namespace still held.
    pub async fn remove(&self) -> Result<Vec<String>> {
        self.mgr(json!({"prefix": "fs subvolumegroup rm", "group_name": self.group}))
            .await?;
        let objects = self
            .io
            .list_objects()
            .await
            .map_err(|e| Error::ceph("list the journal namespace", e))?;
        for oid in &objects {
            self.io
                .remove(oid)
                .await
                .map_err(|e| Error::ceph(format!("remove {oid}"), e))?;
        }
        Ok(objects)
    }
}

/// `ceph fs subvolume info` in one line: state, quota, used, path.
pub(crate) fn info_line(info: &Value) -> String {
    let text = |key: &str| match &info[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    format!(
        "state {}, bytes_quota {}, bytes_used {}, data_pool {}, path {}",
        text("state"),
        text("bytes_quota"),
        text("bytes_used"),
        text("data_pool"),
        text("path")
    )
}
