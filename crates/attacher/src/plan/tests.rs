//! Table tests: a fixture per object, one change per row.

use super::*;

const DRIVER: &str = "rbd.csi.sepia.io";

fn va() -> AttachmentView {
    AttachmentView {
        ours: true,
        node_name: "node-a".into(),
        pv_name: Some("pv-1".into()),
        deleting: false,
        has_finalizer: true,
        node_id_annotation: Some("id-a".into()),
        attached: false,
    }
}

fn pv() -> VolumeView {
    VolumeView {
        driver: Some(DRIVER.into()),
        deleting: false,
        has_finalizer: true,
    }
}

fn registered() -> NodeEntry {
    NodeEntry::Registered("id-a".into())
}

trait With: Sized {
    fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl With for AttachmentView {}
impl With for VolumeView {}

#[test]
fn attach_steps_run_in_upstream_order() {
    let rows: Vec<(&str, AttachmentView, Option<VolumeView>, NodeEntry, Step)> = vec![
        ("another driver's VA", va().with(|v| v.ours = false), Some(pv()), registered(), Step::Idle),
        ("new VA, PV without finalizer", va().with(|v| { v.has_finalizer = false; v.node_id_annotation = None; }),
            Some(pv().with(|p| p.has_finalizer = false)), registered(), Step::AddVolumeFinalizer),
        ("PV finalizer there, VA not marked", va().with(|v| { v.has_finalizer = false; v.node_id_annotation = None; }),
            Some(pv()), registered(), Step::MarkAttachment { node_id: "id-a".into() }),
        ("finalizer but no annotation", va().with(|v| v.node_id_annotation = None),
            Some(pv()), registered(), Step::MarkAttachment { node_id: "id-a".into() }),
        ("annotation for a re-registered node id", va().with(|v| v.node_id_annotation = Some("old".into())),
            Some(pv()), registered(), Step::MarkAttachment { node_id: "id-a".into() }),
        ("marked, not attached", va(), Some(pv()), registered(), Step::Publish { node_id: "id-a".into() }),
        ("attached", va().with(|v| v.attached = true), Some(pv()), registered(), Step::Idle),
        ("PV missing", va(), None, registered(),
            Step::AttachError("PersistentVolume \"pv-1\" does not exist".into())),
        ("PV of another driver", va(), Some(pv().with(|p| p.driver = Some("x".into()))), registered(),
            Step::AttachError("PersistentVolume \"pv-1\" is not a CSI volume of driver \"rbd.csi.sepia.io\"".into())),
        ("PV being deleted before we protected it", va(),
            Some(pv().with(|p| { p.deleting = true; p.has_finalizer = false; })), registered(),
            Step::AttachError("PersistentVolume \"pv-1\" is being deleted".into())),
        ("PV being deleted but protected: attach goes on", va(), Some(pv().with(|p| p.deleting = true)), registered(),
            Step::Publish { node_id: "id-a".into() }),
        ("plugin not registered on the node", va(), Some(pv()), NodeEntry::NotRegistered,
            Step::AttachError("CSINode \"node-a\" does not list driver \"rbd.csi.sepia.io\" (is its node plugin running?)".into())),
        ("no CSINode", va(), Some(pv()), NodeEntry::Absent,
            Step::AttachError("CSINode \"node-a\" does not exist".into())),
        ("inline volume", va().with(|v| v.pv_name = None), Some(pv()), registered(),
            Step::AttachError("spec.source.inlineVolumeSpec: inline (migrated) volumes are not supported by this attacher".into())),
    ];
    for (name, va, pv, node, want) in rows {
        assert_eq!(
            attachment_step(&va, pv.as_ref(), &node, DRIVER),
            want,
            "{name}"
        );
    }
}

#[test]
fn detach_steps_use_the_remembered_node_id() {
    let deleting = || {
        va().with(|v| {
            v.deleting = true;
            v.attached = true;
        })
    };
    let rows: Vec<(&str, AttachmentView, NodeEntry, Step)> = vec![
        (
            "attached VA deleted",
            deleting(),
            registered(),
            Step::Unpublish {
                node_id: "id-a".into(),
            },
        ),
        (
            "node gone: the annotation still names it",
            deleting(),
            NodeEntry::Absent,
            Step::Unpublish {
                node_id: "id-a".into(),
            },
        ),
        (
            "plugin gone from node: the annotation still names it",
            deleting(),
            NodeEntry::NotRegistered,
            Step::Unpublish {
                node_id: "id-a".into(),
            },
        ),
        (
            "annotation wins over a changed CSINode",
            deleting(),
            NodeEntry::Registered("id-new".into()),
            Step::Unpublish {
                node_id: "id-a".into(),
            },
        ),
        (
            "never annotated, node registered",
            deleting().with(|v| v.node_id_annotation = None),
            registered(),
            Step::Unpublish {
                node_id: "id-a".into(),
            },
        ),
        (
            "never annotated, node gone: nothing was published",
            deleting().with(|v| v.node_id_annotation = None),
            NodeEntry::Absent,
            Step::Release,
        ),
        (
            "without our finalizer: not ours to release",
            deleting().with(|v| v.has_finalizer = false),
            registered(),
            Step::Idle,
        ),
        (
            "another driver's VA",
            deleting().with(|v| v.ours = false),
            registered(),
            Step::Idle,
        ),
    ];
    for (name, va, node, want) in rows {
        assert_eq!(
            attachment_step(&va, Some(&pv()), &node, DRIVER),
            want,
            "{name}"
        );
    }
    // Detach does not need the PV at all (it may be long gone).
    assert_eq!(
        attachment_step(&deleting(), None, &registered(), DRIVER),
        Step::Unpublish {
            node_id: "id-a".into()
        }
    );
}

#[test]
fn unpublish_answers_release_only_when_nothing_can_still_run() {
    use DetachOutcome::*;
    let rows = [
        (Code::Ok, false, Detached),
        (Code::NotFound, false, Detached),
        (Code::Internal, false, Retry),
        (Code::FailedPrecondition, false, Retry),
        (Code::DeadlineExceeded, false, Retry),
        (Code::Unavailable, false, Retry),
        (Code::Ok, true, Detached),
        (Code::NotFound, true, Detached),
        (Code::Internal, true, DetachedFromGoneNode),
        (Code::PermissionDenied, true, DetachedFromGoneNode),
        (Code::DeadlineExceeded, true, Retry),
        (Code::Aborted, true, Retry),
        (Code::Cancelled, true, Retry),
    ];
    for (code, gone, want) in rows {
        assert_eq!(after_unpublish(code, gone), want, "{code:?} gone={gone}");
    }
}

#[test]
fn the_volume_finalizer_goes_only_from_a_deleted_unreferenced_pv() {
    assert!(release_volume(&pv().with(|p| p.deleting = true), 0));
    assert!(!release_volume(&pv().with(|p| p.deleting = true), 1));
    assert!(!release_volume(&pv(), 0), "a live PV keeps it, as upstream");
    assert!(!release_volume(
        &pv().with(|p| {
            p.deleting = true;
            p.has_finalizer = false;
        }),
        0
    ));
}
