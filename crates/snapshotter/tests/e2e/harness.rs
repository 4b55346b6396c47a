//! The world a scenario runs in, all real: the API stand-in, the `sepia-controller` binary on
//! a unix socket talking to the bed's Ceph in the test's own RBD namespace, and
//! `sepia-snapshotter` binaries pointed at both. The test acts as the user (creates objects
//! in the stand-in) and checks Ceph with the `rbd` CLI, independently of the code under test.
//!
//! Everything the test leaves behind in Ceph is removed when the [`Env`] is dropped, also when
//! the test fails.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{
    CapacityRange, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, ListSnapshotsRequest, VolumeCapability,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PersistentVolumeSpec, Secret,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_standin::{Gvr, StandIn};
use sepia_testbed::Bed;
use serde::de::DeserializeOwned;
use serde_json::Value;
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent,
    VolumeSnapshotSource, VolumeSnapshotSpec, keys,
};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

pub const DRIVER: &str = "rbd.csi.sepia.io";
pub const CLUSTER_ID: &str = "bed";
pub const SECRET_NAMESPACE: &str = "sepia-system";
pub const SECRET_NAME: &str = "csi-rbd-secret";
pub const SNAPSHOTTER_LEASE: &str = "external-snapshotter-leader-rbd-csi-sepia-io";
pub const WAIT: Duration = Duration::from_secs(90);

