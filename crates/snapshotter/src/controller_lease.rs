//! The controller half under upstream snapshot-controller's Lease (`snapshot-controller-leader`,
//! in the `--leader-election-namespace`, the namespace rule upstream's controller uses) when
//! `--leader-election` is on. The controller half is cluster-wide and driver-agnostic: with
//! several drivers' snapshotters (RBD, CephFS) in one cluster, exactly one of them binds
//! snapshots. It leads fail-stop like the sidecar itself ([`sidecar::leadership`]): losing this
//! Lease aborts the controller half at once, and the caller then ends the whole process, as
//! upstream's snapshot-controller exits on a lost Lease.

use sidecar::leader::LeaderElector;
use sidecar::leadership::lead;
use sidecar::{SidecarArgs, SidecarError, kube_client};
use tokio_util::sync::CancellationToken;

use crate::run::{ControllerInbox, RunParts, SharedStores, run_controller_half};

/// upstream snapshot-controller's Lease.
pub const CONTROLLER_LEASE: &str = "snapshot-controller-leader";

/// The controller half until `stop`, under `snapshot-controller-leader` when leader election
/// is on.
///
/// # Errors
/// [`SidecarError::LeadershipLost`] (the half was aborted; the process must exit), or no
/// client for the election.
pub(crate) async fn run_controller(
    parts: &RunParts,
    shared: SharedStores,
    inbox: ControllerInbox,
    stop: CancellationToken,
) -> Result<(), SidecarError> {
    let sidecar_args = &parts.args.sidecar;
    if !sidecar_args.leader_election {
        run_controller_half(parts, shared, inbox, stop).await;
        return Ok(());
    }
    let mut elector = controller_elector(sidecar_args, &parts.identity).await?;
    let parts = parts.clone();
    lead(
        &mut elector,
        move |leading| async move { run_controller_half(&parts, shared, inbox, leading).await },
        &stop,
    )
    .await
}

async fn controller_elector(
    args: &SidecarArgs,
    identity: &str,
) -> Result<LeaderElector, SidecarError> {
    let config = kube_client::load_config(args.kubeconfig.as_deref()).await?;
    let client = kube_client::throttled_client(
        config,
        args.kube_api_qps,
        args.kube_api_burst,
        &format!("sepia-snapshot-controller-leader-election/{identity}"),
    )?;
    Ok(LeaderElector::new(
        client,
        args.election_config(CONTROLLER_LEASE.to_owned(), identity),
    ))
}
