//! A real node plugin for one test: its own temp directory (state dir, sockets, kubelet-style
//! staging and target paths), its own RADOS namespace on the bed, the gRPC server running
//! in-process on a unix socket (or the `sepia-node` binary as a child process, for tests that
//! kill and restart it), and generated clients talking to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cluster_config::ClusterConfigWatcher;
use csi::v1::identity_client::IdentityClient;
use csi::v1::node_client::NodeClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume, MountVolume};
use csi::v1::*;
use node::driver::NodeDriver;
use node::error::NodeError;
use node::mapper::Support;
use node::mapper_kind::MapperChoice;
use node::server::{ServeOptions, serve};
use node::settings::{Deadlines, NodeSettings};
use sepia_testbed::{Bed, Process};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const CLUSTER_ID: &str = "bed";
/// A cluster whose only monitor refuses connections: anything mapped from it hangs.
pub const DEAD_CLUSTER_ID: &str = "dead";
pub const DRIVER: &str = "rbd.csi.sepia.io";
pub const KUBELET_ENDPOINT: &str = "/var/lib/kubelet/plugins/rbd.csi.sepia.io/csi.sock";
pub const MIB: u64 = 1 << 20;

pub struct Harness {
    pub bed: &'static Bed,
    pub dir: tempfile::TempDir,
    /// Canonical form of `dir` (what mountinfo and sysfs show).
    pub root: PathBuf,
    pub namespace: String,
    pub node: NodeClient<Channel>,
    pub identity: IdentityClient<Channel>,
    pub registration_socket: PathBuf,
    pub csi_socket: PathBuf,
    plugin: Plugin,
}

/// Where the plugin under test runs.
enum Plugin {
    /// In this process: its state is at hand, and the server task is stopped on drop.
    InProcess {
        driver: Arc<NodeDriver>,
        shutdown: CancellationToken,
        server: Option<JoinHandle<Result<(), NodeError>>>,
    },
    /// The `sepia-node` binary: it can be killed (`kill -9`) and started again. `starts`
    /// counts its runs (each logs to `sepia-node-<n>.log` in the test's directory).
    Child {
        process: Option<Box<Process>>,
        args: Vec<String>,
        starts: u32,
    },
}

