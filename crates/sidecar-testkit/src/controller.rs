//! The real `sepia-controller` as a child process, serving its own socket on a fresh RADOS
//! namespace of the bed's pool, and the Ceph-side checks tests make through the `rbd`/`rados`
//! CLIs — independent of the code under test. Dropping it kills the controller and removes
//! everything it left in Ceph (images, snapshots, trash, the node registry, the namespace).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command as StdCommand;

use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{CapacityRange, CreateVolumeRequest, DeleteVolumeRequest, VolumeCapability};
use sepia_testbed::{Bed, Process, workspace_binary};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::Command;
use tonic::transport::Channel;

use crate::csi_socket;
use crate::{CLUSTER_ID, DRIVER};

/// The node registry object the node plugin writes and the controller reads.
const NODE_REGISTRY: &str = "sepia.nodes.default";

/// What a test adds to the controller's command: `SEPIA_FAILPOINTS` and flags.
struct Flags<'a> {
    failpoints: Option<&'a str>,
    extra: &'a [&'a str],
}

pub struct Controller {
    pub bed: &'static Bed,
    /// The test's directory: the controller's socket, config and log, and whatever else the
    /// test puts there (kubeconfig, other processes' logs, node state).
    pub dir: TempDir,
    pub namespace: String,
    pub config_path: PathBuf,
    pub socket: PathBuf,
    /// A CSI client of the controller, as the provisioner would use it.
    pub client: ControllerClient<Channel>,
    process: Process,
    /// Only the controller that made the namespace cleans it up.
    owns_namespace: bool,
}

impl Controller {
    /// Creates a RADOS namespace named after `prefix`, starts the controller on it (with
    /// `SEPIA_FAILPOINTS=failpoints` when given) and waits until it serves.
    pub async fn start(prefix: &str, failpoints: Option<&str>) -> Self {
        Self::start_with(prefix, failpoints, &[]).await
    }

    /// [`Controller::start`] with `extra` flags (`--nats-url=…`: without it the controller
    /// publishes no events, whatever the test's environment says).
    pub async fn start_with(prefix: &str, failpoints: Option<&str>, extra: &[&str]) -> Self {
        let bed = Bed::get();
        let namespace = bed.unique_name(prefix);
        bed.cli(
            "rbd",
            &["namespace", "create", &format!("{}/{namespace}", bed.pool)],
        );
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        let monitors: Vec<&str> = bed.monitors.split(',').collect();
        std::fs::write(
            &config_path,
            json!([{"clusterID": CLUSTER_ID, "monitors": monitors,
                "rbd": {"radosNamespace": namespace}}])
            .to_string(),
        )
        .unwrap();
        Self::launch(
            bed,
            dir,
            namespace,
            config_path,
            "controller",
            Flags { failpoints, extra },
            true,
        )
        .await
    }

    /// A second controller process on `first`'s RADOS namespace and cluster config (as every
    /// sidecar pod runs its own), in a directory of its own, logging as `label`.
    pub async fn start_beside(first: &Controller, label: &str, failpoints: Option<&str>) -> Self {
        Self::start_beside_with(first, label, failpoints, &[]).await
    }

    /// [`Controller::start_beside`] with `extra` flags (other clone-depth limits, say).
    pub async fn start_beside_with(
        first: &Controller,
        label: &str,
        failpoints: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::launch(
            first.bed,
            dir,
            first.namespace.clone(),
            first.config_path.clone(),
            label,
            Flags { failpoints, extra },
            false,
        )
        .await
    }

    async fn launch(
        bed: &'static Bed,
        dir: TempDir,
        namespace: String,
        config_path: PathBuf,
        label: &str,
        flags: Flags<'_>,
        owns_namespace: bool,
    ) -> Self {
        let socket = dir.path().join("controller.sock");
        let mut command = Command::new(workspace_binary("sepia-controller"));
        command
            .arg(format!("--endpoint=unix://{}", socket.display()))
            .arg(format!("--driver-name={DRIVER}"))
            .arg(format!("--cluster-config={}", config_path.display()))
            // What the manifests pass.
            .arg("--alpha-capabilities=single-node-multi-writer,get-volume,volume-condition")
            .args(flags.extra)
            .env("RUST_LOG", "info")
            .env_remove("SEPIA_NATS_URL")
            .env_remove("SEPIA_FAILPOINTS");
        if let Some(failpoints) = flags.failpoints {
            command.env("SEPIA_FAILPOINTS", failpoints);
        }
        let process = Process::start(label, command, dir.path());
        let channel = csi_socket::connect(&socket, &process).await;
        Self {
            bed,
            dir,
            namespace,
            config_path,
            socket,
            client: ControllerClient::new(channel),
            process,
            owns_namespace,
        }
    }

