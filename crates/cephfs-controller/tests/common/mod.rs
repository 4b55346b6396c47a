//! The CephFS controller under test, for real: served in-process on a unix socket in a temp
//! dir, talking to the bed's filesystem in the test's own subvolume group and journal RADOS
//! namespace (its cluster config points `cephFS.subvolumeGroup`/`radosNamespace` there), driven
//! with the generated CSI client. Everything the test leaves in its group and namespace is
//! removed afterwards, also when the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use cephfs_controller::Driver;
use controller::{Settings, State};
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
use tonic::{Code, Status};

pub const CLUSTER_ID: &str = "bed";
pub const MIB: i64 = 1 << 20;
/// The bed's filesystem's metadata pool (where the journal lives).
pub const METADATA_POOL: &str = "cephfs_metadata";

pub fn bed() -> &'static Bed {
    Bed::get()
}

/// A running controller plus the test's group and namespace.
pub struct Fixture {
    pub controller: ControllerClient<Channel>,
    pub identity: IdentityClient<Channel>,
    pub failpoints: Failpoints,
    pub driver: Arc<Driver>,
    pub group: String,
    pub namespace: String,
    config_path: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How a fixture's controller is set up.
#[derive(Default)]
pub struct Builder {
    connect_timeout: Option<Duration>,
    nats_url: Option<String>,
}

impl Builder {
    /// Publishes the controller's events to the NATS at `url`.
    pub fn nats(mut self, url: String) -> Self {
        self.nats_url = Some(url);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    pub async fn run<F, Fut, T>(self, body: F) -> T
    where
        F: FnOnce(Fixture) -> Fut,
        Fut: Future<Output = T>,
    {
        let fx = self.start().await;
        let (group, namespace) = (fx.group.clone(), fx.namespace.clone());
        let outcome = AssertUnwindSafe(body(fx)).catch_unwind().await;
        clean(&group, &namespace);
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn start(self) -> Fixture {
        let bed = bed();
        let group = bed.unique_name("cephfsc");
        let namespace = group.clone();
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        let monitors: Vec<&str> = bed.monitors.split(',').collect();
        let config = serde_json::json!([{
            "clusterID": CLUSTER_ID,
            "monitors": monitors,
            "cephFS": {"subvolumeGroup": group, "radosNamespace": namespace},
        }]);
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let creds = dir.path().join("standing");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join("userID"), &bed.user).unwrap();
        std::fs::write(creds.join("userKey"), &bed.key).unwrap();
        let mut settings = Settings {
            driver_name: "cephfs.csi.sepia.io".to_owned(),
            failpoints: Failpoints::new(),
            controller_credentials_dir: Some(creds),
            // The bed's mgr serialises `volumes` commands per filesystem, and other suites'
            // tests stall it at times (a stopped ceph-fuse holding a lock the mgr waits for).
            // librados' own mgr command timeout (= the op timeout) frees the reply buffers
            // while the reply may still come (a use-after-free in Pacific's MgrClient), so
            // tests give the mgr more time than any stall we have seen.
            rpc_timeout: Duration::from_secs(300),
            ..Settings::default()
        };
        settings.ceph_timeouts.op = Duration::from_secs(240);
        if let Some(connect) = self.connect_timeout {
            settings.ceph_timeouts.connect = connect;
        }
        if let Some(url) = &self.nats_url {
            let config = events::PublisherConfig::new(url.clone());
            settings.events = events::Publisher::start(
                config,
                &mut prometheus_client::registry::Registry::default(),
            )
            .unwrap();
        }
        let failpoints = settings.failpoints.clone();
        let (driver, channel, stop) =
            serve(settings, &config_path, &dir.path().join("csi.sock")).await;
        Fixture {
            controller: ControllerClient::new(channel.clone()),
            identity: IdentityClient::new(channel),
            failpoints,
            driver,
            group,
            namespace,
            config_path,
            stop: Some(stop),
            _dir: dir,
        }
    }
}

/// A controller served in-process on `socket`, reading the cluster config at `config_path`.
async fn serve(
    settings: Settings,
    config_path: &std::path::Path,
    socket: &std::path::Path,
) -> (Arc<Driver>, Channel, tokio::sync::oneshot::Sender<()>) {
    let watcher =
        cluster_config::ClusterConfigWatcher::start(config_path, Duration::from_millis(200)).await;
    let driver = Driver::new(State::new(settings, watcher));
    let endpoint = format!("unix://{}", socket.display());
    let incoming = csi::server::bind(&endpoint).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(cephfs_controller::server::serve(
        Arc::clone(&driver),
        incoming,
        async {
            let _ = stopped.await;
        },
    ));
    let channel = csi::client::connect(&endpoint, Duration::from_secs(5))
        .await
        .unwrap();
    (driver, channel, stop)
}

impl Fixture {
    /// Another controller on the same cluster config (its own state, locks and connections,
    /// as another replica's process has): for races between controllers.
    pub async fn second_controller(
        &self,
    ) -> (ControllerClient<Channel>, tokio::sync::oneshot::Sender<()>) {
        let socket = self
            ._dir
            .path()
            .join(format!("csi-{}.sock", uuid::Uuid::new_v4().simple()));
        let mut settings = Settings {
            driver_name: "cephfs.csi.sepia.io".to_owned(),
            rpc_timeout: Duration::from_secs(300),
            ..Settings::default()
        };
        settings.ceph_timeouts.op = Duration::from_secs(240);
        let (_, channel, stop) = serve(settings, &self.config_path, &socket).await;
        (ControllerClient::new(channel), stop)
    }

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

