//! Real parts for one test: the API stand-in, a `sepia-controller` child process on its own
//! socket and RADOS namespace of the bed, a nats-server of its own, and sidecar child
//! processes talking to them through a kubeconfig — the test plays kubelet and
//! kube-controller-manager by writing objects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{CapacityRange, CreateVolumeRequest, DeleteVolumeRequest, VolumeCapability};
use kube_standin::{Gvr, StandIn};
use sepia_testbed::Bed;
use serde_json::{Value, json};
use tempfile::TempDir;
use tonic::transport::Channel;

pub const DRIVER: &str = "rbd.csi.sepia.io";
pub const CLUSTER_ID: &str = "bed";
pub const SECRET: &str = "ceph-secret";
pub const GI: u64 = 1 << 30;

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Process {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, program: &Path, args: &[String], dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Self {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A binary of another workspace package, built by `cargo build -p <package>` beforehand.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cargo build -p {name} failed");
    }
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nats-server with JetStream on a free loopback port, its store in a temp dir.
pub struct Nats {
    pub url: String,
    _process: Process,
    _store: TempDir,
}

impl Nats {
    pub async fn start(dir: &Path) -> Self {
        let port = free_port();
        let store = tempfile::tempdir().unwrap();
        let process = Process::spawn(
            "nats-server",
            Path::new("nats-server"),
            &[
                "-js".into(),
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-sd".into(),
                store.path().display().to_string(),
            ],
            dir,
        );
        wait_tcp(port).await;
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            _process: process,
            _store: store,
        }
    }

    /// Subjects of every message the SEPIA stream holds under `filter`.
    pub async fn subjects(&self, filter: &str) -> Vec<Value> {
        use async_nats::jetstream::{self, consumer};
        use futures::StreamExt;
        let client = async_nats::connect(&self.url).await.unwrap();
        let js = jetstream::new(client);
        let Ok(mut stream) = js.get_stream("SEPIA").await else {
            return Vec::new();
        };
        let total = stream.info().await.unwrap().state.messages;
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                filter_subject: filter.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap();
        let pending = consumer.cached_info().num_pending.min(total);
        let mut messages = consumer.messages().await.unwrap();
        let mut out = Vec::new();
        while (out.len() as u64) < pending {
            let m = tokio::time::timeout(Duration::from_secs(30), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let mut event: Value = serde_json::from_slice(&m.payload).unwrap();
            event["subject"] = json!(m.subject.to_string());
            out.push(event);
        }
        out
    }
}

pub async fn wait_tcp(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port} after 20 s");
}

/// `GET path` on 127.0.0.1:port; the body.
pub async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The bed's Ceph behind a real `sepia-controller`, in a RADOS namespace of this test.
pub struct Ceph {
    pub bed: &'static Bed,
    pub namespace: String,
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub socket: PathBuf,
    pub controller: ControllerClient<Channel>,
    _process: Process,
}

