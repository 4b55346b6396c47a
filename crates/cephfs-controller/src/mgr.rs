//! The mgr `volumes` module commands on one filesystem's subvolume group, typed. Every call is
//! bound by the connection's op deadline (`ceph::Cluster::mgr_command`). Absence (ENOENT) is a
//! value where callers branch on it; other failures become [`Error::Ceph`] naming the step and
//! the subvolume.

use controller::error::{Error, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fs::Fs;

/// What `fs subvolume info` says (only what we use). A subvolume removed with its snapshots
/// retained answers only `state`.
#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    /// `complete`, `snapshot-retained`, or a clone's state.
    pub state: String,
    /// Bytes, or `"infinite"` without a quota.
    #[serde(default)]
    pub bytes_quota: Option<Value>,
    #[serde(default)]
    pub path: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS`, UTC on the mgr's clock (see [`crate::snapshot::time`]).
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Info {
    /// The quota in bytes, `None` without one.
    pub fn quota(&self) -> Option<u64> {
        self.bytes_quota.as_ref().and_then(Value::as_u64)
    }

    pub fn is_retained(&self) -> bool {
        self.state == "snapshot-retained"
    }
}

/// What `fs subvolume snapshot info` says (only what we use).
#[derive(Debug, Clone, Deserialize)]
pub struct SnapInfo {
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC on the mgr's clock.
    pub created_at: String,
}

/// A clone's state (`fs clone status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneState {
    Pending,
    InProgress,
    Complete,
    Failed(String),
    Canceled,
}

#[derive(Deserialize)]
struct CloneStatus {
    status: CloneStatusInner,
}

#[derive(Deserialize)]
struct CloneStatusInner {
    state: String,
    #[serde(default)]
    failure: Option<Value>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// How `fs subvolume rm` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// It was not there.
    Absent,
    /// It has snapshots (ENOTEMPTY); nothing was removed.
    HasSnapshots,
}

impl Fs {
    async fn mgr(
        &self,
        step: &'static str,
        object: String,
        mut cmd: Value,
    ) -> Result<Vec<u8>, (i32, Error)> {
        cmd["vol_name"] = json!(self.name);
        match self.cluster.rados.mgr_command(cmd).await {
            Ok(out) => Ok(out.data),
            Err(e) => Err((e.errno().unwrap_or(0), Error::ceph(step, object, e))),
        }
    }

    /// Creates the subvolume group if missing (idempotent in the mgr).
    pub async fn ensure_group(&self) -> Result<()> {
        let cmd = json!({"prefix": "fs subvolumegroup create", "group_name": self.group});
        self.mgr(
            "fs subvolumegroup create",
            format!("{}/{}", self.name, self.group),
            cmd,
        )
        .await
        .map(drop)
        .map_err(|(_, e)| e)
    }

    /// Creates `name` with a quota of `size` bytes, in data pool `pool` when given. Creating an
    /// existing subvolume succeeds (the mgr's rule), which makes a retry after a lost answer safe.
    pub async fn create(&self, name: &str, size: u64, pool: Option<&str>) -> Result<()> {
        let mut cmd = json!({
            "prefix": "fs subvolume create",
            "sub_name": name,
            "group_name": self.group,
            "size": size,
            "mode": "0777",
        });
        if let Some(pool) = pool {
            cmd["pool_layout"] = json!(pool);
        }
        self.mgr("fs subvolume create", self.spec(name), cmd)
            .await
            .map(drop)
            .map_err(|(_, e)| e)
    }

    /// `fs subvolume info`; `None` when the subvolume does not exist.
    pub async fn info(&self, name: &str) -> Result<Option<Info>> {
        let cmd =
            json!({"prefix": "fs subvolume info", "sub_name": name, "group_name": self.group});
        match self.mgr("fs subvolume info", self.spec(name), cmd).await {
            Ok(data) => parse(&data, "fs subvolume info").map(Some),
            Err((libc::ENOENT, _)) => Ok(None),
            Err((_, e)) => Err(e),
        }
    }

    /// The subvolume's path in the filesystem (what the node mounts).
    pub async fn getpath(&self, name: &str) -> Result<String> {
        let cmd =
            json!({"prefix": "fs subvolume getpath", "sub_name": name, "group_name": self.group});
        let data = self
            .mgr("fs subvolume getpath", self.spec(name), cmd)
            .await
            .map_err(|(_, e)| e)?;
        Ok(String::from_utf8_lossy(&data).trim().to_owned())
    }

    /// `fs subvolume rm` (with `--retain-snapshots` when `retain`, `--force` when `force`:
    /// also a clone that failed or was canceled).
    pub async fn remove(&self, name: &str, retain: bool, force: bool) -> Result<Removed> {
        let mut cmd =
            json!({"prefix": "fs subvolume rm", "sub_name": name, "group_name": self.group});
        if retain {
            cmd["retain_snapshots"] = json!(true);
        }
        if force {
            cmd["force"] = json!(true);
        }
        match self.mgr("fs subvolume rm", self.spec(name), cmd).await {
            Ok(_) => Ok(Removed::Removed),
            Err((libc::ENOENT, _)) => Ok(Removed::Absent),
            Err((libc::ENOTEMPTY, _)) => Ok(Removed::HasSnapshots),
            Err((_, e)) => Err(e),
        }
    }

    /// Sets the quota to `size` bytes, never below the current one (`--no_shrink`).
    pub async fn resize(&self, name: &str, size: u64) -> Result<()> {
        let cmd = json!({
            "prefix": "fs subvolume resize",
            "sub_name": name,
            "group_name": self.group,
            "new_size": size.to_string(),
            "no_shrink": true,
        });
        self.mgr("fs subvolume resize", self.spec(name), cmd)
            .await
            .map(drop)
            .map_err(|(_, e)| e)
    }

    /// Snapshot `snap` of `subvolume`; an existing one of that name is this request's.
    pub async fn snapshot_create(&self, subvolume: &str, snap: &str) -> Result<()> {
        let cmd = json!({
            "prefix": "fs subvolume snapshot create",
            "sub_name": subvolume,
            "snap_name": snap,
            "group_name": self.group,
        });
        match self
            .mgr(
                "fs subvolume snapshot create",
                format!("{}@{snap}", self.spec(subvolume)),
                cmd,
            )
            .await
        {
            Ok(_) | Err((libc::EEXIST, _)) => Ok(()),
            Err((_, e)) => Err(e),
        }
    }

    /// Removes snapshot `snap`; `false` when it (or its subvolume) was not there. Pending
    /// clones (EAGAIN) become [`ceph::Error::Busy`]: the snapshot is in use.
    pub async fn snapshot_remove(&self, subvolume: &str, snap: &str) -> Result<bool> {
        let cmd = json!({
            "prefix": "fs subvolume snapshot rm",
            "sub_name": subvolume,
            "snap_name": snap,
            "group_name": self.group,
        });
        let object = format!("{}@{snap}", self.spec(subvolume));
        match self
            .mgr("fs subvolume snapshot rm", object.clone(), cmd)
            .await
        {
            Ok(_) => Ok(true),
            Err((libc::ENOENT, _)) => Ok(false),
            Err((libc::EAGAIN, _)) => Err(Error::ceph(
                "fs subvolume snapshot rm",
                object,
                ceph::Error::Busy {
                    what: "the snapshot has clones in progress".to_owned(),
                },
            )),
            Err((_, e)) => Err(e),
        }
    }

    /// `fs subvolume snapshot info`; `None` when the snapshot (or its subvolume) is not there.
    pub async fn snapshot_info(&self, subvolume: &str, snap: &str) -> Result<Option<SnapInfo>> {
        let cmd = json!({
            "prefix": "fs subvolume snapshot info",
            "sub_name": subvolume,
            "snap_name": snap,
            "group_name": self.group,
        });
        match self
            .mgr(
                "fs subvolume snapshot info",
                format!("{}@{snap}", self.spec(subvolume)),
                cmd,
            )
            .await
        {
            Ok(data) => parse(&data, "fs subvolume snapshot info").map(Some),
            Err((libc::ENOENT, _)) => Ok(None),
            Err((_, e)) => Err(e),
        }
    }

    /// Names of the subvolumes of the group (none when the group does not exist).
    pub async fn subvolumes(&self) -> Result<Vec<String>> {
        let cmd = json!({
            "prefix": "fs subvolume ls",
            "group_name": self.group,
            "format": "json",
        });
        let object = format!("{}/{}", self.name, self.group);
        match self.mgr("fs subvolume ls", object, cmd).await {
            Ok(data) => {
                let named: Vec<Named> = parse(&data, "fs subvolume ls")?;
                Ok(named.into_iter().map(|n| n.name).collect())
            }
            Err((libc::ENOENT, _)) => Ok(Vec::new()),
            Err((_, e)) => Err(e),
        }
    }

    /// Names of the snapshots of `subvolume` (none when it is gone).
    pub async fn snapshots_of(&self, subvolume: &str) -> Result<Vec<String>> {
        let cmd = json!({
            "prefix": "fs subvolume snapshot ls",
            "sub_name": subvolume,
            "group_name": self.group,
            "format": "json",
        });
        match self
            .mgr("fs subvolume snapshot ls", self.spec(subvolume), cmd)
            .await
        {
            Ok(data) => {
                let named: Vec<Named> = parse(&data, "fs subvolume snapshot ls")?;
                Ok(named.into_iter().map(|n| n.name).collect())
            }
            Err((libc::ENOENT, _)) => Ok(Vec::new()),
            Err((_, e)) => Err(e),
        }
    }

    /// Starts cloning `subvolume@snap` into `target` (same group, data pool `pool` when given).
    /// A clone of that name that already exists is this request's.
    pub async fn clone_snapshot(
        &self,
        subvolume: &str,
        snap: &str,
        target: &str,
        pool: Option<&str>,
    ) -> Result<()> {
        let mut cmd = json!({
            "prefix": "fs subvolume snapshot clone",
            "sub_name": subvolume,
            "snap_name": snap,
            "target_sub_name": target,
            "group_name": self.group,
            "target_group_name": self.group,
        });
        if let Some(pool) = pool {
            cmd["pool_layout"] = json!(pool);
        }
        match self
            .mgr("fs subvolume snapshot clone", self.spec(target), cmd)
            .await
        {
            Ok(_) | Err((libc::EEXIST, _)) => Ok(()),
            Err((_, e)) => Err(e),
        }
    }

    /// `fs clone status`; `None` when no such subvolume exists.
    pub async fn clone_status(&self, target: &str) -> Result<Option<CloneState>> {
        let cmd =
            json!({"prefix": "fs clone status", "clone_name": target, "group_name": self.group});
        let data = match self.mgr("fs clone status", self.spec(target), cmd).await {
            Ok(data) => data,
            Err((libc::ENOENT, _)) => return Ok(None),
            Err((_, e)) => return Err(e),
        };
        let status: CloneStatus = parse(&data, "fs clone status")?;
        Ok(Some(match status.status.state.as_str() {
            "pending" => CloneState::Pending,
            "in-progress" => CloneState::InProgress,
            "complete" => CloneState::Complete,
            "canceled" => CloneState::Canceled,
            "failed" => CloneState::Failed(
                status
                    .status
                    .failure
                    .map(|f| f.to_string())
                    .unwrap_or_default(),
            ),
            other => {
                return Err(Error::Internal {
                    what: format!("clone {} is in unknown state {other:?}", self.spec(target)),
                });
            }
        }))
    }

    /// Cancels a pending or running clone (it becomes `canceled`, removable with `--force`).
    pub async fn clone_cancel(&self, target: &str) -> Result<()> {
        let cmd =
            json!({"prefix": "fs clone cancel", "clone_name": target, "group_name": self.group});
        match self.mgr("fs clone cancel", self.spec(target), cmd).await {
            // Already finished or gone: nothing to cancel.
            Ok(_) | Err((libc::ENOENT | libc::EINVAL, _)) => Ok(()),
            Err((_, e)) => Err(e),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(data: &[u8], step: &'static str) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| Error::Internal {
        what: format!("{step} answered unexpected JSON: {e}"),
    })
}
