//! The controller under test, for real: a `sepia-controller` served in-process on a unix socket
//! in a temp dir, talking to the bed's Ceph in the test's own rbd namespace (its cluster config
//! points `rbd.radosNamespace` there), driven with the generated CSI client. Everything the
//! test leaves in the namespace is removed afterwards, also when it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ceph::rbd::{self, SnapNamespace};
use ceph::{Cluster, Credentials, IoCtx, Timeouts};
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
                ..Settings::default()
            },
            standing_credentials: true,
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

    pub fn without_standing_credentials(mut self) -> Self {
        self.standing_credentials = false;
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
        let cleanup = fx.cleaner();
        let outcome = AssertUnwindSafe(body(fx)).catch_unwind().await;
        cleanup.clean().await;
        match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn start(self) -> Fixture {
        let bed = bed();
        let rados = admin().await;
        let namespace = bed.unique_name("ctl");
        let pool_io = rados.ioctx(&bed.pool, "").await.expect("pool ioctx");
        rbd::namespace_create(&pool_io, &namespace)
            .await
            .expect("create rbd namespace");
        let io = rados
            .ioctx(&bed.pool, &namespace)
            .await
            .expect("namespace ioctx");
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.json");
        let mut clusters = vec![cluster_entry(CLUSTER_ID, &bed.monitors, &namespace)];
        clusters.extend(self.extra_clusters);
        write_config(&config_path, &clusters);
        let mut settings = self.settings;
        if self.standing_credentials {
            settings.controller_credentials_dir = Some(standing_credentials(dir.path()));
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
            namespace,
            rados,
            pool_io,
            io,
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
    let creds = dir.join("controller-secret");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("userID"), &bed().user).unwrap();
    std::fs::write(creds.join("userKey"), &bed().key).unwrap();
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

/// A running controller and the test's namespace.
pub struct Fixture {
    pub controller: ControllerClient<Channel>,
    pub identity: IdentityClient<Channel>,
    pub failpoints: Failpoints,
    pub namespace: String,
    /// The test's own admin connection, for checking Ceph independently of the controller.
    pub rados: Cluster,
    pub pool_io: IoCtx,
    pub io: IoCtx,
    pub config_path: PathBuf,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
    _dir: tempfile::TempDir,
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

    fn cleaner(&self) -> Cleaner {
        Cleaner {
            pool_io: self.pool_io.clone(),
            io: self.io.clone(),
            namespace: self.namespace.clone(),
            rados: self.rados.clone(),
        }
    }

    pub fn client(&self) -> ControllerClient<Channel> {
        self.controller.clone()
    }

    pub fn secrets(&self) -> HashMap<String, String> {
        let bed = bed();
        HashMap::from([
            ("userID".to_owned(), bed.user.clone()),
            ("userKey".to_owned(), bed.key.clone()),
        ])
    }

    pub fn params(&self) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".to_owned(), CLUSTER_ID.to_owned()),
            ("pool".to_owned(), bed().pool.clone()),
        ])
    }

    pub fn create_request(&self, name: &str, size: i64) -> CreateVolumeRequest {
        CreateVolumeRequest {
            name: name.to_owned(),
            capacity_range: Some(CapacityRange {
                required_bytes: size,
                limit_bytes: 0,
            }),
            volume_capabilities: vec![mount_cap(Mode::SingleNodeWriter)],
            parameters: self.params(),
            secrets: self.secrets(),
            ..Default::default()
        }
    }

    pub async fn create_volume(&self, name: &str, size: i64) -> Volume {
        self.client()
            .create_volume(self.create_request(name, size))
            .await
            .unwrap_or_else(|s| panic!("CreateVolume {name}: {s:?}"))
            .into_inner()
            .volume
            .expect("volume in reply")
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

    /// Restores a volume from `snapshot_id` (its own size); returns the new volume id.
    pub async fn create_volume_from(&self, snapshot_id: &str) -> String {
        let name = format!("pvc-from-{}", uuid_of(snapshot_id));
        self.client()
            .create_volume(self.restore_request(&name, 0, snapshot_id))
            .await
            .unwrap_or_else(|s| panic!("restore from {snapshot_id}: {s:?}"))
            .into_inner()
            .volume
            .expect("volume in reply")
            .volume_id
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

    pub fn snapshot_request(&self, name: &str, source_volume_id: &str) -> CreateSnapshotRequest {
        CreateSnapshotRequest {
            source_volume_id: source_volume_id.to_owned(),
            name: name.to_owned(),
            secrets: self.secrets(),
            parameters: HashMap::from([("clusterID".to_owned(), CLUSTER_ID.to_owned())]),
        }
    }

    /// CreateSnapshot whose background preparation "crashes" right after its clone; returns
    /// once that task has ended and let go of the snapshot's lock, so the snapshot is cut
    /// (ready) but not in ceph-csi's layout, as after a controller restart.
    pub async fn create_snapshot_unprepared(&self, req: CreateSnapshotRequest) -> Snapshot {
        use controller::failpoints::snapshot::AFTER_CLONE;
        use failpoint::Action;

        self.failpoints.set(AFTER_CLONE, Action::Fail);
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
            self.failpoints.wait_for_hits(AFTER_CLONE, 1),
        )
        .await
        .unwrap();
        self.failpoints.set(AFTER_CLONE, Action::Off);
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

    /// CreateSnapshot repeated (as the snapshotter does) until ready.
    pub async fn create_snapshot_ready(&self, req: CreateSnapshotRequest) -> Snapshot {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let snapshot = self
                .client()
                .create_snapshot(req.clone())
                .await
                .unwrap_or_else(|s| panic!("CreateSnapshot {}: {s:?}", req.name))
                .into_inner()
                .snapshot
                .expect("snapshot in reply");
            if snapshot.ready_to_use {
                self.wait_prepared(&snapshot.snapshot_id).await;
                return snapshot;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "snapshot {} never became ready",
                req.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a (ready) snapshot also has ceph-csi's layout: its preparation after the
    /// reply stored the image id and let go of its lock.
    pub async fn wait_prepared(&self, snapshot_id: &str) {
        let uuid = uuid::Uuid::parse_str(&uuid_of(snapshot_id)).unwrap();
        let key = controller::locks::prepare_key(&uuid);
        let oid = format!("csi.snap.{uuid}");
        let prepared = eventually(Duration::from_secs(60), || async {
            !self.state.names.is_held(&key) && self.omap(&oid).await.contains_key("csi.imageid")
        })
        .await;
        assert!(prepared, "snapshot {snapshot_id} was never prepared");
    }

    pub async fn delete_volume(&self, volume_id: &str) {
        self.client()
            .delete_volume(DeleteVolumeRequest {
                volume_id: volume_id.to_owned(),
                secrets: self.secrets(),
            })
            .await
            .unwrap_or_else(|s| panic!("DeleteVolume {volume_id}: {s:?}"));
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) {
        self.client()
            .delete_snapshot(DeleteSnapshotRequest {
                snapshot_id: snapshot_id.to_owned(),
                secrets: self.secrets(),
            })
            .await
            .unwrap_or_else(|s| panic!("DeleteSnapshot {snapshot_id}: {s:?}"));
    }

    /// Names of the images in the namespace (not in the trash), sorted.
    pub async fn images(&self) -> Vec<String> {
        let mut names: Vec<String> = rbd::list(&self.io)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        names.sort();
        names
    }

    pub async fn trash(&self) -> Vec<String> {
        let mut names: Vec<String> = rbd::trash_list(&self.io)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        names.sort();
        names
    }

    /// `(namespace, name or original name)` of an image's snapshots.
    pub async fn snapshots_of(&self, image: &str) -> Vec<(String, String)> {
        let img = rbd::open(&self.io, image).await.unwrap();
        let snaps = img.snap_list().await.unwrap();
        img.close().await.unwrap();
        let mut out: Vec<(String, String)> = snaps.into_iter().map(snap_label).collect();
        out.sort();
        out
    }

    pub async fn image_size(&self, image: &str) -> u64 {
        let img = rbd::open(&self.io, image).await.unwrap();
        let size = img.size().await.unwrap();
        img.close().await.unwrap();
        size
    }

    /// The parent `image@snap` of an image, if it is a clone.
    pub async fn parent_of(&self, image: &str) -> Option<String> {
        let img = rbd::open(&self.io, image).await.unwrap();
        let parent = img.parent().await.unwrap();
        img.close().await.unwrap();
        parent.map(|p| format!("{}@{}", p.image_name, p.snap_name))
    }

    /// The journal entry keys and values of `oid` (csi.* and sepia.*).
    pub async fn omap(&self, oid: &str) -> BTreeMap<String, String> {
        match self.io.omap_list(oid, "", "", 1000).await {
            Ok((pairs, _)) => pairs
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                .collect(),
            Err(e) if e.is_not_found() => BTreeMap::new(),
            Err(e) => panic!("omap of {oid}: {e}"),
        }
    }

    /// Registers a node the way the node plugin does (the shared registry contract).
    pub async fn register_node(&self, node_id: &str) {
        let value = serde_json::json!({"nodeId": node_id, "driver": "rbd.csi.sepia.io", "updatedAt": "2026-01-01T00:00:00Z"});
        self.io
            .omap_set_creating(
                "sepia.nodes.default",
                &[(node_id, value.to_string().as_bytes())],
            )
            .await
            .unwrap();
    }

    /// Waits until the mgr has no pending `rbd task` for this namespace (trash purges, flattens).
    pub async fn wait_for_mgr(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let out = self
                .rados
                .mgr_command(serde_json::json!({"prefix": "rbd task list", "format": "json"}))
                .await
                .unwrap();
            let tasks: Vec<serde_json::Value> = out.json().unwrap();
            let mine = tasks
                .iter()
                .filter(|t| t["refs"]["pool_namespace"].as_str() == Some(self.namespace.as_str()))
                .count();
            if mine == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mgr tasks of {} never finished: {tasks:?}",
                self.namespace
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Everything in the namespace, with uuids and image ids replaced by labels so two runs
    /// compare equal: images with their snapshots (trash namespace included) and parents, trash
    /// entries, every object with its omap keys, and the values of journal keys.
    /// `labels` names the uuids the test knows (volume and snapshot ids' uuids).
    pub async fn listing(&self, labels: &[(&str, &str)]) -> Listing {
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let images = rbd::list(&self.io).await.unwrap();
        let trash = rbd::trash_list(&self.io).await.unwrap();
        let relabel_uuids = |text: &str| {
            let mut text = text.to_owned();
            for (uuid, label) in labels {
                text = text.replace(uuid, &format!("<{label}>"));
            }
            text
        };
        for image in &images {
            ids.insert(
                image.id.clone(),
                format!("<id:{}>", relabel_uuids(&image.name)),
            );
        }
        for entry in &trash {
            ids.insert(
                entry.id.clone(),
                format!("<id:trash:{}>", relabel_uuids(&entry.name)),
            );
        }
        let relabel = |text: &str| {
            let mut text = relabel_uuids(text);
            for (id, label) in &ids {
                text = text.replace(id.as_str(), label);
            }
            // What is left are librbd's own uuids (trash-namespace snapshot names).
            uuids_hidden(&snap_ids_hidden(&text))
        };
        let mut listing = Listing::default();
        for image in &images {
            let img = rbd::open(&self.io, &image.name).await.unwrap();
            let snaps = img.snap_list().await.unwrap();
            let parent = img.parent().await.unwrap();
            img.close().await.unwrap();
            let mut snaps: Vec<String> = snaps
                .into_iter()
                .map(|s| format!("{:?}", snap_label(s)))
                .collect();
            snaps.sort();
            let parent = parent.map(|p| format!("{}@{}", p.image_name, p.snap_name));
            listing.images.insert(
                relabel(&image.name),
                format!(
                    "snaps={} parent={}",
                    relabel(&snaps.join(",")),
                    relabel(&parent.unwrap_or_default())
                ),
            );
        }
        listing.trash = trash.iter().map(|e| relabel(&e.name)).collect();
        for oid in self.io.list_objects().await.unwrap() {
            let keys = match self.io.omap_list(&oid, "", "", 10_000).await {
                Ok((pairs, _)) => pairs,
                Err(e) if e.is_not_found() => continue,
                Err(e) => panic!("omap of {oid}: {e}"),
            };
            let journal = oid.starts_with("csi.");
            let mut keys: Vec<String> = keys
                .into_iter()
                .map(|(k, v)| {
                    let value = String::from_utf8_lossy(&v);
                    if journal && !k.starts_with("sepia.snapshot.") {
                        format!("{}={}", relabel(&k), relabel(&value))
                    } else {
                        relabel(&k)
                    }
                })
                .collect();
            // Relabelled keys no longer sort like the originals.
            keys.sort();
            listing.objects.insert(relabel(&oid), keys);
        }
        listing
    }
}

/// A normalised view of a namespace (see [`Fixture::listing`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub images: BTreeMap<String, String>,
    pub trash: BTreeSet<String>,
    pub objects: BTreeMap<String, Vec<String>>,
}

fn snap_label(s: rbd::SnapInfo) -> (String, String) {
    match s.namespace {
        SnapNamespace::Trash { original_name } => ("trash".to_owned(), original_name),
        other => (format!("{other:?}").to_lowercase(), s.name),
    }
}

/// Snapshot ids come from the pool's global sequence: `snapshot_<16 hex>` keys differ between
/// runs, so their numbers are hidden.
fn snap_ids_hidden(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('_') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let hex_len = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex_len == 16 {
            out.push_str("<snapid>");
            rest = &rest[16..];
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every `8-4-4-4-12` hex uuid by `<uuid>`.
fn uuids_hidden(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    let is_uuid_at = |at: usize| {
        let mut pos = at;
        for (i, len) in SHAPE.iter().enumerate() {
            if bytes.len() < pos + len || !bytes[pos..pos + len].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            pos += len;
            if i < 4 {
                if bytes.get(pos) != Some(&b'-') {
                    return false;
                }
                pos += 1;
            }
        }
        true
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if is_uuid_at(at) {
            out.push_str("<uuid>");
            at += 36;
        } else {
            let ch = text[at..].chars().next().unwrap_or_default();
            out.push(ch);
            at += ch.len_utf8().max(1);
        }
    }
    out
}

struct Cleaner {
    pool_io: IoCtx,
    io: IoCtx,
    namespace: String,
    rados: Cluster,
}

impl Cleaner {
    /// Best effort: images (clones before parents, hence several passes), trash, objects, and
    /// the rbd namespace.
    async fn clean(self) {
        let io = &self.io;
        for _ in 0..6 {
            let images = rbd::list(io).await.unwrap_or_default();
            if images.is_empty() {
                break;
            }
            for spec in images {
                if let Ok(image) = rbd::open(io, &spec.name).await {
                    for snap in image.snap_list().await.unwrap_or_default() {
                        if snap.namespace == SnapNamespace::User {
                            let _ = image.snap_remove(&snap.name).await;
                        }
                    }
                    let _ = image.close().await;
                }
                let _ = rbd::remove(io, &spec.name).await;
            }
        }
        for _ in 0..6 {
            let trash = rbd::trash_list(io).await.unwrap_or_default();
            if trash.is_empty() {
                break;
            }
            for entry in trash {
                let _ = rbd::trash_remove(io, &entry.id, true).await;
            }
        }
        for oid in io.list_objects().await.unwrap_or_default() {
            let _ = io.remove(&oid).await;
        }
        if let Err(e) = rbd::namespace_remove(&self.pool_io, &self.namespace).await {
            eprintln!(
                "cleanup: could not remove rbd namespace {}: {e}",
                self.namespace
            );
        }
        drop(self.rados);
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
