//! A real cluster named by KUBECONFIG: workloads are busybox pods (so data really goes
//! through kubelet, the node plugin and the kernel), Ceph is read through the Rook toolbox.
//! Settings (environment, with the defaults `kind-rook-ceph.sh` sets up):
//! `SEPIA_E2E_STORAGE_CLASS`/`SEPIA_E2E_SNAPSHOT_CLASS` (sepia-rbd), `SEPIA_E2E_POD_IMAGE`
//! (busybox:1.36), `SEPIA_E2E_TOOLBOX` (rook-ceph/deploy/rook-ceph-tools), `SEPIA_E2E_POOL`
//! (replicapool), `SEPIA_E2E_KUBECTL` (kubectl, used for `exec` into the toolbox); for CephFS
//! `SEPIA_E2E_CEPHFS_STORAGE_CLASS`/`SEPIA_E2E_CEPHFS_SNAPSHOT_CLASS` (sepia-cephfs),
//! `SEPIA_E2E_FS` (myfs, Rook's example filesystem) and `SEPIA_E2E_SUBVOLUME_GROUP` (csi).

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, LogParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use crate::cluster::Cluster;
use crate::objects::Kind;
use crate::scenario;
use crate::wait;

pub struct RealCluster {
    client: kube::Client,
    namespace: String,
    storage_class: String,
    snapshot_class: String,
    cephfs_storage_class: String,
    cephfs_snapshot_class: String,
    pod_image: String,
    toolbox_namespace: String,
    toolbox: String,
    pool: String,
    fs: String,
    subvolume_group: String,
    kubectl: String,
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl RealCluster {
    /// `None` when KUBECONFIG names no file: there is no cluster to run against.
    pub fn configured() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("KUBECONFIG")?;
        let path = std::path::PathBuf::from(path);
        path.is_file().then_some(path)
    }

    /// Connects and creates this run's namespace.
    pub async fn connect() -> Result<Self> {
        let path = Self::configured().context("KUBECONFIG does not name a file")?;
        let kubeconfig = Kubeconfig::read_from(&path)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        let client = kube::Client::try_from(config)?;
        let namespace = format!(
            "sepia-e2e-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let object = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
        let toolbox = setting("SEPIA_E2E_TOOLBOX", "rook-ceph/deploy/rook-ceph-tools");
        let (toolbox_namespace, toolbox) = toolbox
            .split_once('/')
            .map(|(ns, t)| (ns.to_owned(), t.to_owned()))
            .context("SEPIA_E2E_TOOLBOX must be <namespace>/<kind>/<name>")?;
        Ok(Self {
            client,
            namespace,
            storage_class: setting("SEPIA_E2E_STORAGE_CLASS", "sepia-rbd"),
            snapshot_class: setting("SEPIA_E2E_SNAPSHOT_CLASS", "sepia-rbd"),
            cephfs_storage_class: setting("SEPIA_E2E_CEPHFS_STORAGE_CLASS", "sepia-cephfs"),
            cephfs_snapshot_class: setting("SEPIA_E2E_CEPHFS_SNAPSHOT_CLASS", "sepia-cephfs"),
            pod_image: setting("SEPIA_E2E_POD_IMAGE", "busybox:1.36"),
            toolbox_namespace,
            toolbox,
            pool: setting("SEPIA_E2E_POOL", "replicapool"),
            fs: setting("SEPIA_E2E_FS", "myfs"),
            subvolume_group: setting("SEPIA_E2E_SUBVOLUME_GROUP", "csi"),
            kubectl: setting("SEPIA_E2E_KUBECTL", "kubectl"),
        })
    }

    /// Deletes this run's namespace (whatever a failed scenario left in it).
    pub async fn cleanup(&self) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(&self.namespace, &DeleteParams::default())
            .await?;
        Ok(())
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Runs a pod with `pvc` at /data executing `script`; waits for it to start.
    async fn start_pod(&self, pvc: &str, script: &str, env: &[(&str, &str)]) -> Result<String> {
        let name = format!(
            "e2e-{pvc}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let env: Vec<_> = env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "work",
                    "image": self.pod_image,
                    "command": ["sh", "-c", script],
                    "env": env,
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": pvc}}]
            }
        }))?;
        self.pods().create(&PostParams::default(), &pod).await?;
        Ok(name)
    }

    /// Waits for the pod to succeed, returns its log and deletes it (and waits: an RWO volume
    /// must be detached before the next pod can attach it).
    async fn finish_pod(&self, name: &str) -> Result<String> {
        let pods = Kind::Pod.api(&self.client, &self.namespace);
        let pod = wait::until(&pods, name, "pod finished", |p| {
            p.is_some_and(|p| matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
        })
        .await?
        .context("pod vanished")?;
        let log = self.pods().logs(name, &LogParams::default()).await?;
        self.pods().delete(name, &DeleteParams::default()).await?;
        wait::gone(&pods, name, "pod").await?;
        ensure!(
            pod["status"]["phase"] == "Succeeded",
            "pod {name} failed; log: {log}"
        );
        Ok(log)
    }
}

