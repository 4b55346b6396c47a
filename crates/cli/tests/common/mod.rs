//! Fixture of the CLI tests: the real controller (library, served in-process on a unix socket)
//! on the bed, in a fresh rbd namespace, and the built `sepia` binary pointed at the same
//! cluster config and credentials. The namespace, its requests and its clean-up are the
//! controller tests' own (`crates/controller/tests/common`), included rather than copied.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../controller/tests/common/calls.rs"]
pub mod calls;
pub mod doctor;
pub mod findings;
#[path = "../../../controller/tests/common/namespace.rs"]
pub mod namespace;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ceph::{Cluster, Credentials, Timeouts};
use controller::settings::TrashPurge;
use controller::{Settings, State};
use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::*;
use failpoint::Failpoints;
use futures::FutureExt as _;
use journal::CompositeId;
use sepia_testbed::Bed;
use tonic::transport::Channel;

pub use namespace::Namespace;

pub const CLUSTER_ID: &str = "bed";
const SEPIA: &str = env!("CARGO_BIN_EXE_sepia");

pub fn bed() -> &'static Bed {
    Bed::get()
}

pub async fn admin() -> Cluster {
    let bed = bed();
    let creds = Credentials::new(bed.monitors.clone(), bed.user.clone(), bed.key.clone());
    let timeouts = Timeouts {
        connect: Duration::from_secs(20),
        op: Duration::from_secs(60),
    };
    Cluster::connect(&creds, &timeouts)
        .await
        .expect("connect to the bed")
}

pub fn mount_cap(mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume::default())),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

pub fn uuid_of(id: &str) -> String {
    CompositeId::decode(id)
        .expect("valid id")
        .uuid()
        .to_string()
}

pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A controller, the test's namespace, and the files the CLI reads.
pub struct Fixture {
    pub ns: Namespace,
    pub controller: ControllerClient<Channel>,
    pub failpoints: Failpoints,
    pub state: Arc<State>,
    pub config_path: PathBuf,
    pub creds_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dir: tempfile::TempDir,
}

impl Fixture {
    pub async fn run<F, Fut, T>(body: F) -> T
    where
        F: FnOnce(Fixture) -> Fut,
        Fut: Future<Output = T>,
    {
        let fx = Fixture::start().await;
        let cleanup = fx.ns.cleaner();
        let outcome = AssertUnwindSafe(body(fx)).catch_unwind().await;
        cleanup.clean().await;
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn start() -> Fixture {
        let bed = bed();
        let ns = Namespace::create().await;
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        let monitors: Vec<&str> = bed.monitors.split(',').collect();
        let config = serde_json::json!([{"clusterID": CLUSTER_ID, "monitors": monitors,
            "rbd": {"radosNamespace": ns.namespace}}]);
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let creds_dir = write_credentials(dir.path(), "creds", &bed.user, &bed.key);
        let failpoints = Failpoints::new();
        let settings = Settings {
            failpoints: failpoints.clone(),
            trash_purge: TrashPurge::Direct,
            controller_credentials_dir: Some(creds_dir.clone()),
            ..Settings::default()
        };
        let watcher =
            cluster_config::ClusterConfigWatcher::start(&config_path, Duration::from_millis(200))
                .await;
        let state = State::new(settings, watcher);
        let endpoint = format!("unix://{}", dir.path().join("csi.sock").display());
        let incoming = csi::server::bind(&endpoint).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(controller::server::serve(
            Arc::clone(&state),
            incoming,
            async {
                let _ = stopped.await;
            },
        ));
        let channel = csi::client::connect(&endpoint, Duration::from_secs(5))
            .await
            .unwrap();
        Fixture {
            ns,
            controller: ControllerClient::new(channel),
            failpoints,
            state,
            config_path,
            creds_dir,
            stop: Some(stop),
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn create_volume(&self, name: &str) -> Volume {
        calls::create_volume(
            self.controller.clone(),
            self.ns.create_request(name, 1 << 20),
        )
        .await
    }

    pub async fn create_snapshot(&self, name: &str, volume_id: &str) -> Snapshot {
        calls::create_snapshot_until_ready(
            self.controller.clone(),
            self.ns.snapshot_request(name, volume_id),
        )
        .await
    }

    /// Runs `sepia <args> --cluster-config … --credentials-dir …` and returns its output.
    pub async fn sepia(&self, args: &[&str]) -> std::process::Output {
        self.sepia_with(args, &self.config_path, &self.creds_dir)
            .await
    }

    pub async fn sepia_with(
        &self,
        args: &[&str],
        config: &Path,
        creds: &Path,
    ) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(SEPIA);
        cmd.args(args)
            .arg("--cluster-config")
            .arg(config)
            .arg("--credentials-dir")
            .arg(creds)
            .env_remove("CEPH_CONF")
            .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("sepia finished in time")
            .expect("sepia ran")
    }

    /// `sepia <args> -o json`, which must succeed.
    pub async fn sepia_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.sepia(&all).await;
        assert!(
            out.status.success(),
            "sepia {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A credentials directory (`userID`, `userKey`) under `dir`.
pub fn write_credentials(dir: &Path, name: &str, user: &str, key: &str) -> PathBuf {
    let creds = dir.join(name);
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("userID"), user).unwrap();
    std::fs::write(creds.join("userKey"), key).unwrap();
    creds
}