impl Harness {
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, Deadlines::default()).await
    }

    pub async fn start_with(prefix: &str, deadlines: Deadlines) -> Self {
        Self::start_prepared(prefix, deadlines, |_| {}).await
    }

    /// Like [`Harness::start_with`], with `prepare` run on the test's directory before the
    /// plugin starts (to leave there what an earlier, killed plugin would have).
    pub async fn start_prepared(
        prefix: &str,
        deadlines: Deadlines,
        prepare: impl FnOnce(&Path),
    ) -> Self {
        let setup = Setup::new(prefix, prepare).await;
        let clusters =
            ClusterConfigWatcher::start(&setup.config_path(), Duration::from_secs(1)).await;
        assert_eq!(clusters.last_error(), None);
        let root = &setup.root;
        let settings = NodeSettings {
            node_id: "node-under-test".into(),
            driver_name: DRIVER.into(),
            state_dir: root.join("state"),
            kubelet_root: root.join("kubelet"),
            ceph_conf: None,
            mapper: MapperChoice::Auto,
            max_volumes_per_node: 0,
            deadlines,
        };
        let driver = Arc::new(NodeDriver::new(settings, clusters, Support::detect()));
        let options = ServeOptions {
            csi_endpoint: format!("unix://{}", setup.csi_socket().display()),
            registration_socket: Some(setup.registration_socket()),
            kubelet_endpoint: KUBELET_ENDPOINT.into(),
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(driver.clone(), options, shutdown.clone()));
        let channel = connect(&setup.csi_socket()).await;
        setup.into_harness(
            channel,
            Plugin::InProcess {
                driver,
                shutdown,
                server: Some(server),
            },
        )
    }

    /// The `sepia-node` binary as a child process with the same layout as [`Harness::start`]
    /// (`extra` flags appended), serving once this returns; it has not necessarily finished
    /// its start-up recovery ([`Harness::wait_ready`]).
    pub async fn start_child(prefix: &str, extra: &[&str]) -> Self {
        let setup = Setup::new(prefix, |_| {}).await;
        let root = &setup.root;
        let mut args: Vec<String> = [
            "--endpoint".to_string(),
            format!("unix://{}", setup.csi_socket().display()),
            "--node-id=node-under-test".into(),
            format!("--driver-name={DRIVER}"),
            format!("--cluster-config={}", setup.config_path().display()),
            "--cluster-config-poll=1s".into(),
            format!("--registration-dir={}", root.join("registry").display()),
            format!("--kubelet-socket-path={KUBELET_ENDPOINT}"),
            format!("--kubelet-root={}", root.join("kubelet").display()),
            format!("--state-dir={}", root.join("state").display()),
        ]
        .into();
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut process = spawn_plugin(root, &args, 1);
        process
            .wait_for_unix_socket(&setup.csi_socket(), Duration::from_secs(60))
            .await;
        let channel = connect(&setup.csi_socket()).await;
        setup.into_harness(
            channel,
            Plugin::Child {
                process: Some(Box::new(process)),
                args,
                starts: 1,
            },
        )
    }

    /// The in-process plugin's state (panics for a child-process plugin: it has none here).
    pub fn driver(&self) -> &Arc<NodeDriver> {
        match &self.plugin {
            Plugin::InProcess { driver, .. } => driver,
            Plugin::Child { .. } => panic!("the plugin runs in a child process"),
        }
    }

    /// The child plugin's pid.
    pub fn plugin_pid(&self) -> i32 {
        match &self.plugin {
            Plugin::Child {
                process: Some(process),
                ..
            } => process.pid(),
            _ => panic!("no child plugin is running"),
        }
    }

    /// `kill -9` of the child plugin's process alone (what it started lives on, as far as the
    /// kernel lets it), reaped.
    pub async fn kill_plugin(&mut self) {
        let Plugin::Child { process, .. } = &mut self.plugin else {
            panic!("the plugin runs in this process");
        };
        let mut process = process.take().expect("the child plugin is running");
        process.kill().await;
    }

    /// Starts the child plugin again with the same flags and reconnects the clients.
    pub async fn restart_plugin(&mut self) {
        let Plugin::Child {
            process,
            args,
            starts,
        } = &mut self.plugin
        else {
            panic!("the plugin runs in this process");
        };
        assert!(process.is_none(), "kill the plugin first");
        *starts += 1;
        let mut started = spawn_plugin(&self.root, args, *starts);
        started
            .wait_for_unix_socket(&self.csi_socket, Duration::from_secs(60))
            .await;
        *process = Some(Box::new(started));
        let channel = connect(&self.csi_socket).await;
        self.node = NodeClient::new(channel.clone());
        self.identity = IdentityClient::new(channel);
    }

    /// Everything the running child plugin logged so far.
    pub fn plugin_log(&self) -> String {
        match &self.plugin {
            Plugin::Child {
                process: Some(process),
                ..
            } => process.log(),
            _ => panic!("no child plugin is running"),
        }
    }

    /// Waits (bounded) until Probe answers ready: start-up recovery is done.
    pub async fn wait_ready(&mut self) {
        for _ in 0..600 {
            let probe = self
                .identity
                .probe(ProbeRequest {})
                .await
                .expect("Probe failed")
                .into_inner();
            if probe.ready == Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the plugin did not become ready within 60 s");
    }

    /// Stops the in-process server and returns how serving ended.
    pub async fn stop(&mut self) -> Result<(), NodeError> {
        let Plugin::InProcess {
            shutdown, server, ..
        } = &mut self.plugin
        else {
            panic!("the plugin runs in a child process");
        };
        shutdown.cancel();
        match server.take() {
            Some(server) => tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("server did not stop within 30 s")
                .unwrap(),
            None => Ok(()),
        }
    }

    /// Waits (bounded) for the in-process server task to end on its own.
    pub async fn wait_server(&mut self) -> Result<(), NodeError> {
        let Plugin::InProcess { server, .. } = &mut self.plugin else {
            panic!("the plugin runs in a child process");
        };
        let server = server.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("server did not stop within 30 s")
            .unwrap()
    }

    pub fn image_spec(&self, image: &str) -> String {
        format!("{}/{}/{image}", self.bed.pool, self.namespace)
    }

    pub fn rbd(&self, args: &[&str]) -> String {
        self.bed.cli("rbd", args)
    }

    pub fn create_image(&self, image: &str, size_mib: u64) {
        self.rbd(&[
            "create",
            "--size",
            &format!("{size_mib}M"),
            "--image-feature",
            "layering",
            &self.image_spec(image),
        ]);
    }

    pub fn resize_image(&self, image: &str, size_mib: u64) {
        self.rbd(&[
            "resize",
            "--size",
            &format!("{size_mib}M"),
            &self.image_spec(image),
        ]);
    }

    pub fn remove_image(&self, image: &str) {
        self.rbd(&["rm", "--no-progress", &self.image_spec(image)]);
    }

    /// Evicts the watchers of `image` the way an operator fences a dead node: a killed
    /// rbd-fuse's watch would hold the image for another 30 s.
    pub fn blocklist_watchers(&self, image: &str) {
        let status: serde_json::Value = serde_json::from_str(&self.rbd(&[
            "status",
            "--format",
            "json",
            &self.image_spec(image),
        ]))
        .unwrap();
        for watcher in status["watchers"].as_array().unwrap() {
            let address = watcher["address"].as_str().unwrap();
            self.bed.cli("ceph", &["osd", "blocklist", "add", address]);
        }
    }

    pub fn volume_id(&self, image: &str) -> String {
        format!("0001-0003-{CLUSTER_ID}-0000000000000001-{image}")
    }

    /// What the controller returns as volume context.
    pub fn volume_context(&self, image: &str) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".into(), CLUSTER_ID.into()),
            ("pool".into(), self.bed.pool.clone()),
            ("imageName".into(), image.into()),
            ("radosNamespace".into(), self.namespace.clone()),
            ("journalPool".into(), self.bed.pool.clone()),
        ])
    }

    /// What kubelet passes from the node-stage secret.
    pub fn secrets(&self) -> HashMap<String, String> {
        HashMap::from([
            ("userID".into(), self.bed.user.clone()),
            ("userKey".into(), self.bed.key.clone()),
        ])
    }

    /// kubelet's root directory for this plugin (`--kubelet-root`).
    pub fn kubelet_root(&self) -> PathBuf {
        self.root.join("kubelet")
    }

    /// A directory outside kubelet's root, standing for the host's own files.
    pub fn host_dir(&self) -> PathBuf {
        let dir = self.root.join("host");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// kubelet's layout: `.../plugins/kubernetes.io/csi/<driver>/<hash>/globalmount`.
    pub fn staging_path(&self, image: &str) -> PathBuf {
        self.root.join(format!(
            "kubelet/plugins/kubernetes.io/csi/{DRIVER}/{image}/globalmount"
        ))
    }

    /// kubelet's layout: `.../pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount`.
    pub fn target_path(&self, image: &str, pod: &str) -> PathBuf {
        self.root.join(format!(
            "kubelet/pods/{pod}/volumes/kubernetes.io~csi/{image}/mount"
        ))
    }

    pub fn stage_request(
        &self,
        image: &str,
        capability: VolumeCapability,
    ) -> NodeStageVolumeRequest {
        NodeStageVolumeRequest {
            volume_id: self.volume_id(image),
            publish_context: HashMap::new(),
            staging_target_path: self.staging_path(image).display().to_string(),
            volume_capability: Some(capability),
            secrets: self.secrets(),
            volume_context: self.volume_context(image),
        }
    }

    pub fn publish_request(
        &self,
        image: &str,
        pod: &str,
        capability: VolumeCapability,
        readonly: bool,
    ) -> NodePublishVolumeRequest {
        NodePublishVolumeRequest {
            volume_id: self.volume_id(image),
            publish_context: HashMap::new(),
            staging_target_path: self.staging_path(image).display().to_string(),
            target_path: self.target_path(image, pod).display().to_string(),
            volume_capability: Some(capability),
            readonly,
            secrets: HashMap::new(),
            volume_context: self.volume_context(image),
        }
    }

    pub fn unpublish_request(&self, image: &str, pod: &str) -> NodeUnpublishVolumeRequest {
        NodeUnpublishVolumeRequest {
            volume_id: self.volume_id(image),
            target_path: self.target_path(image, pod).display().to_string(),
        }
    }

    pub fn unstage_request(&self, image: &str) -> NodeUnstageVolumeRequest {
        NodeUnstageVolumeRequest {
            volume_id: self.volume_id(image),
            staging_target_path: self.staging_path(image).display().to_string(),
        }
    }

    pub async fn stage(
        &mut self,
        image: &str,
        capability: VolumeCapability,
    ) -> Result<(), tonic::Status> {
        let request = self.stage_request(image, capability);
        self.node.node_stage_volume(request).await.map(drop)
    }

    /// Stages `image` and publishes it, writable, to pod `pod`; its target path.
    pub async fn stage_and_publish(
        &mut self,
        image: &str,
        pod: &str,
        capability: VolumeCapability,
    ) -> PathBuf {
        self.stage(image, capability.clone()).await.unwrap();
        self.publish(image, pod, capability, false).await.unwrap();
        self.target_path(image, pod)
    }

    pub async fn unstage(&mut self, image: &str) -> Result<(), tonic::Status> {
        let request = self.unstage_request(image);
        self.node.node_unstage_volume(request).await.map(drop)
    }

    pub async fn publish(
        &mut self,
        image: &str,
        pod: &str,
        capability: VolumeCapability,
        readonly: bool,
    ) -> Result<(), tonic::Status> {
        let request = self.publish_request(image, pod, capability, readonly);
        self.node.node_publish_volume(request).await.map(drop)
    }

    pub async fn unpublish(&mut self, image: &str, pod: &str) -> Result<(), tonic::Status> {
        let request = self.unpublish_request(image, pod);
        self.node.node_unpublish_volume(request).await.map(drop)
    }

    pub async fn stats(
        &mut self,
        image: &str,
        path: &Path,
    ) -> Result<NodeGetVolumeStatsResponse, tonic::Status> {
        let request = NodeGetVolumeStatsRequest {
            volume_id: self.volume_id(image),
            volume_path: path.display().to_string(),
            staging_target_path: String::new(),
        };
        self.node
            .node_get_volume_stats(request)
            .await
            .map(|r| r.into_inner())
    }

    pub async fn expand(
        &mut self,
        image: &str,
        path: &Path,
        required_bytes: u64,
        with_staging_path: bool,
    ) -> Result<i64, tonic::Status> {
        let request = NodeExpandVolumeRequest {
            volume_id: self.volume_id(image),
            volume_path: path.display().to_string(),
            capacity_range: Some(CapacityRange {
                required_bytes: required_bytes as i64,
                limit_bytes: 0,
            }),
            staging_target_path: if with_staging_path {
                self.staging_path(image).display().to_string()
            } else {
                String::new()
            },
            volume_capability: None,
            secrets: HashMap::new(),
        };
        self.node
            .node_expand_volume(request)
            .await
            .map(|r| r.into_inner().capacity_bytes)
    }

    /// Replaces the plugin's stage record of `image` with the one ceph-csi would have written
    /// for the same mapping: its exact JSON (`rbdImageMetadataStash` as Go renders it,
    /// version 3, mode 0600), as if ceph-csi had staged the volume on this device.
    pub fn rewrite_stash_as_ceph_csi(&self, image: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.staging_path(image).join("image-meta.json");
        let ours: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let field = |key: &str| serde_json::to_string(ours[key].as_str().unwrap_or("")).unwrap();
        let text = format!(
            r#"{{"Version":3,"pool":{},"radosNamespace":{},"image":{},"unmapOptions":"","accessType":{},"encrypted":false,"device":{},"logDir":"","logFileStrategy":""}}"#,
            field("pool"),
            field("radosNamespace"),
            field("image"),
            ours["mapper"] == "nbd",
            field("device"),
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Reads `file` from the ext4 file system on `image` through a copy of the image made
    /// now (`rbd export`, a loop device over the copy, mounted read-only: the journal is
    /// replayed into the copy): independent of the plugin's mapping, so what it shows is what
    /// reached Ceph. Unmounts and detaches what it made before returning.
    pub fn read_from_image_fs(&self, image: &str, file: &str) -> Vec<u8> {
        let copy = self.root.join(format!("export-{image}.img"));
        let mount_point = self.root.join(format!("export-{image}"));
        self.rbd(&[
            "export",
            "--no-progress",
            &self.image_spec(image),
            &copy.display().to_string(),
        ]);
        let losetup = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&copy)
            .output()
            .unwrap();
        assert!(losetup.status.success(), "losetup {}", copy.display());
        let device = String::from_utf8_lossy(&losetup.stdout).trim().to_string();
        std::fs::create_dir_all(&mount_point).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "ext4", "-o", "ro", &device])
            .arg(&mount_point)
            .status()
            .unwrap()
            .success();
        let content = mounted.then(|| std::fs::read(mount_point.join(file)));
        if mounted {
            unmount(&mount_point);
        }
        let detached = std::process::Command::new("losetup")
            .args(["-d", &device])
            .status()
            .unwrap()
            .success();
        std::fs::remove_file(&copy).unwrap();
        std::fs::remove_dir(&mount_point).unwrap();
        assert!(mounted, "mount {device} (the copy of {image})");
        assert!(detached, "losetup -d {device}");
        content
            .unwrap()
            .unwrap_or_else(|e| panic!("{file} in the copy of {image}: {e}"))
    }

    /// Everything this harness could have left on the node: mounts (file systems, binds,
    /// rbd-fuse) under its directory, loop devices over files under it, rbd-fuse processes
    /// serving it. Empty means clean.
    pub fn leftovers(&self) -> Vec<String> {
        let root = self.root.display().to_string();
        let mut found: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(|l| format!("mount: {l}"))
            .collect();
        let losetup = std::process::Command::new("losetup")
            .arg("-a")
            .output()
            .unwrap();
        found.extend(
            String::from_utf8_lossy(&losetup.stdout)
                .lines()
                .filter(|l| l.contains(&root))
                .map(|l| format!("loop: {l}")),
        );
        found.extend(
            rbd_fuse_processes(&root)
                .into_iter()
                .map(|p| format!("rbd-fuse pid {p}")),
        );
        found
    }

    /// Asserts nothing is left, giving exiting rbd-fuse daemons a bounded moment to go.
    pub async fn assert_clean(&self) {
        for _ in 0..50 {
            if self.leftovers().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("left behind on the node: {:#?}", self.leftovers());
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        match &mut self.plugin {
            Plugin::InProcess { shutdown, .. } => shutdown.cancel(),
            Plugin::Child { process, .. } => {
                if let Some(process) = process {
                    process.sigkill();
                }
            }
        }
        // Best-effort clean-up of a failed test, so one failure does not cascade; never panics.
        let root = self.root.display().to_string();
        let mounts = || -> Vec<String> {
            let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
                .filter(|m| m.starts_with(&root))
                .collect();
            mounts.reverse(); // newest (innermost) first
            mounts
        };
        // File systems and binds first, then loop devices, then rbd-fuse: each layer is only
        // free once the one above it is gone. Lazy unmount only as the last resort.
        for mount in mounts() {
            let _ = std::process::Command::new("umount").arg(&mount).status();
        }
        if let Ok(out) = std::process::Command::new("losetup").arg("-a").output() {
            for line in String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains(&root))
            {
                if let Some(dev) = line.split(':').next() {
                    let _ = std::process::Command::new("losetup")
                        .args(["-d", dev])
                        .status();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for mount in mounts() {
            let _ = std::process::Command::new("umount").arg(&mount).status();
        }
        for mount in mounts() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&mount)
                .status();
        }
        let rbd = |args: &[&str]| {
            std::process::Command::new("timeout")
                .arg("60")
                .arg("rbd")
                .args(args)
                .env("CEPH_CONF", &self.bed.conf_path)
                .output()
        };
        let spec = format!("{}/{}", self.bed.pool, self.namespace);
        if let Ok(out) = rbd(&["ls", &spec]) {
            // Children before parents: remove clones first by retrying a few rounds.
            for _ in 0..3 {
                for image in String::from_utf8_lossy(&out.stdout).lines() {
                    let image = format!("{spec}/{image}");
                    let _ = rbd(&["snap", "purge", "--no-progress", &image]);
                    let _ = rbd(&["rm", "--no-progress", &image]);
                }
            }
        }
        let _ = rbd(&["namespace", "remove", &spec]);
    }
}

