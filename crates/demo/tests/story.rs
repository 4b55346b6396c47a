//! The whole demo against the real controllers and node plugins, RBD's and CephFS's (all
//! started in-process on sockets of their own, configured like `scripts/demo.sh` configures
//! the binaries) and the real bed: every step must succeed, the demo's RBD namespace and
//! CephFS subvolume group must be gone afterwards, and nothing of the demo may be left
//! mounted or mapped on this machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ceph::{Cluster, Credentials, Timeouts, rbd};
use cephfs_node::driver::CephfsNode;
use cephfs_node::mounter::MounterChoice;
use cephfs_node::settings::CephfsNodeSettings;
use clap::Parser as _;
use cluster_config::ClusterConfigWatcher;
use controller::{Settings, State};
use node::driver::NodeDriver;
use node::error::NodeError;
use node::mapper::Support;
use node::mapper_kind::MapperChoice;
use node::registration::node_registry::{NodeRegistrar, RegistrarSettings};
use node::server::{ServeOptions, serve};
use node::settings::{Deadlines, NodeSettings};
use sepia_testbed::Bed;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const DRIVER: &str = "rbd.csi.sepia.io";
const CEPHFS_DRIVER: &str = "cephfs.csi.sepia.io";
const NODE_ID: &str = "demo-test-node";

/// Both plugins of one test, in a private directory: the controller serving
/// `unix://<dir>/csi.sock`, the node plugin `unix://<dir>/node/csi.sock` with its state dir
/// and kubelet registration below `dir`, for cluster `demo` in RBD namespace `namespace`.
struct Plugins {
    root: PathBuf,
    controller_endpoint: String,
    node_endpoint: String,
    kubelet_dir: PathBuf,
    cephfs_endpoint: String,
    cephfs_node_endpoint: String,
    _stop_controller: tokio::sync::oneshot::Sender<()>,
    _stop_cephfs_controller: tokio::sync::oneshot::Sender<()>,
    node_shutdown: CancellationToken,
    node_server: Option<JoinHandle<Result<(), NodeError>>>,
    cephfs_node_server: Option<JoinHandle<Result<(), NodeError>>>,
}

impl Plugins {
    /// With `register`, the node plugin registers once in RADOS (in the demo's namespace, so
    /// ControllerPublish accepts it), from credential files as `scripts/demo.sh` writes them.
    async fn start(dir: &Path, namespace: &str, register: bool) -> Plugins {
        let bed = Bed::get();
        let root = std::fs::canonicalize(dir).unwrap();
        let monitors: Vec<&str> = bed.monitors.split(',').collect();
        let config = root.join("config.json");
        let clusters = serde_json::json!([
            {
                "clusterID": "demo",
                "monitors": monitors,
                "rbd": {"radosNamespace": namespace},
                "cephFS": {"subvolumeGroup": namespace, "radosNamespace": namespace},
            }
        ]);
        std::fs::write(&config, clusters.to_string()).unwrap();

        let watcher = ClusterConfigWatcher::start(&config, Duration::from_secs(1)).await;
        let state = State::new(Settings::default(), watcher.clone());
        let cephfs_watcher = watcher.clone();
        let controller_endpoint = format!("unix://{}", root.join("csi.sock").display());
        let incoming = csi::server::bind(&controller_endpoint).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(controller::server::serve(state, incoming, async {
            let _ = stopped.await;
        }));

        let settings = NodeSettings {
            node_id: NODE_ID.into(),
            driver_name: DRIVER.into(),
            state_dir: root.join("node-state"),
            kubelet_root: root.join("kubelet"),
            ceph_conf: None,
            mapper: MapperChoice::Auto,
            max_volumes_per_node: 0,
            deadlines: Deadlines::default(),
        };
        let driver = Arc::new(NodeDriver::new(
            settings,
            watcher.clone(),
            Support::detect(),
        ));
        let node_socket = root.join("node/csi.sock");
        let node_endpoint = format!("unix://{}", node_socket.display());
        let node_shutdown = CancellationToken::new();
        if register {
            let credentials = root.join("node-credentials");
            std::fs::create_dir(&credentials).unwrap();
            std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o700)).unwrap();
            for (name, value) in [("userID", &bed.user), ("userKey", &bed.key)] {
                let file = credentials.join(name);
                std::fs::write(&file, value).unwrap();
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            let registrar = NodeRegistrar::new(
                RegistrarSettings {
                    node_id: NODE_ID.into(),
                    driver_name: DRIVER.into(),
                    instance_id: "default".into(),
                    credentials_dir: credentials,
                    interval: Duration::from_secs(24 * 3600),
                },
                watcher,
            );
            tokio::spawn(registrar.run(node_shutdown.clone()));
        }
        let options = ServeOptions {
            csi_endpoint: node_endpoint.clone(),
            registration_socket: Some(root.join(format!("registry/{DRIVER}-reg.sock"))),
            kubelet_endpoint: node_socket.display().to_string(),
        };
        let node_server = tokio::spawn(serve(driver, options, node_shutdown.clone()));
        for _ in 0..100 {
            if node_socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            node_socket.exists(),
            "the node plugin did not start serving"
        );

