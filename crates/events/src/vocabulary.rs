//! The component, object and verb names Sepia's own components use, so every publisher spells
//! them the same way and consumers can filter on them. The set is open: any valid token works.

/// Which process published the event (second subject token).
pub mod component {
    pub const CONTROLLER: &str = "controller";
    pub const NODE: &str = "node";
    pub const PROVISIONER: &str = "provisioner";
    pub const SNAPSHOTTER: &str = "snapshotter";
    pub const RESIZER: &str = "resizer";
    pub const ATTACHER: &str = "attacher";
}

/// What the event is about (third subject token).
pub mod object {
    pub const VOLUME: &str = "volume";
    pub const SNAPSHOT: &str = "snapshot";
    pub const ATTACHMENT: &str = "attachment";
    pub const EXPANSION: &str = "expansion";
    pub const CLAIM: &str = "claim";
}

/// What happened to it (fourth subject token).
pub mod verb {
    pub const CREATED: &str = "created";
    pub const DELETED: &str = "deleted";
    pub const EXPANDED: &str = "expanded";
    pub const PUBLISHED: &str = "published";
    pub const UNPUBLISHED: &str = "unpublished";
    pub const STAGED: &str = "staged";
    pub const UNSTAGED: &str = "unstaged";
    pub const FAILED: &str = "failed";
    /// Background work that finishes after the CSI reply (see [`background`]).
    pub const PREPARED: &str = "prepared";
    pub const PREPARATION_FAILED: &str = "preparation-failed";
}

/// The events of work that ends after its CSI reply, which sidecars subscribe to so the object
/// waiting on it is requeued at once instead of after its backoff:
/// - `sepia.controller.snapshot.prepared` / `.preparation-failed`: a snapshot's background
///   preparation (ceph-csi's layout) ended; carries the snapshot id, the CreateSnapshot name
///   and, with `--extra-create-metadata`, the VolumeSnapshot.
///
/// Not announced yet: the end of a mgr flatten queued at the hard clone-depth limit, and of a
/// trash purge (both run in the mgr, which the controller does not watch).
pub mod background {
    use super::{component, object, verb};

    /// The subjects a sidecar's consumer filters on (one JetStream consumer, several filters).
    pub const SUBJECTS: [&str; 2] = [
        "sepia.controller.snapshot.prepared",
        "sepia.controller.snapshot.preparation-failed",
    ];

    /// Whether `(component, object, verb)` is one of [`SUBJECTS`].
    pub fn is_background(component_name: &str, object_name: &str, verb_name: &str) -> bool {
        component_name == component::CONTROLLER
            && object_name == object::SNAPSHOT
            && matches!(verb_name, verb::PREPARED | verb::PREPARATION_FAILED)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_subject_is_recognised_and_nothing_else() {
            for subject in SUBJECTS {
                let parts: Vec<&str> = subject.split('.').collect();
                assert_eq!(parts.len(), 4, "{subject}");
                assert!(is_background(parts[1], parts[2], parts[3]), "{subject}");
            }
            assert!(!is_background("controller", "snapshot", "created"));
            assert!(!is_background("controller", "snapshot", "failed"));
            assert!(!is_background("provisioner", "snapshot", "prepared"));
        }
    }
}
