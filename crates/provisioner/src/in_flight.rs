//! The durable in-flight record on a claim (see the crate docs): written before the first
//! CreateVolume, read by the clean-up path, removed when the volume is bound or deleted. It
//! names the request, its content source and the call itself ([`recorded_call`]); once
//! written, the first attempt's call and source stand until the record goes.
//! Writes are patches conditional on the claim's resourceVersion, so a concurrent change (a
//! user deleting the claim) makes the write fail and the claim is looked at again rather than
//! overwritten.
//!
//! [`recorded_call`] lives beside it, since it means nothing without it: the CreateVolume the
//! record names, repeated as it was made. Acting on a record is the reconciler's
//! ([`crate::reconcile::cleanup`]); this module only keeps it.

pub mod recorded_call;

use csi::v1::VolumeContentSource;
use csi::v1::volume_content_source::{SnapshotSource, Type, VolumeSource};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Client;
use kube::api::Api;
use kube::runtime::reflector::Store;
use sidecar::patch::{self, Part};

use crate::error::ProvisionerError;
use crate::keys::{
    ANN_PROVISIONING, ANN_PROVISIONING_REQUEST, ANN_PROVISIONING_SOURCE, FINALIZER_PROVISIONING,
};
use crate::source::{source_protection, sources};

/// The content source as recorded in [`ANN_PROVISIONING_SOURCE`].
pub fn encode_source(source: Option<&VolumeContentSource>) -> Option<String> {
    match source?.r#type.as_ref()? {
        Type::Snapshot(s) => Some(format!("snapshot:{}", s.snapshot_id)),
        Type::Volume(v) => Some(format!("volume:{}", v.volume_id)),
    }
}

/// The recorded content source; `Err` for a value this version cannot read.
pub fn decode_source(recorded: Option<&str>) -> Result<Option<VolumeContentSource>, String> {
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    let r#type = if let Some(id) = recorded.strip_prefix("snapshot:") {
        Type::Snapshot(SnapshotSource {
            snapshot_id: id.to_owned(),
        })
    } else if let Some(id) = recorded.strip_prefix("volume:") {
        Type::Volume(VolumeSource {
            volume_id: id.to_owned(),
        })
    } else {
        return Err(format!(
            "{ANN_PROVISIONING_SOURCE}={recorded:?} is not snapshot:<id> or volume:<id>"
        ));
    };
    Ok(Some(VolumeContentSource {
        r#type: Some(r#type),
    }))
}

/// The content source the claim's record names.
///
/// # Errors
/// A value this version cannot read.
pub fn recorded_source(
    claim: &PersistentVolumeClaim,
) -> Result<Option<VolumeContentSource>, ProvisionerError> {
    let recorded = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_PROVISIONING_SOURCE))
        .map(String::as_str);
    decode_source(recorded).map_err(ProvisionerError::Claim)
}

/// The claim with the record of `request_name` (its content `source` and encoded `call`)
/// added, or `None` if it already carries it. A record of the same request that already names
/// its call is kept as it is: a call whose outcome is unknown is repeated as it was made.
pub fn with_record(
    claim: &PersistentVolumeClaim,
    request_name: &str,
    source: Option<&str>,
    call: &str,
) -> Option<PersistentVolumeClaim> {
    let mut updated = claim.clone();
    let annotations = updated
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let recorded = annotations.get(ANN_PROVISIONING).map(String::as_str) == Some(request_name)
        && annotations.contains_key(ANN_PROVISIONING_REQUEST);
    if !recorded {
        annotations.insert(ANN_PROVISIONING.to_owned(), request_name.to_owned());
        match source {
            Some(source) => {
                annotations.insert(ANN_PROVISIONING_SOURCE.to_owned(), source.to_owned())
            }
            None => annotations.remove(ANN_PROVISIONING_SOURCE),
        };
        annotations.insert(ANN_PROVISIONING_REQUEST.to_owned(), call.to_owned());
    }
    let finalizers = updated.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == FINALIZER_PROVISIONING) {
        finalizers.push(FINALIZER_PROVISIONING.to_owned());
    }
    (updated.metadata != claim.metadata).then_some(updated)
}

/// The claim without the record, or `None` if it carries none.
pub fn without_record(claim: &PersistentVolumeClaim) -> Option<PersistentVolumeClaim> {
    let mut updated = claim.clone();
    if let Some(annotations) = updated.metadata.annotations.as_mut() {
        annotations.remove(ANN_PROVISIONING);
        annotations.remove(ANN_PROVISIONING_SOURCE);
        annotations.remove(ANN_PROVISIONING_REQUEST);
    }
    if let Some(finalizers) = updated.metadata.finalizers.as_mut() {
        finalizers.retain(|f| f != FINALIZER_PROVISIONING);
    }
    (updated.metadata != claim.metadata).then_some(updated)
}

fn api(client: &Client, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
    Api::namespaced(
        client.clone(),
        claim.metadata.namespace.as_deref().unwrap_or("default"),
    )
}

