//! The scenarios on the in-process API stand-in (crates/kube-standin), with everything real
//! that can be real here: Sepia's six binaries as processes, the local Ceph bed, kernel
//! mounts through rbd-fuse/krbd. What a real cluster's own components do is played by two
//! small actors, and only those: [`pv_controller`] (kube-controller-manager's PV binding) and
//! [`kubelet`] (plugin registration, attach via VolumeAttachment, stage/publish/expand over CSI).
//! Not covered here, so only on a real cluster: the kubelet's own volume manager and mount
//! handling, pods and images, scheduling, RBAC, the manifests themselves.

pub mod kubelet;
pub mod processes;
pub mod pv_controller;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use kube::api::{DynamicObject, PostParams};
use kube_standin::StandIn;
use sepia_testbed::Bed;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::DRIVER;
use crate::cluster::Cluster;
use crate::objects::Kind;
use crate::scenario;
use crate::wait;
use kubelet::Kubelet;
use processes::Processes;

/// Namespace of the driver's secrets and leases; the scenarios' own is [`USER_NAMESPACE`].
const DRIVER_NAMESPACE: &str = "sepia";
const USER_NAMESPACE: &str = "e2e";
const CLUSTER_ID: &str = "bed";
const CLASS: &str = "sepia-rbd";

