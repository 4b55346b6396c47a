//! CSI calls as the sidecars make them, for both fixtures: a failure fails the test with the
//! request's name, snapshots are asked for again until ready, and contention (ABORTED) is
//! retried until a deadline, as every sidecar retries with back-off.

use std::time::Duration;

use csi::v1::controller_client::ControllerClient;
use csi::v1::*;
use tonic::transport::Channel;
use tonic::{Code, Response, Status};

/// Pause between two attempts of a retried call.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub async fn create_volume(
    mut client: ControllerClient<Channel>,
    req: CreateVolumeRequest,
) -> Volume {
    let name = req.name.clone();
    client
        .create_volume(req)
        .await
        .unwrap_or_else(|s| panic!("CreateVolume {name}: {s:?}"))
        .into_inner()
        .volume
        .expect("volume in reply")
}

pub async fn delete_volume(mut client: ControllerClient<Channel>, req: DeleteVolumeRequest) {
    let id = req.volume_id.clone();
    client
        .delete_volume(req)
        .await
        .unwrap_or_else(|s| panic!("DeleteVolume {id}: {s:?}"));
}

pub async fn delete_snapshot(mut client: ControllerClient<Channel>, req: DeleteSnapshotRequest) {
    let id = req.snapshot_id.clone();
    client
        .delete_snapshot(req)
        .await
        .unwrap_or_else(|s| panic!("DeleteSnapshot {id}: {s:?}"));
}

/// CreateSnapshot repeated (as the snapshotter does) until the reply says ready.
pub async fn create_snapshot_until_ready(
    client: ControllerClient<Channel>,
    req: CreateSnapshotRequest,
) -> Snapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let snapshot = client
            .clone()
            .create_snapshot(req.clone())
            .await
            .unwrap_or_else(|s| panic!("CreateSnapshot {}: {s:?}", req.name))
            .into_inner()
            .snapshot
            .expect("snapshot in reply");
        if snapshot.ready_to_use {
            return snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "snapshot {} never became ready",
            req.name
        );
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Runs `call` until it answers something other than one of `retry_on` (ABORTED for
/// contention, and whatever else the caller knows to be passing), or fails the test once
/// `limit` has passed. Returns the final answer.
pub async fn until_settled<T>(
    what: &str,
    limit: Duration,
    retry_on: &[Code],
    mut call: impl AsyncFnMut() -> Result<Response<T>, Status>,
) -> Result<Response<T>, Status> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match call().await {
            Err(status) if retry_on.contains(&status.code()) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{what} still answers {:?} after {limit:?}: {}",
                    status.code(),
                    status.message()
                );
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            settled => return settled,
        }
    }
}

/// [`until_settled`] that must end in success; the reply's message.
pub async fn until_ok<T>(
    what: &str,
    limit: Duration,
    retry_on: &[Code],
    call: impl AsyncFnMut() -> Result<Response<T>, Status>,
) -> T {
    match until_settled(what, limit, retry_on, call).await {
        Ok(reply) => reply.into_inner(),
        Err(status) => panic!("{what}: {status:?}"),
    }
}
