use std::collections::BTreeMap;

use events::{KubernetesRef, Outcome};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, TypedLocalObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

const DRIVER: &str = "rbd.csi.ceph.com";

fn claim_from(
    namespace: &str,
    name: &str,
    source: Option<(&str, &str)>,
    driver: &str,
    bound: bool,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            uid: Some(format!("uid-{name}")),
            annotations: Some(BTreeMap::from([(
                ANN_STORAGE_PROVISIONER.to_owned(),
                driver.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            data_source: source.map(|(kind, source)| TypedLocalObjectReference {
                api_group: (kind == VOLUME_SNAPSHOT).then(|| "snapshot.storage.k8s.io".to_owned()),
                kind: kind.to_owned(),
                name: source.to_owned(),
            }),
            volume_name: bound.then(|| "pv-1".to_owned()),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

fn claim(
    namespace: &str,
    name: &str,
    snapshot: &str,
    driver: &str,
    bound: bool,
) -> PersistentVolumeClaim {
    claim_from(
        namespace,
        name,
        Some((VOLUME_SNAPSHOT, snapshot)),
        driver,
        bound,
    )
}

fn event(
    component: &str,
    object: &str,
    verb: &str,
    kubernetes: Option<(&str, &str, &str)>,
) -> events::EventBuilder {
    let outcome = if matches!(verb, verb::PREPARED | verb::FLATTENED | verb::CLONED) {
        Outcome::ok()
    } else {
        Outcome::error("Internal", "rbd clone failed")
    };
    let mut builder = Event::builder(component, object, verb)
        .operation_key("k")
        .outcome(outcome);
    if let Some((kind, namespace, name)) = kubernetes {
        builder = builder.kubernetes(KubernetesRef {
            kind: kind.to_owned(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            uid: None,
        });
    }
    builder
}

fn preparation(verb: &str, kind: &str, namespace: &str, name: &str) -> Event {
    event(
        "controller",
        object::SNAPSHOT,
        verb,
        Some((kind, namespace, name)),
    )
    .snapshot_id("0001-id")
    .build()
    .unwrap()
}

fn names(found: &[&PersistentVolumeClaim]) -> Vec<String> {
    found
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect()
}

fn pending(claims: &[PersistentVolumeClaim]) -> Vec<&PersistentVolumeClaim> {
    claims
        .iter()
        .filter(|c| is_ours_and_pending(c, DRIVER))
        .collect()
}

#[test]
fn only_background_work_a_claim_can_wait_on_is_work() {
    let of =
        |component, object, verb| Work::of(&event(component, object, verb, None).build().unwrap());
    assert_eq!(
        of("controller", "snapshot", "prepared"),
        Some(Work::Preparation)
    );
    assert_eq!(
        of("controller", "snapshot", "preparation-failed"),
        Some(Work::Preparation)
    );
    assert_eq!(of("controller", "volume", "flattened"), Some(Work::Flatten));
    assert_eq!(
        of("controller", "volume", "flatten-failed"),
        Some(Work::Flatten)
    );
    assert_eq!(
        of("cephfs-controller", "volume", "cloned"),
        Some(Work::Clone)
    );
    assert_eq!(
        of("cephfs-controller", "volume", "clone-failed"),
        Some(Work::Clone)
    );
    assert_eq!(of("controller", "volume", "purged"), None);
    assert_eq!(of("controller", "volume", "created"), None);
    assert_eq!(of("controller", "volume", "cloned"), None);
    assert_eq!(of("cephfs-controller", "snapshot", "prepared"), None);
}

#[test]
fn only_our_pending_claims_restoring_from_the_named_snapshot_wait() {
    let claims = [
        claim("default", "waits", "snap", DRIVER, false),
        claim("default", "bound", "snap", DRIVER, true),
        claim("default", "other-snapshot", "snap2", DRIVER, false),
        claim("other", "other-namespace", "snap", DRIVER, false),
        claim("default", "other-driver", "snap", "ebs.csi.aws.com", false),
    ];
    let pending = pending(&claims);
    let prepared = preparation(verb::PREPARED, VOLUME_SNAPSHOT, "default", "snap");
    assert_eq!(
        names(&named(&prepared, Work::Preparation, "pvc", &pending)),
        ["waits"]
    );
    let failed = preparation(verb::PREPARATION_FAILED, VOLUME_SNAPSHOT, "default", "snap");
    assert_eq!(
        names(&named(&failed, Work::Preparation, "pvc", &pending)),
        ["waits"]
    );
    let not_a_snapshot = preparation(verb::PREPARED, CLAIM, "default", "snap");
    assert!(named(&not_a_snapshot, Work::Preparation, "pvc", &pending).is_empty());
}

#[test]
fn without_metadata_a_restore_is_matched_by_its_contents_handle() {
    let claims = [
        claim("default", "waits", "snap", DRIVER, false),
        claim("other", "same-name-elsewhere", "snap", DRIVER, false),
        claim("default", "other-snapshot", "snap2", DRIVER, false),
        claim("default", "unread-snapshot", "snap3", DRIVER, false),
        claim_from("default", "clone", Some((CLAIM, "origin")), DRIVER, false),
    ];
    let pending = pending(&claims);
    let handles = HashMap::from([
        (
            ("default".to_owned(), "snap".to_owned()),
            "0001-id".to_owned(),
        ),
        (
            ("other".to_owned(), "snap".to_owned()),
            "0001-other".to_owned(),
        ),
        (
            ("default".to_owned(), "snap2".to_owned()),
            "0001-two".to_owned(),
        ),
    ]);
    assert_eq!(
        names(&restoring_from_handle("0001-id", &pending, &handles)),
        ["waits"]
    );
    assert!(restoring_from_handle("0001-unknown", &pending, &handles).is_empty());
    // The event names nothing: only the handle can match.
    let bare = event("controller", object::SNAPSHOT, verb::PREPARED, None)
        .snapshot_id("0001-id")
        .build()
        .unwrap();
    assert!(named(&bare, Work::Preparation, "pvc", &pending).is_empty());
}

#[test]
fn a_flatten_wakes_the_claim_it_names_its_request_and_the_restores_and_clones_of_its_source() {
    let claims = [
        claim("default", "restore", "snap", DRIVER, false),
        claim_from("default", "clone", Some((CLAIM, "origin")), DRIVER, false),
        claim_from(
            "default",
            "clone-of-other",
            Some((CLAIM, "other")),
            DRIVER,
            false,
        ),
        claim_from("default", "blank", None, DRIVER, false),
        claim_from("default", "done", None, DRIVER, true),
    ];
    let pending = pending(&claims);
    let by_claim = event(
        "controller",
        object::VOLUME,
        verb::FLATTENED,
        Some((CLAIM, "default", "restore")),
    )
    .build()
    .unwrap();
    assert_eq!(
        names(&named(&by_claim, Work::Flatten, "pvc", &pending)),
        ["restore"]
    );
    let by_request = event("controller", object::VOLUME, verb::FLATTENED, None)
        .request_name("pvc-uid-clone")
        .build()
        .unwrap();
    assert_eq!(
        names(&named(&by_request, Work::Flatten, "pvc", &pending)),
        ["clone"]
    );
    assert!(named(&by_request, Work::Flatten, "vol", &pending).is_empty());
    let done = event(
        "controller",
        object::VOLUME,
        verb::FLATTENED,
        Some((CLAIM, "default", "done")),
    )
    .build()
    .unwrap();
    assert!(named(&done, Work::Flatten, "pvc", &pending).is_empty());
    let handle_of = |namespace: &str, name: &str| {
        (namespace == "default" && name == "origin").then(|| "0001-origin".to_owned())
    };
    assert_eq!(
        names(&cloning_from_volume("0001-origin", &pending, handle_of)),
        ["clone"]
    );
    assert!(cloning_from_volume("0001-other", &pending, handle_of).is_empty());
}

#[test]
fn a_cephfs_clone_wakes_the_claim_whose_request_it_was() {
    let claims = [
        claim("default", "restore", "snap", DRIVER, false),
        claim("default", "other", "snap", DRIVER, false),
    ];
    let pending = pending(&claims);
    let cloned = event("cephfs-controller", object::VOLUME, verb::CLONED, None)
        .request_name("pvc-uid-restore")
        .volume_id("0001-new")
        .build()
        .unwrap();
    assert_eq!(
        names(&named(&cloned, Work::Clone, "pvc", &pending)),
        ["restore"]
    );
    let by_claim = event(
        "cephfs-controller",
        object::VOLUME,
        verb::CLONE_FAILED,
        Some((CLAIM, "default", "other")),
    )
    .build()
    .unwrap();
    assert_eq!(
        names(&named(&by_claim, Work::Clone, "pvc", &pending)),
        ["other"]
    );
    assert!(!Work::Clone.restores() && !Work::Clone.clones());
}

#[test]
fn notes_say_what_ceph_did() {
    let waiting = claim("default", "waits", "snap", DRIVER, false);
    let prepared = preparation(verb::PREPARED, VOLUME_SNAPSHOT, "default", "snap");
    assert_eq!(
        note(&prepared, Work::Preparation, &waiting),
        (
            true,
            reason::SNAPSHOT_PREPARED,
            "snapshot prepared: default/snap can be restored now".to_owned()
        )
    );
    let failed = preparation(verb::PREPARATION_FAILED, VOLUME_SNAPSHOT, "default", "snap");
    assert_eq!(
        note(&failed, Work::Preparation, &waiting),
        (
            false,
            reason::BACKGROUND_PREPARATION_FAILED,
            "background preparation failed: rbd clone failed".to_owned()
        )
    );
    let flattened = event("controller", object::VOLUME, verb::FLATTENED, None)
        .build()
        .unwrap();
    let (ok, reason, text) = note(&flattened, Work::Flatten, &waiting);
    assert!(ok && reason == reason::FLATTEN_FINISHED && text.starts_with("flatten finished"));
    let flatten_failed = event("controller", object::VOLUME, verb::FLATTEN_FAILED, None)
        .build()
        .unwrap();
    assert_eq!(
        note(&flatten_failed, Work::Flatten, &waiting),
        (
            false,
            reason::FLATTEN_FAILED,
            "flatten failed: rbd clone failed".to_owned()
        )
    );
    let cloned = event("cephfs-controller", object::VOLUME, verb::CLONED, None)
        .build()
        .unwrap();
    let (ok, reason, text) = note(&cloned, Work::Clone, &waiting);
    assert!(ok && reason == reason::CLONE_FINISHED && text.starts_with("clone finished"));
    let clone_failed = event(
        "cephfs-controller",
        object::VOLUME,
        verb::CLONE_FAILED,
        None,
    )
    .build()
    .unwrap();
    assert_eq!(
        note(&clone_failed, Work::Clone, &waiting),
        (
            false,
            reason::CLONE_FAILED,
            "clone failed: rbd clone failed".to_owned()
        )
    );
}
