//! The test bed for the provisioner: the in-process API stand-in, the real `sepia-controller`
//! on a fresh RADOS namespace of the local Ceph, the real `sepia-provisioner` binary against
//! both, and a small stand-in for kube-controller-manager's binder (the stand-in is an API
//! server, nothing more, so something has to bind PVs and mark them Released). The parts every
//! sidecar's tests share are in `sepia-sidecar-testkit`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod binder;
pub mod snapshots;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Secret};
use k8s_openapi::api::storage::v1::StorageClass;
use kube_standin::{Gvr, StandIn};
use sepia_testbed::Bed;
pub use sepia_testbed::{Process, workspace_binary};
use serde_json::{Value, json};
pub use sidecar_testkit::{CLUSTER_ID, Controller, DRIVER};
use tokio::process::Command;

pub const CLASS: &str = "sepia-rbd";
pub const SECRET_NS: &str = "ceph-csi";
pub const SECRET: &str = "rbd-provisioner";

pub fn provisioner_binary() -> PathBuf {
    option_env!("CARGO_BIN_EXE_sepia-provisioner")
        .map_or_else(|| workspace_binary("sepia-provisioner"), PathBuf::from)
}

/// Stand-in + controller + provisioner(s) + binder for one test.
pub struct World {
    pub standin: StandIn,
    /// Its directory is the test's: kubeconfig and every process's log are there too.
    pub controller: Controller,
    pub kubeconfig: PathBuf,
    binder: tokio::task::JoinHandle<()>,
    started: usize,
}

impl World {
    pub async fn start(failpoints: Option<&str>) -> Self {
        Self::start_with(failpoints, &[]).await
    }

    /// [`World::start`] with flags for the controller (`--nats-url=…`).
    pub async fn start_with(failpoints: Option<&str>, controller_flags: &[&str]) -> Self {
        let controller = Controller::start_with("prov", failpoints, controller_flags).await;
        let standin = StandIn::start().await.unwrap();
        let kubeconfig = controller.dir.path().join("kubeconfig");
        standin.write_kubeconfig(&kubeconfig).unwrap();
        let bed = Bed::get();
        standin
            .put(&Secret {
                metadata: meta(Some(SECRET_NS), SECRET),
                string_data: Some(BTreeMap::from([
                    ("userID".to_owned(), bed.user.clone()),
                    ("userKey".to_owned(), bed.key.clone()),
                ])),
                ..Secret::default()
            })
            .unwrap();
        put_class(&standin, CLASS, "Delete");
        let binder = tokio::spawn(binder::run(standin.client().unwrap()));
        World {
            standin,
            controller,
            kubeconfig,
            binder,
            started: 0,
        }
    }

    /// Starts a provisioner with test-friendly retry intervals plus `extra` flags.
    pub fn provisioner(&mut self, extra: &[&str], env: &[(&str, &str)]) -> Process {
        let endpoint = self.controller.endpoint();
        self.provisioner_at(&endpoint, extra, env)
    }

    /// [`World::provisioner`] talking to the driver at `csi_endpoint` (a proxy in front of the
    /// controller).
    pub fn provisioner_at(
        &mut self,
        csi_endpoint: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        self.started += 1;
        let name = format!("provisioner-{}", self.started);
        let mut command = Command::new(provisioner_binary());
        command
            .arg("--csi-address")
            .arg(csi_endpoint)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--retry-interval-start=200ms", "--retry-interval-max=3s"])
            .args(extra)
            .env(
                "RUST_LOG",
                "info,sepia=debug,provisioner=debug,sidecar=debug",
            )
            .env_remove("SEPIA_NATS_URL")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        if !extra.iter().any(|a| a.starts_with("--timeout")) {
            command.arg("--timeout=20s");
        }
        for (k, v) in env {
            command.env(k, v);
        }
        Process::start(&name, command, self.controller.dir.path())
    }

    /// Creates a claim of class `class` annotated for our driver (as kube-controller-manager
    /// would for an Immediate class).
    pub fn claim(
        &self,
        name: &str,
        size: &str,
        class: &str,
        data_source: Option<Value>,
    ) -> PersistentVolumeClaim {
        self.claim_annotated(name, size, class, data_source, &[])
    }