/// What every harness has before its plugin runs: the test's directory, RADOS namespace and
/// cluster config.
struct Setup {
    bed: &'static Bed,
    dir: tempfile::TempDir,
    root: PathBuf,
    namespace: String,
}

impl Setup {
    async fn new(prefix: &str, prepare: impl FnOnce(&Path)) -> Self {
        let bed = Bed::get();
        let namespace = bed.unique_name(prefix);
        bed.cli(
            "rbd",
            &["namespace", "create", &format!("{}/{namespace}", bed.pool)],
        );
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        prepare(&root);
        let config = serde_json::json!([
            {"clusterID": CLUSTER_ID, "monitors": [bed.monitors], "rbd": {"radosNamespace": namespace}},
            {"clusterID": DEAD_CLUSTER_ID, "monitors": ["127.0.0.1:1"]}
        ]);
        std::fs::write(root.join("config.json"), config.to_string()).unwrap();
        Self {
            bed,
            dir,
            root,
            namespace,
        }
    }

    fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    fn csi_socket(&self) -> PathBuf {
        self.root.join("plugin/csi.sock")
    }

    fn registration_socket(&self) -> PathBuf {
        self.root.join(format!("registry/{DRIVER}-reg.sock"))
    }

    fn into_harness(self, channel: Channel, plugin: Plugin) -> Harness {
        Harness {
            csi_socket: self.csi_socket(),
            registration_socket: self.registration_socket(),
            bed: self.bed,
            dir: self.dir,
            root: self.root,
            namespace: self.namespace,
            node: NodeClient::new(channel.clone()),
            identity: IdentityClient::new(channel),
            plugin,
        }
    }
}

