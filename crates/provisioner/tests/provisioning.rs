//! The provisioner against the real `sepia-controller` on the local Ceph, driven through the
//! API stand-in: PVC → PV → RBD image, the reclaim policies, and the leak fixes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube_standin::{Fault, Gvr, Verb};
use provisioner::keys::{
    ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_PROVISIONED_BY,
    ATTR_PROVISIONER_IDENTITY, FINALIZER_PROVISIONING, FINALIZER_PV,
};
use sidecar_testkit::csi_proxy::{AnswerHold, CallLog, CsiProxy};
use sidecar_testkit::observed::writes_by;
use sidecar_testkit::pool::ScratchPool;
use support::{CLASS, DRIVER, SECRET, SECRET_NS, World, put_class};

const WAIT: Duration = Duration::from_secs(60);

fn has_record(claim: &PersistentVolumeClaim) -> bool {
    provisioner::claim_decision::has_in_flight_record(claim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_becomes_a_bound_pv_backed_by_an_rbd_image() {
    let mut world = World::start(None).await;
    let port = sepia_testbed::free_port();
    // Upstream's spelling (every interface), as the manifests pass it.
    let _p = world.provisioner(&[&format!("--http-endpoint=:{port}")], &[]);
    let claim = world.claim("data", "1Gi", CLASS, None);
    let uid = claim.metadata.uid.clone().unwrap();
    let pv = world.wait_bound("data", WAIT).await;

    let name = pv.metadata.name.clone().unwrap();
    assert_eq!(name, format!("pvc-{uid}"));
    let ann = pv.metadata.annotations.clone().unwrap();
    assert_eq!(ann[ANN_PROVISIONED_BY], DRIVER);
    assert_eq!(ann[ANN_DELETION_SECRET_NAME], SECRET);
    assert_eq!(ann[ANN_DELETION_SECRET_NAMESPACE], SECRET_NS);
    assert_eq!(pv.metadata.finalizers.clone().unwrap(), [FINALIZER_PV]);
    let spec = pv.spec.clone().unwrap();
    assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(spec.storage_class_name.as_deref(), Some(CLASS));
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Delete")
    );
    assert_eq!(spec.volume_mode.as_deref(), Some("Filesystem"));
    let claim_ref = spec.claim_ref.unwrap();
    assert_eq!(claim_ref.name.as_deref(), Some("data"));
    assert_eq!(claim_ref.uid.as_deref(), Some(uid.as_str()));
    let csi = spec.csi.unwrap();
    assert_eq!(csi.driver, DRIVER);
    assert_eq!(csi.fs_type.as_deref(), Some("ext4"));
    assert_eq!(
        csi.node_stage_secret_ref.unwrap().name.as_deref(),
        Some(SECRET)
    );
    assert_eq!(
        csi.controller_expand_secret_ref
            .unwrap()
            .namespace
            .as_deref(),
        Some(SECRET_NS)
    );
    let attrs = csi.volume_attributes.unwrap();
    assert!(attrs[ATTR_PROVISIONER_IDENTITY].ends_with(DRIVER));
    assert_eq!(attrs["radosNamespace"], world.controller.namespace);
    let image = attrs["imageName"].clone();
    assert_eq!(world.controller.images(), [image]);
    assert_eq!(
        world.controller.journal_keys(),
        [format!("csi.volume.{name}")]
    );

    // The in-flight record is gone once the PV exists; the events say what happened.
    world
        .eventually("in-flight record cleared", WAIT, || {
            world.get_claim("data").is_some_and(|c| !has_record(&c))
        })
        .await;
    world
        .eventually("events recorded", WAIT, || {
            let reasons = world.event_reasons("data");
            reasons.contains(&"Provisioning".to_owned())
                && reasons.contains(&"ProvisioningSucceeded".to_owned())
        })
        .await;

    // Upstream's metric names on --http-endpoint, a healthy /healthz, and the check
    // upstream's manifests probe.
    let (status, metrics) = sidecar_testkit::http::get(port, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "csi_sidecar_operations_seconds_count{{driver_name=\"{DRIVER}\",method_name=\"/csi.v1.Controller/CreateVolume\",grpc_status_code=\"OK\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "controller_persistentvolumeclaim_provision_total{{class=\"{CLASS}\",source=\"\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(sidecar_testkit::http::get(port, "/healthz").await.0, 200);
    assert_eq!(
        sidecar_testkit::http::get(port, "/healthz/leader-election").await,
        (200, "ok\n".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_claim_with_reclaim_policy_delete_removes_pv_and_image() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("data", "100Mi", CLASS, None);
    let pv = world.wait_bound("data", WAIT).await;
    assert_eq!(world.controller.images().len(), 1);
    world.delete_claim("data");
    world
        .wait_gone(
            &Gvr::of::<PersistentVolume>(),
            "",
            pv.metadata.name.as_deref().unwrap(),
            WAIT,
        )
        .await;
    world
        .eventually("image deleted", WAIT, || {
            world.controller.images().is_empty()
        })
        .await;
    assert!(world.controller.journal_keys().is_empty());

    // The claim (in-flight record) and the PV (finalizer) were patched, never replaced: the
    // shipped RBAC, like upstream's, grants `patch` for them.
    let claims = writes_by(
        &world.standin,
        "sepia-provisioner",
        "persistentvolumeclaims",
    );
    assert!(claims.contains(&(Verb::Patch, None)), "{claims:?}");
    let volumes = writes_by(&world.standin, "sepia-provisioner", "persistentvolumes");
    assert!(volumes.contains(&(Verb::Patch, None)), "{volumes:?}");
    for (verb, subresource) in claims.iter().chain(&volumes) {
        assert!(
            matches!(verb, Verb::Patch | Verb::Create | Verb::Delete) && subresource.is_none(),
            "{claims:?} {volumes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bound_pv_keeps_its_image_until_the_claim_is_gone() {
    // A StatefulSet scaled to zero keeps its claims; `kubectl delete pv` on one of their PVs
    // must not purge the data the claim still holds.
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("data", "100Mi", CLASS, None);
    let pv = world.wait_bound("data", WAIT).await;
    let name = pv.metadata.name.clone().unwrap();
    let image = world.controller.images();
    assert_eq!(image.len(), 1);

    world
        .standin
        .delete_object(&Gvr::of::<PersistentVolume>(), "", &name)
        .unwrap();
    // The provisioner's pass over the deleted PV ends with this event (or, wrongly, with the
    // image gone): only then is the image's presence worth checking.
    world
        .eventually("the provisioner looked at the deleted PV", WAIT, || {
            world
                .event_reasons(&name)
                .contains(&"VolumeDeletePending".to_owned())
                || world.controller.images().is_empty()
        })
        .await;
    assert_eq!(world.controller.images(), image, "bound: the image stays");
    let held = world.get_pv(&name).unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        held.metadata
            .finalizers
            .unwrap()
            .contains(&FINALIZER_PV.to_owned())
    );
    assert_eq!(held.status.unwrap().phase.as_deref(), Some("Bound"));
    assert!(world.get_claim("data").is_some());

    // The claim goes, the PV is released: now the volume and the PV go.
    world.delete_claim("data");
    world
        .wait_gone(&Gvr::of::<PersistentVolume>(), "", &name, WAIT)
        .await;
    world
        .eventually("image deleted", WAIT, || {
            world.controller.images().is_empty()
        })
        .await;
    assert!(world.controller.journal_keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaim_policy_retain_keeps_the_image_and_lets_the_pv_go() {
    let mut world = World::start(None).await;
    put_class(&world.standin, "keep", "Retain");
    let _p = world.provisioner(&[], &[]);
    world.claim("data", "100Mi", "keep", None);
    let pv = world.wait_bound("data", WAIT).await;
    let name = pv.metadata.name.clone().unwrap();
    world.delete_claim("data");
    // The pass that drops our finalizer from the released PV is the one that would have called
    // DeleteVolume (before the finalizer goes, as for Delete); later passes see no finalizer
    // and act no more. So once it is gone, the image's presence is the answer.
    world
        .eventually("PV released without our finalizer", WAIT, || {
            world.get_pv(&name).is_some_and(|pv| {
                pv.status.and_then(|s| s.phase).as_deref() == Some("Released")
                    && pv.metadata.finalizers.unwrap_or_default().is_empty()
            })
        })
        .await;
    assert_eq!(world.controller.images().len(), 1);
    assert!(world.get_pv(&name).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_annotation_cannot_pick_the_provisioners_secret() {
    const PICK: &str = "team.io/secret";
    let template = format!("${{pvc.annotations['{PICK}']}}");
    let mut world = World::start(None).await;
    // One class lets the claim's author name the provisioner's Secret (any Secret the
    // provisioner can read: another tenant's credentials), one only the node-stage Secret.
    world.class_variant("pick-provisioner-secret", |class| {
        class
            .parameters
            .get_or_insert_with(Default::default)
            .insert(
                "csi.storage.k8s.io/provisioner-secret-name".to_owned(),
                template.clone(),
            );
    });
    world.class_variant("pick-node-secret", |class| {
        class
            .parameters
            .get_or_insert_with(Default::default)
            .insert(
                "csi.storage.k8s.io/node-stage-secret-name".to_owned(),
                template.clone(),
            );
    });
    let _p = world.provisioner(&[], &[]);
    // The annotation names the real provisioner Secret: honoured, this claim would provision.
    world.claim_annotated(
        "picks",
        "32Mi",
        "pick-provisioner-secret",
        None,
        &[(PICK, SECRET)],
    );
    world.claim_annotated(
        "stages",
        "32Mi",
        "pick-node-secret",
        None,
        &[(PICK, "tenant-b")],
    );

    // A per-volume operation's Secret may follow the claim.
    let staged = world.wait_bound("stages", WAIT).await;
    let stage_ref = staged
        .spec
        .unwrap()
        .csi
        .unwrap()
        .node_stage_secret_ref
        .unwrap();
    assert_eq!(stage_ref.name.as_deref(), Some("tenant-b"));

    // The provisioner's does not: the class is refused on the claim, naming key and token.
    world
        .eventually("the claim was refused or provisioned", WAIT, || {
            !world.failure_notes("picks").is_empty()
                || world
                    .get_claim("picks")
                    .is_some_and(|c| c.spec.and_then(|s| s.volume_name).is_some())
        })
        .await;
    let notes = world.failure_notes("picks");
    assert!(
        notes.iter().any(|n| {
            n.contains("csi.storage.k8s.io/provisioner-secret-name")
                && n.contains(&format!("{template} is not allowed"))
        }),
        "{notes:?}"
    );
    // The plan failed before any call: nothing in flight, nothing in Ceph but the other claim's
    // image.
    let picks = world.get_claim("picks").unwrap();
    assert!(picks.spec.unwrap().volume_name.is_none());
    assert!(!has_record(&world.get_claim("picks").unwrap()));
    assert_eq!(world.controller.images().len(), 1);
    assert_eq!(
        world
            .standin
            .list_json(&Gvr::of::<PersistentVolume>(), None)
            .len(),
        1
    );
}

/// Claim `data`, deleted while its CreateVolume's outcome was unknown, goes once its volume is
/// cleaned up: no image, no journal entry, no PV left.
async fn the_vanished_claim_leaves_nothing(world: &World) {
    world
        .wait_gone(
            &Gvr::of::<PersistentVolumeClaim>(),
            "default",
            "data",
            Duration::from_secs(120),
        )
        .await;
    world
        .eventually("no image left", WAIT, || {
            world.controller.images().is_empty()
        })
        .await;
    assert!(
        world.controller.journal_keys().is_empty(),
        "journal keeps {:?}",
        world.controller.journal_keys()
    );
    assert!(
        world
            .standin
            .list_json(&Gvr::of::<PersistentVolume>(), None)
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_deleted_while_create_volume_is_slow_leaves_nothing_in_ceph() {
    // CreateVolume stalls 6 s after making the image; the provisioner's deadline is 1 s, so the
    // call is still running in the controller when the claim is deleted.
    let mut world = World::start(Some("controller.create.after_image_created=delay(6s)")).await;
    let _p = world.provisioner(&["--timeout=1s"], &[]);
    world.claim("data", "100Mi", CLASS, None);
    world
        .eventually("in-flight record written", WAIT, || {
            world.get_claim("data").is_some_and(|c| has_record(&c))
        })
        .await;
    world
        .eventually("the image exists mid-call", WAIT, || {
            !world.controller.images().is_empty()
        })
        .await;
    world.delete_claim("data");
    // The record's finalizer holds the claim until the volume is gone.
    let held = world.get_claim("data").unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        held.metadata
            .finalizers
            .unwrap()
            .contains(&FINALIZER_PROVISIONING.to_owned())
    );
    the_vanished_claim_leaves_nothing(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioner_killed_between_create_volume_and_pv_creation_binds_the_same_volume_after_restart()
 {
    let mut world = World::start(None).await;
    // Every PV creation fails for now: CreateVolume succeeds, the PV cannot be saved.
    world.standin.inject_fault(
        Fault::on_path("/persistentvolumes")
            .method(http::Method::POST)
            .times(1_000_000),
    );
    let mut first = world.provisioner(&[], &[]);
    let claim = world.claim("data", "100Mi", CLASS, None);
    world
        .eventually("image created", WAIT, || {
            world.controller.images().len() == 1
        })
        .await;
    assert!(has_record(&world.get_claim("data").unwrap()));
    let image = world.controller.images();
    first.kill().await;
    world.standin.clear_faults();

    let _second = world.provisioner(&[], &[]);
    let pv = world.wait_bound("data", WAIT).await;
    assert_eq!(
        pv.metadata.name.unwrap(),
        format!("pvc-{}", claim.metadata.uid.unwrap())
    );
    assert_eq!(world.controller.images(), image, "no second image");
    assert_eq!(
        world.controller.journal_keys().len(),
        1,
        "one reservation: {:?}",
        world.controller.journal_keys()
    );
    world
        .eventually("record cleared", WAIT, || {
            world.get_claim("data").is_some_and(|c| !has_record(&c))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_deleted_mid_create_is_cleaned_up_by_the_next_provisioner_after_a_crash() {
    // The call is still running in the controller (6 s stall, 30 s deadline) when the claim is
    // deleted and the provisioner dies: only the durable record tells the next one what to do.
    let mut world = World::start(Some("controller.create.after_image_created=delay(6s)")).await;
    let mut first = world.provisioner(&["--timeout=30s"], &[]);
    world.claim("data", "100Mi", CLASS, None);
    world
        .eventually("the image exists mid-call", WAIT, || {
            !world.controller.images().is_empty()
        })
        .await;
    assert!(has_record(&world.get_claim("data").unwrap()));
    world.delete_claim("data");
    first.kill().await;

    let _second = world.provisioner(&["--timeout=30s"], &[]);
    the_vanished_claim_leaves_nothing(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_deleted_mid_create_is_cleaned_up_where_its_volume_was_made_not_where_its_class_now_points()
 {
    // CreateVolume makes the image, but its answer never reaches the provisioner (held in a
    // proxy) and the provisioner dies. Meanwhile the class is made anew with another pool and
    // the claim is deleted. The next provisioner's clean-up must repeat the call the first
    // attempt made, not one built from today's class: that would make (and delete) a volume
    // in the new pool and leak the original.
    let mut world = World::start(None).await;
    let new_pool = ScratchPool::beside(&world.controller);
    let untouched = new_pool.objects();
    let hold = AnswerHold::closed("/csi.v1.Controller/CreateVolume");
    let proxy = CsiProxy::start_holding(
        "provisioner",
        &world.controller.socket,
        world.controller.dir.path().join("proxy.sock"),
        CallLog::default(),
        Some(hold.clone()),
    );
    let mut first = world.provisioner_at(&proxy.endpoint(), &[], &[]);
    world.claim("data", "32Mi", CLASS, None);
    world
        .eventually("the image exists, its answer held", WAIT, || {
            world.controller.images().len() == 1
                && world.get_claim("data").is_some_and(|c| has_record(&c))
        })
        .await;
    first.kill().await;
    hold.open();

    // StorageClass parameters are immutable: the admin deletes the class and makes it again,
    // same name, another pool. Then the claim goes.
    let mut class: StorageClass = world.standin.get("", CLASS).unwrap().unwrap();
    world
        .standin
        .delete_object(&Gvr::of::<StorageClass>(), "", CLASS)
        .unwrap();
    class.metadata = support::meta(None, CLASS);
    class
        .parameters
        .get_or_insert_with(Default::default)
        .insert("pool".to_owned(), new_pool.name.clone());
    world.standin.put(&class).unwrap();
    world.delete_claim("data");

    let _second = world.provisioner(&[], &[]);
    the_vanished_claim_leaves_nothing(&world).await;
    assert_eq!(
        new_pool.objects(),
        untouched,
        "nothing was ever made in the class's new pool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_provisioning_failed_finally_can_be_deleted() {
    let mut world = World::start(None).await;
    // One class names a provisioner Secret that does not exist; the other a pool that does
    // not, so CreateVolume fails with a final error.
    let parameter = |key: &'static str, value: &'static str| {
        move |class: &mut StorageClass| {
            class
                .parameters
                .get_or_insert_with(Default::default)
                .insert(key.to_owned(), value.to_owned());
        }
    };
    world.class_variant(
        "no-secret",
        parameter("csi.storage.k8s.io/provisioner-secret-name", "missing"),
    );
    world.class_variant("no-pool", parameter("pool", "no-such-pool"));
    let _p = world.provisioner(&[], &[]);
    world.claim("secretless", "32Mi", "no-secret", None);
    world.claim("poolless", "32Mi", "no-pool", None);
    world
        .eventually("both claims failed", WAIT, || {
            world
                .failure_notes("secretless")
                .iter()
                .any(|n| n.contains("missing"))
                && world
                    .failure_notes("poolless")
                    .iter()
                    .any(|n| n.contains("CreateVolume"))
        })
        .await;

    // The admin gives up on the pool-less class and removes it; the user deletes both claims.
    world
        .standin
        .delete_object(&Gvr::of::<StorageClass>(), "", "no-pool")
        .unwrap();
    world.delete_claim("secretless");
    world.delete_claim("poolless");
    for name in ["secretless", "poolless"] {
        world
            .wait_gone(&Gvr::of::<PersistentVolumeClaim>(), "default", name, WAIT)
            .await;
    }
    assert!(world.controller.images().is_empty());
    assert!(
        world
            .standin
            .list_json(&Gvr::of::<PersistentVolume>(), None)
            .is_empty()
    );
}