    pub fn params(&self) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".to_owned(), CLUSTER_ID.to_owned()),
            ("fsName".to_owned(), bed().fs.clone()),
        ])
    }

    pub fn create_request(&self, name: &str, size: i64) -> CreateVolumeRequest {
        CreateVolumeRequest {
            name: name.to_owned(),
            capacity_range: Some(CapacityRange {
                required_bytes: size,
                limit_bytes: 0,
            }),
            volume_capabilities: vec![mount_cap(Mode::MultiNodeMultiWriter)],
            parameters: self.params(),
            secrets: secrets(),
            ..Default::default()
        }
    }

    pub fn restore_request(&self, name: &str, size: i64, snapshot_id: &str) -> CreateVolumeRequest {
        let mut req = self.create_request(name, size);
        req.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Snapshot(
                volume_content_source::SnapshotSource {
                    snapshot_id: snapshot_id.to_owned(),
                },
            )),
        });
        req
    }

    pub fn clone_request(&self, name: &str, size: i64, volume_id: &str) -> CreateVolumeRequest {
        let mut req = self.create_request(name, size);
        req.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Volume(
                volume_content_source::VolumeSource {
                    volume_id: volume_id.to_owned(),
                },
            )),
        });
        req
    }

    pub fn snapshot_request(&self, name: &str, volume_id: &str) -> CreateSnapshotRequest {
        CreateSnapshotRequest {
            name: name.to_owned(),
            source_volume_id: volume_id.to_owned(),
            secrets: secrets(),
            parameters: HashMap::from([("clusterID".to_owned(), CLUSTER_ID.to_owned())]),
        }
    }

    pub async fn create_volume(&self, name: &str, size: i64) -> Volume {
        create(self.client(), self.create_request(name, size)).await
    }

    pub async fn create_snapshot(&self, name: &str, volume_id: &str) -> Snapshot {
        self.client()
            .create_snapshot(self.snapshot_request(name, volume_id))
            .await
            .unwrap_or_else(|s| panic!("CreateSnapshot {name}: {s:?}"))
            .into_inner()
            .snapshot
            .unwrap()
    }

    pub async fn delete_volume(&self, volume_id: &str) {
        self.client()
            .delete_volume(DeleteVolumeRequest {
                volume_id: volume_id.to_owned(),
                secrets: secrets(),
            })
            .await
            .unwrap_or_else(|s| panic!("DeleteVolume {volume_id}: {s:?}"));
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) {
        self.client()
            .delete_snapshot(DeleteSnapshotRequest {
                snapshot_id: snapshot_id.to_owned(),
                secrets: secrets(),
            })
            .await
            .unwrap_or_else(|s| panic!("DeleteSnapshot {snapshot_id}: {s:?}"));
    }

    // --- Ceph state, read with the CLI (independent of the code under test).

    /// Subvolumes of the test's group.
    pub fn subvolumes(&self) -> Vec<String> {
        try_ceph(&[
            "fs",
            "subvolume",
            "ls",
            &bed().fs,
            "--group_name",
            &self.group,
        ])
        .map(|out| names(&out))
        .unwrap_or_default()
    }

    /// Snapshots of `subvolume` (none when it is gone).
    pub fn snapshots_of(&self, subvolume: &str) -> Vec<String> {
        match try_ceph(&[
            "fs",
            "subvolume",
            "snapshot",
            "ls",
            &bed().fs,
            subvolume,
            "--group_name",
            &self.group,
        ]) {
            Some(out) => names(&out),
            None => Vec::new(),
        }
    }

    /// `fs subvolume info` as JSON, `None` when the subvolume is gone.
    pub fn info(&self, subvolume: &str) -> Option<serde_json::Value> {
        try_ceph(&[
            "fs",
            "subvolume",
            "info",
            &bed().fs,
            subvolume,
            "--group_name",
            &self.group,
        ])
        .map(|out| serde_json::from_str(&out).unwrap())
    }

    /// `fs clone status`'s state.
    pub fn clone_state(&self, subvolume: &str) -> String {
        let out = ceph(&[
            "fs",
            "clone",
            "status",
            &bed().fs,
            subvolume,
            "--group_name",
            &self.group,
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["status"]["state"].as_str().unwrap().to_owned()
    }

    /// Objects of the journal namespace in the metadata pool.
    pub fn journal_objects(&self) -> Vec<String> {
        let out = bed().cli("rados", &["-p", METADATA_POOL, "-N", &self.namespace, "ls"]);
        let mut objects: Vec<String> = out.lines().map(str::to_owned).collect();
        objects.sort();
        objects
    }

    /// Omap of a journal object (keys → text values).
    pub fn omap(&self, object: &str) -> BTreeMap<String, String> {
        omap(&self.namespace, object)
    }

    /// The quota of `subvolume`.
    pub fn quota(&self, subvolume: &str) -> u64 {
        self.info(subvolume).unwrap()["bytes_quota"]
            .as_u64()
            .unwrap()
    }
}

/// The bed's admin as the request secrets (Rook's provisioner Secret's keys).
pub fn secrets() -> HashMap<String, String> {
    HashMap::from([
        ("adminID".to_owned(), bed().user.clone()),
        ("adminKey".to_owned(), bed().key.clone()),
    ])
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

/// CreateVolume, retried while ABORTED (a clone in progress), as the provisioner does.
pub async fn create(client: ControllerClient<Channel>, req: CreateVolumeRequest) -> Volume {
    let name = req.name.clone();
    create_result(client, req)
        .await
        .unwrap_or_else(|s| panic!("CreateVolume {name}: {s:?}"))
}

/// [`create`]'s final answer, whatever it is.
pub async fn create_result(
    client: ControllerClient<Channel>,
    req: CreateVolumeRequest,
) -> Result<Volume, Status> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match client.clone().create_volume(req.clone()).await {
            Ok(reply) => return Ok(reply.into_inner().volume.unwrap()),
            Err(s) if s.code() == Code::Aborted && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(s) => return Err(s),
        }
    }
}

