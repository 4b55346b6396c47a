//! The controller half under upstream snapshot-controller's Lease (`snapshot-controller-leader`)
//! when `--leader-election` is on. The controller half is cluster-wide and driver-agnostic:
//! with several drivers' snapshotters (RBD, CephFS) — or upstream's snapshot-controller — in
//! one cluster, exactly one of them binds snapshots. Losing this Lease stops only the
//! controller half, which then stands by to take it again; the CSI half keeps running under
//! its own Lease.

use sidecar::leader::{LeaderElectionConfig, LeaderElector};
use sidecar::{SidecarArgs, kube_client, lease_name};
use tokio_util::sync::CancellationToken;

use crate::run::{ControllerInbox, RunParts, SharedStores, run_controller_half};

/// upstream snapshot-controller's Lease.
pub const CONTROLLER_LEASE: &str = "snapshot-controller-leader";

/// The controller half, under `snapshot-controller-leader` when leader election is on.
pub(crate) async fn run_controller(
    parts: &RunParts,
    shared: SharedStores,
    inbox: ControllerInbox,
    stop: CancellationToken,
) {
    let sidecar_args = &parts.args.sidecar;
    if !sidecar_args.leader_election {
        run_controller_half(parts, shared, inbox, stop).await;
        return;
    }
    let mut elector = match controller_elector(sidecar_args, &parts.identity).await {
        Ok(elector) => elector,
        Err(error) => {
            tracing::error!(%error, "cannot start leader election for the snapshot controller; it will not run");
            return;
        }
    };
    loop {
        if !elector.acquire(&stop).await {
            return;
        }
        let leading = stop.child_token();
        let half = run_controller_half(parts, shared.clone(), inbox.clone(), leading.clone());
        let kept = {
            let keep = elector.keep(&stop);
            tokio::pin!(half);
            tokio::select! {
                kept = keep => {
                    leading.cancel();
                    half.await;
                    kept
                }
                () = &mut half => Ok(()),
            }
        };
        match kept {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "snapshot controller stopped; standing by for its Lease")
            }
        }
    }
}

async fn controller_elector(
    args: &SidecarArgs,
    identity: &str,
) -> Result<LeaderElector, sidecar::SidecarError> {
    let config = kube_client::load_config(args.kubeconfig.as_deref()).await?;
    let client = kube_client::throttled_client(
        config,
        args.kube_api_qps,
        args.kube_api_burst,
        &format!("sepia-snapshot-controller-leader-election/{identity}"),
    )?;
    Ok(LeaderElector::new(
        client,
        LeaderElectionConfig {
            lease_name: CONTROLLER_LEASE.to_owned(),
            namespace: args
                .leader_election_namespace
                .clone()
                .unwrap_or_else(lease_name::default_namespace),
            identity: identity.to_owned(),
            lease_duration: args.leader_election_lease_duration,
            renew_deadline: args.leader_election_renew_deadline,
            retry_period: args.leader_election_retry_period,
        },
    ))
}
