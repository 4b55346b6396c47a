//! A second controller on a fixture's namespace: its own `State` (its own Ceph connection — a
//! second RADOS client entity — its own in-process locks and failpoints) and its own socket.
//! To the first controller it is what another controller process on the cluster is: they share
//! nothing but Ceph.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use controller::settings::TrashPurge;
use controller::{Settings, State};
use csi::v1::controller_client::ControllerClient;
use failpoint::Failpoints;
use tonic::transport::Channel;

use crate::common::{Fixture, Served, bed, serve, standing_credentials};

pub struct Twin {
    pub controller: ControllerClient<Channel>,
    pub state: Arc<State>,
    pub failpoints: Failpoints,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
    _dir: tempfile::TempDir,
}

impl Twin {
    /// A second controller with the fixture's defaults.
    pub async fn start(fx: &Fixture) -> Twin {
        Self::with(fx, |settings| settings).await
    }

    /// A second controller whose settings `tune` adjusts (e.g. a short lock duration).
    pub async fn with(fx: &Fixture, tune: impl FnOnce(Settings) -> Settings) -> Twin {
        let dir = tempfile::tempdir().expect("temp dir");
        let failpoints = Failpoints::new();
        let settings = tune(Settings {
            failpoints: failpoints.clone(),
            trash_purge: TrashPurge::Direct,
            controller_credentials_dir: Some(standing_credentials(dir.path())),
            ..Settings::default()
        });
        // The same cluster config file: the same cluster id, pool and namespace.
        let Served {
            state,
            channel,
            stop,
            server,
        } = serve(settings, &fx.config_path, dir.path()).await;
        Twin {
            controller: ControllerClient::new(channel),
            state,
            failpoints,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn client(&self) -> ControllerClient<Channel> {
        self.controller.clone()
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// `rados -p <pool> -N <namespace> <args>` against the bed (another process, as an operator).
pub fn rados(fx: &Fixture, args: &[&str]) -> String {
    let bed = bed();
    let mut full = vec!["-p", bed.pool.as_str(), "-N", fx.namespace.as_str()];
    full.extend_from_slice(args);
    bed.cli("rados", &full)
}

/// Lock names held on `oid` (`rados lock list`).
pub fn locks_on(fx: &Fixture, oid: &str) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&rados(fx, &["lock", "list", oid])).unwrap();
    list["locks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_owned))
        .collect()
}

/// Holders of lock `name` on `oid`.
pub async fn holders(fx: &Fixture, oid: &str, name: &str) -> usize {
    fx.io.lock_holders(oid, name).await.unwrap().len()
}
