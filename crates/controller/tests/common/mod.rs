//! The controller under test, for real: a `sepia-controller` served in-process on a unix socket
//! in a temp dir, talking to the bed's Ceph in the test's own rbd namespace (its cluster config
//! points `rbd.radosNamespace` there), driven with the generated CSI client. Everything the
//! test leaves in the namespace is removed afterwards, also when it fails.
//!
//! Module map:
//! - this file: [`Fixture`] (one controller in the test process) and small shared helpers.
//! - [`namespace`]: the test's namespace — requests pointing there, checks of Ceph through the
//!   test's own admin connection, data written and read through the `rbd` CLI, clean-up.
//! - [`calls`]: CSI calls with the retries a sidecar makes, shared by both fixtures.
//! - [`processes`]: real `sepia-controller` processes (the built binary) on one namespace, for
//!   the two-controller and `kill -9` tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod calls;
pub mod namespace;
pub mod processes;

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ceph::{Cluster, Credentials, Timeouts};
use controller::advertised::AlphaCapabilities;
use controller::settings::TrashPurge;
use controller::{CloneDepth, Settings, State};
use csi::v1::controller_client::ControllerClient;
use csi::v1::identity_client::IdentityClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume, MountVolume};
use csi::v1::*;
use failpoint::Failpoints;
use futures::FutureExt as _;
use journal::CompositeId;
use sepia_testbed::Bed;
use tonic::transport::Channel;

#[allow(unused_imports)]
pub use namespace::{Listing, Namespace};

/// Every fixture calls its cluster this, so listings of two fixtures compare equal.
pub const CLUSTER_ID: &str = "bed";

pub fn bed() -> &'static Bed {
    Bed::get()
}

pub fn admin_creds() -> Credentials {
    let bed = bed();
    Credentials::new(bed.monitors.clone(), bed.user.clone(), bed.key.clone())
}

pub async fn admin() -> Cluster {
    let timeouts = Timeouts {
        connect: Duration::from_secs(20),
        op: Duration::from_secs(60),
    };
    Cluster::connect(&admin_creds(), &timeouts)
        .await
        .expect("connect to the bed")
}

/// How a fixture's controller is set up.
pub struct Builder {
    settings: Settings,
    standing_credentials: bool,
    /// Who the standing credentials are (user, key); the bed's admin when unset.
    standing_user: Option<(String, String)>,
    extra_clusters: Vec<serde_json::Value>,
}

impl Default for Builder {
    /// Trashed images are purged directly: the bed's mgr runs trash tasks one at a time for the
    /// whole cluster, and other suites (the bench) may have queued hundreds, so a test that
    /// checks the pool after a delete cannot wait for it. `mgr_purge()` tests ceph-csi's path.
    fn default() -> Self {
        Builder {
            settings: Settings {
                failpoints: Failpoints::new(),
                trash_purge: TrashPurge::Direct,
                // As the manifests run it.
                alpha: AlphaCapabilities::shipped(),
                ..Settings::default()
            },
            standing_credentials: true,
            standing_user: None,
            extra_clusters: Vec::new(),
        }
    }
}

impl Builder {
    pub fn clone_depth(mut self, soft: u32, hard: u32) -> Self {
        self.settings.clone_depth = CloneDepth::new(soft, hard).unwrap();
        self
    }

    pub fn mgr_purge(mut self) -> Self {
        self.settings.trash_purge = TrashPurge::Mgr;
        self
    }

