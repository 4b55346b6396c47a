use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use serde_json::json;
use snapshot_api::{VolumeSnapshotContentStatus, VolumeSnapshotStatus};

use super::*;

const DRIVER: &str = "rbd.csi.sepia.io";
const GI: u64 = 1 << 30;

fn snapshot() -> VolumeSnapshot {
    serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "snap", "namespace": "ns", "uid": "s-uid"},
        "spec": {"source": {"persistentVolumeClaimName": "origin"}},
        "status": {"boundVolumeSnapshotContentName": "content", "readyToUse": true,
            "restoreSize": "1Gi"},
    }))
    .unwrap()
}

fn content() -> VolumeSnapshotContent {
    serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": "content"},
        "spec": {"driver": DRIVER, "deletionPolicy": "Delete",
            "source": {"volumeHandle": "vol-1"}, "sourceVolumeMode": "Filesystem",
            "volumeSnapshotRef": {"name": "snap", "namespace": "ns", "uid": "s-uid"}},
        "status": {"snapshotHandle": "snap-id", "readyToUse": true, "restoreSize": GI},
    }))
    .unwrap()
}

fn status(snapshot: &mut VolumeSnapshot) -> &mut VolumeSnapshotStatus {
    snapshot.status.get_or_insert_default()
}

fn content_status(content: &mut Option<VolumeSnapshotContent>) -> &mut VolumeSnapshotContentStatus {
    content.as_mut().unwrap().status.get_or_insert_default()
}

fn deleting(snapshot: &mut VolumeSnapshot) {
    snapshot.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
}

fn restore(requested_bytes: u64) -> RestoreRequest<'static> {
    RestoreRequest {
        driver: DRIVER,
        requested_bytes,
        volume_mode: "Filesystem",
        prevent_volume_mode_conversion: true,
        in_use_by_us: false,
    }
}

#[test]
fn a_ready_bound_snapshot_of_our_driver_restores() {
    assert_eq!(
        check_snapshot(&snapshot(), Some(&content()), &restore(GI)),
        Ok("snap-id".into())
    );
    assert_eq!(
        check_snapshot(&snapshot(), Some(&content()), &restore(2 * GI)),
        Ok("snap-id".into()),
        "bigger than the snapshot is allowed"
    );
}

#[test]
fn every_snapshot_rule_is_checked() {
    type Spoil = fn(&mut VolumeSnapshot, &mut Option<VolumeSnapshotContent>);
    let cases: Vec<(&str, Spoil, u64)> = vec![
        ("being deleted", |s, _| deleting(s), GI),
        (
            "not bound",
            |s, _| status(s).bound_volume_snapshot_content_name = None,
            GI,
        ),
        ("does not exist", |_, c| *c = None, GI),
        (
            "another snapshot",
            |_, c| c.as_mut().unwrap().spec.volume_snapshot_ref.uid = Some("x".into()),
            GI,
        ),
        (
            "another snapshot",
            |_, c| c.as_mut().unwrap().spec.volume_snapshot_ref.name = Some("x".into()),
            GI,
        ),
        (
            "driver",
            |_, c| c.as_mut().unwrap().spec.driver = "other".into(),
            GI,
        ),
        ("not ready", |s, _| status(s).ready_to_use = Some(false), GI),
        (
            "not ready",
            |_, c| content_status(c).ready_to_use = Some(false),
            GI,
        ),
        (
            "no snapshot handle",
            |_, c| content_status(c).snapshot_handle = None,
            GI,
        ),
        ("smaller than the snapshot", |_, _| {}, GI - 1),
        (
            "restoreSize",
            |s, _| status(s).restore_size = Some(Quantity("lots".into())),
            GI,
        ),
    ];
    for (rule, spoil, requested) in cases {
        let mut s = snapshot();
        let mut c = Some(content());
        spoil(&mut s, &mut c);
        let err = check_snapshot(&s, c.as_ref(), &restore(requested)).unwrap_err();
        assert!(err.rule.contains(rule), "want {rule:?}, got {err}");
    }
}

#[test]
fn a_deleting_snapshot_we_already_protect_may_still_be_restored() {
    let mut s = snapshot();
    deleting(&mut s);
    let request = RestoreRequest {
        in_use_by_us: true,
        ..restore(GI)
    };
    assert!(check_snapshot(&s, Some(&content()), &request).is_ok());
}

#[test]
fn restore_size_falls_back_to_the_content() {
    let mut s = snapshot();
    status(&mut s).restore_size = None;
    let err = check_snapshot(&s, Some(&content()), &restore(GI - 1)).unwrap_err();
    assert!(err.rule.contains("smaller"));
}

/// Read as the API serves them: fields this version does not know are ignored, and a
/// snapshot without a status (or a content without one) is simply not bound (not ready).
#[test]
fn unknown_fields_are_ignored_and_a_missing_status_reads_as_not_there_yet() {
    let mut s: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
    s["status"]["someFutureField"] = json!({"x": 1});
    s["spec"]["anotherOne"] = json!(true);
    let s: VolumeSnapshot = serde_json::from_value(s).unwrap();
    assert_eq!(
        check_snapshot(&s, Some(&content()), &restore(GI)),
        Ok("snap-id".into())
    );

    let mut bare = snapshot();
    bare.status = None;
    let err = check_snapshot(&bare, Some(&content()), &restore(GI)).unwrap_err();
    assert!(err.rule.contains("not bound"), "{err}");

    let mut c = Some(content());
    c.as_mut().unwrap().status = None;
    let err = check_snapshot(&snapshot(), c.as_ref(), &restore(GI)).unwrap_err();
    assert!(err.rule.contains("not ready"), "{err}");
}