pub struct StandInCluster {
    _standin: StandIn,
    client: kube::Client,
    bed: &'static Bed,
    rados_namespace: String,
    processes: Processes,
    kubelet: Kubelet,
    actors: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl StandInCluster {
    /// Starts the stand-in, the binaries and the actors; the Ceph bed must be up.
    pub async fn start() -> Result<Self> {
        let bed = Bed::get();
        let rados_namespace = bed.unique_name("e2e");
        bed.cli(
            "rbd",
            &[
                "namespace",
                "create",
                &format!("{}/{rados_namespace}", bed.pool),
            ],
        );
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;

        let standin = StandIn::start().await?;
        let kubeconfig = root.join("kubeconfig");
        standin.write_kubeconfig(&kubeconfig)?;
        let client = standin.client()?;
        let config = root.join("config.json");
        std::fs::write(
            &config,
            json!([{"clusterID": CLUSTER_ID, "monitors": [bed.monitors], "rbd": {"radosNamespace": rados_namespace}}]).to_string(),
        )?;
        let credentials = root.join("credentials");
        std::fs::create_dir(&credentials)?;
        for (file, value) in [("userID", &bed.user), ("userKey", &bed.key)] {
            std::fs::write(credentials.join(file), value)?;
            std::fs::set_permissions(
                credentials.join(file),
                std::fs::Permissions::from_mode(0o600),
            )?;
        }
        user_objects(&client, bed).await?;

        let mut processes = Processes::new(&root.join("logs"))?;
        let path = |p: PathBuf| p.display().to_string();
        let node_socket = root.join("node/csi.sock");
        let registration = root.join("registry");
        std::fs::create_dir_all(&registration)?;
        processes.spawn(
            "node",
            "sepia-node",
            &[
                format!("--endpoint=unix://{}", path(node_socket.clone())),
                format!("--driver-name={DRIVER}"),
                format!("--node-id={}", kubelet::NODE),
                format!("--cluster-config={}", path(config.clone())),
                "--cluster-config-poll=1s".into(),
                format!("--registration-dir={}", path(registration.clone())),
                format!("--kubelet-socket-path={}", path(node_socket)),
                format!("--node-credentials-dir={}", path(credentials.clone())),
                format!("--state-dir={}", path(root.join("node-state"))),
                // The stand-in kubelet's paths are below <root>/kubelet.
                format!("--kubelet-root={}", path(root.join("kubelet"))),
            ],
        )?;
        for sidecar in ["provisioner", "snapshotter", "resizer", "attacher"] {
            let socket = root.join(format!("{sidecar}/csi.sock"));
            let mut controller = vec![
                format!("--endpoint=unix://{}", path(socket.clone())),
                format!("--driver-name={DRIVER}"),
                format!("--cluster-config={}", path(config.clone())),
            ];
            if matches!(sidecar, "provisioner" | "attacher") {
                controller.push(format!(
                    "--controller-credentials-dir={}",
                    path(credentials.clone())
                ));
            }
            processes.spawn(
                &format!("{sidecar}-controller"),
                "sepia-controller",
                &controller,
            )?;
            processes.spawn(
                sidecar,
                &format!("sepia-{sidecar}"),
                &[
                    format!("--csi-address={}", path(socket)),
                    format!("--kubeconfig={}", path(kubeconfig.clone())),
                    "--timeout=150s".into(),
                    "--leader-election".into(),
                    format!("--leader-election-namespace={DRIVER_NAMESPACE}"),
                ],
            )?;
        }
        let registration_socket = registration.join(format!("{DRIVER}-reg.sock"));
        let kubelet = match Kubelet::register(client.clone(), &root, &registration_socket).await {
            Ok(kubelet) => kubelet,
            Err(error) => {
                processes.dump_logs();
                return Err(error.context("registering the node plugin as kubelet would"));
            }
        };
        let actors = vec![tokio::spawn(pv_controller::run(client.clone()))];
        Ok(Self {
            _standin: standin,
            client,
            bed,
            rados_namespace,
            processes,
            kubelet,
            actors,
            _dir: dir,
        })
    }

    /// Runs a scenario; on failure prints every process's last log lines and whether one died.
    pub async fn run(&mut self, scenario: impl AsyncFnOnce(&Self) -> Result<()>) -> Result<()> {
        let outcome = scenario(self).await;
        if outcome.is_err() {
            if let Err(died) = self.processes.check_running() {
                eprintln!("{died:#}");
            }
            self.processes.dump_logs();
        }
        outcome
    }

    /// What this run left in its RADOS namespace, once the OSDs had time to trim: data objects
    /// of deleted images that had snapshots linger until the OSD's snap trimmer gets to them
    /// (seconds here), so only those are waited for, up to two minutes.
    pub async fn leftovers(&self) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let left = self.leftovers_now();
            let trimming =
                !left.is_empty() && left.iter().all(|l| l.starts_with("object rbd_data."));
            if !trimming || std::time::Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// What this run left in its RADOS namespace besides the node registry and the directories
    /// that stay once made: objects, and keys of the omap journal's directories.
    fn leftovers_now(&self) -> Vec<String> {
        let scope = [
            "--pool",
            &self.bed.pool,
            "--namespace",
            &self.rados_namespace,
        ];
        let mut left = Vec::new();
        for object in self
            .bed
            .cli("rados", &[&scope[..], &["ls"]].concat())
            .lines()
        {
            match object {
                // Directories that stay once made, and the node registry (sepia-node's).
                "rbd_directory" | "rbd_trash" | "rbd_info" | "rbd_children" | "rbd_task" => {}
                o if o.starts_with("sepia.nodes.") => {}
                "csi.volumes.default" | "csi.snaps.default" => {
                    let keys = self
                        .bed
                        .cli("rados", &[&scope[..], &["listomapkeys", object]].concat());
                    left.extend(keys.lines().map(|k| format!("{object} key {k}")));
                }
                other => left.push(format!("object {other}")),
            }
        }
        left
    }

    /// Ends the processes and actors; removes the RADOS namespace if nothing is left in it.
    pub async fn stop(mut self) {
        for actor in &self.actors {
            actor.abort();
        }
        self.processes.stop().await;
        let spec = format!("{}/{}", self.bed.pool, self.rados_namespace);
        let _ = std::process::Command::new("rbd")
            .args(["namespace", "remove", &spec])
            .env("CEPH_CONF", &self.bed.conf_path)
            .status();
    }
}

/// What an administrator and a user would have applied: namespaces, Ceph secrets, the classes.
async fn user_objects(client: &kube::Client, bed: &Bed) -> Result<()> {
    let secret = |name: &str| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": DRIVER_NAMESPACE},
            "data": {
                "userID": serde_json::to_value(k8s_openapi::ByteString(bed.user.clone().into_bytes())).unwrap_or_default(),
                "userKey": serde_json::to_value(k8s_openapi::ByteString(bed.key.clone().into_bytes())).unwrap_or_default()
            }
        })
    };
    let secret_params = |kind: &str, name: &str| {
        [
            (
                format!("csi.storage.k8s.io/{kind}-secret-name"),
                name.to_owned(),
            ),
            (
                format!("csi.storage.k8s.io/{kind}-secret-namespace"),
                DRIVER_NAMESPACE.to_owned(),
            ),
        ]
    };
    let mut parameters = serde_json::Map::new();
    parameters.insert("clusterID".into(), CLUSTER_ID.into());
    parameters.insert("pool".into(), bed.pool.clone().into());
    parameters.insert("imageFeatures".into(), "layering".into());
    // xfs, not ext4: growing a mounted ext4 needs CAP_SYS_RESOURCE, which this sandbox's
    // processes lack (sepia-node then refuses NodeExpandVolume with FAILED_PRECONDITION).
    parameters.insert("csi.storage.k8s.io/fstype".into(), "xfs".into());
    for (kind, name) in [
        ("provisioner", "sepia-rbd-provisioner"),
        ("controller-publish", "sepia-rbd-provisioner"),
        ("controller-expand", "sepia-rbd-provisioner"),
        ("node-stage", "sepia-rbd-node"),
    ] {
        for (key, value) in secret_params(kind, name) {
            parameters.insert(key, value.into());
        }
    }
    let mut snapshot_parameters = serde_json::Map::new();
    snapshot_parameters.insert("clusterID".into(), CLUSTER_ID.into());
    for (key, value) in secret_params("snapshotter", "sepia-rbd-provisioner") {
        snapshot_parameters.insert(key, value.into());
    }
    let objects: Vec<(Kind, &str, Value)> = vec![
        (
            Kind::Namespace,
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DRIVER_NAMESPACE}}),
        ),
        (
            Kind::Namespace,
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": USER_NAMESPACE}}),
        ),
        (
            Kind::Node,
            "",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": kubelet::NODE}}),
        ),
        (
            Kind::Secret,
            DRIVER_NAMESPACE,
            secret("sepia-rbd-provisioner"),
        ),
        (Kind::Secret, DRIVER_NAMESPACE, secret("sepia-rbd-node")),
        (
            Kind::StorageClass,
            "",
            json!({
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": CLASS},
                "provisioner": DRIVER,
                "parameters": parameters,
                "reclaimPolicy": "Delete",
                "allowVolumeExpansion": true,
                "volumeBindingMode": "Immediate"
            }),
        ),
        (
            Kind::VolumeSnapshotClass,
            "",
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
                "metadata": {"name": CLASS},
                "driver": DRIVER,
                "deletionPolicy": "Delete",
                "parameters": snapshot_parameters
            }),
        ),
    ];
    for (kind, ns, object) in objects {
        let object: DynamicObject = serde_json::from_value(object)?;
        kind.api(client, ns)
            .create(&PostParams::default(), &object)
            .await
            .context("creating the user's objects")?;
    }
    Ok(())
}

