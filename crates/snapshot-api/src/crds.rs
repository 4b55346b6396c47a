//! The three CustomResourceDefinitions, and their YAML for `deploy/`.
//!
//! VolumeSnapshot and VolumeSnapshotContent come from the `CustomResource` derive; the class
//! (no `spec`) is assembled here with the same schema generator settings the derive uses, so
//! all three schemas are structural in the same way.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;

use crate::error::SnapshotApiError;
use crate::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, keys};

/// Every CRD, in the order upstream's kustomization applies them (classes, contents,
/// snapshots).
///
/// # Errors
/// Only if the class schema cannot be expressed as JSONSchemaProps (a bug caught by tests).
pub fn all() -> Result<Vec<CustomResourceDefinition>, SnapshotApiError> {
    Ok(vec![
        volume_snapshot_class_crd()?,
        volume_snapshot_content_crd(),
        volume_snapshot_crd(),
    ])
}

/// The VolumeSnapshot CRD (namespaced, status subresource).
pub fn volume_snapshot_crd() -> CustomResourceDefinition {
    as_upstream(VolumeSnapshot::crd())
}

/// The VolumeSnapshotContent CRD (cluster-scoped, status subresource).
pub fn volume_snapshot_content_crd() -> CustomResourceDefinition {
    as_upstream(VolumeSnapshotContent::crd())
}

/// What the derive leaves out or adds compared with upstream's files: `listKind` is spelled
/// out (kubectl and client generators read it) and the schema carries no `title`.
fn as_upstream(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            schema.title = None;
        }
    }
    crd
}

/// Multi-document YAML (`---` before each), ready for `kubectl apply -f`.
///
/// # Errors
/// [`SnapshotApiError::Yaml`] if serialization fails.
pub fn to_yaml(crds: &[CustomResourceDefinition]) -> Result<String, SnapshotApiError> {
    let mut out = String::new();
    for crd in crds {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(crd).map_err(|e| SnapshotApiError::Yaml {
                what: crd.metadata.name.clone().unwrap_or_default(),
                message: e.to_string(),
            })?,
        );
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The VolumeSnapshotClass CRD (cluster-scoped, no status subresource).
///
/// # Errors
/// [`SnapshotApiError::Schema`] if the generated schema does not fit JSONSchemaProps.
pub fn volume_snapshot_class_crd() -> Result<CustomResourceDefinition, SnapshotApiError> {
    let schema = structural_schema::<VolumeSnapshotClass>()?;
    let column = |name: &str, json_path: &str, type_: &str, description: Option<&str>| {
        CustomResourceColumnDefinition {
            name: name.to_owned(),
            json_path: json_path.to_owned(),
            type_: type_.to_owned(),
            description: description.map(str::to_owned),
            ..CustomResourceColumnDefinition::default()
        }
    };
    Ok(CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("volumesnapshotclasses.{}", keys::GROUP)),
            annotations: Some(
                [(
                    "api-approved.kubernetes.io".to_owned(),
                    "https://github.com/kubernetes-csi/external-snapshotter/pull/814".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: keys::GROUP.to_owned(),
            names: CustomResourceDefinitionNames {
                kind: "VolumeSnapshotClass".to_owned(),
                list_kind: Some("VolumeSnapshotClassList".to_owned()),
                plural: "volumesnapshotclasses".to_owned(),
                singular: Some("volumesnapshotclass".to_owned()),
                short_names: Some(vec!["vsclass".to_owned(), "vsclasses".to_owned()]),
                categories: None,
            },
            scope: "Cluster".to_owned(),
            versions: vec![CustomResourceDefinitionVersion {
                name: keys::VERSION.to_owned(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema),
                }),
                additional_printer_columns: Some(vec![
                    column("Driver", ".driver", "string", None),
                    column(
                        "DeletionPolicy",
                        ".deletionPolicy",
                        "string",
                        Some(
                            "Determines whether a VolumeSnapshotContent created through the VolumeSnapshotClass should be deleted when its bound VolumeSnapshot is deleted.",
                        ),
                    ),
                    column("Age", ".metadata.creationTimestamp", "date", None),
                ]),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    })
}

/// `T`'s schema as kube-derive generates it: openapi3, inlined, nullable instead of `null`
/// types, and kube's structural rewrites. `apiVersion`, `kind` and `metadata` are declared as
/// upstream's CRD does (the API server validates their content itself).
fn structural_schema<T: JsonSchema>() -> Result<JSONSchemaProps, SnapshotApiError> {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator();
    let mut schema = serde_json::to_value(generator.into_root_schema_for::<T>()).map_err(|e| {
        SnapshotApiError::Schema {
            kind: T::schema_name().into_owned(),
            message: e.to_string(),
        }
    })?;
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        properties.insert(
            "apiVersion".to_owned(),
            serde_json::json!({"type": "string"}),
        );
        properties.insert("kind".to_owned(), serde_json::json!({"type": "string"}));
        properties.insert("metadata".to_owned(), serde_json::json!({"type": "object"}));
    }
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
    }
    serde_json::from_value(schema).map_err(|e| SnapshotApiError::Schema {
        kind: T::schema_name().into_owned(),
        message: e.to_string(),
    })
}