#[test]
fn a_restore_keeps_the_volume_mode_unless_the_content_allows_a_change() {
    /// Claim mode, content's sourceVolumeMode, annotation, prevent conversion → allowed, or
    /// a word of the refusal.
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        bool,
        Result<(), &'static str>,
    );
    let rows: [Row; 10] = [
        ("Filesystem", Some("Filesystem"), None, true, Ok(())),
        ("Block", Some("Block"), None, true, Ok(())),
        ("Block", Some("Filesystem"), None, true, Err("lacks")),
        ("Filesystem", Some("Block"), None, true, Err("lacks")),
        ("Block", Some("Filesystem"), Some("true"), true, Ok(())),
        ("Block", Some("Filesystem"), Some("True"), true, Ok(())),
        (
            "Block",
            Some("Filesystem"),
            Some("false"),
            true,
            Err("to false"),
        ),
        (
            "Block",
            Some("Filesystem"),
            Some("yes"),
            true,
            Err("not a boolean"),
        ),
        ("Block", Some("Filesystem"), None, false, Ok(())),
        ("Block", None, None, true, Ok(())),
    ];
    for (mode, source_mode, annotation, prevent, want) in rows {
        let mut c = content();
        c.spec.source_volume_mode = source_mode.map(Into::into);
        c.metadata.annotations = annotation
            .map(|value| BTreeMap::from([(ANN_ALLOW_VOLUME_MODE_CHANGE.to_owned(), value.into())]));
        let request = RestoreRequest {
            volume_mode: mode,
            prevent_volume_mode_conversion: prevent,
            ..restore(GI)
        };
        let row = (mode, source_mode, annotation, prevent);
        match (check_snapshot(&snapshot(), Some(&c), &request), want) {
            (Ok(id), Ok(())) => assert_eq!(id, "snap-id", "{row:?}"),
            (Err(error), Err(rule)) => {
                assert!(error.rule.contains(rule), "{row:?}: {error}");
                assert!(error.rule.contains("volume mode"), "{row:?}: {error}");
            }
            (got, want) => panic!("{row:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_clone_may_come_from_another_namespace_once_permitted() {
    let target = claim("new", "1Gi", false);
    let mut source = claim("src", "1Gi", true);
    source.metadata.namespace = Some("vault".into());
    let pv = pv_of(&source, DRIVER);
    assert_eq!(
        check_claim(&target, &source, Some(&pv), DRIVER, GI),
        Ok("vol-id".into())
    );
}

fn claim(name: &str, size: &str, bound: bool) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(format!("{name}-uid")),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            volume_name: bound.then(|| format!("pv-{name}")),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity(size.into()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: Some(PersistentVolumeClaimStatus {
            phase: Some(if bound { "Bound" } else { "Pending" }.into()),
            ..PersistentVolumeClaimStatus::default()
        }),
    }
}

fn pv_of(claim: &PersistentVolumeClaim, driver: &str) -> PersistentVolume {
    PersistentVolume {
        metadata: ObjectMeta {
            name: claim.spec.as_ref().unwrap().volume_name.clone(),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            csi: Some(CSIPersistentVolumeSource {
                driver: driver.into(),
                volume_handle: "vol-id".into(),
                ..CSIPersistentVolumeSource::default()
            }),
            claim_ref: Some(ObjectReference {
                name: claim.metadata.name.clone(),
                namespace: claim.metadata.namespace.clone(),
                uid: claim.metadata.uid.clone(),
                ..ObjectReference::default()
            }),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

#[test]
fn a_bound_claim_of_our_driver_clones() {
    let target = claim("new", "2Gi", false);
    let source = claim("src", "1Gi", true);
    let pv = pv_of(&source, DRIVER);
    assert_eq!(
        check_claim(&target, &source, Some(&pv), DRIVER, 2 * GI),
        Ok("vol-id".into())
    );
}

#[test]
fn every_clone_rule_is_checked() {
    type Spoil =
        fn(&mut PersistentVolumeClaim, &mut PersistentVolumeClaim, &mut Option<PersistentVolume>);
    let cases: Vec<(&str, Spoil, u64)> = vec![
        (
            "being deleted",
            |_, s, _| s.metadata.deletion_timestamp = Some(Time(Timestamp::now())),
            GI,
        ),
        ("not bound", |_, s, _| s.status = None, GI),
        ("smaller than the source", |_, _, _| {}, GI - 1),
        ("does not exist", |_, _, pv| *pv = None, GI),
        (
            "not a CSI volume",
            |_, _, pv| pv.as_mut().unwrap().spec.as_mut().unwrap().csi = None,
            GI,
        ),
        (
            "driver",
            |_, _, pv| {
                pv.as_mut()
                    .unwrap()
                    .spec
                    .as_mut()
                    .unwrap()
                    .csi
                    .as_mut()
                    .unwrap()
                    .driver = "x".into()
            },
            GI,
        ),
        (
            "another claim",
            |_, _, pv| {
                pv.as_mut()
                    .unwrap()
                    .spec
                    .as_mut()
                    .unwrap()
                    .claim_ref
                    .as_mut()
                    .unwrap()
                    .uid = Some("x".into())
            },
            GI,
        ),
        (
            "volume mode",
            |t, _, _| t.spec.as_mut().unwrap().volume_mode = Some("Block".into()),
            GI,
        ),
    ];
    for (rule, spoil, requested) in cases {
        let mut target = claim("new", "1Gi", false);
        let mut source = claim("src", "1Gi", true);
        let mut pv = Some(pv_of(&source, DRIVER));
        spoil(&mut target, &mut source, &mut pv);
        let err = check_claim(&target, &source, pv.as_ref(), DRIVER, requested).unwrap_err();
        assert!(err.rule.contains(rule), "want {rule:?}, got {err}");
    }
}
