//! With `--kubeconfig` (the in-process API stand-in): PVC and PV names are handles, `inspect`
//! shows the objects that reference a volume, and `orphans` reports volumes no PV references
//! and PVs whose volume is gone, and never removes what a PV references.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::findings::{finding, findings};
use common::{Fixture, bed, uuid_of};
use kube_standin::StandIn;
use serde_json::{Value, json};

fn pv(name: &str, handle: &str, claim: Option<(&str, &str)>) -> Value {
    let mut spec = json!({
        "capacity": {"storage": "1Mi"},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Delete",
        "csi": {"driver": "rbd.csi.sepia.io", "volumeHandle": handle},
    });
    if let Some((namespace, claim)) = claim {
        spec["claimRef"] =
            json!({"kind": "PersistentVolumeClaim", "namespace": namespace, "name": claim});
    }
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec})
}

/// The fields the findings are compared by.
const FIELDS: &[&str] = &["what", "uuid", "removable"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_resolves_pvc_and_pv_and_protects_what_a_pv_references() {
    Fixture::run(|fx| async move {
        let standin = StandIn::start().await.unwrap();
        let kubeconfig = fx.dir().join("kubeconfig");
        standin.write_kubeconfig(&kubeconfig).unwrap();
        let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
        let pool = bed().pool.clone();

        let bound = fx.create_volume("pvc-bound").await;
        standin
            .put_any(pv("pv-bound", &bound.volume_id, Some(("team-a", "data"))))
            .unwrap();
        standin
            .put_any(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": "team-a"},
                "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-bound",
                         "resources": {"requests": {"storage": "1Mi"}}}}))
            .unwrap();
        standin
            .put_any(
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
                "metadata": {"name": "va-bound"},
                "spec": {"attacher": "rbd.csi.sepia.io", "nodeName": "node-1",
                         "source": {"persistentVolumeName": "pv-bound"}},
                "status": {"attached": true}}),
            )
            .unwrap();
        let unclaimed = fx.create_volume("pvc-no-pv").await;
        // Its PV was removed on the API server (a reclaim policy Retain PV deleted by hand).
        standin
            .put_any(pv("pv-removed", &unclaimed.volume_id, None))
            .unwrap();
        let gone = standin
            .delete_object(
                &kube_standin::Gvr::of::<k8s_openapi::api::core::v1::PersistentVolume>(),
                "",
                "pv-removed",
            )
            .unwrap();
        assert!(gone);
        let broken = fx.create_volume("pvc-broken").await;
        let broken_uuid = uuid_of(&broken.volume_id);
        standin
            .put_any(pv("pv-broken", &broken.volume_id, None))
            .unwrap();
        ceph::rbd::remove(&fx.ns.io, &format!("csi-vol-{broken_uuid}"))
            .await
            .unwrap();
        let gone_uuid = uuid::Uuid::new_v4();
        let gone =
            journal::CompositeId::new("bed", u64::try_from(fx.ns.io.pool_id()).unwrap(), gone_uuid)
                .unwrap()
                .encode();
        standin.put_any(pv("pv-gone", &gone, None)).unwrap();

        for handle in ["team-a/data", "pv-bound"] {
            let r = fx
                .sepia_json(&["inspect", handle, "--kubeconfig", &kubeconfig])
                .await;
            assert_eq!(r["uuid"], uuid_of(&bound.volume_id), "{handle}");
            assert_eq!(r["journal"]["request_name"], "pvc-bound");
            let k = &r["kubernetes"];
            assert_eq!(k["persistent_volumes"], json!(["pv-bound"]), "{r:#}");
            assert_eq!(k["claims"], json!(["team-a/data"]));
            assert_eq!(
                k["volume_attachments"],
                json!(["va-bound (node node-1, attached true)"])
            );
        }
        let out = fx
            .sepia(&["inspect", "team-a/missing", "--kubeconfig", &kubeconfig])
            .await;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("PVC team-a/missing does not exist"));

        let args = ["orphans", "--pool", &pool, "--kubeconfig", &kubeconfig];
        let report = fx.sepia_json(&args).await;
        let unclaimed_uuid = uuid_of(&unclaimed.volume_id);
        let gone_uuid = gone_uuid.to_string();
        let expected = BTreeSet::from([
            finding(&["no-persistent-volume", &unclaimed_uuid, "false"]),
            finding(&["entry-without-image", &broken_uuid, "false"]),
            finding(&["pv-without-volume", &gone_uuid, "false"]),
        ]);
        assert_eq!(findings(&report, FIELDS), expected, "{report:#}");

        let mut delete = args.to_vec();
        delete.extend(["--delete", "--yes"]);
        let after = fx.sepia_json(&delete).await;
        assert_eq!(after["removed"], json!([]), "{after:#}");
        assert!(
            fx.ns
                .io
                .exists(&format!("csi.volume.{broken_uuid}"))
                .await
                .unwrap()
        );
        assert_eq!(findings(&after, FIELDS), expected);
    })
    .await;
}