    pub fn scheduled_purge(mut self) -> Self {
        self.settings.trash_purge = TrashPurge::Schedule;
        self
    }

    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.settings.rpc_timeout = timeout;
        self
    }

    pub fn ceph_timeouts(mut self, connect: Duration, op: Duration) -> Self {
        self.settings.ceph_timeouts = Timeouts { connect, op };
        self
    }

    /// Publishes the controller's lifecycle events with `publisher`.
    pub fn events(mut self, publisher: events::Publisher) -> Self {
        self.settings.events = publisher;
        self
    }

    /// `--alpha-capabilities`, e.g. `all` or `get-snapshot`.
    pub fn alpha_capabilities(mut self, list: &str) -> Self {
        self.settings.alpha = list.parse().unwrap();
        self
    }

    pub fn without_standing_credentials(mut self) -> Self {
        self.standing_credentials = false;
        self
    }

    /// Standing credentials of `user` (without `client.`) with `key` instead of the admin's.
    pub fn standing_user(mut self, user: &str, key: &str) -> Self {
        self.standing_user = Some((user.to_owned(), key.to_owned()));
        self
    }

    /// Another cluster entry in the config (e.g. one pointing at a dead port).
    pub fn extra_cluster(mut self, entry: serde_json::Value) -> Self {
        self.extra_clusters.push(entry);
        self
    }

    /// Runs `body` against a fresh controller in a fresh namespace, then cleans up and re-raises
    /// the body's panic, if any.
    pub async fn run<F, Fut, T>(self, body: F) -> T
    where
        F: FnOnce(Fixture) -> Fut,
        Fut: Future<Output = T>,
    {
        let fx = self.start().await;
        let cleanup = fx.ns.cleaner();
        let outcome = AssertUnwindSafe(body(fx)).catch_unwind().await;
        cleanup.clean().await;
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn start(self) -> Fixture {
        let bed = bed();
        let ns = Namespace::create().await;
        let namespace = ns.namespace.clone();
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.json");
        let mut clusters = vec![cluster_entry(CLUSTER_ID, &bed.monitors, &namespace)];
        clusters.extend(self.extra_clusters);
        write_config(&config_path, &clusters);
        let mut settings = self.settings;
        if self.standing_credentials {
            let (user, key) = self
                .standing_user
                .unwrap_or_else(|| (bed.user.clone(), bed.key.clone()));
            settings.controller_credentials_dir =
                Some(standing_credentials_of(dir.path(), &user, &key));
        }
        let failpoints = settings.failpoints.clone();
        let Served {
            state,
            channel,
            stop,
            server,
        } = serve(settings, &config_path, dir.path()).await;
        Fixture {
            controller: ControllerClient::new(channel.clone()),
            identity: IdentityClient::new(channel),
            failpoints,
            ns,
            config_path,
            state,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }
}

/// The bed's identity as a controller's standing credentials (files `userID`, `userKey`) in a
/// directory under `dir`.
pub fn standing_credentials(dir: &std::path::Path) -> PathBuf {
    standing_credentials_of(dir, &bed().user, &bed().key)
}

/// `user` with `key` as a controller's standing credentials, in a directory under `dir`.
pub fn standing_credentials_of(dir: &std::path::Path, user: &str, key: &str) -> PathBuf {
    let creds = dir.join("controller-secret");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("userID"), user).unwrap();
    std::fs::write(creds.join("userKey"), key).unwrap();
    creds
}