    /// The `--csi-address` of a sidecar talking to this controller.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The CSI secrets of the bed's cephx user.
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
            .client
            .create_volume(CreateVolumeRequest {
                name: name.into(),
                capacity_range: Some(CapacityRange {
                    required_bytes: i64::try_from(bytes).unwrap(),
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
        self.client
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
        self.rados(&["setomapval", NODE_REGISTRY, node_id, &value]);
    }

    /// Node ids the controller recorded as holding `volume_id` (omap of its journal object).
    pub fn published_nodes(&self, volume_id: &str) -> Vec<String> {
        let uuid = &volume_id[volume_id.len() - 36..];
        self.rados(&["listomapkeys", &format!("csi.volume.{uuid}")])
            .lines()
            .filter_map(|k| k.strip_prefix("sepia.publish.").map(str::to_owned))
            .collect()
    }

    /// RBD images in the namespace (not counting the trash).
    pub fn images(&self) -> Vec<String> {
        self.rbd(&["ls", &self.pool_namespace()])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Request names in the volume journal (`csi.volumes.default`); none before the first.
    pub fn journal_keys(&self) -> Vec<String> {
        let out = self.quiet(
            "rados",
            &[
                "-p",
                &self.bed.pool,
                "-N",
                &self.namespace,
                "listomapkeys",
                "csi.volumes.default",
            ],
        );
        out.lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The image's parent (`image@snap`), if it is a clone.
    pub fn parent(&self, image: &str) -> Option<String> {
        let spec = format!("{}/{image}", self.pool_namespace());
        let info: Value =
            serde_json::from_str(&self.rbd(&["info", "--format", "json", &spec])).unwrap();
        info.get("parent").map(|p| {
            format!(
                "{}@{}",
                p["image"].as_str().unwrap_or(""),
                p["snapshot"].as_str().unwrap_or("")
            )
        })
    }

    /// `rbd args` against the bed; stdout. Fails the test when the command fails.
    pub fn rbd(&self, args: &[&str]) -> String {
        self.bed.cli("rbd", args)
    }

    /// The controller's log.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// `pool/namespace`, as `rbd` names the namespace.
    fn pool_namespace(&self) -> String {
        format!("{}/{}", self.bed.pool, self.namespace)
    }

    /// `rados -p pool -N namespace args`; stdout. Fails the test when the command fails.
    fn rados(&self, args: &[&str]) -> String {
        let mut full = vec!["-p", &self.bed.pool, "-N", &self.namespace];
        full.extend_from_slice(args);
        self.bed.cli("rados", &full)
    }

    /// Runs a Ceph CLI against the bed, bounded, ignoring failure (for clean-up and for
    /// objects that may not exist yet); stdout.
    fn quiet(&self, program: &str, args: &[&str]) -> String {
        StdCommand::new("timeout")
            .arg("60")
            .arg(program)
            .args(args)
            .env("CEPH_CONF", &self.bed.conf_path)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // First the controller, so it cannot create anything behind the clean-up.
        self.process.sigkill();
        if !self.owns_namespace {
            return;
        }
        let spec = self.pool_namespace();
        for image in self.quiet("rbd", &["ls", &spec]).lines() {
            let image = format!("{spec}/{image}");
            self.quiet("rbd", &["snap", "purge", "--no-progress", &image]);
            self.quiet("rbd", &["rm", "--no-progress", &image]);
        }
        self.quiet(
            "rados",
            &[
                "-p",
                &self.bed.pool,
                "-N",
                &self.namespace,
                "rm",
                NODE_REGISTRY,
            ],
        );
        // DeleteVolume moves images to the trash, which keeps the namespace busy.
        self.quiet("rbd", &["trash", "purge", "--no-progress", &spec]);
        self.quiet("rbd", &["namespace", "remove", &spec]);
    }
}

/// A single-node-writer ext4 mount capability, as kubelet and the provisioner send it.
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
