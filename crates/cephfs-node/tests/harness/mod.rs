//! A real CephFS node plugin for one test: its own temp directory (state dir, sockets,
//! kubelet-style staging and target paths), its own subvolumes on the bed's file system, the
//! gRPC server in-process or as the real binary, and generated clients talking to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cephfs_node::driver::CephfsNode;
use cephfs_node::mounter::{MounterChoice, Support};
use cephfs_node::server::{ServeOptions, serve};
use cephfs_node::settings::{CephfsNodeSettings, Deadlines};
use cluster_config::ClusterConfigWatcher;
use csi::v1::node_client::NodeClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::*;
use node::NodeError;
use sepia_testbed::Bed;
use sepia_testbed::process::{Process, workspace_binary};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const CLUSTER_ID: &str = "bed";
pub const DRIVER: &str = "cephfs.csi.sepia.io";
/// The subvolume group the tests' subvolumes live in (created when missing).
pub const GROUP: &str = "sepia-node-tests";
pub const GIB: u64 = 1 << 30;

enum Server {
    InProcess {
        shutdown: CancellationToken,
        task: JoinHandle<Result<(), NodeError>>,
    },
    Binary(Box<Process>),
}

pub struct Harness {
    pub bed: &'static Bed,
    pub dir: tempfile::TempDir,
    /// Canonical form of `dir` (what mountinfo shows).
    pub root: PathBuf,
    pub node: NodeClient<Channel>,
    pub deadlines: Deadlines,
    server: Option<Server>,
    subvolumes: Vec<String>,
}

impl Harness {
    /// The plugin served in this test process.
    pub async fn start(deadlines: Deadlines) -> Self {
        let mut h = Self::prepare(deadlines);
        h.serve_in_process().await;
        h
    }

    /// The plugin as its own process (`sepia-cephfs-node`), so it can be killed.
    pub async fn start_binary(deadlines: Deadlines) -> Self {
        let mut h = Self::prepare(deadlines);
        h.serve_binary().await;
        h
    }

    fn prepare(deadlines: Deadlines) -> Self {
        // The plugin's log, with RUST_LOG set, for a failing or slow test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let bed = Bed::get();
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let config = serde_json::json!([
            {"clusterID": CLUSTER_ID, "monitors": [bed.monitors]},
        ]);
        std::fs::write(root.join("config.json"), config.to_string()).unwrap();
        ensure_group(bed);
        // A placeholder until a server is started.
        let node = NodeClient::new(Channel::from_static("http://[::1]:1").connect_lazy());
        Self {
            bed,
            dir,
            root,
            node,
            deadlines,
            server: None,
            subvolumes: Vec::new(),
        }
    }

    fn csi_socket(&self) -> PathBuf {
        self.root.join("plugin/csi.sock")
    }

    async fn serve_in_process(&mut self) {
        let clusters =
            ClusterConfigWatcher::start(self.root.join("config.json"), Duration::from_secs(1))
                .await;
        assert_eq!(clusters.last_error(), None);
        let settings = CephfsNodeSettings {
            node_id: "node-under-test".into(),
            driver_name: DRIVER.into(),
            state_dir: self.root.join("state"),
            kubelet_root: self.root.join("kubelet"),
            ceph_conf: None,
            mounter: MounterChoice::Fuse,
            max_volumes_per_node: 0,
            deadlines: self.deadlines.clone(),
        };
        let node = Arc::new(CephfsNode::new(settings, clusters, Support::detect()));
        let options = ServeOptions {
            csi_endpoint: format!("unix://{}", self.csi_socket().display()),
            registration_socket: None,
            kubelet_endpoint: format!("/var/lib/kubelet/plugins/{DRIVER}/csi.sock"),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(node, options, shutdown.clone()));
        self.server = Some(Server::InProcess { shutdown, task });
        self.node = NodeClient::new(connect(&self.csi_socket()).await);
    }

