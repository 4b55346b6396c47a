//! Builder-style objects for the decision tables: `content("c").dynamic("vol").bound_to(..)`,
//! `snapshot("ns", "vs").of_claim("data")`, `claim(..)`, `volume(..)`, `class(..)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PersistentVolumeSpec,
    TypedLocalObjectReference,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent,
    VolumeSnapshotContentSource, VolumeSnapshotContentSpec, VolumeSnapshotContentStatus,
    VolumeSnapshotError, VolumeSnapshotSource, VolumeSnapshotSpec, VolumeSnapshotStatus,
};

pub const DRIVER: &str = "rbd.csi.sepia.io";
pub const UID: &str = "11111111-2222-3333-4444-555555555555";

pub fn time(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn add(list: &mut Option<Vec<String>>, item: &str) {
    list.get_or_insert_with(Vec::new).push(item.to_owned());
}

fn annotate(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(key.to_owned(), value.to_owned());
}

pub fn content(name: &str) -> VolumeSnapshotContent {
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            uid: Some(format!("uid-of-{name}")),
            resource_version: Some("1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: ObjectReference::default(),
            deletion_policy: DeletionPolicy::Delete,
            driver: DRIVER.to_owned(),
            volume_snapshot_class_name: None,
            source: VolumeSnapshotContentSource::default(),
            source_volume_mode: None,
        },
        status: None,
    }
}

pub trait ContentFixture: Sized {
    fn dynamic(self, volume_handle: &str) -> Self;
    fn pre_provisioned(self, snapshot_handle: &str) -> Self;
    fn bound_to(self, namespace: &str, name: &str, uid: &str) -> Self;
    fn driver(self, driver: &str) -> Self;
    fn policy(self, policy: DeletionPolicy) -> Self;
    fn class(self, class: &str) -> Self;
    fn annotated(self, key: &str) -> Self;
    fn finalized(self) -> Self;
    fn deleting(self) -> Self;
    fn status(self, f: impl FnOnce(&mut VolumeSnapshotContentStatus)) -> Self;
    fn created(self, handle: &str, ready: bool, size: i64, at_ns: i64) -> Self;
}

impl ContentFixture for VolumeSnapshotContent {
    fn dynamic(mut self, volume_handle: &str) -> Self {
        self.spec.source.volume_handle = Some(volume_handle.to_owned());
        self
    }
    fn pre_provisioned(mut self, snapshot_handle: &str) -> Self {
        self.spec.source.snapshot_handle = Some(snapshot_handle.to_owned());
        self
    }
    fn bound_to(mut self, namespace: &str, name: &str, uid: &str) -> Self {
        self.spec.volume_snapshot_ref = ObjectReference {
            api_version: Some("snapshot.storage.k8s.io/v1".to_owned()),
            kind: Some("VolumeSnapshot".to_owned()),
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            uid: (!uid.is_empty()).then(|| uid.to_owned()),
            ..ObjectReference::default()
        };
        self
    }
    fn driver(mut self, driver: &str) -> Self {
        self.spec.driver = driver.to_owned();
        self
    }
    fn policy(mut self, policy: DeletionPolicy) -> Self {
        self.spec.deletion_policy = policy;
        self
    }
    fn class(mut self, class: &str) -> Self {
        self.spec.volume_snapshot_class_name = Some(class.to_owned());
        self
    }
    fn annotated(mut self, key: &str) -> Self {
        annotate(&mut self.metadata, key, "yes");
        self
    }
    fn finalized(mut self) -> Self {
        add(
            &mut self.metadata.finalizers,
            snapshot_api::keys::CONTENT_BOUND_FINALIZER,
        );
        self
    }
    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(time(1_700_000_100));
        self
    }
    fn status(mut self, f: impl FnOnce(&mut VolumeSnapshotContentStatus)) -> Self {
        f(self.status.get_or_insert_with(Default::default));
        self
    }
    fn created(self, handle: &str, ready: bool, size: i64, at_ns: i64) -> Self {
        self.status(|s| {
            s.snapshot_handle = Some(handle.to_owned());
            s.ready_to_use = Some(ready);
            s.restore_size = Some(size);
            s.creation_time = Some(at_ns);
        })
    }
}

