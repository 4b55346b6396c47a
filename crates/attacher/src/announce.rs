//! Kubernetes Events on the VolumeAttachment and Sepia events on NATS
//! (`sepia.attacher.attachment.{published,unpublished,failed}`). Fire-and-forget.

use std::time::Duration;

use events::vocabulary::{component, object, verb};
use events::{Event, KubernetesRef, Outcome, Publisher};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::Resource;
use sidecar::EventRecorder;

pub struct Announcer<'a> {
    pub recorder: &'a EventRecorder,
    pub publisher: &'a Publisher,
    pub va: &'a VolumeAttachment,
    pub volume_id: &'a str,
    pub node_id: &'a str,
}

impl Announcer<'_> {
    pub fn normal(&self, reason: &str, note: String) {
        self.recorder.normal(&self.va.object_ref(&()), reason, note);
    }

    pub fn warning(&self, reason: &str, note: String) {
        self.recorder
            .warning(&self.va.object_ref(&()), reason, note);
    }

    /// `verb` from [`events::vocabulary::verb`]; `op` tells attach from detach in the id.
    pub fn publish(&self, verb: &str, op: &str, took: Duration, outcome: Outcome) {
        let meta = &self.va.metadata;
        let event = Event::builder(component::ATTACHER, object::ATTACHMENT, verb)
            // One operation per VA (its UID) and direction: retries are the same operation.
            .operation_key(format!("{}/{op}", meta.uid.clone().unwrap_or_default()))
            .volume_id(self.volume_id)
            .node_id(self.node_id)
            .kubernetes(KubernetesRef {
                kind: "VolumeAttachment".to_owned(),
                namespace: None,
                name: meta.name.clone().unwrap_or_default(),
                uid: meta.uid.clone(),
            })
            .duration(took)
            .outcome(outcome)
            .build();
        match event {
            Ok(event) => self.publisher.publish(&event),
            Err(error) => tracing::warn!(%error, "building the attachment event failed"),
        }
    }
}

pub use verb::{FAILED, PUBLISHED, UNPUBLISHED};
