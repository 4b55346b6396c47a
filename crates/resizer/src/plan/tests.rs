//! One row per rule: fixtures start from a bound 1 GiB claim of our driver and change one
//! thing.

use super::*;

const DRIVER: &str = "rbd.csi.sepia.io";
const GI: u64 = 1 << 30;

fn claim() -> ClaimView {
    ClaimView {
        uid: "uid-1".into(),
        bound: true,
        volume_name: Some("pv-1".into()),
        storage_class: Some("fast".into()),
        deleting: false,
        requested: Ok(Some(GI)),
        capacity: Ok(Some(GI)),
        allocated: Ok(None),
        resize_status: None,
    }
}

fn volume() -> VolumeView {
    VolumeView {
        driver: Some(DRIVER.into()),
        volume_handle: "vol-1".into(),
        claim_uid: Some("uid-1".into()),
        capacity: Ok(Some(GI)),
    }
}

trait With: Sized {
    fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl With for ClaimView {}
impl With for VolumeView {}

fn expand(target: u64) -> Plan {
    Plan::Expand {
        target,
        volume_handle: "vol-1".into(),
    }
}

fn grown(c: &mut ClaimView, requested: u64) {
    c.requested = Ok(Some(requested));
}

#[test]
fn decisions_follow_the_recover_volume_expansion_failure_model() {
    use ResizeStatus::*;
    let malformed = sidecar::quantity::parse_bytes("x").map(Some);
    let rows: Vec<(&str, ClaimView, Option<VolumeView>, ClassPolicy, Plan)> = vec![
        ("unchanged claim", claim(), Some(volume()), ClassPolicy::Allows, Plan::Idle(Idle::UpToDate)),
        ("grown claim", claim().with(|c| grown(c, 2 * GI)), Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        ("grown, class forbids", claim().with(|c| grown(c, 2 * GI)), Some(volume()), ClassPolicy::Forbids,
            Plan::Refuse(Refusal::ExpansionNotAllowed { class: Some("fast".into()) })),
        ("grown, class missing", claim().with(|c| { grown(c, 2 * GI); c.storage_class = None; }), Some(volume()),
            ClassPolicy::Missing, Plan::Refuse(Refusal::ExpansionNotAllowed { class: None })),
        ("unchanged, class forbids: nothing to refuse", claim(), Some(volume()), ClassPolicy::Forbids,
            Plan::Idle(Idle::UpToDate)),
        ("being deleted", claim().with(|c| { grown(c, 2 * GI); c.deleting = true; }), Some(volume()),
            ClassPolicy::Allows, Plan::Idle(Idle::Deleting)),
        ("pending claim", claim().with(|c| { grown(c, 2 * GI); c.bound = false; }), Some(volume()),
            ClassPolicy::Allows, Plan::Idle(Idle::NotBound)),
        ("bound without volume name", claim().with(|c| { grown(c, 2 * GI); c.volume_name = None; }), Some(volume()),
            ClassPolicy::Allows, Plan::Idle(Idle::NotBound)),
        ("volume not seen yet", claim().with(|c| grown(c, 2 * GI)), None, ClassPolicy::Allows,
            Plan::Idle(Idle::VolumeMissing)),
        ("other driver", claim().with(|c| grown(c, 2 * GI)), Some(volume().with(|v| v.driver = Some("other.csi".into()))),
            ClassPolicy::Allows, Plan::Idle(Idle::OtherDriver)),
        ("not a CSI volume", claim().with(|c| grown(c, 2 * GI)), Some(volume().with(|v| v.driver = None)),
            ClassPolicy::Allows, Plan::Idle(Idle::OtherDriver)),
        ("volume bound to another claim", claim().with(|c| grown(c, 2 * GI)),
            Some(volume().with(|v| v.claim_uid = Some("uid-2".into()))), ClassPolicy::Allows, Plan::Idle(Idle::NotThisClaim)),
        ("no capacity yet", claim().with(|c| { grown(c, 2 * GI); c.capacity = Ok(None); }), Some(volume()),
            ClassPolicy::Allows, Plan::Idle(Idle::NoCapacityYet)),
        ("malformed request", claim().with(|c| c.requested = malformed.clone()), Some(volume()), ClassPolicy::Allows,
            Plan::Refuse(Refusal::Malformed { field: "spec.resources.requests.storage",
                error: "\"x\" is not a Kubernetes quantity (a number with an optional suffix such as Gi, M or e9)".into() })),
        ("missing request", claim().with(|c| c.requested = Ok(None)), Some(volume()), ClassPolicy::Allows,
            Plan::Refuse(Refusal::Malformed { field: "spec.resources.requests.storage", error: "it is missing".into() })),
        // ControllerResizeInProgress: the running call's size is the floor.
        ("in progress, same request: repeat the call", claim().with(|c| {
            grown(c, 2 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(ControllerInProgress); }),
            Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        ("in progress, request lowered: keep the running target", claim().with(|c| {
            grown(c, 3 * GI / 2); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(ControllerInProgress); }),
            Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        ("in progress, request raised: the larger target", claim().with(|c| {
            grown(c, 3 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(ControllerInProgress); }),
            Some(volume()), ClassPolicy::Allows, expand(3 * GI)),
        ("in progress after a crash, capacity already there: finish the bookkeeping", claim().with(|c| {
            c.capacity = Ok(Some(2 * GI)); grown(c, 2 * GI); c.allocated = Ok(Some(2 * GI));
            c.resize_status = Some(ControllerInProgress); }),
            Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        // Node statuses: the controller step is done for allocatedResources.
        ("node step pending", claim().with(|c| {
            grown(c, 2 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(NodePending); }),
            Some(volume()), ClassPolicy::Allows, Plan::Idle(Idle::NodeStepPending)),
        ("node step running", claim().with(|c| {
            grown(c, 2 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(NodeInProgress); }),
            Some(volume()), ClassPolicy::Allows, Plan::Idle(Idle::NodeStepPending)),
        ("node step infeasible, unchanged request", claim().with(|c| {
            grown(c, 2 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(NodeInfeasible); }),
            Some(volume()), ClassPolicy::Allows, Plan::Idle(Idle::NodeStepPending)),
        ("node step pending, request raised again", claim().with(|c| {
            grown(c, 3 * GI); c.allocated = Ok(Some(2 * GI)); c.resize_status = Some(NodePending); }),
            Some(volume()), ClassPolicy::Allows, expand(3 * GI)),
        // Infeasible: the user may lower the request.
        ("infeasible, unchanged request: retried (slowly, by the queue)", claim().with(|c| {
            grown(c, 100 * GI); c.allocated = Ok(Some(100 * GI)); c.resize_status = Some(ControllerInfeasible); }),
            Some(volume()), ClassPolicy::Allows, expand(100 * GI)),
        ("infeasible, request lowered but above capacity: the new target", claim().with(|c| {
            grown(c, 2 * GI); c.allocated = Ok(Some(100 * GI)); c.resize_status = Some(ControllerInfeasible); }),
            Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        ("infeasible, request back to capacity: abandon", claim().with(|c| {
            c.allocated = Ok(Some(100 * GI)); c.resize_status = Some(ControllerInfeasible); }),
            Some(volume()), ClassPolicy::Allows, Plan::Abandon { capacity: GI }),
        ("unknown status from a newer Kubernetes: the request decides", claim().with(|c| {
            grown(c, 2 * GI); c.resize_status = Some(Other("Future".into())); }),
            Some(volume()), ClassPolicy::Allows, expand(2 * GI)),
        ("malformed allocated size", claim().with(|c| { grown(c, 2 * GI); c.allocated = malformed.clone(); }),
            Some(volume()), ClassPolicy::Allows,
            Plan::Refuse(Refusal::Malformed { field: "status.allocatedResources.storage",
                error: "\"x\" is not a Kubernetes quantity (a number with an optional suffix such as Gi, M or e9)".into() })),
    ];
    for (name, claim, volume, class, want) in rows {
        assert_eq!(
            decide(DRIVER, &claim, volume.as_ref(), class),
            want,
            "{name}"
        );
    }
}

#[test]
fn refusals_name_the_rule() {
    let r = Refusal::ExpansionNotAllowed {
        class: Some("slow".into()),
    };
    assert!(r.to_string().contains("allowVolumeExpansion"));
    let r = Refusal::Malformed {
        field: "spec.resources.requests.storage",
        error: "bad".into(),
    };
    assert_eq!(r.to_string(), "spec.resources.requests.storage: bad");
}
