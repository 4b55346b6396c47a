//! Fail-stop leadership with two provisioner replicas, each with its own `sepia-controller` on
//! one RADOS namespace (as each sidecar pod runs its own): the leader is cut off from the API
//! server while its CreateVolume is in flight. It must stop calling CSI — its call cancelled,
//! not left to finish — before the standby, which takes the Lease once it expires, makes its
//! first call. Judged on the order of the calls as the two drivers' proxies logged them, not on
//! clocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolume;
use kube_standin::{Gvr, Verb};
use sidecar_testkit::api_proxy::ApiProxy;
use sidecar_testkit::csi_proxy::{CallEvent, CallLog, CsiProxy, Phase};
use support::{CLASS, Controller, World};

const WAIT: Duration = Duration::from_secs(90);
const CREATE: &str = "/csi.v1.Controller/CreateVolume";
/// Replica A's driver holds every CreateVolume at this step until the call is cancelled.
const HOLD_CREATE: &str = "controller.create.after_image_created=pause";

fn as_str(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

fn holder(world: &World) -> Option<String> {
    sidecar_testkit::observed::lease_holder(&world.standin, "rbd-csi-sepia-io")
}

/// A call that acts on volumes (not the start-up handshake).
fn acting(event: &CallEvent) -> bool {
    event.method.starts_with("/csi.v1.Controller/")
        && !event.method.ends_with("/ControllerGetCapabilities")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_stops_calling_csi_before_the_standby_starts() {
    let mut world = World::start(Some(HOLD_CREATE)).await;
    let controller_b = Controller::start_beside(&world.controller, "controller-b", None).await;
    let dir = world.controller.dir.path().to_owned();
    let calls = CallLog::default();
    let csi_a = CsiProxy::start(
        "a",
        &world.controller.socket,
        dir.join("proxy-a.sock"),
        calls.clone(),
    );
    let csi_b = CsiProxy::start(
        "b",
        &controller_b.socket,
        dir.join("proxy-b.sock"),
        calls.clone(),
    );
    let api_a = ApiProxy::start(&world.standin).await;
    let api_b = ApiProxy::start(&world.standin).await;
    let (kubeconfig_a, kubeconfig_b) = (dir.join("kubeconfig-a"), dir.join("kubeconfig-b"));
    api_a.write_kubeconfig(&world.standin, &kubeconfig_a);
    api_b.write_kubeconfig(&world.standin, &kubeconfig_b);
    let flags = |csi: &CsiProxy, kubeconfig: &std::path::Path| {
        vec![
            format!("--csi-address={}", csi.endpoint()),
            format!("--kubeconfig={}", kubeconfig.display()),
            "--leader-election".to_owned(),
            "--leader-election-namespace=default".to_owned(),
            "--leader-election-lease-duration=4s".to_owned(),
            "--leader-election-renew-deadline=3s".to_owned(),
            "--leader-election-retry-period=500ms".to_owned(),
        ]
    };
    let flags_a = flags(&csi_a, &kubeconfig_a);
    let flags_b = flags(&csi_b, &kubeconfig_b);

    let mut a = world.provisioner(&as_str(&flags_a), &[("POD_NAME", "replica-a")]);
    world
        .eventually("replica-a leads", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-a"))
        })
        .await;
    let _b = world.provisioner(&as_str(&flags_b), &[("POD_NAME", "replica-b")]);

    world.claim("cut", "32Mi", CLASS, None);
    world
        .eventually("replica-a's CreateVolume is in flight", WAIT, || {
            calls
                .events()
                .iter()
                .any(|e| e.caller == "a" && e.method == CREATE && e.phase == Phase::Started)
        })
        .await;
    api_a.sever();

    let status = tokio::time::timeout(WAIT, a.wait())
        .await
        .expect("the cut-off leader exits");
    assert!(
        !status.success(),
        "losing the Lease is a failure exit: {status:?}"
    );
    assert!(a.log().contains("lost leadership"), "{}", a.log());
    world.wait_bound("cut", WAIT).await;
    let pv_creators: Vec<String> = world
        .standin
        .events()
        .into_iter()
        .filter(|w| w.gvr == Gvr::of::<PersistentVolume>() && w.verb == Verb::Create)
        .map(|w| w.user_agent)
        .collect();
    assert!(
        matches!(&pv_creators[..], [one] if one.starts_with("sepia-provisioner/replica-b")),
        "replica-b, and only it, created the PV: {pv_creators:?}"
    );

    let events = calls.events();
    let first_b = events
        .iter()
        .position(|e| e.caller == "b" && acting(e))
        .unwrap_or_else(|| panic!("replica-b never called CSI: {events:#?}"));
    let last_a = events.iter().rposition(|e| e.caller == "a").unwrap();
    assert!(
        last_a < first_b,
        "replica-a still called CSI after replica-b started: {events:#?}"
    );
    assert!(
        events[..first_b]
            .iter()
            .any(|e| e.caller == "a" && e.method == CREATE && e.phase == Phase::Cancelled),
        "replica-a's in-flight CreateVolume was not cancelled (drained or still running): \
         {events:#?}"
    );
    assert!(
        events[first_b..]
            .iter()
            .any(|e| e.caller == "b" && e.method == CREATE && e.phase == Phase::Answered),
        "{events:#?}"
    );
    assert_eq!(
        world.controller.images().len(),
        1,
        "one image for the claim, whichever driver made it"
    );
}