        // The CephFS controller and node plugin, as `scripts/demo.sh` starts them.
        let cephfs_state = State::new(
            Settings {
                driver_name: CEPHFS_DRIVER.into(),
                ..Settings::default()
            },
            cephfs_watcher.clone(),
        );
        let cephfs_endpoint = format!("unix://{}", root.join("cephfs.sock").display());
        let incoming = csi::server::bind(&cephfs_endpoint).await.unwrap();
        let (stop_cephfs, cephfs_stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(cephfs_controller::server::serve(
            cephfs_controller::Driver::new(cephfs_state),
            incoming,
            async {
                let _ = cephfs_stopped.await;
            },
        ));
        let cephfs_node = Arc::new(CephfsNode::new(
            CephfsNodeSettings {
                node_id: NODE_ID.into(),
                driver_name: CEPHFS_DRIVER.into(),
                state_dir: root.join("cephfs-node-state"),
                kubelet_root: root.join("kubelet"),
                ceph_conf: None,
                mounter: MounterChoice::Fuse,
                max_volumes_per_node: 0,
                deadlines: cephfs_node::settings::Deadlines::default(),
            },
            cephfs_watcher,
            cephfs_node::mounter::Support::detect(),
        ));
        let cephfs_node_socket = root.join("cephfs-node/csi.sock");
        let cephfs_node_endpoint = format!("unix://{}", cephfs_node_socket.display());
        let cephfs_node_server = tokio::spawn(cephfs_node::server::serve(
            cephfs_node,
            cephfs_node::server::ServeOptions {
                csi_endpoint: cephfs_node_endpoint.clone(),
                registration_socket: None,
                kubelet_endpoint: cephfs_node_socket.display().to_string(),
            },
            node_shutdown.clone(),
        ));
        for _ in 0..100 {
            if cephfs_node_socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            cephfs_node_socket.exists(),
            "the CephFS node plugin did not start serving"
        );
        Plugins {
            cephfs_endpoint,
            cephfs_node_endpoint,
            _stop_cephfs_controller: stop_cephfs,
            cephfs_node_server: Some(cephfs_node_server),
            kubelet_dir: root.join("kubelet"),
            root,
            controller_endpoint,
            node_endpoint,
            _stop_controller: stop,
            node_shutdown,
            node_server: Some(node_server),
        }
    }

    fn options(&self, namespace: &str) -> demo::Options {
        let bed = Bed::get();
        demo::Options::try_parse_from([
            "sepia-demo",
            "--endpoint",
            &self.controller_endpoint,
            "--node-endpoint",
            &self.node_endpoint,
            "--node-id",
            NODE_ID,
            "--kubelet-dir",
            self.kubelet_dir.to_str().unwrap(),
            "--cluster-id",
            "demo",
            "--pool",
            &bed.pool,
            "--namespace",
            namespace,
            "--purge-timeout",
            "300s",
            "--cephfs-endpoint",
            &self.cephfs_endpoint,
            "--cephfs-node-endpoint",
            &self.cephfs_node_endpoint,
            "--fs-name",
            &bed.fs,
            "--subvolume-group",
            namespace,
        ])
        .unwrap()
    }

    async fn stop_node(&mut self) {
        self.node_shutdown.cancel();
        for server in [self.node_server.take(), self.cephfs_node_server.take()]
            .into_iter()
            .flatten()
        {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("a node plugin did not stop within 30 s")
                .unwrap()
                .unwrap();
        }
    }

