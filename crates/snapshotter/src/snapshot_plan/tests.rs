use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use sidecar::Progress;
use snapshot_api::keys::{
    BEING_DELETED_ANNOTATION, PVC_AS_SOURCE_FINALIZER, SNAPSHOT_AS_SOURCE_FINALIZER as AS_SOURCE,
    SNAPSHOT_BOUND_FINALIZER as BOUND,
};
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, keys,
};

use super::*;
use crate::test_fixtures::*;

const CONTENT: &str = "snapcontent-11111111-2222-3333-4444-555555555555";

/// One scenario: the objects around a snapshot.
struct Scene {
    snapshot: VolumeSnapshot,
    content: Option<VolumeSnapshotContent>,
    claim: Option<PersistentVolumeClaim>,
    volume: Option<PersistentVolume>,
    classes: Vec<VolumeSnapshotClass>,
    restoring: bool,
}

impl Scene {
    /// A bound PVC `data` on an RBD PV, a Delete class `gold` (default) and a snapshot of it.
    fn dynamic() -> Self {
        let claim = claim("ns", "data").bound_to("pv-1");
        let volume = volume("pv-1", DRIVER, "vol-1", &claim);
        Self {
            snapshot: snapshot("ns", "vs").of_claim("data").class("gold"),
            content: None,
            claim: Some(claim),
            volume: Some(volume),
            classes: vec![
                class("gold", DRIVER, DeletionPolicy::Delete).default_class(),
                class("keep", DRIVER, DeletionPolicy::Retain),
            ],
            restoring: false,
        }
    }

    fn pre_provisioned() -> Self {
        Self {
            snapshot: snapshot("ns", "vs").of_content("imported"),
            content: Some(
                content("imported")
                    .pre_provisioned("snap-9")
                    .bound_to("ns", "vs", ""),
            ),
            claim: None,
            volume: None,
            classes: vec![],
            restoring: false,
        }
    }

    fn snapshot(mut self, f: impl FnOnce(VolumeSnapshot) -> VolumeSnapshot) -> Self {
        self.snapshot = f(self.snapshot);
        self
    }

    fn content(mut self, content: VolumeSnapshotContent) -> Self {
        self.content = Some(content);
        self
    }

    fn claim(mut self, f: impl FnOnce(PersistentVolumeClaim) -> PersistentVolumeClaim) -> Self {
        self.claim = self.claim.map(f);
        self
    }

    fn plan(&self) -> SnapshotPlan {
        let now = time(1_700_000_000);
        plan_snapshot(&SnapshotWorld {
            snapshot: &self.snapshot,
            content: self.content.as_ref(),
            claim: self.claim.as_ref(),
            volume: self.volume.as_ref(),
            classes: &self.classes,
            restoring: self.restoring,
            now: &now,
        })
    }
}

fn bound_content() -> VolumeSnapshotContent {
    content(CONTENT)
        .dynamic("vol-1")
        .bound_to("ns", "vs", UID)
        .class("gold")
        .finalized()
}

/// Actions in a compact, comparable form.
fn summary(plan: &SnapshotPlan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|a| match a {
            SnapshotAction::SetDefaultClass(c) => format!("class {c}"),
            SnapshotAction::AddFinalizers(f) => format!("+{}", short(f)),
            SnapshotAction::RemoveFinalizers(f) => format!("-{}", short(f)),
            SnapshotAction::ProtectClaim => "protect claim".into(),
            SnapshotAction::CreateContent(c) => {
                format!("create {}", c.metadata.name.as_deref().unwrap_or_default())
            }
            SnapshotAction::BindContent { content, class, .. } => {
                format!("bind {content} class={}", class.as_deref().unwrap_or("-"))
            }
            SnapshotAction::MarkContentBeingDeleted { content } => format!("release {content}"),
            SnapshotAction::DeleteContent { content } => format!("delete {content}"),
            SnapshotAction::WriteStatus(s) => format!(
                "status bound={} ready={:?} size={} error={}",
                s.bound_volume_snapshot_content_name
                    .as_deref()
                    .unwrap_or("-"),
                s.ready_to_use,
                s.restore_size.as_ref().map_or("-", |q| q.0.as_str()),
                s.error
                    .as_ref()
                    .and_then(|e| e.message.as_deref())
                    .unwrap_or("-"),
            ),
            SnapshotAction::Event { kind, reason, .. } => format!("{kind:?} {reason}"),
        })
        .collect()
}

