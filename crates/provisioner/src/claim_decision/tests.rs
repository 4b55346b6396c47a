use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimSpec, TypedLocalObjectReference, TypedObjectReference,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::keys::{KIND_PVC, KIND_VOLUME_SNAPSHOT, SNAPSHOT_GROUP};

const DRIVER: &str = "rbd.csi.sepia.io";

/// A claim fixture: annotated for our driver, class `fast`, unbound, no source.
#[derive(Clone)]
struct Claim(PersistentVolumeClaim);

impl Claim {
    fn new() -> Self {
        Claim(PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                namespace: Some("default".into()),
                uid: Some("uid-1".into()),
                annotations: Some(BTreeMap::from([(
                    ANN_STORAGE_PROVISIONER.to_owned(),
                    DRIVER.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some("fast".into()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        })
    }
    fn annotate(mut self, key: &str, value: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
    fn without_annotations(mut self) -> Self {
        self.0.metadata.annotations = None;
        self
    }
    fn in_flight(self) -> Self {
        let mut c = self.annotate(ANN_PROVISIONING, "pvc-uid-1");
        c.0.metadata.finalizers = Some(vec![FINALIZER_PROVISIONING.into()]);
        c
    }
    fn finalizer_only(mut self) -> Self {
        self.0.metadata.finalizers = Some(vec![FINALIZER_PROVISIONING.into()]);
        self
    }
    fn deleted(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        self
    }
    fn bound_to(mut self, pv: &str) -> Self {
        self.spec().volume_name = Some(pv.into());
        self
    }
    fn with_selector(mut self) -> Self {
        self.spec().selector = Some(LabelSelector::default());
        self
    }
    fn class(mut self, name: Option<&str>) -> Self {
        self.spec().storage_class_name = name.map(Into::into);
        self
    }
    fn source(mut self, group: Option<&str>, kind: &str) -> Self {
        self.spec().data_source = Some(TypedLocalObjectReference {
            api_group: group.map(Into::into),
            kind: kind.into(),
            name: "src".into(),
        });
        self
    }
    /// Only `dataSourceRef`, as a cross-namespace source (or a client without the API
    /// server's mirroring) leaves a claim.
    fn source_ref(mut self, group: Option<&str>, kind: &str, namespace: Option<&str>) -> Self {
        self.spec().data_source_ref = Some(TypedObjectReference {
            api_group: group.map(Into::into),
            kind: kind.into(),
            name: "src".into(),
            namespace: namespace.map(Into::into),
        });
        self
    }
    fn spec(&mut self) -> &mut PersistentVolumeClaimSpec {
        self.0.spec.get_or_insert_with(Default::default)
    }
}

fn class(provisioner: &str, mode: Option<&str>) -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some("fast".into()),
            ..ObjectMeta::default()
        },
        provisioner: provisioner.into(),
        volume_binding_mode: mode.map(Into::into),
        ..StorageClass::default()
    }
}

fn decide_with(claim: &Claim, class: Option<&StorageClass>, pv_exists: bool) -> ClaimAction {
    decide(&ClaimFacts {
        claim: &claim.0,
        driver: DRIVER,
        class,
        pv_exists,
        selected_node: SelectedNode::Exists,
    })
}

#[test]
fn a_wait_for_first_consumer_claim_checks_its_node_and_goes_back_to_a_gone_one() {
    let wffc = class(DRIVER, Some("WaitForFirstConsumer"));
    let immediate = class(DRIVER, Some("Immediate"));
    let scheduled = Claim::new().annotate(ANN_SELECTED_NODE, "node-1");
    let rows = [
        (
            &wffc,
            SelectedNode::Unknown,
            ClaimAction::LookUpNode("node-1".into()),
        ),
        (&wffc, SelectedNode::Exists, ClaimAction::Provision),
        (
            &wffc,
            SelectedNode::Gone,
            ClaimAction::Reschedule("node-1".into()),
        ),
        (&immediate, SelectedNode::Unknown, ClaimAction::Provision),
        (&immediate, SelectedNode::Gone, ClaimAction::Provision),
    ];
    for (class, node, want) in rows {
        let facts = ClaimFacts {
            claim: &scheduled.0,
            driver: DRIVER,
            class: Some(class),
            pv_exists: false,
            selected_node: node,
        };
        assert_eq!(
            decide(&facts),
            want,
            "{:?} {node:?}",
            class.volume_binding_mode
        );
    }
    // No selected node yet: waiting, whatever is known.
    let facts = ClaimFacts {
        claim: &Claim::new().0,
        driver: DRIVER,
        class: Some(&wffc),
        pv_exists: false,
        selected_node: SelectedNode::Gone,
    };
    assert_eq!(decide(&facts), ClaimAction::WaitForNode);
    // A claim with the in-flight record is finished or cleaned up, node or not.
    let facts = ClaimFacts {
        claim: &scheduled.clone().in_flight().0,
        driver: DRIVER,
        class: Some(&wffc),
        pv_exists: true,
        selected_node: SelectedNode::Gone,
    };
    assert_eq!(decide(&facts), ClaimAction::Finish);
    let facts = ClaimFacts {
        pv_exists: false,
        ..facts
    };
    assert_eq!(
        decide(&facts),
        ClaimAction::Provision,
        "a call that may be running is repeated, not rescheduled"
    );
}

#[test]
fn the_table() {
    let immediate = class(DRIVER, Some("Immediate"));
    let wffc = class(DRIVER, Some("WaitForFirstConsumer"));
    let other = class("other.csi", None);
    let unset = class(DRIVER, None);
    use ClaimAction::*;
    let cases: Vec<(&str, Claim, Option<&StorageClass>, bool, ClaimAction)> = vec![
        (
            "plain claim provisions",
            Claim::new(),
            Some(&immediate),
            false,
            Provision,
        ),
        (
            "class without binding mode is Immediate",
            Claim::new(),
            Some(&unset),
            false,
            Provision,
        ),
        (
            "beta annotation counts",
            Claim::new()
                .without_annotations()
                .annotate(ANN_BETA_STORAGE_PROVISIONER, DRIVER),
            Some(&immediate),
            false,
            Provision,
        ),
        (
            "another provisioner's claim",
            Claim::new()
                .without_annotations()
                .annotate(ANN_STORAGE_PROVISIONER, "x"),
            Some(&immediate),
            false,
            Ignore("claim is not annotated for this provisioner"),
        ),
        (
            "unannotated claim",
            Claim::new().without_annotations(),
            Some(&immediate),
            false,
            Ignore("claim is not annotated for this provisioner"),
        ),
        (
            "bound claim",
            Claim::new().bound_to("pv-1"),
            Some(&immediate),
            false,
            Ignore("claim is already bound"),
        ),
        (
            "PV already exists",
            Claim::new(),
            Some(&immediate),
            true,
            Ignore("PV already exists"),
        ),
        (
            "selector refused",
            Claim::new().with_selector(),
            Some(&immediate),
            false,
            Refuse("claim Selector is not supported".into()),
        ),
        (
            "no class",
            Claim::new().class(None),
            None,
            false,
            Fail("claim has no StorageClass".into()),
        ),
        (
            "class missing",
            Claim::new(),
            None,
            false,
            Fail("StorageClass \"fast\" not found".into()),
        ),
        (
            "class of another driver",
            Claim::new(),
            Some(&other),
            false,
            Fail(format!(
                "StorageClass \"fast\" names provisioner \"other.csi\", not \"{DRIVER}\""
            )),
        ),
        (
            "WFFC without node waits",
            Claim::new(),
            Some(&wffc),
            false,
            WaitForNode,
        ),
        (
            "WFFC with empty node waits",
            Claim::new().annotate(ANN_SELECTED_NODE, ""),
            Some(&wffc),
            false,
            WaitForNode,
        ),
        (
            "WFFC with node provisions",
            Claim::new().annotate(ANN_SELECTED_NODE, "node-1"),
            Some(&wffc),
            false,
            Provision,
        ),
        (
            "snapshot source",
            Claim::new().source(Some(SNAPSHOT_GROUP), KIND_VOLUME_SNAPSHOT),
            Some(&immediate),
            false,
            Provision,
        ),
        (
            "pvc source",
            Claim::new().source(None, KIND_PVC),
            Some(&immediate),
            false,
            Provision,
        ),
        (
            "snapshot kind in the wrong group",
            Claim::new().source(Some("example.com"), KIND_VOLUME_SNAPSHOT),
            Some(&immediate),
            false,
            Ignore("data source is for an external populator"),
        ),
        (
            "populator source",
            Claim::new().source(Some("populator.io"), "Image"),
            Some(&immediate),
            false,
            Ignore("data source is for an external populator"),
        ),
        (
            "snapshot named only by dataSourceRef, in another namespace",
            Claim::new().source_ref(Some(SNAPSHOT_GROUP), KIND_VOLUME_SNAPSHOT, Some("vault")),
            Some(&immediate),
            false,
            Provision,
        ),
        (
            "populator named only by dataSourceRef: not a blank volume",
            Claim::new().source_ref(Some("populator.io"), "Image", None),
            Some(&immediate),
            false,
            Ignore("data source is for an external populator"),
        ),
        (
            "deleted claim without record",
            Claim::new().deleted(),
            Some(&immediate),
            false,
            Ignore("claim is being deleted"),
        ),
        (
            "deleted mid-create",
            Claim::new().in_flight().deleted(),
            Some(&immediate),
            false,
            CleanUp,
        ),
        (
            "deleted mid-create, class gone",
            Claim::new().in_flight().deleted(),
            None,
            false,
            CleanUp,
        ),
        (
            "deleted after PV creation",
            Claim::new().in_flight().deleted(),
            Some(&immediate),
            true,
            Finish,
        ),
        (
            "finalizer alone counts as a record",
            Claim::new().finalizer_only().deleted(),
            Some(&immediate),
            false,
            CleanUp,
        ),
        (
            "record and PV exists",
            Claim::new().in_flight(),
            Some(&immediate),
            true,
            Finish,
        ),
        (
            "record, bound by KCM to our PV",
            Claim::new().in_flight().bound_to("pvc-uid-1"),
            Some(&immediate),
            true,
            Finish,
        ),
        (
            "record, bound to another PV",
            Claim::new().in_flight().bound_to("static-pv"),
            Some(&immediate),
            false,
            CleanUp,
        ),
        (
            "record, no PV: retry the create (restart)",
            Claim::new().in_flight(),
            Some(&immediate),
            false,
            Provision,
        ),
    ];
    for (name, claim, class, pv_exists, want) in cases {
        assert_eq!(decide_with(&claim, class, pv_exists), want, "{name}");
    }
}

#[test]
fn class_name_falls_back_to_the_beta_annotation() {
    let claim = Claim::new()
        .class(None)
        .annotate("volume.beta.kubernetes.io/storage-class", "old");
    assert_eq!(class_name(&claim.0), Some("old"));
    assert_eq!(class_name(&Claim::new().class(Some("")).0), None);
}

#[test]
fn only_changes_by_others_change_the_fingerprint() {
    let claim = Claim::new();
    let base = fingerprint(&claim.0);
    let mut recorded = claim.clone().in_flight();
    recorded
        .0
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(ANN_PROVISIONING_SOURCE.into(), "snapshot:x".into());
    recorded.0.metadata.resource_version = Some("42".into());
    assert_eq!(fingerprint(&recorded.0), base, "our own record");
    for (what, changed) in [
        ("deleted", claim.clone().deleted()),
        ("bound", claim.clone().bound_to("pv-1")),
        (
            "selected node",
            claim.clone().annotate(ANN_SELECTED_NODE, "n"),
        ),
        ("class", claim.clone().class(Some("slow"))),
        ("source", claim.clone().source(None, KIND_PVC)),
    ] {
        assert_ne!(fingerprint(&changed.0), base, "{what}");
    }
}
