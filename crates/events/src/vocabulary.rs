//! The component, object and verb names Sepia's own components use, so every publisher spells
//! them the same way and consumers can filter on them. The set is open: any valid token works.

/// Which process published the event (second subject token).
pub mod component {
    pub const CONTROLLER: &str = "controller";
    /// The CephFS driver's controller, for what only it announces (a clone's end); its
    /// lifecycle events are the RBD controller's ([`CONTROLLER`]).
    pub const CEPHFS_CONTROLLER: &str = "cephfs-controller";
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
    pub const FLATTENED: &str = "flattened";
    pub const FLATTEN_FAILED: &str = "flatten-failed";
    pub const PURGED: &str = "purged";
    pub const CLONED: &str = "cloned";
    pub const CLONE_FAILED: &str = "clone-failed";
}

/// The events of work that ends after its CSI reply, which sidecars subscribe to so the object
/// waiting on it is requeued at once instead of after its backoff. Each carries the publisher's
/// driver name, the CSI ids and, when the request named it, the Kubernetes object it serves:
/// - `sepia.controller.snapshot.prepared` / `.preparation-failed`: a snapshot's background
///   preparation (ceph-csi's layout) ended; carries the snapshot id, the CreateSnapshot name
///   and, with `--extra-create-metadata`, the VolumeSnapshot.
/// - `sepia.controller.volume.flattened` / `.flatten-failed`: the mgr flatten queued at the
///   clone-depth limit ended; carries the id of the volume or snapshot whose image was
///   flattened and, when the request that hit the hard limit was a CreateVolume with
///   `--extra-create-metadata`, its claim (PersistentVolumeClaim) and request name.
/// - `sepia.controller.volume.purged`: the mgr `trash remove` of a deleted volume's image
///   ended (the image is gone from Ceph).
/// - `sepia.cephfs-controller.volume.cloned` / `.clone-failed`: a CephFS clone (a restore or a
///   volume clone answered ABORTED while the mgr copies) ended; carries the new volume's
///   request name and, with `--extra-create-metadata`, its claim.
pub mod background {
    use super::{component, object, verb};

    /// Every background subject.
    pub const SUBJECTS: [&str; 7] = [
        "sepia.controller.snapshot.prepared",
        "sepia.controller.snapshot.preparation-failed",
        "sepia.controller.volume.flattened",
        "sepia.controller.volume.flatten-failed",
        "sepia.controller.volume.purged",
        "sepia.cephfs-controller.volume.cloned",
        "sepia.cephfs-controller.volume.clone-failed",
    ];

    /// The one filter subject a sidecar's consumer takes (Debian's nats-server 2.9 allows one
    /// per consumer): the two controllers' components differ in the second token, so nothing
    /// narrower than every Sepia subject covers both; [`is_background`] skips the rest.
    pub const FILTER: &str = "sepia.>";

    /// Whether `(component, object, verb)` is one of [`SUBJECTS`].
    pub fn is_background(component_name: &str, object_name: &str, verb_name: &str) -> bool {
        match (component_name, object_name) {
            (component::CONTROLLER, object::SNAPSHOT) => {
                matches!(verb_name, verb::PREPARED | verb::PREPARATION_FAILED)
            }
            (component::CONTROLLER, object::VOLUME) => {
                matches!(
                    verb_name,
                    verb::FLATTENED | verb::FLATTEN_FAILED | verb::PURGED
                )
            }
            (component::CEPHFS_CONTROLLER, object::VOLUME) => {
                matches!(verb_name, verb::CLONED | verb::CLONE_FAILED)
            }
            _ => false,
        }
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
                let filter = FILTER.trim_end_matches('>');
                assert!(subject.starts_with(filter), "{subject} escapes {FILTER}");
            }
            assert!(!is_background("controller", "snapshot", "created"));
            assert!(!is_background("controller", "snapshot", "failed"));
            assert!(!is_background("controller", "volume", "created"));
            assert!(!is_background("controller", "snapshot", "flattened"));
            assert!(!is_background("controller", "volume", "cloned"));
            assert!(!is_background("cephfs-controller", "volume", "flattened"));
            assert!(!is_background("provisioner", "snapshot", "prepared"));
        }
    }
}