/// Starts the `sepia-node` binary (this package's) with `args`, logging to
/// `<root>/sepia-node-<start>.log`.
fn spawn_plugin(root: &Path, args: &[String], start: u32) -> Process {
    Process::spawn(
        &format!("sepia-node-{start}"),
        Path::new(env!("CARGO_BIN_EXE_sepia-node")),
        args,
        root,
    )
}

/// A channel to the plugin's socket at `socket`, once it answers (the file appears at bind,
/// a moment before the listener accepts).
pub async fn connect(socket: &Path) -> Channel {
    let endpoint = format!("unix://{}", socket.display());
    for _ in 0..100 {
        if socket.exists()
            && let Ok(channel) = csi::client::connect(&endpoint, Duration::from_secs(5)).await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the node plugin did not start serving on {}",
        socket.display()
    );
}

/// The usage `stats` reports in `unit`.
pub fn usage(stats: &NodeGetVolumeStatsResponse, unit: volume_usage::Unit) -> &VolumeUsage {
    stats
        .usage
        .iter()
        .find(|u| u.unit == unit as i32)
        .unwrap_or_else(|| panic!("no {unit:?} usage in {stats:?}"))
}

/// Pids of rbd-fuse processes whose command line mentions `root`.
pub fn rbd_fuse_processes(root: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("rbd-fuse\0") && cmdline.contains(root)
        })
        .collect()
}

