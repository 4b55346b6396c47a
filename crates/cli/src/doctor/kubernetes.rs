//! `doctor`'s Kubernetes half (with `--kubeconfig`): the names that must agree between the
//! cluster objects and the plugins — the CSIDriver of each driver, and for every StorageClass
//! of a driver its clusterID (in config.json), its pool or filesystem (in Ceph), and the
//! Secrets it names (existing, holding the keys the driver reads). Read-only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cluster_config::ClusterConfig;
use controller::pool::cluster::Cluster;
use k8s_openapi::api::storage::v1::StorageClass;
use serde::Deserialize;

use super::Report;
use crate::args::DoctorArgs;
use crate::kube::Kube;

/// What the Ceph half reached, for the checks that compare against it.
#[derive(Default)]
pub struct Reached {
    pub config: Option<ClusterConfig>,
    pub cluster: Option<Arc<Cluster>>,
}

/// Which driver a StorageClass belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    Rbd,
    CephFs,
}

/// The Secret parameters of a class (`csi.storage.k8s.io/<prefix>-secret-name|namespace`),
/// and whether the driver needs one without it being named.
const SECRETS: [(&str, bool); 3] = [
    ("provisioner", true),
    ("controller-expand", false),
    ("node-stage", true),
];

const CSIDRIVER_FIX: &str = "kubectl apply -f deploy/kustomize/base/csidriver.yaml (CephFS: \
     deploy/kustomize/base/cephfs/csidriver.yaml), or give the plugins' --driver-name the name of \
     the CSIDriver that exists";

pub async fn checks(args: &DoctorArgs, reached: &Reached, report: &mut Report) {
    let Some(path) = &args.shared.kubeconfig else {
        return;
    };
    let kube = match Kube::connect(path).await {
        Ok(kube) => kube,
        Err(e) => {
            return report.fail(
                "kubernetes",
                e,
                "point --kubeconfig at a kubeconfig that reaches the cluster's API server",
            );
        }
    };
    let classes = match kube.storage_classes().await {
        Ok(classes) => classes,
        Err(e) => {
            return report.fail(
                "kubernetes",
                e,
                "the kubeconfig's user must be allowed to list storageclasses and get csidrivers and secrets",
            );
        }
    };
    report.pass(
        "kubernetes",
        format!("{} StorageClasses read", classes.len()),
    );
    let ceph = CephNames::read(reached.cluster.as_deref()).await;
    for (driver, name) in [
        (Driver::Rbd, args.driver_name.as_str()),
        (Driver::CephFs, args.cephfs_driver_name.as_str()),
    ] {
        let own: Vec<&StorageClass> = classes.iter().filter(|c| c.provisioner == name).collect();
        // The CephFS driver is optional: checked once a class uses it.
        if driver == Driver::Rbd || !own.is_empty() {
            csi_driver(&kube, name, own.len(), report).await;
        }
        for class in own {
            class_checks(&kube, driver, class, reached, &ceph, report).await;
        }
    }
}

async fn csi_driver(kube: &Kube, name: &str, classes: usize, report: &mut Report) {
    let check = format!("csidriver {name}");
    match kube.csi_driver_exists(name).await {
        Ok(true) => report.pass(check, format!("exists; {classes} StorageClass(es) use it")),
        Ok(false) => report.fail(
            check,
            format!("no CSIDriver {name}: kubelet and the attacher do not know the driver"),
            CSIDRIVER_FIX,
        ),
        Err(e) => report.fail(check, e, CSIDRIVER_FIX),
    }
}

/// The pools and filesystems of the connected cluster, when it was reached.
#[derive(Default)]
struct CephNames {
    cluster_id: Option<String>,
    pools: BTreeSet<String>,
    filesystems: BTreeSet<String>,
}

#[derive(Deserialize)]
struct Filesystem {
    name: String,
}

impl CephNames {
    async fn read(cluster: Option<&Cluster>) -> CephNames {
        let Some(cluster) = cluster else {
            return CephNames::default();
        };
        let pools: Vec<String> = cluster
            .rados
            .mon_command(serde_json::json!({"prefix": "osd pool ls", "format": "json"}))
            .await
            .and_then(|out| out.json())
            .unwrap_or_default();
        let filesystems: Vec<Filesystem> = cluster
            .rados
            .mon_command(serde_json::json!({"prefix": "fs ls", "format": "json"}))
            .await
            .and_then(|out| out.json())
            .unwrap_or_default();
        CephNames {
            cluster_id: Some(cluster.id.clone()),
            pools: pools.into_iter().collect(),
            filesystems: filesystems.into_iter().map(|f| f.name).collect(),
        }
    }
}

