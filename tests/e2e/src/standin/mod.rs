//! The scenarios on the in-process API stand-in (crates/kube-standin), with everything real
//! that can be real here: the rendered rook-ceph overlay ([`manifests`]) applied to the API —
//! its RBAC enforced, each binary running with its own ServiceAccount's token — and each of its
//! pods run as processes with the container args and env as rendered ([`pods`]), against the
//! local Ceph bed, kernel mounts through rbd-fuse/krbd and ceph-fuse; the CephFS volumes in a
//! subvolume group and journal namespace of the run's own ([`cephfs`]). What a real cluster's own components do
//! is played by small actors, and only those: [`rook`] (what Rook and the cluster provide
//! before the overlay), [`pv_controller`] (kube-controller-manager's PV binding) and [`kubelet`]
//! (plugin registration, attach via VolumeAttachment, stage/publish/expand over CSI, the
//! manifests' liveness probes). The actors and the scenario act as the stand-in's admin.
//! [`guard`] fails a run as soon as a process exits, the API refuses one of the binaries'
//! requests, or a liveness probe fails as often as its threshold.
//! Not covered here, so only on a real cluster: the kubelet's own volume manager and mount
//! handling, pods and images, scheduling, security contexts and read-only root filesystems.

pub mod cephfs;
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

use crate::cluster::Cluster;
use crate::objects::Kind;
use crate::scenario;
use crate::wait;
use crate::{CEPHFS_DRIVER, DRIVER, DRIVERS};
use cephfs::CephFsScope;
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
    cephfs: CephFsScope,
    storage_class: String,
    snapshot_class: String,
    cephfs_storage_class: String,
    cephfs_snapshot_class: String,
    processes: Processes,
    probes: Vec<(String, HttpProbe)>,
    kubelet: Kubelet,
    actors: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The rendered object as applied here: the RBD StorageClass's pool is the bed's, and its
/// filesystem xfs — growing a mounted ext4 needs CAP_SYS_RESOURCE, which this sandbox's
/// processes lack (sepia-node then refuses NodeExpandVolume with FAILED_PRECONDITION); the
/// CephFS StorageClass's `fsName` is the bed's filesystem. Everything else as rendered.
fn for_bed(object: &Value, bed: &Bed) -> Value {
    let mut object = object.clone();
    if object["kind"] == "StorageClass" && object["provisioner"] == DRIVER {
        object["parameters"]["pool"] = json!(bed.pool);
        if object["parameters"]["csi.storage.k8s.io/fstype"].is_string() {
            object["parameters"]["csi.storage.k8s.io/fstype"] = json!("xfs");
        }
    }
    if object["kind"] == "StorageClass" && object["provisioner"] == CEPHFS_DRIVER {
        object["parameters"]["fsName"] = json!(bed.fs);
    }
    object
}