/// A controller served in-process on a unix socket in `dir`, with its cluster config at
/// `config_path`.
pub struct Served {
    pub state: Arc<State>,
    pub channel: Channel,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

pub async fn serve(
    settings: Settings,
    config_path: &std::path::Path,
    dir: &std::path::Path,
) -> Served {
    let config =
        cluster_config::ClusterConfigWatcher::start(config_path, Duration::from_millis(200)).await;
    let state = State::new(settings, config);
    let socket = dir.join("csi.sock");
    let endpoint = format!("unix://{}", socket.display());
    let incoming = csi::server::bind(&endpoint).await.expect("bind socket");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(controller::server::serve(
        Arc::clone(&state),
        incoming,
        async {
            let _ = stopped.await;
        },
    ));
    let channel = csi::client::connect(&endpoint, Duration::from_secs(5))
        .await
        .expect("connect");
    Served {
        state,
        channel,
        stop,
        server,
    }
}

pub fn cluster_entry(cluster_id: &str, monitors: &str, namespace: &str) -> serde_json::Value {
    let monitors: Vec<&str> = monitors.split(',').collect();
    serde_json::json!({"clusterID": cluster_id, "monitors": monitors, "rbd": {"radosNamespace": namespace}})
}

pub fn write_config(path: &std::path::Path, clusters: &[serde_json::Value]) {
    // Write then rename, as a ConfigMap update swaps the file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&clusters).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A running controller and the test's namespace (reached through `Deref`: requests, Ceph
/// checks).
pub struct Fixture {
    pub controller: ControllerClient<Channel>,
    pub identity: IdentityClient<Channel>,
    pub failpoints: Failpoints,
    pub ns: Namespace,
    pub config_path: PathBuf,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
    _dir: tempfile::TempDir,
}

impl Deref for Fixture {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

impl Fixture {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A default fixture.
    pub async fn run<F, Fut, T>(body: F) -> T
    where
        F: FnOnce(Fixture) -> Fut,
        Fut: Future<Output = T>,
    {
        Builder::default().run(body).await
    }

    pub fn client(&self) -> ControllerClient<Channel> {
        self.controller.clone()
    }

    pub async fn create_volume(&self, name: &str, size: i64) -> Volume {
        calls::create_volume(self.client(), self.create_request(name, size)).await
    }

    /// A volume whose image has the `imageFeatures` `features` (e.g. "deep-flatten").
    pub async fn create_volume_with_features(
        &self,
        name: &str,
        size: i64,
        features: &str,
    ) -> Volume {
        let mut req = self.create_request(name, size);
        req.parameters
            .insert("imageFeatures".into(), features.into());
        calls::create_volume(self.client(), req).await
    }

    /// Restores a volume from `snapshot_id` (its own size); returns the new volume id.
    pub async fn create_volume_from(&self, snapshot_id: &str) -> String {
        let name = format!("pvc-from-{}", uuid_of(snapshot_id));
        calls::create_volume(self.client(), self.restore_request(&name, 0, snapshot_id))
            .await
            .volume_id
    }

    /// CreateSnapshot whose background preparation "crashes" right after its clone; returns
    /// once that task has ended and let go of the snapshot's lock, so the snapshot is cut
    /// (ready) but not in ceph-csi's layout, as after a controller restart.
    pub async fn create_snapshot_unprepared(&self, req: CreateSnapshotRequest) -> Snapshot {
        self.create_snapshot_crashing_at(controller::failpoints::snapshot::AFTER_CLONE, req)
            .await
    }

    /// CreateSnapshot whose background preparation "crashes" at `point`; returns once that
    /// task has ended and let go of the snapshot's lock.
    pub async fn create_snapshot_crashing_at(
        &self,
        point: &'static str,
        req: CreateSnapshotRequest,
    ) -> Snapshot {
        use failpoint::Action;

        self.failpoints.set(point, Action::Fail);
        let hits = self.failpoints.hits(point);
        let snapshot = self
            .client()
            .create_snapshot(req)
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(60),
            self.failpoints.wait_for_hits(point, hits + 1),
        )
        .await
        .unwrap();
        self.failpoints.set(point, Action::Off);
        let uuid = uuid::Uuid::parse_str(&uuid_of(&snapshot.snapshot_id)).unwrap();
        let key = controller::locks::prepare_key(&uuid);
        assert!(
            eventually(Duration::from_secs(10), || async {
                !self.state.names.is_held(&key)
            })
            .await,
            "the crashed preparation kept the snapshot's lock"
        );
        snapshot
    }

    /// CreateSnapshot repeated (as the snapshotter does) until ready, and prepared.
    pub async fn create_snapshot_ready(&self, req: CreateSnapshotRequest) -> Snapshot {
        let snapshot = calls::create_snapshot_until_ready(self.client(), req).await;
        self.wait_prepared(&snapshot.snapshot_id).await;
        snapshot
    }

    /// Waits until a (ready) snapshot also has ceph-csi's layout: its preparation after the
    /// reply stored the image id and let go of its lock.
    pub async fn wait_prepared(&self, snapshot_id: &str) {
        let uuid = uuid::Uuid::parse_str(&uuid_of(snapshot_id)).unwrap();
        let key = controller::locks::prepare_key(&uuid);
        self.ns
            .wait_image_id(snapshot_id, Duration::from_secs(60))
            .await;
        let released = eventually(Duration::from_secs(60), || async {
            !self.state.names.is_held(&key)
        })
        .await;
        assert!(released, "snapshot {snapshot_id} kept its preparation lock");
    }

    pub async fn delete_volume(&self, volume_id: &str) {
        calls::delete_volume(self.client(), self.delete_volume_request(volume_id)).await;
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) {
        calls::delete_snapshot(self.client(), self.delete_snapshot_request(snapshot_id)).await;
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

pub fn mount_cap(mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume::default())),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

pub fn block_cap(mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Block(BlockVolume {})),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

/// The uuid inside a volume or snapshot ID.
pub fn uuid_of(id: &str) -> String {
    CompositeId::decode(id)
        .expect("valid id")
        .uuid()
        .to_string()
}

/// The code of a failed call, or panics with what succeeded.
pub fn code<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> tonic::Status {
    match result {
        Ok(reply) => panic!("expected an error, got {:?}", reply.into_inner()),
        Err(status) => status,
    }
}

pub const MIB: i64 = 1 << 20;
pub const GIB: i64 = 1 << 30;

/// Size of volumes whose data a test checks (the checks export whole images through the CLI).
pub const DATA_VOLUME: i64 = 4 * MIB;
/// Where tests write their pattern: not at offset 0, not at an object boundary.
pub const DATA_OFFSET: u64 = (1 << 20) + 4096;
/// Written into a volume before it is cut: whatever is made of the cut must hold it.
pub const BEFORE_CUT: &[u8] = b"written before the cut, the snapshot must hold this";

/// The image of a volume (ceph-csi's default naming).
pub fn volume_image(volume_id: &str) -> String {
    format!("csi-vol-{}", uuid_of(volume_id))
}

/// The image of a snapshot (ceph-csi's default naming).
pub fn snapshot_image(snapshot_id: &str) -> String {
    format!("csi-snap-{}", uuid_of(snapshot_id))
}

/// Polls `check` every 100 ms until it returns true or `limit` passes.
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
