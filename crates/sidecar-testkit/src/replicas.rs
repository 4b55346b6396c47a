//! Leader-elected sidecar replicas in a test: their flags (short Lease periods, so a take-over
//! happens within seconds, and short retries), and the standby scenario every leader-elected
//! sidecar must pass.

use std::path::Path;
use std::time::Duration;

use kube_standin::StandIn;
use serde_json::Value;

use sepia_testbed::Process;

use crate::controller::Controller;
use crate::observed::{lease_holder, lease_renew_time, lease_renewed_past, read_lease, wait};

/// The Lease duration of [`flags`].
const LEASE_DURATION: Duration = Duration::from_secs(6);

/// The flags of a replica talking to `controller` and the API behind `kubeconfig`, serving
/// `/metrics` on `http_port` and publishing events to `nats_url`.
pub fn flags(
    controller: &Controller,
    kubeconfig: &Path,
    http_port: u16,
    nats_url: &str,
) -> Vec<String> {
    vec![
        format!("--csi-address={}", controller.endpoint()),
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-election".into(),
        "--leader-election-namespace=default".into(),
        format!(
            "--leader-election-lease-duration={}s",
            LEASE_DURATION.as_secs()
        ),
        "--leader-election-renew-deadline=4s".into(),
        "--leader-election-retry-period=1s".into(),
        "--retry-interval-start=200ms".into(),
        "--retry-interval-max=2s".into(),
        format!("--http-endpoint=127.0.0.1:{http_port}"),
        format!("--nats-url={nats_url}"),
    ]
}

/// With `first` running: waits until it holds Lease `lease`, starts a standby, checks the
/// standby leaves a renewed Lease alone — once it is trying (it read the Lease), the leader
/// renews across more than a lease duration (by the renewTime it writes) and still holds it —
/// kills `first` (SIGKILL: no release) and waits until the standby holds the Lease. Returns the
/// standby and the Lease after the take-over.
pub async fn standby_takes_over(
    standin: &StandIn,
    lease: &str,
    first: &mut Process,
    start_standby: impl FnOnce() -> Process,
) -> (Process, Value) {
    let coordination = "coordination.k8s.io";
    wait(
        standin,
        coordination,
        "leases",
        "default",
        lease,
        "first replica leads",
        |l| l.is_some_and(|l| l["spec"]["holderIdentity"].is_string()),
    )
    .await;
    let leader = lease_holder(standin, lease).unwrap();
    let standby = start_standby();
    read_lease(standin, lease, &leader).await;
    let trying_since = lease_renew_time(standin, lease).unwrap();
    lease_renewed_past(standin, lease, trying_since, LEASE_DURATION * 3 / 2).await;
    assert_eq!(
        lease_holder(standin, lease).as_deref(),
        Some(leader.as_str()),
        "the standby must not steal a renewed Lease"
    );
    first.kill().await;
    let taken = wait(
        standin,
        coordination,
        "leases",
        "default",
        lease,
        "the standby takes over",
        |l| {
            l.is_some_and(|l| {
                l["spec"]["holderIdentity"]
                    .as_str()
                    .is_some_and(|h| h != leader)
            })
        },
    )
    .await
    .unwrap();
    (standby, taken)
}