pub fn mount_capability(fs_type: &str, mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume {
            fs_type: fs_type.into(),
            mount_flags: vec![],
            volume_mount_group: String::new(),
        })),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

pub fn block_capability(mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Block(BlockVolume {})),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

/// Total bytes of the file system holding `path`.
pub fn fs_size(path: &Path) -> u64 {
    let s = rustix::fs::statvfs(path).unwrap();
    s.f_blocks * s.f_frsize
}

/// Writes `data` to `path` and makes it durable (file and directory fsync).
pub fn write_durably(path: &Path, data: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
    std::fs::File::open(path.parent().unwrap())
        .unwrap()
        .sync_all()
        .unwrap();
}

/// A digest of everything below `path` (names, kinds, contents, symlink targets), to prove a
/// foreign directory or mount was not changed.
pub fn tree_digest(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    fn walk(base: &Path, dir: &Path, hasher: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            let meta = std::fs::symlink_metadata(&entry).unwrap();
            hasher.update(
                entry
                    .strip_prefix(base)
                    .unwrap()
                    .as_os_str()
                    .as_encoded_bytes(),
            );
            if meta.file_type().is_symlink() {
                hasher.update(b"L");
                hasher.update(
                    std::fs::read_link(&entry)
                        .unwrap()
                        .as_os_str()
                        .as_encoded_bytes(),
                );
            } else if meta.is_dir() {
                hasher.update(b"D");
                walk(base, &entry, hasher);
            } else {
                hasher.update(b"F");
                hasher.update(std::fs::read(&entry).unwrap());
            }
        }
    }
    let mut hasher = Sha256::new();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        walk(path, path, &mut hasher);
    } else {
        hasher.update(std::fs::read(path).unwrap());
    }
    hex::encode(hasher.finalize())
}

/// Mounts a small tmpfs at `dir` (made if missing) holding one file: someone else's mount.
pub fn mount_foreign_tmpfs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "foreign"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount tmpfs at {}", dir.display());
    std::fs::write(dir.join("precious.txt"), b"not the plugin's").unwrap();
}

/// Whether `path` is a mount point now.
pub fn is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| Path::new(m) == path)
}

/// Unmounts what a test mounted itself.
pub fn unmount(path: &Path) {
    let ok = std::process::Command::new("umount")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "umount {}", path.display());
}