    /// [`World::claim`] with the claim author's own `annotations` besides ours.
    pub fn claim_annotated(
        &self,
        name: &str,
        size: &str,
        class: &str,
        data_source: Option<Value>,
        annotations: &[(&str, &str)],
    ) -> PersistentVolumeClaim {
        let mut spec = json!({
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "resources": {"requests": {"storage": size}},
        });
        if let Some(source) = data_source {
            spec["dataSource"] = source;
        }
        let mut object = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": "default",
                "annotations": {
                    "volume.kubernetes.io/storage-provisioner": DRIVER,
                    "volume.beta.kubernetes.io/storage-provisioner": DRIVER,
                },
            },
            "spec": spec,
        });
        for (key, value) in annotations {
            object["metadata"]["annotations"][*key] = json!(value);
        }
        let stored = self
            .standin
            .put_object(&Gvr::of::<PersistentVolumeClaim>(), object)
            .unwrap();
        serde_json::from_value(stored).unwrap()
    }

    pub fn get_claim(&self, name: &str) -> Option<PersistentVolumeClaim> {
        self.standin.get("default", name).unwrap()
    }

    pub fn get_pv(&self, name: &str) -> Option<PersistentVolume> {
        self.standin.get("", name).unwrap()
    }

    pub fn delete_claim(&self, name: &str) {
        self.standin
            .delete_object(&Gvr::of::<PersistentVolumeClaim>(), "default", name)
            .unwrap();
    }

    /// Waits until the claim is Bound (by the binder) and returns its PV.
    pub async fn wait_bound(&self, name: &str, timeout: Duration) -> PersistentVolume {
        let bound = self
            .standin
            .wait_for(
                &Gvr::of::<PersistentVolumeClaim>(),
                "default",
                name,
                |c| c.is_some_and(|c| c["status"]["phase"] == "Bound"),
                timeout,
            )
            .await;
        let claim = match bound {
            Ok(Some(claim)) => claim,
            other => panic!("claim {name} not bound: {other:?}\n{}", self.logs()),
        };
        let pv_name = claim["spec"]["volumeName"].as_str().unwrap().to_owned();
        self.get_pv(&pv_name).unwrap()
    }

    pub async fn wait_gone(&self, gvr: &Gvr, namespace: &str, name: &str, timeout: Duration) {
        if let Err(e) = self
            .standin
            .wait_for(gvr, namespace, name, |o| o.is_none(), timeout)
            .await
        {
            panic!("{} {name} still exists: {e}\n{}", gvr.plural, self.logs());
        }
    }

    /// Polls `check` every 200 ms until it holds (or panics with the logs after `timeout`).
    pub async fn eventually(&self, what: &str, timeout: Duration, check: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !check() {
            if tokio::time::Instant::now() > deadline {
                panic!("{what}: not within {timeout:?}\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A copy of the test class named `name`, changed by `change`.
    pub fn class_variant(&self, name: &str, change: impl FnOnce(&mut StorageClass)) {
        let mut class: StorageClass = self.standin.get("", CLASS).unwrap().unwrap();
        class.metadata = meta(None, name);
        change(&mut class);
        self.standin.put(&class).unwrap();
    }

    /// The messages of the ProvisioningFailed events about claim `name`.
    pub fn failure_notes(&self, name: &str) -> Vec<String> {
        self.standin
            .list_json(&Gvr::new("events.k8s.io", "v1", "events"), None)
            .iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == "ProvisioningFailed")
            .filter_map(|e| e["note"].as_str().map(str::to_owned))
            .collect()
    }

    /// Reasons of the Kubernetes events recorded about `name`.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        sidecar_testkit::observed::event_reasons(&self.standin, name)
    }

    /// The tail of every log in the test directory, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.controller.dir.path()) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "log") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    out.push_str(&format!("--- {} (tail)\n", path.display()));
                    for line in tail.into_iter().rev() {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::env::var_os("SEPIA_TEST_LOGS").is_some() {
            eprintln!("{}", self.logs());
        }
        self.binder.abort();
    }
}

pub fn meta(
    namespace: Option<&str>,
    name: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..Default::default()
    }
}

pub fn put_class(standin: &StandIn, name: &str, reclaim: &str) {
    standin
        .put(&StorageClass {
            metadata: meta(None, name),
            provisioner: DRIVER.to_owned(),
            reclaim_policy: Some(reclaim.to_owned()),
            volume_binding_mode: Some("Immediate".to_owned()),
            parameters: Some(BTreeMap::from(
                [
                    ("clusterID", CLUSTER_ID),
                    ("pool", "rbd"),
                    ("imageFeatures", "layering"),
                    ("csi.storage.k8s.io/fstype", "ext4"),
                    ("csi.storage.k8s.io/provisioner-secret-name", SECRET),
                    ("csi.storage.k8s.io/provisioner-secret-namespace", SECRET_NS),
                    ("csi.storage.k8s.io/node-stage-secret-name", SECRET),
                    ("csi.storage.k8s.io/node-stage-secret-namespace", SECRET_NS),
                    ("csi.storage.k8s.io/controller-expand-secret-name", SECRET),
                    (
                        "csi.storage.k8s.io/controller-expand-secret-namespace",
                        SECRET_NS,
                    ),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            )),
            ..StorageClass::default()
        })
        .unwrap();
}