pub fn snapshot(namespace: &str, name: &str) -> VolumeSnapshot {
    VolumeSnapshot {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: Some(UID.to_owned()),
            resource_version: Some("1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotSpec::default(),
        status: None,
    }
}

pub trait SnapshotFixture: Sized {
    fn uid(self, uid: &str) -> Self;
    fn of_claim(self, claim: &str) -> Self;
    fn of_content(self, content: &str) -> Self;
    fn class(self, class: &str) -> Self;
    fn finalizer(self, finalizer: &str) -> Self;
    fn deleting(self) -> Self;
    fn status(self, f: impl FnOnce(&mut VolumeSnapshotStatus)) -> Self;
    fn bound(self, content: &str, ready: bool) -> Self;
    fn failed(self, message: &str) -> Self;
}

impl SnapshotFixture for VolumeSnapshot {
    fn uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.to_owned());
        self
    }
    fn of_claim(mut self, claim: &str) -> Self {
        self.spec.source = VolumeSnapshotSource {
            persistent_volume_claim_name: Some(claim.to_owned()),
            volume_snapshot_content_name: None,
        };
        self
    }
    fn of_content(mut self, content: &str) -> Self {
        self.spec.source = VolumeSnapshotSource {
            persistent_volume_claim_name: None,
            volume_snapshot_content_name: Some(content.to_owned()),
        };
        self
    }
    fn class(mut self, class: &str) -> Self {
        self.spec.volume_snapshot_class_name = Some(class.to_owned());
        self
    }
    fn finalizer(mut self, finalizer: &str) -> Self {
        add(&mut self.metadata.finalizers, finalizer);
        self
    }
    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(time(1_700_000_100));
        self
    }
    fn status(mut self, f: impl FnOnce(&mut VolumeSnapshotStatus)) -> Self {
        f(self.status.get_or_insert_with(Default::default));
        self
    }
    fn bound(self, content: &str, ready: bool) -> Self {
        self.status(|s| {
            s.bound_volume_snapshot_content_name = Some(content.to_owned());
            s.ready_to_use = Some(ready);
        })
    }
    fn failed(self, message: &str) -> Self {
        self.status(|s| {
            s.error = Some(VolumeSnapshotError::new(time(1_700_000_000), message));
            s.ready_to_use = Some(false);
        })
    }
}

pub fn claim(namespace: &str, name: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: Some(format!("uid-of-{name}")),
            resource_version: Some("1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec::default()),
        status: Some(PersistentVolumeClaimStatus {
            phase: Some("Pending".to_owned()),
            ..PersistentVolumeClaimStatus::default()
        }),
    }
}

pub trait ClaimFixture: Sized {
    fn bound_to(self, volume: &str) -> Self;
    fn restoring_from(self, snapshot: &str) -> Self;
    fn finalizer(self, finalizer: &str) -> Self;
    fn deleting(self) -> Self;
}

impl ClaimFixture for PersistentVolumeClaim {
    fn bound_to(mut self, volume: &str) -> Self {
        self.spec.get_or_insert_with(Default::default).volume_name = Some(volume.to_owned());
        self.status.get_or_insert_with(Default::default).phase = Some("Bound".to_owned());
        self
    }
    fn restoring_from(mut self, snapshot: &str) -> Self {
        self.spec.get_or_insert_with(Default::default).data_source =
            Some(TypedLocalObjectReference {
                api_group: Some("snapshot.storage.k8s.io".to_owned()),
                kind: "VolumeSnapshot".to_owned(),
                name: snapshot.to_owned(),
            });
        self
    }
    fn finalizer(mut self, finalizer: &str) -> Self {
        add(&mut self.metadata.finalizers, finalizer);
        self
    }
    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(time(1_700_000_100));
        self
    }
}

/// A CSI PV of `driver` bound to `claim`.
pub fn volume(
    name: &str,
    driver: &str,
    handle: &str,
    claim: &PersistentVolumeClaim,
) -> PersistentVolume {
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            claim_ref: Some(ObjectReference {
                namespace: claim.metadata.namespace.clone(),
                name: claim.metadata.name.clone(),
                uid: claim.metadata.uid.clone(),
                ..ObjectReference::default()
            }),
            csi: Some(CSIPersistentVolumeSource {
                driver: driver.to_owned(),
                volume_handle: handle.to_owned(),
                ..CSIPersistentVolumeSource::default()
            }),
            volume_mode: Some("Filesystem".to_owned()),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

pub fn class(name: &str, driver: &str, policy: DeletionPolicy) -> VolumeSnapshotClass {
    VolumeSnapshotClass::new(name, driver, policy)
}

pub trait ClassFixture: Sized {
    fn default_class(self) -> Self;
    fn param(self, key: &str, value: &str) -> Self;
}

impl ClassFixture for VolumeSnapshotClass {
    fn default_class(mut self) -> Self {
        annotate(
            &mut self.metadata,
            snapshot_api::keys::IS_DEFAULT_CLASS_ANNOTATION,
            "true",
        );
        self
    }
    fn param(mut self, key: &str, value: &str) -> Self {
        self.parameters
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value.to_owned());
        self
    }
}
