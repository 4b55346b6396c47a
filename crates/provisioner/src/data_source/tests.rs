use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;

const DRIVER: &str = "rbd.csi.sepia.io";
const GI: u64 = 1 << 30;

fn snapshot() -> SnapshotView {
    SnapshotView {
        name: "snap".into(),
        namespace: "ns".into(),
        uid: "s-uid".into(),
        bound_content_name: Some("content".into()),
        ready_to_use: true,
        restore_size: Some("1Gi".into()),
        ..SnapshotView::default()
    }
}

fn content() -> ContentView {
    ContentView {
        name: "content".into(),
        driver: DRIVER.into(),
        snapshot_handle: Some("snap-id".into()),
        ready_to_use: true,
        restore_size: Some(GI as i64),
        snapshot_ref_name: Some("snap".into()),
        snapshot_ref_namespace: Some("ns".into()),
        snapshot_ref_uid: Some("s-uid".into()),
        source_volume_mode: Some("Filesystem".into()),
        allow_volume_mode_change: None,
    }
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
    type Spoil = fn(&mut SnapshotView, &mut Option<ContentView>);
    let cases: Vec<(&str, Spoil, u64)> = vec![
        ("being deleted", |s, _| s.deleting = true, GI),
        ("not bound", |s, _| s.bound_content_name = None, GI),
        ("does not exist", |_, c| *c = None, GI),
        (
            "another snapshot",
            |_, c| c.as_mut().unwrap().snapshot_ref_uid = Some("x".into()),
            GI,
        ),
        (
            "another snapshot",
            |_, c| c.as_mut().unwrap().snapshot_ref_name = Some("x".into()),
            GI,
        ),
        (
            "driver",
            |_, c| c.as_mut().unwrap().driver = "other".into(),
            GI,
        ),
        ("not ready", |s, _| s.ready_to_use = false, GI),
        (
            "not ready",
            |_, c| c.as_mut().unwrap().ready_to_use = false,
            GI,
        ),
        (
            "no snapshot handle",
            |_, c| c.as_mut().unwrap().snapshot_handle = None,
            GI,
        ),
        ("smaller than the snapshot", |_, _| {}, GI - 1),
        (
            "restoreSize",
            |s, _| s.restore_size = Some("lots".into()),
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
    s.deleting = true;
    let request = RestoreRequest {
        in_use_by_us: true,
        ..restore(GI)
    };
    assert!(check_snapshot(&s, Some(&content()), &request).is_ok());
}

#[test]
fn restore_size_falls_back_to_the_content() {
    let mut s = snapshot();
    s.restore_size = None;
    let err = check_snapshot(&s, Some(&content()), &restore(GI - 1)).unwrap_err();
    assert!(err.rule.contains("smaller"));
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
        c.source_volume_mode = source_mode.map(Into::into);
        c.allow_volume_mode_change = annotation.map(Into::into);
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