impl Cluster for RealCluster {
    fn client(&self) -> kube::Client {
        self.client.clone()
    }
    fn namespace(&self) -> &str {
        &self.namespace
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
        let pod = self
            .start_pod(
                pvc,
                r#"printf %s "$DATA" > /data/e2e.txt && sync"#,
                &[("DATA", data)],
            )
            .await?;
        self.finish_pod(&pod).await.map(drop)
    }

    async fn read(&self, pvc: &str) -> Result<String> {
        let pod = self.start_pod(pvc, "cat /data/e2e.txt", &[]).await?;
        self.finish_pod(&pod).await
    }

    async fn exchange(&self, pvc: &str, first: &str, second: &str) -> Result<(String, String)> {
        // Each file appears whole (written beside, then renamed); each pod waits for the
        // other's, so both run at once (on whichever nodes the scheduler picks).
        let wait_for = |file: &str| format!("while [ ! -f /data/{file} ]; do sleep 1; done");
        let first_script = format!(
            r#"printf %s "$DATA" > /data/.first && mv /data/.first /data/first.txt && sync && {} && cat /data/second.txt"#,
            wait_for("second.txt")
        );
        let second_script = format!(
            r#"{} && cat /data/first.txt && printf %s "$DATA" > /data/.second && mv /data/.second /data/second.txt && sync"#,
            wait_for("first.txt")
        );
        let pod_a = self
            .start_pod(pvc, &first_script, &[("DATA", first)])
            .await?;
        let pod_b = self
            .start_pod(pvc, &second_script, &[("DATA", second)])
            .await?;
        let second_read = self.finish_pod(&pod_b).await?;
        let first_read = self.finish_pod(&pod_a).await?;
        Ok((second_read, first_read))
    }

    async fn expand_while_mounted(
        &self,
        pvc: &str,
        new_size: &str,
        min_fs_bytes: u64,
    ) -> Result<u64> {
        // Prints the filesystem size every second until it reaches the expected size.
        let script = r#"while :; do set -- $(stat -f -c '%b %S' /data); size=$(($1 * $2)); echo "size=$size"; [ "$size" -ge "$MIN" ] && exit 0; sleep 1; done"#;
        let min = min_fs_bytes.to_string();
        let pod = self.start_pod(pvc, script, &[("MIN", &min)]).await?;
        let pods = Kind::Pod.api(&self.client, &self.namespace);
        wait::until(&pods, &pod, "pod running", |p| {
            p.is_some_and(|p| p["status"]["phase"] != "Pending")
        })
        .await?;
        let pvcs = Kind::Pvc.api(&self.client, &self.namespace);
        scenario::request_size(&pvcs, pvc, new_size).await?;
        let log = self.finish_pod(&pod).await?;
        log.lines()
            .rev()
            .find_map(|l| l.strip_prefix("size=")?.parse().ok())
            .context("the pod printed no size")
    }

    async fn cephfs_subvolumes(&self) -> Result<Vec<String>> {
        let out = self
            .toolbox(&[
                "ceph",
                "fs",
                "subvolume",
                "ls",
                &self.fs,
                &self.subvolume_group,
                "--format",
                "json",
            ])
            .await?;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&out)
            .with_context(|| format!("unreadable `ceph fs subvolume ls` output: {out}"))?;
        Ok(entries
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect())
    }

    async fn ceph_images(&self) -> Result<Vec<String>> {
        let mut images: Vec<String> = self
            .toolbox(&["rbd", "ls", "-p", &self.pool])
            .await?
            .lines()
            .map(str::to_owned)
            .collect();
        let trash = self
            .toolbox(&["rbd", "trash", "ls", "-p", &self.pool, "--format", "json"])
            .await?;
        images.extend(crate::objects::trash_names(&trash)?);
        Ok(images)
    }
}

impl RealCluster {
    /// Runs `command` in the Rook toolbox pod; its standard output.
    async fn toolbox(&self, command: &[&str]) -> Result<String> {
        let run = tokio::process::Command::new(&self.kubectl)
            .args(["-n", &self.toolbox_namespace, "exec", &self.toolbox, "--"])
            .args(command)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .with_context(|| format!("{command:?} in the toolbox took over 60 s"))??;
        if !output.status.success() {
            bail!(
                "{command:?} in the toolbox failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