    /// Mounts under this test's directory and loop devices over files below it. Never
    /// panics: [`Drop`] uses it too.
    fn leftovers(&self) -> Vec<String> {
        let root = self.root.display().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo");
        let mut found: Vec<String> = match &mountinfo {
            Ok(text) => text
                .lines()
                .filter(|l| l.contains(&root))
                .map(|l| format!("mount: {l}"))
                .collect(),
            Err(e) => vec![format!("unreadable mountinfo: {e}")],
        };
        let devices = std::fs::read_dir("/sys/block").into_iter().flatten();
        for entry in devices.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let backing = Path::new("/sys/block")
                .join(&name)
                .join("loop/backing_file");
            if let Ok(file) = std::fs::read_to_string(backing)
                && file.contains(&root)
            {
                found.push(format!("loop: {name} over {}", file.trim()));
            }
        }
        found
    }
}

impl Drop for Plugins {
    /// Best effort after a failed test, so it does not leave mounts on a shared machine:
    /// innermost mounts first, then loop devices, then the rbd-fuse mounts they sat on.
    fn drop(&mut self) {
        self.node_shutdown.cancel();
        for _ in 0..2 {
            sepia_testbed::mounts::unmount_under(&self.root, false);
            for line in self
                .leftovers()
                .iter()
                .filter_map(|l| l.strip_prefix("loop: "))
            {
                if let Some(name) = line.split(' ').next() {
                    let _ = std::process::Command::new("losetup")
                        .args(["-d", &format!("/dev/{name}")])
                        .status();
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_walks_the_whole_story_and_leaves_nothing() {
    let bed = Bed::get();
    let dir = tempfile::tempdir().unwrap();
    let namespace = bed.unique_name("demo-test");
    let mut plugins = Plugins::start(dir.path(), &namespace, true).await;

    let succeeded = demo::run(&plugins.options(&namespace)).await.unwrap();
    assert!(succeeded, "a step failed; the story above says which");
    plugins.stop_node().await;

    assert_eq!(plugins.leftovers(), Vec::<String>::new());
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let namespaces = rbd::namespace_list(&pool_io).await.unwrap();
    assert!(!namespaces.contains(&namespace), "{namespaces:?}");
    // Not even the node plugin's registration record is left.
    let io = cluster.ioctx(&bed.pool, &namespace).await.unwrap();
    assert_eq!(io.list_objects().await.unwrap(), Vec::<String>::new());
    // Nor the CephFS subvolume group, nor any object of the CephFS journal's namespace.
    let groups = cluster
        .mgr_command(serde_json::json!({
            "prefix": "fs subvolumegroup ls", "vol_name": bed.fs, "format": "json",
        }))
        .await
        .unwrap();
    let groups: Vec<serde_json::Value> = groups.json().unwrap();
    assert!(
        groups.iter().all(|g| g["name"] != namespace.as_str()),
        "{groups:?}"
    );
    let journal = cluster.ioctx("cephfs_metadata", &namespace).await.unwrap();
    assert_eq!(journal.list_objects().await.unwrap(), Vec::<String>::new());
    // No ceph-fuse of the demo is still running.
    let root = plugins.root.display().to_string();
    let daemons: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("ceph-fuse") && c.contains(&root))
        .collect();
    assert_eq!(daemons, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_namespace_that_already_exists() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let namespace = bed.unique_name("demo-taken");
    rbd::namespace_create(&pool_io, &namespace).await.unwrap();
    let io = cluster.ioctx(&bed.pool, &namespace).await.unwrap();
    io.write_full("someone-elses-object", b"data")
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut plugins = Plugins::start(dir.path(), &namespace, false).await;
    let succeeded = demo::run(&plugins.options(&namespace)).await.unwrap();
    plugins.stop_node().await;

    // The demo stops at its second step and touches nothing of what was there.
    let kept = io.read_full("someone-elses-object").await;
    io.remove("someone-elses-object").await.unwrap();
    rbd::namespace_remove(&pool_io, &namespace).await.unwrap();
    assert!(!succeeded);
    assert_eq!(kept.unwrap(), b"data");
}