impl Ceph {
    pub async fn start(prefix: &str) -> Self {
        let bed = Bed::get();
        let namespace = bed.unique_name(prefix);
        bed.cli(
            "rbd",
            &["namespace", "create", &format!("{}/{namespace}", bed.pool)],
        );
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        std::fs::write(
            &config_path,
            json!([{"clusterID": CLUSTER_ID, "monitors": [bed.monitors], "rbd": {"radosNamespace": namespace}}])
                .to_string(),
        )
        .unwrap();
        let socket = dir.path().join("controller.sock");
        let process = Process::spawn(
            "sepia-controller",
            &workspace_binary("sepia-controller"),
            &[
                format!("--endpoint=unix://{}", socket.display()),
                format!("--driver-name={DRIVER}"),
                format!("--cluster-config={}", config_path.display()),
            ],
            dir.path(),
        );
        let mut channel = None;
        for _ in 0..300 {
            if socket.exists()
                && let Ok(c) = csi::client::connect(
                    &format!("unix://{}", socket.display()),
                    Duration::from_secs(5),
                )
                .await
            {
                channel = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let channel =
            channel.unwrap_or_else(|| panic!("controller did not serve:\n{}", process.log_tail()));
        Self {
            bed,
            namespace,
            controller: ControllerClient::new(channel),
            config_path,
            socket,
            dir,
            _process: process,
        }
    }

    pub fn csi_address(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn secrets(&self) -> HashMap<String, String> {
        HashMap::from([
            ("userID".into(), self.bed.user.clone()),
            ("userKey".into(), self.bed.key.clone()),
        ])
    }

    /// CreateVolume as the provisioner would; (volume id, volume context).
    pub async fn create_volume(
        &mut self,
        name: &str,
        bytes: u64,
    ) -> (String, HashMap<String, String>) {
        let volume = self
            .controller
            .create_volume(CreateVolumeRequest {
                name: name.into(),
                capacity_range: Some(CapacityRange {
                    required_bytes: bytes as i64,
                    limit_bytes: 0,
                }),
                volume_capabilities: vec![mount_capability()],
                parameters: HashMap::from([
                    ("clusterID".into(), CLUSTER_ID.into()),
                    ("pool".into(), self.bed.pool.clone()),
                    ("imageFeatures".into(), "layering".into()),
                ]),
                secrets: self.secrets(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        (volume.volume_id, volume.volume_context)
    }

    pub async fn delete_volume(&mut self, volume_id: &str) {
        self.controller
            .delete_volume(DeleteVolumeRequest {
                volume_id: volume_id.into(),
                secrets: self.secrets(),
            })
            .await
            .unwrap();
    }

    /// What the node plugin writes at start-up: this node id is served by a plugin.
    pub fn register_node(&self, node_id: &str) {
        let value =
            json!({"nodeId": node_id, "driver": DRIVER, "updatedAt": "2030-01-01T00:00:00Z"})
                .to_string();
        self.bed.cli(
            "rados",
            &[
                "-p",
                &self.bed.pool,
                "-N",
                &self.namespace,
                "setomapval",
                "sepia.nodes.default",
                node_id,
                &value,
            ],
        );
    }

    /// Node ids the controller recorded as holding `volume_id` (omap of its journal object).
    pub fn published_nodes(&self, volume_id: &str) -> Vec<String> {
        let uuid = &volume_id[volume_id.len() - 36..];
        self.bed
            .cli(
                "rados",
                &[
                    "-p",
                    &self.bed.pool,
                    "-N",
                    &self.namespace,
                    "listomapkeys",
                    &format!("csi.volume.{uuid}"),
                ],
            )
            .lines()
            .filter_map(|k| k.strip_prefix("sepia.publish.").map(str::to_owned))
            .collect()
    }

    pub fn rbd(&self, args: &[&str]) -> String {
        self.bed.cli("rbd", args)
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let spec = format!("{}/{}", self.bed.pool, self.namespace);
        let run = |args: &[&str]| {
            Command::new("timeout")
                .arg("60")
                .arg("rbd")
                .args(args)
                .env("CEPH_CONF", &self.bed.conf_path)
                .output()
        };
        if let Ok(out) = run(&["ls", &spec]) {
            for image in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = run(&["snap", "purge", "--no-progress", &format!("{spec}/{image}")]);
                let _ = run(&["rm", "--no-progress", &format!("{spec}/{image}")]);
            }
        }
        let _ = Command::new("timeout")
            .args([
                "60",
                "rados",
                "-p",
                &self.bed.pool,
                "-N",
                &self.namespace,
                "rm",
                "sepia.nodes.default",
            ])
            .env("CEPH_CONF", &self.bed.conf_path)
            .output();
        // DeleteVolume moves images to the trash, which keeps the namespace busy.
        let _ = run(&["trash", "purge", "--no-progress", &spec]);
        let _ = run(&["namespace", "remove", &spec]);
    }
}

/// Unmounts (innermost first, lazily as a last resort) everything mounted under `root`, so a
/// failed test leaves no mount or rbd-fuse daemon behind.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let root = self.0.display().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.reverse();
        for mount in mounts {
            let _ = Command::new("umount").arg(&mount).status();
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
    }
}

pub fn mount_capability() -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume {
            fs_type: "ext4".into(),
            ..Default::default()
        })),
        access_mode: Some(AccessMode {
            mode: Mode::SingleNodeWriter as i32,
        }),
    }
}

pub fn gvr(group: &str, plural: &str) -> Gvr {
    Gvr::new(group, "v1", plural)
}

/// Kubernetes objects as the test's other actors write them.
pub mod objects {
    use super::*;

    pub fn secret(bed: &Bed) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": "default"},
            "data": {"userID": b64(&bed.user), "userKey": b64(&bed.key)}})
    }

    pub fn node(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    }

    pub fn csinode(name: &str, node_id: &str) -> Value {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": name},
            "spec": {"drivers": [{"name": DRIVER, "nodeID": node_id}]}})
    }

    pub fn volume_attachment(name: &str, node: &str, pv: &str) -> Value {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": name},
            "spec": {"attacher": DRIVER, "nodeName": node, "source": {"persistentVolumeName": pv}}})
    }
}

/// Writes `object` into the stand-in.
pub fn put(standin: &StandIn, group: &str, plural: &str, object: Value) {
    standin.put_object(&gvr(group, plural), object).unwrap();
}

/// Waits (generously) until `predicate` holds for the object; panics with `what` otherwise.
pub async fn wait(
    standin: &StandIn,
    group: &str,
    plural: &str,
    namespace: &str,
    name: &str,
    what: &str,
    predicate: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    standin
        .wait_for(
            &gvr(group, plural),
            namespace,
            name,
            predicate,
            Duration::from_secs(90),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{what}: {e}; object now: {:#?}",
                standin.get_json(&gvr(group, plural), namespace, name)
            )
        })
}
