use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimSpec, TypedLocalObjectReference, TypedObjectReference,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::*;

fn claim(
    source: Option<TypedLocalObjectReference>,
    source_ref: Option<TypedObjectReference>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("new".into()),
            namespace: Some("apps".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            data_source: source,
            data_source_ref: source_ref,
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

fn snapshot_ref(namespace: Option<&str>) -> TypedObjectReference {
    TypedObjectReference {
        api_group: Some(SNAPSHOT_GROUP.into()),
        kind: KIND_VOLUME_SNAPSHOT.into(),
        name: "snap".into(),
        namespace: namespace.map(Into::into),
    }
}

fn source(group: &str, kind: &str, namespace: &str) -> ClaimSource {
    ClaimSource {
        group: group.into(),
        kind: kind.into(),
        name: "snap".into(),
        namespace: namespace.into(),
    }
}

#[test]
fn data_source_wins_and_data_source_ref_is_read_when_alone() {
    let local = TypedLocalObjectReference {
        api_group: None,
        kind: KIND_PVC.into(),
        name: "origin".into(),
    };
    let rows: Vec<(&str, PersistentVolumeClaim, Option<ClaimSource>)> = vec![
        ("no source: a blank volume", claim(None, None), None),
        (
            "dataSource: the claim's namespace",
            claim(Some(local.clone()), Some(snapshot_ref(Some("other")))),
            Some(ClaimSource {
                group: String::new(),
                kind: KIND_PVC.into(),
                name: "origin".into(),
                namespace: "apps".into(),
            }),
        ),
        (
            "dataSourceRef alone, no namespace: the claim's",
            claim(None, Some(snapshot_ref(None))),
            Some(source(SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, "apps")),
        ),
        (
            "dataSourceRef alone with a namespace: that namespace",
            claim(None, Some(snapshot_ref(Some("vault")))),
            Some(source(SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, "vault")),
        ),
        (
            "an empty namespace is the claim's",
            claim(None, Some(snapshot_ref(Some("")))),
            Some(source(SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, "apps")),
        ),
    ];
    for (what, claim, want) in rows {
        assert_eq!(claim_source(&claim), want, "{what}");
    }
}

#[test]
fn kinds_are_ours_only_in_their_groups() {
    let rows = [
        (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, SourceKind::Snapshot),
        ("", KIND_PVC, SourceKind::Claim),
        ("", KIND_VOLUME_SNAPSHOT, SourceKind::Populator),
        ("example.com", KIND_PVC, SourceKind::Populator),
        ("example.com", "Backup", SourceKind::Populator),
    ];
    for (group, kind, want) in rows {
        assert_eq!(source(group, kind, "apps").kind(), want, "{group}/{kind}");
    }
}

fn grant(namespace: &str, from_ns: &str, to: (&str, &str, Option<&str>)) -> Grant {
    Grant {
        namespace: namespace.into(),
        from: vec![(String::new(), KIND_PVC.into(), from_ns.into())],
        to: vec![(to.0.into(), to.1.into(), to.2.map(Into::into))],
    }
}

#[test]
fn another_namespace_needs_the_gate_and_a_matching_grant() {
    let pvc = claim(None, None);
    let theirs = source(SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, "vault");
    let ok_grant = grant(
        "vault",
        "apps",
        (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, Some("snap")),
    );
    /// What, the source, the feature gate, the grants → permitted, or a word of the refusal.
    type Row = (
        &'static str,
        ClaimSource,
        bool,
        Vec<Grant>,
        Result<(), &'static str>,
    );
    let rows: Vec<Row> = vec![
        (
            "same namespace: nothing needed",
            source(SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, "apps"),
            false,
            vec![],
            Ok(()),
        ),
        (
            "gate off",
            theirs.clone(),
            false,
            vec![ok_grant.clone()],
            Err("feature gate is off"),
        ),
        (
            "no grant",
            theirs.clone(),
            true,
            vec![],
            Err("no ReferenceGrant"),
        ),
        (
            "granted by name",
            theirs.clone(),
            true,
            vec![ok_grant],
            Ok(()),
        ),
        (
            "granted for every snapshot",
            theirs.clone(),
            true,
            vec![grant(
                "vault",
                "apps",
                (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, None),
            )],
            Ok(()),
        ),
        (
            "grant for another name",
            theirs.clone(),
            true,
            vec![grant(
                "vault",
                "apps",
                (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, Some("other")),
            )],
            Err("no ReferenceGrant"),
        ),
        (
            "grant for another namespace of claims",
            theirs.clone(),
            true,
            vec![grant(
                "vault",
                "dev",
                (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, None),
            )],
            Err("no ReferenceGrant"),
        ),
        (
            "grant living in another namespace",
            theirs.clone(),
            true,
            vec![grant(
                "elsewhere",
                "apps",
                (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT, None),
            )],
            Err("no ReferenceGrant"),
        ),
        (
            "grant for another kind",
            theirs,
            true,
            vec![grant("vault", "apps", ("", KIND_PVC, None))],
            Err("no ReferenceGrant"),
        ),
    ];
    for (what, source, gate, grants, want) in rows {
        match (permit(&pvc, &source, gate, &grants), want) {
            (Ok(()), Ok(())) => {}
            (Err(error), Err(rule)) => assert!(error.rule.contains(rule), "{what}: {error}"),
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn grants_are_read_from_the_gateway_object() {
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
        "metadata": {"name": "let-apps-restore", "namespace": "vault"},
        "spec": {
            "from": [{"group": "", "kind": "PersistentVolumeClaim", "namespace": "apps"}],
            "to": [{"group": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot"},
                   {"group": "", "kind": "PersistentVolumeClaim", "name": "db"}],
        },
    }))
    .unwrap();
    assert_eq!(
        Grant::from_object(&object),
        Grant {
            namespace: "vault".into(),
            from: vec![("".into(), KIND_PVC.into(), "apps".into())],
            to: vec![
                (SNAPSHOT_GROUP.into(), KIND_VOLUME_SNAPSHOT.into(), None),
                ("".into(), KIND_PVC.into(), Some("db".into())),
            ],
        }
    );
}
