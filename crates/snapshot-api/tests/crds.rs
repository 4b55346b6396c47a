//! The generated CRDs: the coordinates and names upstream's have (other tools find the kinds by
//! them), the status subresource where upstream has one, and schemas that keep every field of
//! an upstream-shaped object (the API server prunes unknown fields silently).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use snapshot_api::crds;

fn crd(plural: &str) -> CustomResourceDefinition {
    crds::all()
        .unwrap()
        .into_iter()
        .find(|c| c.spec.names.plural == plural)
        .expect(plural)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn coordinates_and_names_match_upstream() {
    let cases = [
        (
            "volumesnapshots",
            "VolumeSnapshot",
            "volumesnapshot",
            "Namespaced",
            &["vs"][..],
            true,
        ),
        (
            "volumesnapshotcontents",
            "VolumeSnapshotContent",
            "volumesnapshotcontent",
            "Cluster",
            &["vsc", "vscs"][..],
            true,
        ),
        (
            "volumesnapshotclasses",
            "VolumeSnapshotClass",
            "volumesnapshotclass",
            "Cluster",
            &["vsclass", "vsclasses"][..],
            false,
        ),
    ];
    for (plural, kind, singular, scope, short, status) in cases {
        let crd = crd(plural);
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{plural}.snapshot.storage.k8s.io").as_str())
        );
        assert_eq!(crd.spec.group, "snapshot.storage.k8s.io");
        assert_eq!(crd.spec.scope, scope, "{plural}");
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(
            crd.spec.names.list_kind.as_deref(),
            Some(format!("{kind}List").as_str())
        );
        assert_eq!(crd.spec.names.singular.as_deref(), Some(singular));
        assert_eq!(crd.spec.names.short_names.as_deref().unwrap(), short);
        assert_eq!(crd.spec.versions.len(), 1, "{plural}: only v1");
        let v1 = &crd.spec.versions[0];
        assert_eq!(v1.name, "v1");
        assert!(v1.served && v1.storage);
        let has_status = v1
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some();
        assert_eq!(has_status, status, "{plural}: status subresource");
        // The API server refuses CRDs in *.k8s.io groups without this annotation.
        assert!(
            crd.metadata
                .annotations
                .as_ref()
                .unwrap()
                .get("api-approved.kubernetes.io")
                .is_some_and(|v| v.starts_with("https://github.com/kubernetes-csi/")),
            "{plural}"
        );
    }
}

#[test]
fn printer_columns_are_upstreams() {
    let names = |plural| -> Vec<String> {
        crd(plural).spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap()
            .into_iter()
            .map(|c| format!("{}={}", c.name, c.json_path))
            .collect()
    };
    assert_eq!(
        names("volumesnapshots"),
        [
            "ReadyToUse=.status.readyToUse",
            "SourcePVC=.spec.source.persistentVolumeClaimName",
            "SourceSnapshotContent=.spec.source.volumeSnapshotContentName",
            "RestoreSize=.status.restoreSize",
            "SnapshotClass=.spec.volumeSnapshotClassName",
            "SnapshotContent=.status.boundVolumeSnapshotContentName",
            "CreationTime=.status.creationTime",
            "Age=.metadata.creationTimestamp",
        ]
    );
    assert_eq!(
        names("volumesnapshotcontents"),
        [
            "ReadyToUse=.status.readyToUse",
            "RestoreSize=.status.restoreSize",
            "DeletionPolicy=.spec.deletionPolicy",
            "Driver=.spec.driver",
            "VolumeSnapshotClass=.spec.volumeSnapshotClassName",
            "VolumeSnapshot=.spec.volumeSnapshotRef.name",
            "VolumeSnapshotNamespace=.spec.volumeSnapshotRef.namespace",
            "Age=.metadata.creationTimestamp",
        ]
    );
    assert_eq!(
        names("volumesnapshotclasses"),
        [
            "Driver=.driver",
            "DeletionPolicy=.deletionPolicy",
            "Age=.metadata.creationTimestamp"
        ]
    );
}