    /// Starts the binary on this harness's directories (again, after a kill).
    pub async fn serve_binary(&mut self) {
        let secs = |d: Duration| format!("{}ms", d.as_millis());
        let args: Vec<String> = [
            "--endpoint".to_string(),
            format!("unix://{}", self.csi_socket().display()),
            "--node-id".into(),
            "node-under-test".into(),
            "--cluster-config".into(),
            self.root.join("config.json").display().to_string(),
            "--no-kubelet-registration".into(),
            "--kubelet-root".into(),
            self.root.join("kubelet").display().to_string(),
            "--state-dir".into(),
            self.root.join("state").display().to_string(),
            "--mounter".into(),
            "fuse".into(),
            "--mount-timeout".into(),
            secs(self.deadlines.mount),
            "--connect-timeout".into(),
            secs(self.deadlines.connect),
            "--unmount-timeout".into(),
            secs(self.deadlines.unmount),
            "--command-timeout".into(),
            secs(self.deadlines.command),
            "--probe-timeout".into(),
            secs(self.deadlines.probe),
        ]
        .into();
        let binary = workspace_binary("sepia-cephfs-node");
        let process = Process::spawn("sepia-cephfs-node", &binary, &args, &self.root);
        self.server = Some(Server::Binary(Box::new(process)));
        self.node = NodeClient::new(connect(&self.csi_socket()).await);
    }

    /// SIGKILL to the plugin process: no clean-up of any kind.
    pub async fn kill_binary(&mut self) {
        match self.server.take() {
            Some(Server::Binary(mut process)) => process.kill().await,
            _ => panic!("the plugin is not running as a process"),
        }
        // The dead plugin's socket file stays behind, as after a real crash.
        assert!(self.csi_socket().exists());
    }

    /// A new subvolume of `GIB` in [`GROUP`]; removed when the harness is dropped.
    pub fn create_subvolume(&mut self, prefix: &str) -> Volume {
        let name = self.bed.unique_name(&format!("cephfsn-{prefix}"));
        let size = GIB.to_string();
        self.bed.cli(
            "ceph",
            &[
                "fs",
                "subvolume",
                "create",
                &self.bed.fs,
                &name,
                "--group_name",
                GROUP,
                "--size",
                &size,
            ],
        );
        self.subvolumes.push(name.clone());
        let path = self
            .bed
            .cli(
                "ceph",
                &[
                    "fs",
                    "subvolume",
                    "getpath",
                    &self.bed.fs,
                    &name,
                    "--group_name",
                    GROUP,
                ],
            )
            .trim()
            .to_string();
        Volume {
            id: format!("0001-0003-{CLUSTER_ID}-0000000000000001-{name}"),
            name,
            path,
        }
    }