/// Writes the record before CreateVolume; returns the claim as stored (whose record names the
/// call to make: an earlier attempt's, if there was one). Must succeed before the call is made
/// — that is the whole point. Reads the claim from the API first, because a cached copy may
/// still show a claim whose clean-up already finished.
///
/// # Errors
/// The claim is gone or being deleted (a record cannot be added then; nothing was called), or
/// the write failed (conflict: try again).
pub async fn record(
    client: &Client,
    claim: &PersistentVolumeClaim,
    request_name: &str,
    source: Option<&str>,
    call: &str,
) -> Result<PersistentVolumeClaim, ProvisionerError> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api = api(client, claim);
    let current = api
        .get_opt(&name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading claim {name}"), e))?
        .filter(|c| c.metadata.uid == claim.metadata.uid)
        .ok_or_else(|| {
            ProvisionerError::Claim(format!("claim {name} is gone; not starting CreateVolume"))
        })?;
    if current.metadata.deletion_timestamp.is_some() {
        return Err(ProvisionerError::Claim(format!(
            "claim {name} is being deleted; not starting CreateVolume"
        )));
    }
    let Some(updated) = with_record(&current, request_name, source, call) else {
        return Ok(current);
    };
    let written = patch::write_changes(&api, &current, &updated, Part::Object)
        .await
        .map_err(|e| {
            ProvisionerError::kube(
                format!("recording in-flight CreateVolume on claim {name}"),
                e,
            )
        })?;
    Ok(written.unwrap_or(updated))
}

/// The claim as the API has it now, if it is the same claim and still carries the record.
/// The clean-up path starts from this, never from the cache: repeating CreateVolume for a
/// claim whose clean-up already finished would create the volume anew.
///
/// # Errors
/// The read failed.
pub async fn current_with_record(
    client: &Client,
    claim: &PersistentVolumeClaim,
) -> Result<Option<PersistentVolumeClaim>, ProvisionerError> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let current = api(client, claim)
        .get_opt(&name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading claim {name}"), e))?;
    Ok(current.filter(|c| {
        c.metadata.uid == claim.metadata.uid && crate::claim_decision::has_in_flight_record(c)
    }))
}

/// The claim is done with what it held while in flight (its PV exists, or the volume it no
/// longer wants was deleted): the source's protection, if no other pending claim reads it, then
/// the record itself.
///
/// # Errors
/// A write failed; the caller retries.
pub async fn finish(
    client: &Client,
    claims: &Store<PersistentVolumeClaim>,
    claim: &PersistentVolumeClaim,
) -> Result<(), ProvisionerError> {
    if let Some(object) = sources::source_object(claim) {
        source_protection::release(client, &object, claims, claim).await?;
    }
    clear(client, claim).await
}

/// Drops the record (the PV exists, or the volume was deleted). A claim that is already gone
/// is fine.
///
/// # Errors
/// The write failed; the caller retries.
pub async fn clear(client: &Client, claim: &PersistentVolumeClaim) -> Result<(), ProvisionerError> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api = api(client, claim);
    let current = api
        .get_opt(&name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading claim {name}"), e))?;
    let Some(current) = current else {
        return Ok(());
    };
    if current.metadata.uid != claim.metadata.uid {
        // A new claim of the same name: not ours to touch.
        return Ok(());
    }
    let Some(updated) = without_record(&current) else {
        return Ok(());
    };
    match patch::write_changes(&api, &current, &updated, Part::Object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(ProvisionerError::kube(
            format!("clearing the in-flight record of claim {name}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn claim() -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                finalizers: Some(vec!["kubernetes.io/pvc-protection".into()]),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        }
    }

    #[test]
    fn the_record_round_trips_and_keeps_other_finalizers() {
        let recorded = with_record(&claim(), "pvc-1", Some("snapshot:abc"), "{call}").unwrap();
        let meta = &recorded.metadata;
        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(annotations[ANN_PROVISIONING], "pvc-1");
        assert_eq!(annotations[ANN_PROVISIONING_SOURCE], "snapshot:abc");
        assert_eq!(annotations[ANN_PROVISIONING_REQUEST], "{call}");
        assert_eq!(
            meta.finalizers.as_deref().unwrap(),
            ["kubernetes.io/pvc-protection", FINALIZER_PROVISIONING]
        );
        assert!(
            with_record(&recorded, "pvc-1", Some("snapshot:abc"), "{call}").is_none(),
            "idempotent"
        );
        let cleared = without_record(&recorded).unwrap();
        assert_eq!(
            cleared.metadata.finalizers.as_deref().unwrap(),
            ["kubernetes.io/pvc-protection"]
        );
        assert!(cleared.metadata.annotations.unwrap().is_empty());
        assert!(without_record(&claim()).is_none());
    }

    /// A repeat after an unknown outcome finds the first attempt's record and keeps it, even
    /// when today's class would make another call (or name another source).
    #[test]
    fn the_first_attempts_call_stands_until_the_record_goes() {
        let first = with_record(&claim(), "pvc-1", None, "{first}").unwrap();
        assert!(with_record(&first, "pvc-1", Some("volume:x"), "{today}").is_none());
        // A record without a call (written by an older version) gets today's.
        let mut old = first.clone();
        old.metadata
            .annotations
            .as_mut()
            .unwrap()
            .remove(ANN_PROVISIONING_REQUEST);
        let upgraded = with_record(&old, "pvc-1", None, "{today}").unwrap();
        assert_eq!(
            upgraded.metadata.annotations.unwrap()[ANN_PROVISIONING_REQUEST],
            "{today}"
        );
        // After the record went (a final error), the next attempt records anew.
        let cleared = without_record(&first).unwrap();
        let again = with_record(&cleared, "pvc-1", None, "{today}").unwrap();
        assert_eq!(
            again.metadata.annotations.unwrap()[ANN_PROVISIONING_REQUEST],
            "{today}"
        );
    }

    #[test]
    fn sources_encode_and_decode() {
        for text in ["snapshot:0001-abc", "volume:0001-def"] {
            let source = decode_source(Some(text)).unwrap();
            assert_eq!(encode_source(source.as_ref()).as_deref(), Some(text));
        }
        assert_eq!(decode_source(None), Ok(None));
        assert!(decode_source(Some("tape:1")).is_err());
        assert_eq!(encode_source(None), None);
    }
}