/// `target/debug/<name>` of a workspace binary, built (once per package and test process)
/// so the tests always run the current code.
pub fn binary(package: &str, name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    {
        let mut built = BUILT.lock().unwrap();
        if !built.iter().any(|p| p == package) {
            let status = std::process::Command::new(env!("CARGO"))
                .args(["build", "-p", package, "--bin", name])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(status.success(), "building {package} failed");
            built.push(package.to_owned());
        }
    }
    let exe = std::env::current_exe().expect("test executable");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    let path = debug.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn secret_file(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A child process killed when dropped, its output in a log file.
pub struct Process {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crashed or evicted pod.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }
}

/// One scenario's world.
pub struct Env {
    pub bed: &'static Bed,
    pub standin: StandIn,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
    pub rados_namespace: String,
    pub csi_endpoint: String,
    pub kubeconfig: PathBuf,
    pub config_path: PathBuf,
    pub credentials_dir: PathBuf,
    pub csi: ControllerClient<Channel>,
    pub processes: Vec<Process>,
    keep_logs: bool,
}

impl Env {
    pub async fn start(prefix: &str) -> Env {
        Env::start_with(prefix, &[]).await
    }

    /// [`Env::start`] with `controller_args` added to the controller's flags.
    pub async fn start_with(prefix: &str, controller_args: &[&str]) -> Env {
        let bed = Bed::get();
        let rados_namespace = bed.unique_name(prefix);
        bed.cli(
            "rbd",
            &[
                "namespace",
                "create",
                "--pool",
                &bed.pool,
                "--namespace",
                &rados_namespace,
            ],
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("snap-{prefix}-"))
            .tempdir()
            .unwrap();
        let config_path = dir.path().join("config.json");
        let config = serde_json::json!([{
            "clusterID": CLUSTER_ID,
            "monitors": bed.monitors.split(',').collect::<Vec<_>>(),
            "rbd": {"radosNamespace": rados_namespace},
        }]);
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let credentials_dir = dir.path().join("credentials");
        std::fs::create_dir(&credentials_dir).unwrap();
        std::fs::set_permissions(&credentials_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        secret_file(&credentials_dir.join("userID"), &bed.user);
        secret_file(&credentials_dir.join("userKey"), &bed.key);

        let socket = dir.path().join("csi.sock");
        let csi_endpoint = format!("unix://{}", socket.display());
        let mut args: Vec<String> = vec![
            "--endpoint".into(),
            csi_endpoint.clone(),
            "--driver-name".into(),
            DRIVER.into(),
            "--cluster-config".into(),
            config_path.display().to_string(),
            "--controller-credentials-dir".into(),
            credentials_dir.display().to_string(),
            // The bed's mgr runs trash tasks one at a time for every suite; purge here so
            // "nothing left in Ceph" can be checked within the test.
            "--trash-purge".into(),
            "direct".into(),
        ];
        if !controller_args
            .iter()
            .any(|a| a.starts_with("--alpha-capabilities"))
        {
            // What the manifests pass.
            args.push(
                "--alpha-capabilities=single-node-multi-writer,get-volume,volume-condition".into(),
            );
        }
        args.extend(controller_args.iter().map(|a| (*a).to_owned()));
        let controller = Process::spawn(
            "controller",
            &binary("sepia-controller", "sepia-controller"),
            &args,
            dir.path(),
            &[("RUST_LOG", "info")],
        );
        let channel = connect_endpoint(&csi_endpoint).await;

        let standin = StandIn::start().await.unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        standin.write_kubeconfig(&kubeconfig).unwrap();
        let client = standin.client().unwrap();
        let env = Env {
            bed,
            standin,
            client,
            dir,
            rados_namespace,
            csi_endpoint,
            kubeconfig,
            config_path,
            credentials_dir,
            csi: ControllerClient::new(channel),
            processes: vec![controller],
            keep_logs: false,
        };
        env.put_secret();
        env
    }

    /// Starts a snapshotter with its snapshot-controller half (no upstream snapshot-controller
    /// runs here) and `extra` flags; returns its index in `processes`.
    pub fn start_snapshotter(&mut self, name: &str, extra: &[&str]) -> usize {
        let mut flags = vec!["--enable-snapshot-controller"];
        flags.extend_from_slice(extra);
        self.start_default_snapshotter(name, &flags)
    }

    /// Starts a snapshotter with only the test's plumbing flags and `extra`: the defaults.
    pub fn start_default_snapshotter(&mut self, name: &str, extra: &[&str]) -> usize {
        let mut args = vec![
            format!("--kubeconfig={}", self.kubeconfig.display()),
            format!("--csi-address={}", self.csi_endpoint),
            "--worker-threads=16".to_owned(),
            "--log-filter=info,snapshotter=debug".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let process = Process::spawn(
            name,
            Path::new(env!("CARGO_BIN_EXE_sepia-snapshotter")),
            &args,
            self.dir.path(),
            &[("POD_NAMESPACE", "sepia-system"), ("POD_NAME", name)],
        );
        self.processes.push(process);
        self.processes.len() - 1
    }

    /// Starts a provisioner for the driver.
    pub fn start_provisioner(&mut self) -> usize {
        let args = vec![
            format!("--kubeconfig={}", self.kubeconfig.display()),
            format!("--csi-address={}", self.csi_endpoint),
            "--worker-threads=8".to_owned(),
        ];
        let process = Process::spawn(
            "provisioner",
            &binary("sepia-provisioner", "sepia-provisioner"),
            &args,
            self.dir.path(),
            &[("POD_NAMESPACE", "sepia-system"), ("RUST_LOG", "info")],
        );
        self.processes.push(process);
        self.processes.len() - 1
    }

    /// Waits until process `name` logged `needle` (a log line may follow the effect it
    /// reports by a moment).
    pub async fn wait_log(&mut self, name: &str, needle: &str) {
        let start = Instant::now();
        while !self.process(name).log_text().contains(needle) {
            if start.elapsed() > Duration::from_secs(10) {
                self.dump_logs();
                panic!("{name} never logged {needle:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn process(&mut self, name: &str) -> &mut Process {
        self.processes
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    fn put_secret(&self) {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(SECRET_NAME.to_owned()),
                namespace: Some(SECRET_NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([
                (
                    "userID".to_owned(),
                    ByteString(self.bed.user.clone().into_bytes()),
                ),
                (
                    "userKey".to_owned(),
                    ByteString(self.bed.key.clone().into_bytes()),
                ),
            ])),
            ..Secret::default()
        };
        self.standin.put(&secret).unwrap();
    }

    pub fn secrets(&self) -> HashMap<String, String> {
        HashMap::from([
            ("userID".to_owned(), self.bed.user.clone()),
            ("userKey".to_owned(), self.bed.key.clone()),
        ])
    }

    pub fn volume_parameters(&self) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".to_owned(), CLUSTER_ID.to_owned()),
            ("pool".to_owned(), self.bed.pool.clone()),
            ("imageFeatures".to_owned(), "layering".to_owned()),
        ])
    }

    /// A volume made directly through CSI (the test stands in for a provisioner); its id.
    pub async fn create_volume(&self, name: &str, size: i64) -> String {
        let request = CreateVolumeRequest {
            name: name.to_owned(),
            capacity_range: Some(CapacityRange {
                required_bytes: size,
                limit_bytes: 0,
            }),
            volume_capabilities: vec![VolumeCapability {
                access_type: Some(AccessType::Mount(MountVolume::default())),
                access_mode: Some(AccessMode {
                    mode: Mode::SingleNodeWriter as i32,
                }),
            }],
            parameters: self.volume_parameters(),
            secrets: self.secrets(),
            ..CreateVolumeRequest::default()
        };
        self.csi
            .clone()
            .create_volume(request)
            .await
            .unwrap_or_else(|s| panic!("CreateVolume {name}: {s:?}"))
            .into_inner()
            .volume
            .expect("volume")
            .volume_id
    }

    pub async fn delete_volume(&self, volume_id: &str) {
        self.csi
            .clone()
            .delete_volume(DeleteVolumeRequest {
                volume_id: volume_id.to_owned(),
                secrets: self.secrets(),
            })
            .await
            .unwrap_or_else(|s| panic!("DeleteVolume {volume_id}: {s:?}"));
    }

    /// A snapshot made directly through CSI, as another cluster or a backup tool would.
    pub async fn create_csi_snapshot(&self, name: &str, volume_id: &str) -> csi::v1::Snapshot {
        let start = Instant::now();
        loop {
            let snapshot = self
                .csi
                .clone()
                .create_snapshot(CreateSnapshotRequest {
                    source_volume_id: volume_id.to_owned(),
                    name: name.to_owned(),
                    secrets: self.secrets(),
                    parameters: HashMap::from([("clusterID".to_owned(), CLUSTER_ID.to_owned())]),
                })
                .await
                .unwrap_or_else(|s| panic!("CreateSnapshot {name}: {s:?}"))
                .into_inner()
                .snapshot
                .expect("snapshot");
            if snapshot.ready_to_use {
                return snapshot;
            }
            assert!(start.elapsed() < WAIT, "snapshot {name} never became ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// DeleteSnapshot, repeated while the driver answers ABORTED (busy with it), as a CO does.
    pub async fn delete_csi_snapshot(&self, snapshot_id: &str) {
        let start = Instant::now();
        loop {
            let result = self
                .csi
                .clone()
                .delete_snapshot(DeleteSnapshotRequest {
                    snapshot_id: snapshot_id.to_owned(),
                    secrets: self.secrets(),
                })
                .await;
            match result {
                Ok(_) => return,
                Err(status) if status.code() == tonic::Code::Aborted && start.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(status) => panic!("DeleteSnapshot {snapshot_id}: {status:?}"),
            }
        }
    }

    /// What the driver says about a snapshot right now (`None`: unknown to it).
    pub async fn driver_snapshot(&self, snapshot_id: &str) -> Option<csi::v1::Snapshot> {
        self.csi
            .clone()
            .list_snapshots(ListSnapshotsRequest {
                snapshot_id: snapshot_id.to_owned(),
                secrets: self.secrets(),
                ..ListSnapshotsRequest::default()
            })
            .await
            .unwrap_or_else(|s| panic!("ListSnapshots {snapshot_id}: {s:?}"))
            .into_inner()
            .entries
            .into_iter()
            .find_map(|e| e.snapshot)
    }

    /// A bound PVC `name` (with PV `pv-<name>`) for an existing volume.
    pub fn put_bound_claim(
        &self,
        namespace: &str,
        name: &str,
        volume_id: &str,
        size: &str,
    ) -> PersistentVolumeClaim {
        let pv_name = format!("pv-{name}");
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".to_owned(),
                        Quantity(size.to_owned()),
                    )])),
                    ..VolumeResourceRequirements::default()
                }),
                volume_name: Some(pv_name.clone()),
                storage_class_name: Some("rbd".to_owned()),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: Some(PersistentVolumeClaimStatus {
                phase: Some("Bound".to_owned()),
                capacity: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.to_owned()),
                )])),
                access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                ..PersistentVolumeClaimStatus::default()
            }),
        };
        let claim = self.standin.put(&claim).unwrap();
        let volume = PersistentVolume {
            metadata: ObjectMeta {
                name: Some(pv_name),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.to_owned()),
                )])),
                access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                claim_ref: Some(ObjectReference {
                    kind: Some("PersistentVolumeClaim".to_owned()),
                    namespace: Some(namespace.to_owned()),
                    name: Some(name.to_owned()),
                    uid: claim.metadata.uid.clone(),
                    ..ObjectReference::default()
                }),
                csi: Some(CSIPersistentVolumeSource {
                    driver: DRIVER.to_owned(),
                    volume_handle: volume_id.to_owned(),
                    ..CSIPersistentVolumeSource::default()
                }),
                persistent_volume_reclaim_policy: Some("Delete".to_owned()),
                storage_class_name: Some("rbd".to_owned()),
                volume_mode: Some("Filesystem".to_owned()),
                ..PersistentVolumeSpec::default()
            }),
            status: Some(k8s_openapi::api::core::v1::PersistentVolumeStatus {
                phase: Some("Bound".to_owned()),
                ..Default::default()
            }),
        };
        self.standin.put(&volume).unwrap();
        claim
    }

    /// A class of our driver naming the test's Secret.
    pub fn put_class(
        &self,
        name: &str,
        policy: DeletionPolicy,
        default: bool,
    ) -> VolumeSnapshotClass {
        let mut class = VolumeSnapshotClass::new(name, DRIVER, policy);
        class.parameters = Some(BTreeMap::from([
            ("clusterID".to_owned(), CLUSTER_ID.to_owned()),
            (
                keys::SNAPSHOTTER_SECRET_NAME_KEY.to_owned(),
                SECRET_NAME.to_owned(),
            ),
            (
                keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY.to_owned(),
                SECRET_NAMESPACE.to_owned(),
            ),
        ]));
        if default {
            class.metadata.annotations = Some(BTreeMap::from([(
                keys::IS_DEFAULT_CLASS_ANNOTATION.to_owned(),
                "true".to_owned(),
            )]));
        }
        self.standin.put(&class).unwrap()
    }

    /// A VolumeSnapshot of `claim` (class: `class`, or the default when `None`).
    pub fn put_snapshot(
        &self,
        namespace: &str,
        name: &str,
        claim: &str,
        class: Option<&str>,
    ) -> VolumeSnapshot {
        let snapshot = VolumeSnapshot {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            spec: VolumeSnapshotSpec {
                source: VolumeSnapshotSource {
                    persistent_volume_claim_name: Some(claim.to_owned()),
                    volume_snapshot_content_name: None,
                },
                volume_snapshot_class_name: class.map(str::to_owned),
            },
            status: None,
        };
        self.standin.put(&snapshot).unwrap()
    }

    pub fn get<K>(&self, namespace: &str, name: &str) -> Option<K>
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.standin.get::<K>(namespace, name).unwrap()
    }

    /// Waits until `predicate` holds for the object (`None`: absent).
    pub async fn wait<K>(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        predicate: impl Fn(Option<&K>) -> bool,
    ) -> Option<K>
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        let result = self
            .standin
            .wait_for(
                &Gvr::of::<K>(),
                namespace,
                name,
                |value: Option<&Value>| {
                    let typed: Option<K> =
                        value.map(|v| serde_json::from_value(v.clone()).expect("decode"));
                    predicate(typed.as_ref())
                },
                WAIT,
            )
            .await;
        match result {
            Ok(value) => value.map(|v| serde_json::from_value(v).expect("decode")),
            Err(error) => {
                self.dump_logs();
                panic!("waiting for {what}: {error}");
            }
        }
    }

    pub async fn wait_ready(&self, namespace: &str, name: &str) -> VolumeSnapshot {
        self.wait::<VolumeSnapshot>(
            namespace,
            name,
            &format!("VolumeSnapshot {namespace}/{name} ready"),
            |s| s.is_some_and(VolumeSnapshot::is_ready),
        )
        .await
        .expect("ready snapshot")
    }

    pub async fn wait_gone<K>(&self, namespace: &str, name: &str, what: &str)
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.wait::<K>(namespace, name, what, |o| o.is_none()).await;
    }

    /// Deletes as a user would (finalizers respected); `true` if gone at once.
    pub fn delete<K: kube::Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) -> bool {
        self.standin
            .delete_object(&Gvr::of::<K>(), namespace, name)
            .unwrap()
    }

    pub fn content_of(&self, snapshot: &VolumeSnapshot) -> VolumeSnapshotContent {
        let name = snapshot.bound_content_name().expect("bound");
        self.get::<VolumeSnapshotContent>("", name)
            .expect("content exists")
    }

    /// Image names in the test's RBD namespace.
    pub fn images(&self) -> Vec<String> {
        let out = self.bed.cli(
            "rbd",
            &[
                "ls",
                "--pool",
                &self.bed.pool,
                "--namespace",
                &self.rados_namespace,
            ],
        );
        let mut names: Vec<String> = out
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        names.sort();
        names
    }

    /// Images still in the namespace's trash.
    pub fn trash(&self) -> Vec<String> {
        let out = self.bed.cli(
            "rbd",
            &[
                "trash",
                "ls",
                "--pool",
                &self.bed.pool,
                "--namespace",
                &self.rados_namespace,
            ],
        );
        out.lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Waits (up to [`WAIT`]) for Ceph to hold `count` images; returns them. The driver may
    /// call a snapshot ready at the cut and build its image right after (Sepia's controller
    /// does), so an image can follow readiness by a moment.
    pub async fn wait_image_count(&self, count: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let images = self.images();
            if images.len() == count {
                return images;
            }
            if start.elapsed() > WAIT {
                self.dump_logs();
                panic!("Ceph holds images {images:?}, want {count}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (up to [`WAIT`]) for Ceph to hold exactly `want` images and an empty trash.
    pub async fn wait_images(&self, want: &[String]) {
        let start = Instant::now();
        loop {
            let images = self.images();
            let trash = self.trash();
            if images == want && trash.is_empty() {
                return;
            }
            if start.elapsed() > WAIT {
                self.dump_logs();
                panic!("Ceph holds images {images:?} (trash {trash:?}), want {want:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The current Lease holder of `name` in sepia-system.
    pub fn lease_holder(&self, name: &str) -> Option<String> {
        let lease: k8s_openapi::api::coordination::v1::Lease = self.get(SECRET_NAMESPACE, name)?;
        lease.spec?.holder_identity.filter(|h| !h.is_empty())
    }

    /// Kubernetes Events in `namespace` (either API), as `reason` strings, for `regarding`.
    pub fn event_reasons(&self, namespace: &str, regarding: &str) -> Vec<String> {
        let mut reasons = Vec::new();
        for gvr in [
            Gvr::new("events.k8s.io", "v1", "events"),
            Gvr::new("", "v1", "events"),
        ] {
            for event in self.standin.list_json(&gvr, Some(namespace)) {
                let about = event
                    .get("regarding")
                    .or_else(|| event.get("involvedObject"))
                    .and_then(|r| r.get("name"))
                    .and_then(Value::as_str);
                if about == Some(regarding)
                    && let Some(reason) = event.get("reason").and_then(Value::as_str)
                {
                    reasons.push(reason.to_owned());
                }
            }
        }
        reasons
    }

    /// Waits until Events with all `reasons` were recorded for `regarding`.
    pub async fn wait_events(&self, namespace: &str, regarding: &str, reasons: &[&str]) {
        let start = Instant::now();
        loop {
            let seen = self.event_reasons(namespace, regarding);
            if reasons.iter().all(|r| seen.iter().any(|s| s == r)) {
                return;
            }
            if start.elapsed() > WAIT {
                self.dump_logs();
                panic!("events {reasons:?} for {regarding}: only {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The writes the snapshotters made to `plural`, as (verb, subresource), in order.
    pub fn writes(&self, plural: &str) -> Vec<(kube_standin::Verb, Option<String>)> {
        self.standin
            .events()
            .into_iter()
            .filter(|w| w.gvr.plural == plural && w.user_agent.starts_with("sepia-snapshotter/"))
            .map(|w| (w.verb, w.subresource))
            .collect()
    }

    pub fn dump_logs(&self) {
        for gvr in [
            Gvr::of::<VolumeSnapshot>(),
            Gvr::of::<VolumeSnapshotContent>(),
            Gvr::new("", "v1", "persistentvolumeclaims"),
        ] {
            for object in self.standin.list_json(&gvr, None) {
                eprintln!(
                    "----- {} -----\n{}",
                    gvr.plural,
                    serde_json::to_string_pretty(&object).unwrap_or_default()
                );
            }
        }
        for process in &self.processes {
            eprintln!("----- {} log -----\n{}", process.name, process.log_text());
        }
    }

    /// Keep the temp dir (logs) after the test, for debugging.
    pub fn keep_logs(&mut self) {
        self.keep_logs = true;
    }
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:`port`: (status code, body).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_default();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

pub async fn connect_endpoint(endpoint: &str) -> Channel {
    let start = Instant::now();
    loop {
        match csi::client::connect(endpoint, Duration::from_secs(2)).await {
            Ok(channel) => return channel,
            Err(error) => {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "controller never listened: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SNAPSHOTTER_E2E_LOGS").is_some() {
            self.dump_logs();
        }
        // Children first (kill_on_drop), then whatever is left in Ceph.
        self.processes.clear();
        let pool = self.bed.pool.clone();
        let ns = self.rados_namespace.clone();
        let run = |args: &[&str]| -> String {
            std::process::Command::new("timeout")
                .arg("60")
                .arg(args[0])
                .args(&args[1..])
                .env("CEPH_CONF", &self.bed.conf_path)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for _ in 0..4 {
            let images = run(&["rbd", "ls", "--pool", &pool, "--namespace", &ns]);
            let trash = run(&["rbd", "trash", "ls", "--pool", &pool, "--namespace", &ns]);
            if images.trim().is_empty() && trash.trim().is_empty() {
                break;
            }
            for image in images.lines().filter(|l| !l.is_empty()) {
                let spec = format!("{pool}/{ns}/{image}");
                run(&["rbd", "snap", "purge", &spec]);
                run(&["rbd", "rm", &spec]);
            }
            for line in trash.lines().filter(|l| !l.is_empty()) {
                if let Some(id) = line.split_whitespace().next() {
                    run(&[
                        "rbd",
                        "trash",
                        "rm",
                        "--pool",
                        &pool,
                        "--namespace",
                        &ns,
                        id,
                    ]);
                }
            }
        }
        for object in run(&["rados", "-p", &pool, "--namespace", &ns, "ls"]).lines() {
            if !object.is_empty() {
                run(&["rados", "-p", &pool, "--namespace", &ns, "rm", object]);
            }
        }
        run(&[
            "rbd",
            "namespace",
            "remove",
            "--pool",
            &pool,
            "--namespace",
            &ns,
        ]);
        if self.keep_logs {
            let path = self.dir.path().to_path_buf();
            eprintln!("logs kept in {}", path.display());
            std::mem::forget(std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().unwrap(),
            ));
        }
    }
}