fn short(finalizers: &[&str]) -> String {
    finalizers
        .iter()
        .map(|f| match *f {
            AS_SOURCE => "as-source",
            BOUND => "bound",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn check(what: &str, scene: Scene, want_actions: &[&str], want_next: Next) {
    let plan = scene.plan();
    let got = summary(&plan);
    let want: Vec<String> = want_actions.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(got, want, "{what}");
    assert_eq!(plan.next, want_next, "{what}");
}

const RETRY: Next = Next::Retry(Progress::Final);

#[test]
fn dynamic_creation() {
    check(
        "new snapshot: finalizer, protect PVC, create content, bind, event",
        Scene::dynamic(),
        &[
            "+as-source",
            "protect claim",
            &format!("create {CONTENT}"),
            &format!("status bound={CONTENT} ready=Some(false) size=- error=-"),
            "Normal CreatingSnapshot",
        ],
        Next::Done,
    );
    check(
        "PVC already protected by another snapshot",
        Scene::dynamic()
            .snapshot(|s| s.finalizer(AS_SOURCE))
            .claim(|c| c.finalizer(PVC_AS_SOURCE_FINALIZER)),
        &[
            &format!("create {CONTENT}"),
            &format!("status bound={CONTENT} ready=Some(false) size=- error=-"),
            "Normal CreatingSnapshot",
        ],
        Next::Done,
    );
    check(
        "content exists, not created yet: bind, bound finalizer (policy Delete)",
        Scene::dynamic()
            .snapshot(|s| s.finalizer(AS_SOURCE))
            .content(bound_content()),
        &[
            "+bound",
            &format!("status bound={CONTENT} ready=Some(false) size=- error=-"),
        ],
        Next::Done,
    );
    check(
        "content turns ready: status and events",
        Scene::dynamic()
            .snapshot(|s| {
                s.finalizer(AS_SOURCE)
                    .finalizer(BOUND)
                    .bound(CONTENT, false)
            })
            .content(bound_content().created("snap-1", true, 1 << 30, 1_700_000_000_000_000_000)),
        &[
            &format!("status bound={CONTENT} ready=Some(true) size=1Gi error=-"),
            "Normal SnapshotCreated",
            "Normal SnapshotReady",
        ],
        Next::Done,
    );
    check(
        "Retain content: no bound finalizer",
        Scene::dynamic()
            .snapshot(|s| s.finalizer(AS_SOURCE).bound(CONTENT, false))
            .content(bound_content().policy(DeletionPolicy::Retain)),
        &[],
        Next::Done,
    );
}

#[test]
fn dynamic_creation_waits_and_reports() {
    let fails = |what, scene: Scene, reason: &str, needle: &str, next: Next| {
        let plan = scene.plan();
        let got = summary(&plan);
        assert!(got.iter().any(|a| a.contains(needle)), "{what}: {got:?}");
        assert!(
            got.iter().any(|a| a == &format!("Warning {reason}")),
            "{what}: {got:?}"
        );
        assert!(
            !got.iter().any(|a| a.starts_with("create")),
            "{what}: nothing is created: {got:?}"
        );
        assert_eq!(plan.next, next, "{what}");
    };
    let not_bound = |c: PersistentVolumeClaim| {
        let mut c = c;
        c.status.as_mut().unwrap().phase = Some("Pending".into());
        c
    };
    fails(
        "PVC not bound",
        Scene::dynamic().claim(not_bound),
        "SnapshotContentCreationFailed",
        "not yet bound to a PV",
        RETRY,
    );
    fails(
        "PVC being deleted",
        Scene::dynamic().claim(ClaimFixture::deleting),
        "SnapshotContentCreationFailed",
        "is being deleted",
        RETRY,
    );
    let mut no_claim = Scene::dynamic();
    no_claim.claim = None;
    fails(
        "no PVC",
        no_claim,
        "SnapshotContentCreationFailed",
        "does not exist",
        RETRY,
    );
    fails(
        "unknown class",
        Scene::dynamic().snapshot(|s| s.class("nope")),
        "SnapshotContentCreationFailed",
        "VolumeSnapshotClass nope does not exist",
        RETRY,
    );
    let mut foreign = Scene::dynamic();
    foreign
        .classes
        .push(class("foreign", "other.csi", DeletionPolicy::Delete));
    fails(
        "class of another driver",
        foreign.snapshot(|s| s.class("foreign")),
        "SnapshotContentCreationFailed",
        "is for driver other.csi",
        Next::Retry(Progress::Infeasible),
    );
    let mut bad_secret = Scene::dynamic();
    bad_secret.classes = vec![
        class("gold", DRIVER, DeletionPolicy::Delete).param(keys::SNAPSHOTTER_SECRET_NAME_KEY, "s"),
    ];
    fails(
        "half a secret pair",
        bad_secret,
        "SnapshotContentCreationFailed",
        "snapshotter-secret-namespace",
        Next::Retry(Progress::Infeasible),
    );
    // A snapshot's author chooses its name; upstream keeps it out of the namespace template.
    let mut forbidden_token = Scene::dynamic();
    forbidden_token.classes = vec![
        class("gold", DRIVER, DeletionPolicy::Delete)
            .param(keys::SNAPSHOTTER_SECRET_NAME_KEY, "s")
            .param(
                keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY,
                "${volumesnapshot.name}",
            ),
    ];
    fails(
        "a token the namespace may not use",
        forbidden_token,
        "SnapshotContentCreationFailed",
        "csi.storage.k8s.io/snapshotter-secret-namespace = \"${volumesnapshot.name}\": \
         ${volumesnapshot.name} is not allowed in the snapshotter's Secret namespace",
        Next::Retry(Progress::Infeasible),
    );
    fails(
        "bound content vanished: reported, never re-created",
        Scene::dynamic().snapshot(|s| s.bound(CONTENT, false)),
        "SnapshotContentMissing",
        "is missing",
        RETRY,
    );
    fails(
        "pre-provisioned content under the dynamic name",
        Scene::dynamic().content(
            content(CONTENT)
                .pre_provisioned("x")
                .bound_to("ns", "vs", UID),
        ),
        "SnapshotContentMismatch",
        "pre-provisioned while expecting",
        RETRY,
    );
    fails(
        "dynamic content of another snapshot",
        Scene::dynamic().content(
            content(CONTENT)
                .dynamic("v")
                .bound_to("ns", "vs", "other-uid"),
        ),
        "SnapshotContentMisbound",
        "bound to a different snapshot",
        RETRY,
    );
}

#[test]
fn the_same_error_is_reported_once() {
    let scene = Scene::dynamic()
        .snapshot(|s| s.finalizer(AS_SOURCE).failed(
            "Failed to create snapshot content with error the PVC data is not yet bound to a PV, will not attempt to take a snapshot",
        ))
        .claim(|c| {
            let mut c = c;
            c.status.as_mut().unwrap().phase = Some("Pending".into());
            c
        });
    check("unchanged error: no write, no event", scene, &[], RETRY);
}

#[test]
fn default_class() {
    check(
        "no class: the driver's default is written first",
        Scene::dynamic().snapshot(|mut s| {
            s.spec.volume_snapshot_class_name = None;
            s
        }),
        &["class gold"],
        Next::Done,
    );
    let mut none = Scene::dynamic().snapshot(|mut s| {
        s.spec.volume_snapshot_class_name = None;
        s
    });
    none.classes = vec![class("keep", DRIVER, DeletionPolicy::Retain)];
    let plan = none.plan();
    assert_eq!(summary(&plan)[1], "Warning SetDefaultSnapshotClassFailed");
    let mut two = Scene::dynamic().snapshot(|mut s| {
        s.spec.volume_snapshot_class_name = None;
        s
    });
    two.classes
        .push(class("silver", DRIVER, DeletionPolicy::Delete).default_class());
    let plan = two.plan();
    assert!(
        summary(&plan)[0].contains("2 default VolumeSnapshotClasses"),
        "{:?}",
        summary(&plan)
    );
}

#[test]
fn validation() {
    let mut both = snapshot("ns", "vs").of_claim("data");
    both.spec.source.volume_snapshot_content_name = Some("c".into());
    let mut scene = Scene::dynamic();
    scene.snapshot = both;
    let plan = scene.plan();
    assert_eq!(plan.next, Next::Retry(Progress::Infeasible));
    assert_eq!(summary(&plan)[1], "Warning SnapshotValidationError");
}

#[test]
fn ready_snapshots_are_rechecked() {
    let ready = |s: VolumeSnapshot| {
        s.finalizer(AS_SOURCE)
            .finalizer(BOUND)
            .bound(CONTENT, true)
            .status(|st| {
                st.restore_size = Some(crate::status_mirror::restore_size(1 << 30));
                st.creation_time = Some(time(1_700_000_000));
            })
    };
    check(
        "in sync: nothing",
        Scene::dynamic()
            .snapshot(ready)
            .content(bound_content().created("snap-1", true, 1 << 30, 1_700_000_000_000_000_000)),
        &[],
        Next::Done,
    );
    check(
        "content gone: reported",
        Scene::dynamic().snapshot(ready),
        &[
            &format!(
                "status bound={CONTENT} ready=Some(false) size=1Gi error=VolumeSnapshotContent is missing"
            ),
            "Warning SnapshotContentMissing",
        ],
        RETRY,
    );
    check(
        "content points elsewhere: reported",
        Scene::dynamic()
            .snapshot(ready)
            .content(content(CONTENT).dynamic("v").bound_to("ns", "other", UID)),
        &[
            &format!(
                "status bound={CONTENT} ready=Some(false) size=1Gi error=VolumeSnapshotContent is not bound to the VolumeSnapshot correctly"
            ),
            "Warning SnapshotMisbound",
        ],
        RETRY,
    );
}

#[test]
fn pre_provisioned_binding() {
    check(
        "unbound content: bind, then mirror",
        Scene::pre_provisioned(),
        &[
            "+as-source,bound",
            "bind imported class=-",
            "status bound=imported ready=Some(false) size=- error=-",
        ],
        Next::Done,
    );
    check(
        "the snapshot's class is copied into a content without one",
        Scene::pre_provisioned().snapshot(|s| s.finalizer(AS_SOURCE).class("keep")),
        &[
            "+bound",
            "bind imported class=keep",
            "status bound=imported ready=Some(false) size=- error=-",
        ],
        Next::Done,
    );
    check(
        "Retain: no bound finalizer",
        Scene::pre_provisioned()
            .snapshot(|s| s.finalizer(AS_SOURCE))
            .content(
                content("imported")
                    .pre_provisioned("snap-9")
                    .bound_to("ns", "vs", "")
                    .policy(DeletionPolicy::Retain),
            ),
        &[
            "bind imported class=-",
            "status bound=imported ready=Some(false) size=- error=-",
        ],
        Next::Done,
    );
    check(
        "bound and checked by the CSI half: ready",
        Scene::pre_provisioned()
            .snapshot(|s| {
                s.finalizer(AS_SOURCE)
                    .finalizer(BOUND)
                    .bound("imported", false)
            })
            .content(
                content("imported")
                    .pre_provisioned("snap-9")
                    .bound_to("ns", "vs", UID)
                    .created("snap-9", true, 2048, 1_700_000_000_000_000_000),
            ),
        &[
            "status bound=imported ready=Some(true) size=2Ki error=-",
            "Normal SnapshotCreated",
            "Normal SnapshotReady",
        ],
        Next::Done,
    );
    let mut missing = Scene::pre_provisioned().snapshot(|s| s.finalizer(AS_SOURCE));
    missing.content = None;
    check(
        "named content missing",
        missing,
        &[
            "status bound=- ready=Some(false) size=- error=VolumeSnapshotContent is missing",
            "Warning SnapshotContentMissing",
        ],
        RETRY,
    );
    check(
        "content names another snapshot",
        Scene::pre_provisioned()
            .snapshot(|s| s.finalizer(AS_SOURCE))
            .content(content("imported").pre_provisioned("snap-9").bound_to(
                "ns",
                "someone-else",
                "",
            )),
        &[
            "status bound=- ready=Some(false) size=- error=VolumeSnapshotContent [imported] is bound to a different snapshot",
            "Warning SnapshotContentMisbound",
        ],
        Next::Retry(Progress::Infeasible),
    );
    check(
        "a dynamic content cannot be imported",
        Scene::pre_provisioned()
            .snapshot(|s| s.finalizer(AS_SOURCE))
            .content(content("imported").dynamic("vol").bound_to("ns", "vs", "")),
        &[
            "status bound=- ready=Some(false) size=- error=VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one",
            "Warning SnapshotContentMismatch",
        ],
        Next::Retry(Progress::Infeasible),
    );
}

#[test]
fn deletion() {
    let deleting = |s: VolumeSnapshot| {
        s.finalizer(AS_SOURCE)
            .finalizer(BOUND)
            .bound(CONTENT, true)
            .deleting()
    };
    check(
        "Delete policy: release, delete content, keep the bound finalizer",
        Scene::dynamic().snapshot(deleting).content(bound_content()),
        &[
            &format!("release {CONTENT}"),
            &format!("delete {CONTENT}"),
            "-as-source",
        ],
        Next::Done,
    );
    check(
        "content already released and deleting: wait for it to go",
        Scene::dynamic()
            .snapshot(|s| s.finalizer(BOUND).bound(CONTENT, true).deleting())
            .content(
                bound_content()
                    .annotated(BEING_DELETED_ANNOTATION)
                    .deleting(),
            ),
        &[],
        Next::Done,
    );
    check(
        "content gone: the last finalizer goes",
        Scene::dynamic().snapshot(|s| s.finalizer(BOUND).bound(CONTENT, true).deleting()),
        &["-bound"],
        Next::Done,
    );
    check(
        "Retain: release and let go, content stays",
        Scene::dynamic()
            .snapshot(|s| s.finalizer(AS_SOURCE).bound(CONTENT, true).deleting())
            .content(bound_content().policy(DeletionPolicy::Retain)),
        &[&format!("release {CONTENT}"), "-as-source"],
        Next::Done,
    );
    let mut restoring = Scene::dynamic().snapshot(deleting).content(bound_content());
    restoring.restoring = true;
    check(
        "a PVC restores from it: wait",
        restoring,
        &["Warning SnapshotDeletePending"],
        RETRY,
    );
    check(
        "content of another snapshot (same name, other uid) is not touched",
        Scene::dynamic()
            .snapshot(deleting)
            .content(
                content(CONTENT)
                    .dynamic("v")
                    .bound_to("ns", "vs", "other-uid"),
            ),
        &["-as-source,bound"],
        Next::Done,
    );
    check(
        "never-bound pre-provisioned content is not touched",
        Scene::pre_provisioned().snapshot(|s| s.finalizer(AS_SOURCE).deleting()),
        &["-as-source"],
        Next::Done,
    );
    check(
        "not our finalizers: nothing",
        Scene::dynamic().snapshot(|s| s.finalizer("example.com/other").deleting()),
        &[],
        Next::Done,
    );
    check(
        "deleted before any content: finalizer goes",
        Scene::dynamic().snapshot(|s| s.finalizer(AS_SOURCE).deleting()),
        &["-as-source"],
        Next::Done,
    );
}
