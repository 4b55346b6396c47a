//! Two controllers (as two replicas' processes: their own in-memory locks, the same RADOS
//! locks) racing on the same names: one subvolume, one snapshot, one journal entry each, and
//! every caller gets the same ID.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use csi::v1::*;
use futures::future::join_all;
use tonic::Code;

/// Calls `call` until it answers anything but ABORTED (contention), as a sidecar retries.
async fn until_not_aborted<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match call().await {
            Err(s) if s.code() == Code::Aborted && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other.map(tonic::Response::into_inner),
        }
    }
}

#[tokio::test]
async fn racing_controllers_make_one_of_each() {
    Fixture::run(|fx| async move {
        let (other, _stop) = fx.second_controller().await;
        let clients = [fx.client(), other.clone(), fx.client(), other.clone()];
        let req = fx.create_request("pvc-race", 4 * MIB);
        let created = join_all(clients.iter().map(|c| {
            let (c, req) = (c.clone(), req.clone());
            async move {
                until_not_aborted(|| {
                    let (mut c, r) = (c.clone(), req.clone());
                    async move { c.create_volume(r).await }
                })
                .await
            }
        }))
        .await;
        let ids: Vec<String> = created
            .into_iter()
            .map(|r| r.unwrap().volume.unwrap().volume_id)
            .collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(fx.subvolumes(), vec![subvolume_of(&ids[0])]);
        assert_eq!(fx.omap("csi.volumes.default").len(), 1);

        let snap_req = fx.snapshot_request("snap-race", &ids[0]);
        let snapshots = join_all(clients.iter().map(|c| {
            let (c, r) = (c.clone(), snap_req.clone());
            async move {
                until_not_aborted(|| {
                    let (mut c, r) = (c.clone(), r.clone());
                    async move { c.create_snapshot(r).await }
                })
                .await
            }
        }))
        .await;
        let snap_ids: Vec<String> = snapshots
            .into_iter()
            .map(|r| r.unwrap().snapshot.unwrap().snapshot_id)
            .collect();
        assert!(snap_ids.iter().all(|id| *id == snap_ids[0]), "{snap_ids:?}");
        assert_eq!(
            fx.snapshots_of(&subvolume_of(&ids[0])),
            vec![snap_of(&snap_ids[0])]
        );

        let deletes = join_all(clients.iter().map(|c| {
            let (c, id) = (c.clone(), snap_ids[0].clone());
            async move {
                until_not_aborted(|| {
                    let (mut c, id) = (c.clone(), id.clone());
                    async move {
                        c.delete_snapshot(DeleteSnapshotRequest {
                            snapshot_id: id,
                            secrets: secrets(),
                        })
                        .await
                    }
                })
                .await
            }
        }))
        .await;
        assert!(deletes.iter().all(Result::is_ok), "{deletes:?}");
        let deletes = join_all(clients.iter().map(|c| {
            let (c, id) = (c.clone(), ids[0].clone());
            async move {
                until_not_aborted(|| {
                    let (mut c, id) = (c.clone(), id.clone());
                    async move {
                        c.delete_volume(DeleteVolumeRequest {
                            volume_id: id,
                            secrets: secrets(),
                        })
                        .await
                    }
                })
                .await
            }
        }))
        .await;
        assert!(deletes.iter().all(Result::is_ok), "{deletes:?}");
        assert!(fx.subvolumes().is_empty());
        assert!(fx.omap("csi.volumes.default").is_empty());
        assert!(fx.omap("csi.snaps.default").is_empty());
    })
    .await;
}