    /// What the controller returns as volume context.
    pub fn volume_context(&self, volume: &Volume) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".into(), CLUSTER_ID.into()),
            ("fsName".into(), self.bed.fs.clone()),
            ("subvolumeName".into(), volume.name.clone()),
            ("subvolumePath".into(), volume.path.clone()),
            ("mounter".into(), "fuse".into()),
        ])
    }

    /// What kubelet passes from the node-stage secret.
    pub fn secrets(&self) -> HashMap<String, String> {
        HashMap::from([
            ("userID".into(), self.bed.user.clone()),
            ("userKey".into(), self.bed.key.clone()),
        ])
    }

    pub fn kubelet_root(&self) -> PathBuf {
        self.root.join("kubelet")
    }

    /// kubelet's layout: `.../plugins/kubernetes.io/csi/<driver>/<hash>/globalmount`.
    pub fn staging_path(&self, volume: &Volume) -> PathBuf {
        self.root.join(format!(
            "kubelet/plugins/kubernetes.io/csi/{DRIVER}/{}/globalmount",
            volume.name
        ))
    }

    /// Where the subvolume is mounted: `<staging>/<volume-id>`.
    pub fn staged_mount(&self, volume: &Volume) -> PathBuf {
        self.staging_path(volume).join(&volume.id)
    }

    /// kubelet's layout: `.../pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount`.
    pub fn target_path(&self, volume: &Volume, pod: &str) -> PathBuf {
        self.root.join(format!(
            "kubelet/pods/{pod}/volumes/kubernetes.io~csi/{}/mount",
            volume.name
        ))
    }

    pub fn stage_request(&self, volume: &Volume, mode: Mode) -> NodeStageVolumeRequest {
        NodeStageVolumeRequest {
            volume_id: volume.id.clone(),
            publish_context: HashMap::new(),
            staging_target_path: self.staging_path(volume).display().to_string(),
            volume_capability: Some(mount_capability(mode)),
            secrets: self.secrets(),
            volume_context: self.volume_context(volume),
        }
    }

    pub fn publish_request(
        &self,
        volume: &Volume,
        pod: &str,
        readonly: bool,
    ) -> NodePublishVolumeRequest {
        NodePublishVolumeRequest {
            volume_id: volume.id.clone(),
            publish_context: HashMap::new(),
            staging_target_path: self.staging_path(volume).display().to_string(),
            target_path: self.target_path(volume, pod).display().to_string(),
            volume_capability: Some(mount_capability(Mode::MultiNodeMultiWriter)),
            readonly,
            secrets: HashMap::new(),
            volume_context: self.volume_context(volume),
        }
    }

    pub async fn stage(&mut self, volume: &Volume) -> Result<(), tonic::Status> {
        let request = self.stage_request(volume, Mode::MultiNodeMultiWriter);
        self.node.node_stage_volume(request).await.map(drop)
    }

    pub async fn unstage(&mut self, volume: &Volume) -> Result<(), tonic::Status> {
        let request = NodeUnstageVolumeRequest {
            volume_id: volume.id.clone(),
            staging_target_path: self.staging_path(volume).display().to_string(),
        };
        self.node.node_unstage_volume(request).await.map(drop)
    }

    pub async fn publish(
        &mut self,
        volume: &Volume,
        pod: &str,
        readonly: bool,
    ) -> Result<(), tonic::Status> {
        let request = self.publish_request(volume, pod, readonly);
        self.node.node_publish_volume(request).await.map(drop)
    }

    pub async fn unpublish(&mut self, volume: &Volume, pod: &str) -> Result<(), tonic::Status> {
        let request = NodeUnpublishVolumeRequest {
            volume_id: volume.id.clone(),
            target_path: self.target_path(volume, pod).display().to_string(),
        };
        self.node.node_unpublish_volume(request).await.map(drop)
    }

    pub async fn stats(
        &mut self,
        volume: &Volume,
        path: &Path,
    ) -> Result<NodeGetVolumeStatsResponse, tonic::Status> {
        let request = NodeGetVolumeStatsRequest {
            volume_id: volume.id.clone(),
            volume_path: path.display().to_string(),
            staging_target_path: String::new(),
        };
        self.node
            .node_get_volume_stats(request)
            .await
            .map(|r| r.into_inner())
    }

    /// Everything this harness could have left on the node: mounts under its directory and
    /// ceph-fuse processes serving them, key files. Empty means clean.
    pub fn leftovers(&self) -> Vec<String> {
        let root = self.root.display().to_string();
        let mut found: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(|l| format!("mount: {l}"))
            .collect();
        found.extend(
            ceph_fuse_processes(&root)
                .into_iter()
                .map(|(pid, _)| format!("ceph-fuse pid {pid}")),
        );
        found.extend(
            files_under(&self.root.join("state/keys"))
                .into_iter()
                .map(|f| format!("key file: {f}")),
        );
        found.extend(
            files_under(&self.root.join("state/stages"))
                .into_iter()
                .map(|f| format!("stage record: {f}")),
        );
        found
    }

    /// Asserts nothing is left, giving exiting ceph-fuse daemons a bounded moment to go.
    pub async fn assert_clean(&self) {
        for _ in 0..100 {
            if self.leftovers().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("left behind on the node: {:#?}", self.leftovers());
    }

    /// Evicts the MDS sessions of ceph-fuse clients that served `mount_point`, the way an
    /// operator fences a dead client: a killed ceph-fuse's session would hold its caps (and
    /// block other clients' access to the files it wrote) until the MDS times it out.
    pub fn evict_clients_of(&self, mount_point: &Path) {
        let wanted = mount_point.display().to_string();
        self.evict_sessions(|m| m == wanted);
    }

    /// Evicts every MDS session whose client mount point `matches`; best effort (also run
    /// from `Drop`): a dead client's session would make removing the subvolume wait for the
    /// MDS to time it out.
    fn evict_sessions(&self, matches: impl Fn(&str) -> bool) {
        let mds = format!("mds.{}:0", self.bed.fs);
        let ceph = |args: &[&str]| {
            std::process::Command::new("timeout")
                .arg("60")
                .arg("ceph")
                .args(args)
                .env("CEPH_CONF", &self.bed.conf_path)
                .output()
                .ok()
        };
        let Some(out) = ceph(&["tell", &mds, "session", "ls", "--format", "json"]) else {
            return;
        };
        let Ok(sessions) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return;
        };
        for session in sessions.as_array().into_iter().flatten() {
            let mount_point = session["client_metadata"]["mount_point"].as_str();
            if mount_point.is_some_and(&matches) {
                let id = format!("id={}", session["id"]);
                let _ = ceph(&["tell", &mds, "client", "evict", &id]);
            }
        }
    }

    /// Reads `file` of `volume` through a ceph-fuse mount of the test's own (the bed's admin
    /// through its ceph.conf), independent of the plugin.
    pub fn read_independently(&self, volume: &Volume, file: &str) -> String {
        let dir = self.root.join("independent");
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("timeout")
            .arg("60")
            .arg("ceph-fuse")
            .arg(&dir)
            .args(["-c"])
            .arg(&self.bed.conf_path)
            .args([
                "-n",
                &format!("client.{}", self.bed.user),
                "-r",
                &volume.path,
            ])
            .arg(format!("--client_fs={}", self.bed.fs))
            .output()
            .unwrap();
        assert!(status.status.success(), "independent ceph-fuse: {status:?}");
        let content = std::fs::read_to_string(dir.join(file));
        let _ = std::process::Command::new("umount").arg(&dir).status();
        content.unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        match self.server.take() {
            Some(Server::InProcess { shutdown, .. }) => shutdown.cancel(),
            Some(Server::Binary(mut process)) => process.sigkill(),
            None => {}
        }
        // Best-effort clean-up of a failed test; never panics.
        let root = self.root.display().to_string();
        for (pid, state) in ceph_fuse_processes(&root) {
            if state == 'T' {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        sepia_testbed::mounts::unmount_under(&self.root, false);
        sepia_testbed::mounts::unmount_under(&self.root, true);
        for (pid, _) in ceph_fuse_processes(&root) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        self.evict_sessions(|m| m.starts_with(&root));
        for name in &self.subvolumes {
            let _ = std::process::Command::new("timeout")
                .args([
                    "60",
                    "ceph",
                    "fs",
                    "subvolume",
                    "rm",
                    &self.bed.fs,
                    name,
                    "--group_name",
                    GROUP,
                    "--force",
                ])
                .env("CEPH_CONF", &self.bed.conf_path)
                .output();
        }
    }
}

/// Creates [`GROUP`] once per test process. The mgr's volumes module can refuse a create
/// racing another (tests in parallel processes), so a failure is retried until the group is
/// seen.
fn ensure_group(bed: &Bed) {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let ceph = |args: &[&str]| {
            std::process::Command::new("timeout")
                .arg("60")
                .arg("ceph")
                .args(args)
                .env("CEPH_CONF", &bed.conf_path)
                .output()
                .unwrap()
        };
        for _ in 0..20 {
            if ceph(&["fs", "subvolumegroup", "create", &bed.fs, GROUP])
                .status
                .success()
                || ceph(&["fs", "subvolumegroup", "getpath", &bed.fs, GROUP])
                    .status
                    .success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("subvolume group {GROUP} could not be created");
    });
}