async fn class_checks(
    kube: &Kube,
    driver: Driver,
    class: &StorageClass,
    reached: &Reached,
    ceph: &CephNames,
    report: &mut Report,
) {
    let name = class.metadata.name.as_deref().unwrap_or_default();
    let empty = BTreeMap::new();
    let params = class.parameters.as_ref().unwrap_or(&empty);
    let param = |key: &str| {
        params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    let check = format!("storageclass {name}: clusterID");
    let cluster_id = param("clusterID");
    match (cluster_id, &reached.config) {
        (None, _) => report.fail(
            check,
            "parameters.clusterID is not set",
            format!("set parameters.clusterID of StorageClass {name} to the clusterID of its config.json entry"),
        ),
        (Some(id), Some(config)) if config.get(id).is_err() => {
            let known: Vec<&str> = config.entries().iter().map(|e| e.cluster_id.as_str()).collect();
            report.fail(
                check,
                format!("clusterID {id:?} is not in config.json (it names: {})", known.join(", ")),
                format!(
                    "set parameters.clusterID of StorageClass {name} to one of {}, or add an entry \
                     {{\"clusterID\": \"{id}\", \"monitors\": […]}} to the ceph-csi-config ConfigMap",
                    known.join(", ")
                ),
            );
        }
        (Some(id), Some(_)) => report.pass(check, format!("{id} is in config.json")),
        (Some(id), None) => report.pass(check, format!("{id} (config.json unreadable: see above)")),
    }

    let reached_this = cluster_id.is_some() && ceph.cluster_id.as_deref() == cluster_id;
    let check = format!("storageclass {name}: pool");
    let (key, wanted, known, what) = match driver {
        Driver::Rbd => ("pool", param("pool"), &ceph.pools, "pool"),
        Driver::CephFs => ("fsName", param("fsName"), &ceph.filesystems, "filesystem"),
    };
    match wanted {
        None => report.fail(
            check,
            format!("parameters.{key} is not set"),
            format!("set parameters.{key} of StorageClass {name} to the {what} its volumes go to"),
        ),
        Some(value) if !reached_this => report.pass(
            check,
            format!(
                "{what} {value} not checked: doctor is connected to another cluster (pass --cluster-id {})",
                cluster_id.unwrap_or_default()
            ),
        ),
        Some(value) if !known.contains(value) => report.fail(
            check,
            format!("{what} {value} does not exist in cluster {}", cluster_id.unwrap_or_default()),
            match driver {
                Driver::Rbd => format!(
                    "create it (`ceph osd pool create {value}` then `rbd pool init {value}`) or set \
                     parameters.pool of StorageClass {name} to an existing pool"
                ),
                Driver::CephFs => format!(
                    "create it (`ceph fs volume create {value}`) or set parameters.fsName of \
                     StorageClass {name} to an existing filesystem (`ceph fs ls`)"
                ),
            },
        ),
        Some(value) => report.pass(check, format!("{what} {value} exists")),
    }

    let expands = class.allow_volume_expansion == Some(true);
    for (prefix, needed) in SECRETS {
        let name_key = format!("csi.storage.k8s.io/{prefix}-secret-name");
        let namespace_key = format!("csi.storage.k8s.io/{prefix}-secret-namespace");
        let check = format!("storageclass {name}: {prefix} secret");
        let required = required_keys(driver, prefix);
        match (param(&name_key), param(&namespace_key)) {
            (None, None) if needed || (prefix == "controller-expand" && expands) => report.fail(
                check,
                format!("parameters {name_key} and {namespace_key} are not set"),
                format!(
                    "set {name_key} and {namespace_key} of StorageClass {name} to a Secret holding {}",
                    required.join(" or ")
                ),
            ),
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => report.fail(
                check,
                format!("only one of {name_key} and {namespace_key} is set"),
                format!("set both {name_key} and {namespace_key} of StorageClass {name}"),
            ),
            (Some(secret), Some(namespace)) if secret.contains("${") || namespace.contains("${") => {
                report.pass(
                    check,
                    format!("{namespace}/{secret} is a template, resolved per claim: not checked"),
                );
            }
            (Some(secret), Some(namespace)) => {
                secret_check(kube, check, namespace, secret, &required, report).await;
            }
        }
    }
}

/// Key pairs a driver reads from the Secret of `prefix`: any one pair will do.
fn required_keys(driver: Driver, prefix: &str) -> Vec<&'static str> {
    match (driver, prefix) {
        (Driver::Rbd, _) => vec!["userID/userKey"],
        (Driver::CephFs, "node-stage") => vec!["userID/userKey", "adminID/adminKey"],
        (Driver::CephFs, _) => vec!["adminID/adminKey"],
    }
}

async fn secret_check(
    kube: &Kube,
    check: String,
    namespace: &str,
    secret: &str,
    required: &[&str],
    report: &mut Report,
) {
    let (id_key, key_key) = required[0].split_once('/').unwrap_or(("userID", "userKey"));
    let fix_keys = |why: &str| {
        format!(
            "{why}: kubectl -n {namespace} create secret generic {secret} \
             --from-literal={id_key}=<user without client.> \
             --from-file={key_key}=<(ceph auth get-key client.<user>)"
        )
    };
    match kube.secret_keys(namespace, secret).await {
        Ok(None) => report.fail(
            check,
            format!("Secret {namespace}/{secret} does not exist"),
            fix_keys("correct the StorageClass's secret name and namespace, or create it"),
        ),
        Ok(Some(keys)) => {
            let pair = required
                .iter()
                .find(|pair| pair.split('/').all(|key| keys.contains(key)));
            match pair {
                Some(pair) => {
                    report.pass(check, format!("Secret {namespace}/{secret} holds {pair}"))
                }
                None => {
                    let held: Vec<&str> = keys.iter().map(String::as_str).collect();
                    report.fail(
                        check,
                        format!(
                            "Secret {namespace}/{secret} holds {} but not {}",
                            if held.is_empty() {
                                "no keys".to_owned()
                            } else {
                                held.join(", ")
                            },
                            required.join(" or ")
                        ),
                        fix_keys("add the keys (case-sensitive)"),
                    );
                }
            }
        }
        Err(e) => report.fail(
            check,
            e,
            "the kubeconfig's user must be allowed to get secrets",
        ),
    }
}