fn schema_of(plural: &str) -> Value {
    let crd = crd(plural);
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

/// Every field of `object` has a place in `schema` (or sits under a map / int-or-string).
fn assert_schema_keeps(schema: &Value, object: &Value, path: &str) {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return;
    }
    match object {
        Value::Object(fields) => {
            for (key, value) in fields {
                if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let field_path = format!("{path}.{key}");
                let sub = schema["properties"]
                    .get(key)
                    .or_else(|| schema.get("additionalProperties"))
                    .unwrap_or_else(|| {
                        panic!("{field_path} is not in the schema: it would be pruned")
                    });
                assert_schema_keeps(sub, value, &field_path);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_schema_keeps(&schema["items"], item, &format!("{path}[{i}]"));
            }
        }
        Value::String(_) => assert_eq!(schema["type"], "string", "{path}"),
        Value::Bool(_) => assert_eq!(schema["type"], "boolean", "{path}"),
        Value::Number(_) => assert_eq!(schema["type"], "integer", "{path}"),
        Value::Null => {}
    }
}

#[test]
fn schemas_keep_every_field_of_upstream_objects() {
    for (plural, fixtures) in [
        (
            "volumesnapshots",
            &[
                "volumesnapshot-dynamic.json",
                "volumesnapshot-failed.json",
                "volumesnapshot-preprovisioned.json",
            ][..],
        ),
        (
            "volumesnapshotcontents",
            &[
                "volumesnapshotcontent-dynamic.json",
                "volumesnapshotcontent-preprovisioned.json",
            ][..],
        ),
        (
            "volumesnapshotclasses",
            &[
                "volumesnapshotclass.json",
                "volumesnapshotclass-topology.json",
            ][..],
        ),
    ] {
        let schema = schema_of(plural);
        for name in fixtures {
            assert_schema_keeps(&schema, &fixture(name), "");
        }
    }
}

#[test]
fn schemas_enforce_upstreams_rules() {
    let vs = schema_of("volumesnapshots");
    assert_eq!(vs["required"], serde_json::json!(["spec"]));
    assert_eq!(
        vs["properties"]["spec"]["required"],
        serde_json::json!(["source"])
    );
    let rules =
        vs["properties"]["spec"]["properties"]["source"]["x-kubernetes-validations"].to_string();
    assert!(rules.contains(
        "exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set"
    ));
    assert_eq!(
        vs["properties"]["status"]["properties"]["restoreSize"]["x-kubernetes-int-or-string"],
        true
    );
    assert_eq!(
        vs["properties"]["status"]["properties"]["creationTime"]["format"],
        "date-time"
    );

    let vsc = schema_of("volumesnapshotcontents");
    let mut required: Vec<String> =
        serde_json::from_value(vsc["properties"]["spec"]["required"].clone()).unwrap();
    required.sort();
    assert_eq!(
        required,
        ["deletionPolicy", "driver", "source", "volumeSnapshotRef"]
    );
    assert_eq!(
        vsc["properties"]["spec"]["properties"]["deletionPolicy"]["enum"],
        serde_json::json!(["Delete", "Retain"])
    );
    let status = &vsc["properties"]["status"]["properties"];
    assert_eq!(status["creationTime"]["type"], "integer");
    assert_eq!(status["creationTime"]["format"], "int64");
    assert_eq!(status["restoreSize"]["minimum"], 0.0);
    let rules =
        vsc["properties"]["spec"]["properties"]["source"]["x-kubernetes-validations"].to_string();
    assert!(rules.contains("exactly one of volumeHandle and snapshotHandle must be set"));

    let class = schema_of("volumesnapshotclasses");
    let mut required: Vec<String> = serde_json::from_value(class["required"].clone()).unwrap();
    required.sort();
    assert_eq!(required, ["deletionPolicy", "driver"]);
    assert!(
        class["properties"].get("spec").is_none(),
        "the class has no spec"
    );
}

#[test]
fn yaml_parses_back_into_the_same_crds() {
    let all = crds::all().unwrap();
    let yaml = crds::to_yaml(&all).unwrap();
    assert_eq!(yaml.matches("---\n").count(), 3);
    assert!(yaml.contains("kind: CustomResourceDefinition"));
    let parsed: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&yaml).unwrap();
    assert_eq!(parsed, all);
}
