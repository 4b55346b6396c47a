//! The mgr `volumes` module on one CephFS file system and subvolume group, as JSON commands:
//! the bench times its calls against the CephFS controller's, the demo reads Ceph through it.

use ceph::Cluster;
use serde_json::{Value, json};

/// The mgr `volumes` module on one file system and group .
#[derive(Clone)]
pub struct Mgr {
    pub cluster: Cluster,
    pub fs: String,
    pub group: String,
}

impl Mgr {
    /// `cmd` on this file system (the group only where `cmd` names it), its JSON answer
    /// (`null` when it prints nothing).
    pub async fn call(&self, mut cmd: Value) -> std::result::Result<Value, ceph::Error> {
        cmd["vol_name"] = json!(self.fs);
        cmd["format"] = json!("json");
        let out = self.cluster.mgr_command(cmd).await?;
        if out.data.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        out.json()
    }

    /// The `name`s a listing command answers.
    pub async fn names(&self, cmd: Value) -> std::result::Result<Vec<String>, ceph::Error> {
        Ok(self
            .call(cmd)
            .await?
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect())
    }
}