/// The names of the rendered StorageClass of `driver` and of its VolumeSnapshotClass with
/// deletionPolicy Delete (the story deletes its snapshots and checks Ceph is empty; the Retain
/// one beside it is for backups). Fails unless there is exactly one of each.
fn classes<'a>(rendered: &'a Rendered, driver: &str) -> Result<(&'a Value, String)> {
    let class = rendered.only_where("StorageClass", &format!(" of {driver}"), |c| {
        c["provisioner"] == driver
    })?;
    let snapshot_class = rendered.only_where(
        "VolumeSnapshotClass",
        &format!(" of {driver} with deletionPolicy Delete"),
        |c| c["driver"] == driver && c["deletionPolicy"] == "Delete",
    )?["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((class, snapshot_class))
}

fn name(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
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
        let (class, snapshot_class) = classes(&rendered, DRIVER)?;
        let (cephfs_class, cephfs_snapshot_class) = classes(&rendered, CEPHFS_DRIVER)?;
        let cluster_id = class["parameters"]["clusterID"]
            .as_str()
            .context("the RBD StorageClass has no clusterID")?;
        anyhow::ensure!(
            cephfs_class["parameters"]["clusterID"] == cluster_id,
            "the CephFS StorageClass's clusterID {} is not the RBD one's {cluster_id}: the \
             stand-in writes one cluster config entry",
            cephfs_class["parameters"]["clusterID"]
        );
        let cephfs = CephFsScope::create(bed, &rados_namespace)?;
        let cluster_config = json!([{
            "clusterID": cluster_id,
            "monitors": [bed.monitors],
            "rbd": {"radosNamespace": rados_namespace},
            "cephFS": cephfs.config(),
        }]);
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
        let registry = host.join("var/lib/kubelet/plugins_registry");
        let kubelet_root = host.join("var/lib");
        let mut no_probes = Liveness::new(Vec::new());
        let registered = tokio::select! {
            kubelet = Kubelet::register(client.clone(), &kubelet_root, &registry, &DRIVERS) => {
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
            cephfs,
            storage_class: name(class),
            snapshot_class,
            cephfs_storage_class: name(cephfs_class),
            cephfs_snapshot_class,
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

    /// What this run left in its RADOS namespace and CephFS subvolume group and journal, once
    /// the OSDs had time to trim: data objects
    /// of deleted images that had snapshots linger until the OSD's snap trimmer gets to them
    /// (seconds here), so only those are waited for, up to two minutes.
    pub async fn leftovers(&self) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let mut left = self.leftovers_now();
            left.extend(self.cephfs.leftovers(self.bed));
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
        self.cephfs.remove(self.bed);
        let spec = format!("{}/{}", self.bed.pool, self.rados_namespace);
        let _ = std::process::Command::new("rbd")
            .args(["namespace", "remove", &spec])
            .env("CEPH_CONF", &self.bed.conf_path)
            .status();
    }
}

/// The claim waits for kubelet's NodeExpandVolume (the resizer's `NodeResizePending`).
fn node_resize_pending(claim: &Value) -> bool {
    claim["status"]["allocatedResourceStatuses"]["storage"] == "NodeResizePending"
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
    fn cephfs_storage_class(&self) -> &str {
        &self.cephfs_storage_class
    }
    fn cephfs_snapshot_class(&self) -> &str {
        &self.cephfs_snapshot_class
    }

    async fn write(&self, pvc: &str, data: &str) -> Result<()> {
        let mounted = self.kubelet.mount(USER_NAMESPACE, pvc).await?;
        let written = std::fs::write(mounted.target().join("e2e.txt"), data)
            .and_then(|()| std::fs::File::open(mounted.target().join("e2e.txt"))?.sync_all());
        self.kubelet.unmount(mounted).await?;
        written.context("writing /data/e2e.txt")
    }

    async fn read(&self, pvc: &str) -> Result<String> {
        let mounted = self.kubelet.mount(USER_NAMESPACE, pvc).await?;
        let read = std::fs::read_to_string(mounted.target().join("e2e.txt"));
        self.kubelet.unmount(mounted).await?;
        read.context("reading /data/e2e.txt")
    }

    async fn exchange(&self, pvc: &str, first: &str, second: &str) -> Result<(String, String)> {
        let mounted = self.kubelet.mount_pods(USER_NAMESPACE, pvc, 2).await?;
        let (pod_a, pod_b) = (&mounted.targets[0], &mounted.targets[1]);
        let exchanged = (|| -> std::io::Result<(String, String)> {
            std::fs::write(pod_a.join("first.txt"), first)?;
            let second_read = std::fs::read_to_string(pod_b.join("first.txt"))?;
            std::fs::write(pod_b.join("second.txt"), second)?;
            let first_read = std::fs::read_to_string(pod_a.join("second.txt"))?;
            Ok((second_read, first_read))
        })();
        self.kubelet.unmount(mounted).await?;
        exchanged.context("writing and reading /data/first.txt and /data/second.txt")
    }

    async fn expand_while_mounted(
        &self,
        pvc: &str,
        new_size: &str,
        min_fs_bytes: u64,
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
            // The resizer either hands over to kubelet (NodeResizePending: RBD's filesystem)
            // or finishes the claim itself (CephFS: the quota is all there is).
            let claim = wait::until(&pvcs, pvc, "PVC resized or node resize pending", |c| {
                c.is_some_and(|c| {
                    node_resize_pending(c)
                        || scenario::capacity_bytes(Some(c), &["status", "capacity", "storage"])
                            >= Some(bytes)
                })
            })
            .await?
            .context("PVC vanished while expanding")?;
            if node_resize_pending(&claim) {
                // kubelet: grow the filesystem, then record the new capacity on the claim.
                self.kubelet.expand(&mounted, bytes).await?;
                let status = json!({"status": {"capacity": {"storage": new_size}, "allocatedResourceStatuses": null, "conditions": null}});
                pvcs.patch_status(pvc, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&status)).await?;
            }
            // What a pod's `df` shows; a FUSE client may answer from its cache for a moment.
            wait::until_some("the mounted filesystem grown", || async {
                let seen = kubelet::filesystem_bytes(mounted.target())?;
                Ok((seen >= min_fs_bytes).then_some(seen))
            })
            .await
        }
        .await;
        self.kubelet.unmount(mounted).await?;
        outcome
    }

    async fn cephfs_subvolumes(&self) -> Result<Vec<String>> {
        self.cephfs.subvolumes(self.bed)
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
