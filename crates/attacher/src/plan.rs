//! The attach/detach decisions, pure: observed objects in, the next step out. Each pass does
//! one step and the resulting object change brings the next pass, so a crash between steps
//! is resumed, never repeated out of order.
//!
//! Attach (VA not being deleted): PV finalizer → VA finalizer + node-id annotation →
//! ControllerPublishVolume → status. The annotation is written *before* the call, so any
//! volume we may have published has its node id on record for the detach.
//!
//! Detach (VA being deleted): ControllerUnpublishVolume to the remembered node id → remove the
//! VA finalizer. A VA without our annotation and without a registered node was never
//! published by us: its finalizer goes at once.
//!
//! PV (being deleted): our finalizer goes once no VolumeAttachment names it (upstream only
//! looks at PVs being deleted, and so do we).

use tonic::Code;

use crate::observed::{AttachmentView, NodeEntry, VolumeView};

/// The next step for a VolumeAttachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing (not ours, already attached, already released).
    Idle,
    /// Cannot attach now; record it in `status.attachError` and retry with backoff.
    AttachError(String),
    AddVolumeFinalizer,
    /// Add the VA finalizer and record `node_id` in the annotation.
    MarkAttachment {
        node_id: String,
    },
    Publish {
        node_id: String,
    },
    Unpublish {
        node_id: String,
    },
    /// Nothing to unpublish: let the VA go.
    Release,
}

/// Decides the next step for `va`, whose PV is `pv` and whose node's CSINode says `node`.
pub fn attachment_step(
    va: &AttachmentView,
    pv: Option<&VolumeView>,
    node: &NodeEntry,
    driver: &str,
) -> Step {
    if !va.ours {
        return Step::Idle;
    }
    if va.deleting {
        return detach_step(va, node);
    }
    let Some(pv_name) = &va.pv_name else {
        return Step::AttachError(
            "spec.source.inlineVolumeSpec: inline (migrated) volumes are not supported by this attacher".to_owned(),
        );
    };
    let Some(pv) = pv else {
        return Step::AttachError(format!("PersistentVolume {pv_name:?} does not exist"));
    };
    if pv.driver.as_deref() != Some(driver) {
        return Step::AttachError(format!(
            "PersistentVolume {pv_name:?} is not a CSI volume of driver {driver:?}"
        ));
    }
    if !pv.has_finalizer {
        if pv.deleting {
            return Step::AttachError(format!("PersistentVolume {pv_name:?} is being deleted"));
        }
        return Step::AddVolumeFinalizer;
    }
    let node_id = match node {
        NodeEntry::Registered(id) => id.clone(),
        NodeEntry::NotRegistered => {
            return Step::AttachError(format!(
                "CSINode {:?} does not list driver {driver:?} (is its node plugin running?)",
                va.node_name
            ));
        }
        NodeEntry::Absent => {
            return Step::AttachError(format!("CSINode {:?} does not exist", va.node_name));
        }
    };
    if !va.has_finalizer || va.node_id_annotation.as_deref() != Some(node_id.as_str()) {
        return Step::MarkAttachment { node_id };
    }
    if va.attached {
        return Step::Idle;
    }
    Step::Publish { node_id }
}

fn detach_step(va: &AttachmentView, node: &NodeEntry) -> Step {
    if !va.has_finalizer {
        return Step::Idle;
    }
    // The annotation is what we published to; the CSINode only fills in for a VA annotated
    // by nobody (then calling is harmless: unpublishing what is not published is OK).
    let node_id = va.node_id_annotation.clone().or(match node {
        NodeEntry::Registered(id) => Some(id.clone()),
        NodeEntry::NotRegistered | NodeEntry::Absent => None,
    });
    match node_id {
        Some(node_id) => Step::Unpublish { node_id },
        None => Step::Release,
    }
}

/// What a ControllerUnpublishVolume answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachOutcome {
    Detached,
    /// Detached although the driver said no, because the node is gone and the answer was
    /// final: the volume cannot be in use there any more, and keeping the VA would block its
    /// PV forever (upstream's most reported attacher problem).
    DetachedFromGoneNode,
    /// Keep the finalizer; record `detachError` and retry.
    Retry,
}

/// `code` is the call's result; `node_gone` whether the Node object no longer exists.
pub fn after_unpublish(code: Code, node_gone: bool) -> DetachOutcome {
    match code {
        // NOT_FOUND: the driver knows no such volume or node, so nothing is published.
        Code::Ok | Code::NotFound => DetachOutcome::Detached,
        // The call may still be running: only its final answer may release the VA.
        code if sidecar::classify(code) == sidecar::Progress::InProgress => DetachOutcome::Retry,
        _ if node_gone => DetachOutcome::DetachedFromGoneNode,
        _ => DetachOutcome::Retry,
    }
}

/// Whether our PV finalizer can go: the PV is being deleted and no VA names it.
pub fn release_volume(pv: &VolumeView, attachments_naming_it: usize) -> bool {
    pv.has_finalizer && pv.deleting && attachments_naming_it == 0
}

#[cfg(test)]
mod tests;