/// One subvolume made for a test.
#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: String,
    /// `fs subvolume getpath`.
    pub path: String,
}

async fn connect(socket: &Path) -> Channel {
    let endpoint = format!("unix://{}", socket.display());
    for _ in 0..200 {
        if socket.exists()
            && let Ok(channel) = csi::client::connect(&endpoint, Duration::from_secs(5)).await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the plugin did not start serving on {}", socket.display());
}

/// Pid and state of every ceph-fuse whose command line mentions `root`.
pub fn ceph_fuse_processes(root: &str) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.starts_with("ceph-fuse\0") || !cmdline.contains(root) {
            continue;
        }
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.trim_start().chars().next())
            })
            .unwrap_or('?');
        found.push((pid, state));
    }
    found
}

/// The raw command line (NUL-separated) of `pid`.
pub fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).into_owned()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
            found.push(path.display().to_string());
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

pub fn mount_capability(mode: Mode) -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume {
            fs_type: String::new(),
            mount_flags: Vec::new(),
            volume_mount_group: String::new(),
        })),
        access_mode: Some(AccessMode { mode: mode as i32 }),
    }
}

/// Test deadlines: short enough that a wrong key fails fast, long enough for a loaded bed.
pub fn deadlines() -> Deadlines {
    Deadlines {
        mount: Duration::from_secs(60),
        connect: Duration::from_secs(10),
        unmount: Duration::from_secs(30),
        command: Duration::from_secs(30),
        probe: Duration::from_secs(5),
    }
}

pub fn is_mounted(path: &Path) -> bool {
    let path = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path.as_str()))
}