/// The status of a call that must fail.
pub fn status<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Status {
    match result {
        Ok(reply) => panic!("expected an error, got {:?}", reply.into_inner()),
        Err(status) => status,
    }
}

pub fn uuid_of(id: &str) -> String {
    CompositeId::decode(id).unwrap().uuid().to_string()
}

pub fn subvolume_of(volume_id: &str) -> String {
    format!("csi-vol-{}", uuid_of(volume_id))
}

pub fn snap_of(snapshot_id: &str) -> String {
    format!("csi-snap-{}", uuid_of(snapshot_id))
}

pub fn ceph(args: &[&str]) -> String {
    bed().cli("ceph", args)
}

/// A `ceph` call that may fail (ENOENT): `None` then.
pub fn try_ceph(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg("ceph")
        .args(args)
        .env("CEPH_CONF", &bed().conf_path)
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn names(json: &str) -> Vec<String> {
    let v: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    let mut names: Vec<String> = v
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

pub fn omap(namespace: &str, object: &str) -> BTreeMap<String, String> {
    let keys = bed().cli(
        "rados",
        &["-p", METADATA_POOL, "-N", namespace, "listomapkeys", object],
    );
    keys.lines()
        .map(|key| {
            let value = bed().cli_bytes(
                "rados",
                &[
                    "-p",
                    METADATA_POOL,
                    "-N",
                    namespace,
                    "getomapval",
                    object,
                    key,
                    "/dev/stdout",
                ],
            );
            (key.to_owned(), String::from_utf8_lossy(&value).into_owned())
        })
        .collect()
}

/// Removes everything of a test's group and journal namespace.
fn clean(group: &str, namespace: &str) {
    let fs = &bed().fs;
    if let Some(out) = try_ceph(&["fs", "subvolume", "ls", fs, "--group_name", group]) {
        for sub in names(&out) {
            let _ = try_ceph(&["fs", "clone", "cancel", fs, &sub, "--group_name", group]);
            if let Some(snaps) = try_ceph(&[
                "fs",
                "subvolume",
                "snapshot",
                "ls",
                fs,
                &sub,
                "--group_name",
                group,
            ]) {
                for snap in names(&snaps) {
                    let _ = try_ceph(&[
                        "fs",
                        "subvolume",
                        "snapshot",
                        "rm",
                        fs,
                        &sub,
                        &snap,
                        "--group_name",
                        group,
                        "--force",
                    ]);
                }
            }
            let _ = try_ceph(&[
                "fs",
                "subvolume",
                "rm",
                fs,
                &sub,
                "--group_name",
                group,
                "--force",
            ]);
        }
    }
    let _ = try_ceph(&["fs", "subvolumegroup", "rm", fs, group, "--force"]);
    let out = bed().cli("rados", &["-p", METADATA_POOL, "-N", namespace, "ls"]);
    for object in out.lines() {
        let _ = bed().cli(
            "rados",
            &["-p", METADATA_POOL, "-N", namespace, "rm", object],
        );
    }
}
