//! The names kube-controller-manager, kubelet and kubectl read from the attacher, spelled as
//! external-attacher spells them. An upstream attacher taking over from ours (or ours from
//! it) must find the same finalizers and annotation.

use sidecar::leader_election::lease_name::sanitize;

/// VA annotation remembering the node id the volume was published to, so detach works even
/// when the CSINode object (or the whole Node) is gone.
pub const NODE_ID_ANNOTATION: &str = "csi.alpha.kubernetes.io/node-id";

/// `external-attacher/<sanitized driver>`, on the VolumeAttachment and on the PV.
pub fn finalizer(driver: &str) -> String {
    format!("external-attacher/{}", sanitize(driver))
}

/// gRPC method names as `csi_sidecar_operations_seconds` labels them.
pub const PUBLISH_METHOD: &str = "/csi.v1.Controller/ControllerPublishVolume";
pub const UNPUBLISH_METHOD: &str = "/csi.v1.Controller/ControllerUnpublishVolume";

/// Event reasons on the VolumeAttachment.
pub mod reason {
    pub const ATTACHED: &str = "Attached";
    pub const ATTACH_FAILED: &str = "FailedAttach";
    pub const DETACHED: &str = "Detached";
    pub const DETACH_FAILED: &str = "FailedDetach";
    pub const NODE_GONE_DETACH: &str = "DetachedFromGoneNode";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_uses_the_sanitized_driver_name() {
        assert_eq!(
            finalizer("rbd.csi.ceph.com"),
            "external-attacher/rbd-csi-ceph-com"
        );
        assert_eq!(
            finalizer("rook-ceph.rbd.csi.ceph.com"),
            "external-attacher/rook-ceph-rbd-csi-ceph-com"
        );
        assert_eq!(finalizer("driver."), "external-attacher/driver-X");
    }
}
