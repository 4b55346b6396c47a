//! What the resizer tells the outside: Kubernetes Events on the claim (the reasons kubectl
//! users and upstream tooling know) and Sepia events on NATS
//! (`sepia.resizer.expansion.{expanded,failed}`). Both are fire-and-forget.

use std::time::Duration;

use events::vocabulary::{component, object, verb};
use events::{Event, KubernetesRef, Outcome, Publisher};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Resource;
use sidecar::EventRecorder;

use crate::keys::reason;

/// Announcer for one claim.
pub struct Announcer<'a> {
    pub recorder: &'a EventRecorder,
    pub publisher: &'a Publisher,
    pub claim: &'a PersistentVolumeClaim,
    pub pv_name: &'a str,
    pub volume_id: &'a str,
}

impl Announcer<'_> {
    pub fn resizing(&self) {
        self.normal(
            reason::RESIZING,
            format!("External resizer is resizing volume {}", self.pv_name),
        );
    }

    pub fn refused(&self, why: &str) {
        self.warning(reason::VOLUME_RESIZE_FAILED, why.to_owned());
    }

    /// The controller step succeeded with `size` bytes.
    pub fn expanded(&self, target: u64, size: u64, node_expansion_required: bool, took: Duration) {
        if node_expansion_required {
            self.normal(
                reason::FILE_SYSTEM_RESIZE_REQUIRED,
                "Require file system resize of volume on node".to_owned(),
            );
        } else {
            self.normal(
                reason::VOLUME_RESIZE_SUCCESSFUL,
                "Resize volume succeeded".to_owned(),
            );
        }
        self.publish(verb::EXPANDED, target, Some(size), took, Outcome::ok());
    }

    pub fn failed(&self, target: u64, code: tonic::Code, message: &str, took: Duration) {
        self.warning(
            reason::VOLUME_RESIZE_FAILED,
            format!("resize volume {} failed: {code:?}: {message}", self.pv_name),
        );
        self.publish(
            verb::FAILED,
            target,
            None,
            took,
            Outcome::error(format!("{code:?}"), message),
        );
    }

    fn normal(&self, reason: &str, note: String) {
        self.recorder
            .normal(&self.claim.object_ref(&()), reason, note);
    }

    fn warning(&self, reason: &str, note: String) {
        self.recorder
            .warning(&self.claim.object_ref(&()), reason, note);
    }

    fn publish(
        &self,
        verb: &str,
        target: u64,
        size: Option<u64>,
        took: Duration,
        outcome: Outcome,
    ) {
        let meta = &self.claim.metadata;
        let uid = meta.uid.clone().unwrap_or_default();
        let mut builder = Event::builder(component::RESIZER, object::EXPANSION, verb)
            // One event per claim and target size: a retried expansion to the same size is
            // the same operation.
            .operation_key(format!("{uid}/{target}"))
            .volume_id(self.volume_id)
            .kubernetes(KubernetesRef {
                kind: "PersistentVolumeClaim".to_owned(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone().unwrap_or_default(),
                uid: meta.uid.clone(),
            })
            .duration(took)
            .outcome(outcome);
        if let Some(size) = size {
            builder = builder.size_bytes(size);
        }
        match builder.build() {
            Ok(event) => self.publisher.publish(&event),
            Err(error) => tracing::warn!(%error, "building the expansion event failed"),
        }
    }
}
