//! The scenarios on the in-process API stand-in (crates/kube-standin), with everything real
//! that can be real here: the rendered rook-ceph overlay ([`manifests`]) applied to the API —
//! its RBAC enforced, each binary running with its own ServiceAccount's token — and each of its
//! pods run as processes with the container args and env as rendered ([`pods`]), against the
//! local Ceph bed, kernel mounts through rbd-fuse/krbd. What a real cluster's own components do
//! is played by small actors, and only those: [`rook`] (what Rook and the cluster provide
//! before the overlay), [`pv_controller`] (kube-controller-manager's PV binding) and [`kubelet`]
//! (plugin registration, attach via VolumeAttachment, stage/publish/expand over CSI, the
//! manifests' liveness probes). The actors and the scenario act as the stand-in's admin.
//! [`guard`] fails a run as soon as a process exits, the API refuses one of the binaries'
//! requests, or a liveness probe fails as often as its threshold.
//! Not covered here, so only on a real cluster: the kubelet's own volume manager and mount
//! handling, pods and images, scheduling, security contexts and read-only root filesystems.

pub mod guard;
pub mod kubelet;
pub mod manifests;
pub mod pods;
pub mod probe;
pub mod processes;
pub mod pv_controller;
pub mod remap;
pub mod rook;

use anyhow::{Context, Result};
use kube_standin::StandIn;
use sepia_testbed::Bed;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::DRIVER;
use crate::cluster::Cluster;
use crate::objects::Kind;
use crate::scenario;
use crate::wait;
use guard::Liveness;
use kubelet::Kubelet;
use manifests::Rendered;
use pods::Node;
use probe::HttpProbe;
use processes::Processes;

/// The scenarios' own namespace.
const USER_NAMESPACE: &str = "e2e";

pub struct StandInCluster {
    standin: StandIn,
    client: kube::Client,
    bed: &'static Bed,
    rados_namespace: String,
    storage_class: String,
    snapshot_class: String,
    processes: Processes,
    probes: Vec<(String, HttpProbe)>,
    kubelet: Kubelet,
    actors: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The rendered object as applied here: the StorageClass's pool is the bed's, and its
/// filesystem xfs — growing a mounted ext4 needs CAP_SYS_RESOURCE, which this sandbox's
/// processes lack (sepia-node then refuses NodeExpandVolume with FAILED_PRECONDITION).
/// Everything else as rendered.
fn for_bed(object: &Value, bed: &Bed) -> Value {
    let mut object = object.clone();
    if object["kind"] == "StorageClass" {
        object["parameters"]["pool"] = json!(bed.pool);
        if object["parameters"]["csi.storage.k8s.io/fstype"].is_string() {
            object["parameters"]["csi.storage.k8s.io/fstype"] = json!("xfs");
        }
    }
    object
}

impl StandInCluster {
    /// Renders the overlay, starts the stand-in, its pods' binaries and the actors; the Ceph
    /// bed must be up.
    pub async fn start() -> Result<Self> {
        let rendered = Rendered::overlay(manifests::OVERLAY)?;
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
        let client = standin.client()?;
        let class = rendered.only("StorageClass")?;
        let storage_class = class["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The story deletes its snapshots and checks Ceph is empty: the Delete class.
        let snapshot_class =
            rendered.only_where("VolumeSnapshotClass", " with deletionPolicy Delete", |c| {
                c["deletionPolicy"] == "Delete"
            })?["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        let cluster_id = class["parameters"]["clusterID"]
            .as_str()
            .context("the StorageClass has no clusterID")?;
        let cluster_config = json!([{"clusterID": cluster_id, "monitors": [bed.monitors], "rbd": {"radosNamespace": rados_namespace}}]);
        rook::provide(
            &standin,
            &rendered,
            bed,
            USER_NAMESPACE,
            kubelet::NODE,
            &cluster_config,
        )?;
        for object in &rendered.objects {
            let what = format!("{} {}", object["kind"], object["metadata"]["name"]);
            standin
                .put_any(for_bed(object, bed))
                .with_context(|| format!("applying the rendered {what}"))?;
        }

        let processes = Processes::new(&root.join("logs"))?;
        let node = Node {
            standin: &standin,
            root: &root,
            name: kubelet::NODE,
        };
        let mut probes = Vec::new();
        for workload in &rendered.workloads {
            let name = workload["metadata"]["name"].as_str().unwrap_or_default();
            let replicas = match workload["kind"].as_str() {
                Some("Deployment") => workload["spec"]["replicas"].as_u64().unwrap_or(1),
                _ => 1,
            };
            for replica in 0..replicas {
                for run in node.pod(workload, &format!("{name}-{replica}"))? {
                    processes.spawn(&run.label, &run.binary, &run.args, &run.env)?;
                    if let Some(probe) = run.liveness {
                        probes.push((run.label, probe));
                    }
                }
            }
        }
        let host = node.host_root();
        let registration = host
            .join("var/lib/kubelet/plugins_registry")
            .join(format!("{DRIVER}-reg.sock"));
        let kubelet_root = host.join("var/lib");
        let mut no_probes = Liveness::new(Vec::new());
        let registered = tokio::select! {
            kubelet = Kubelet::register(client.clone(), &kubelet_root, &registration) => {
                kubelet.context("registering the node plugin as kubelet would")
            }
            failure = guard::watch(&standin, &processes, &mut no_probes) => Err(failure),
        };
        let kubelet = match registered {
            Ok(kubelet) => kubelet,
            Err(error) => {
                processes.dump_logs();
                return Err(error);
            }
        };
        let actors = vec![tokio::spawn(pv_controller::run(client.clone()))];
        Ok(Self {
            standin,
            client,
            bed,
            rados_namespace,
            storage_class,
            snapshot_class,
            processes,
            probes,
            kubelet,
            actors,
            _dir: dir,
        })
    }

    /// Runs a scenario while [`guard`] watches; ends with no refused request and every
    /// liveness probe passed at least once. On failure prints every process's last log lines.
    pub async fn run(&self, scenario: impl AsyncFnOnce(&Self) -> Result<()>) -> Result<()> {
        let mut liveness = Liveness::new(self.probes.clone());
        let outcome = tokio::select! {
            outcome = scenario(self) => outcome,
            failure = guard::watch(&self.standin, &self.processes, &mut liveness) => Err(failure),
        };
        let outcome = match outcome {
            Ok(()) => match guard::check(&self.standin, &self.processes) {
                Ok(()) => liveness.until_all_passed().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            self.processes.dump_logs();
            let refused = guard::refusals(&self.standin);
            if !refused.is_empty() {
                eprintln!("requests the API refused:\n  {}", refused.join("\n  "));
            }
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

impl Cluster for StandInCluster {
    fn client(&self) -> kube::Client {
        self.client.clone()
    }
    fn namespace(&self) -> &str {
        USER_NAMESPACE
    }
    fn storage_class(&self) -> &str {
        &self.storage_class
    }
    fn snapshot_class(&self) -> &str {
        &self.snapshot_class
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
