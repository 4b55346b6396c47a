//! CephFS for `inspect` and `orphans` (their `cephfs` submodules), through the CephFS
//! controller's own code: its filesystem lookup ([`Fs::open`]: FSCID, metadata pool, journal
//! namespace and subvolume group of the cluster config) and its driver for deletes. The commands
//! build on this module, never the other way round.

use std::sync::Arc;

use cephfs_controller::fs::{Fs, Which};
use cephfs_controller::secrets::{ADMIN_ID, ADMIN_KEY};

use crate::context::Context;
use crate::error::{Error, Result};

/// The filesystem `which` names, `None` when the cluster has none such.
pub async fn open(cx: &Context, which: Which<'_>) -> Result<Option<Fs>> {
    Ok(Fs::open(&cx.state, &cx.cluster, which).await?)
}

/// The filesystem named `name`, or a usage error.
pub async fn open_named(cx: &Context, name: &str) -> Result<Fs> {
    open(cx, Which::Name(name))
        .await?
        .ok_or_else(|| Error::Usage {
            what: format!(
                "--fs {name:?}: cluster {} has no such CephFS filesystem (`ceph fs ls`)",
                cx.cluster.id
            ),
        })
}

/// The identity of `--credentials-dir` as a CephFS request's secrets (`adminID`/`adminKey`).
pub async fn secrets(cx: &Context) -> Result<csi::SecretMap> {
    let rbd = cx.secrets().await?;
    let mut map = csi::SecretMap::new();
    for (from, to) in [
        (controller::secrets::USER_ID, ADMIN_ID),
        (controller::secrets::USER_KEY, ADMIN_KEY),
    ] {
        if let Some(value) = rbd.get(from) {
            map.insert(to, value.to_owned());
        }
    }
    Ok(map)
}

/// The CephFS controller's driver over the tool's state (its deletes take it).
pub fn driver(cx: &Context) -> Arc<cephfs_controller::Driver> {
    cephfs_controller::Driver::new(Arc::clone(&cx.state))
}