impl Cluster for StandInCluster {
    fn client(&self) -> kube::Client {
        self.client.clone()
    }
    fn namespace(&self) -> &str {
        USER_NAMESPACE
    }
    fn storage_class(&self) -> &str {
        CLASS
    }
    fn snapshot_class(&self) -> &str {
        CLASS
    }

    async fn write(&self, pvc: &str, data: &str) -> Result<()> {
        let mounted = self.kubelet.mount(USER_NAMESPACE, pvc).await?;
        let written = std::fs::write(mounted.target.join("e2e.txt"), data)
            .and_then(|()| std::fs::File::open(mounted.target.join("e2e.txt"))?.sync_all());
        self.kubelet.unmount(mounted).await?;
        written.context("writing /data/e2e.txt")
    }

    async fn read(&self, pvc: &str) -> Result<String> {
        let mounted = self.kubelet.mount(USER_NAMESPACE, pvc).await?;
        let read = std::fs::read_to_string(mounted.target.join("e2e.txt"));
        self.kubelet.unmount(mounted).await?;
        read.context("reading /data/e2e.txt")
    }

    async fn expand_while_mounted(
        &self,
        pvc: &str,
        new_size: &str,
        _min_fs_bytes: u64,
    ) -> Result<u64> {
        let mounted = self.kubelet.mount(USER_NAMESPACE, pvc).await?;
        let outcome = async {
            let pvcs = Kind::Pvc.api(&self.client, USER_NAMESPACE);
            scenario::request_size(&pvcs, pvc, new_size).await?;
            let bytes = crate::objects::quantity_bytes(new_size).context("size")?;
            let pv_name = mounted.pv.metadata.name.clone().unwrap_or_default();
            // The resizer's ControllerExpandVolume shows as the PV's new capacity.
            wait::until(&Kind::Pv.api(&self.client, ""), &pv_name, "PV capacity grown", |pv| {
                pv.and_then(|p| p["spec"]["capacity"]["storage"].as_str())
                    .and_then(crate::objects::quantity_bytes)
                    .is_some_and(|b| b >= bytes)
            })
            .await?;
            // kubelet: grow the filesystem, then record the new capacity on the claim.
            self.kubelet.expand(&mounted, bytes).await?;
            let status = json!({"status": {"capacity": {"storage": new_size}, "allocatedResourceStatuses": null, "conditions": null}});
            pvcs.patch_status(pvc, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&status)).await?;
            kubelet::filesystem_bytes(&mounted.target)
        }
        .await;
        self.kubelet.unmount(mounted).await?;
        outcome
    }

    async fn ceph_images(&self) -> Result<Vec<String>> {
        let scope = [
            "--pool",
            &self.bed.pool,
            "--namespace",
            &self.rados_namespace,
        ];
        let live = self.bed.cli("rbd", &[&["ls"][..], &scope].concat());
        let trash = self.bed.cli(
            "rbd",
            &[&["trash", "ls", "--format", "json"][..], &scope].concat(),
        );
        let mut images: Vec<String> = live.lines().map(str::to_owned).collect();
        images.extend(crate::objects::trash_names(&trash)?);
        Ok(images)
    }
}
