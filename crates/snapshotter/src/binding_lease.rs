//! The binding half under upstream snapshot-controller's Lease (`snapshot-controller-leader`,
//! in the `--leader-election-namespace`, the namespace rule upstream's controller uses) when
//! `--leader-election` is on. The binding half is cluster-wide and driver-agnostic: with
//! several drivers' snapshotters (RBD, CephFS) in one cluster, exactly one of them binds
//! snapshots. It leads fail-stop like the sidecar itself ([`sidecar::leader_election::leadership`]): losing this
//! Lease aborts the binding half at once, and the caller then ends the whole process, as
//! upstream's snapshot-controller exits on a lost Lease.

use std::future::Future;

use sidecar::leader_election::leader::LeaderElector;
use sidecar::leader_election::leadership::lead;
use sidecar::{SidecarArgs, SidecarError, kube_client};
use tokio_util::sync::CancellationToken;

/// upstream snapshot-controller's Lease (the name is upstream's: Kubernetes sees it).
pub const BINDING_LEASE: &str = "snapshot-controller-leader";

/// `binding_half` (the binding half's loop, run until the token it is given is cancelled) until
/// `stop`, under `snapshot-controller-leader` when leader election is on. The loop comes in
/// as a value: the Lease is the watch loops' to use, and knows nothing of them.
///
/// # Errors
/// [`SidecarError::LeadershipLost`] (the half was aborted; the process must exit), or no
/// client for the election.
pub(crate) async fn run<F, Fut>(
    sidecar_args: &SidecarArgs,
    identity: &str,
    binding_half: F,
    stop: CancellationToken,
) -> Result<(), SidecarError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !sidecar_args.leader_election {
        binding_half(stop).await;
        return Ok(());
    }
    let mut elector = binding_elector(sidecar_args, identity).await?;
    lead(&mut elector, binding_half, &stop).await
}

async fn binding_elector(
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
        args.election_config(BINDING_LEASE.to_owned(), identity),
    ))
}
