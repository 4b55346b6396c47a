//! ListVolumes and ListSnapshots from the journal: pages that join up to exactly what was
//! created, the filters of ListSnapshots, and the spec's code for a token we never gave out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use csi::v1::*;
use tonic::Code;

#[tokio::test]
async fn lists_page_through_exactly_what_exists() {
    Fixture::run(|fx| async move {
        let mut volumes = Vec::new();
        for name in ["pvc-a", "pvc-b", "pvc-c"] {
            volumes.push(fx.create_volume(name, 4 * MIB).await.volume_id);
        }
        let snap_a = fx.create_snapshot("snap-a", &volumes[0]).await;
        let snap_b = fx.create_snapshot("snap-b", &volumes[1]).await;

        let mut listed = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let reply = fx
                .client()
                .list_volumes(ListVolumesRequest {
                    max_entries: 2,
                    starting_token: token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            listed.extend(
                reply
                    .entries
                    .into_iter()
                    .map(|e| e.volume.unwrap().volume_id),
            );
            if reply.next_token.is_empty() {
                break;
            }
            token = reply.next_token;
        }
        assert_eq!(pages, 2);
        assert_eq!(listed, volumes, "request-name order");

        let all = fx
            .client()
            .list_snapshots(ListSnapshotsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<String> = all
            .entries
            .iter()
            .map(|e| e.snapshot.clone().unwrap().snapshot_id)
            .collect();
        assert_eq!(
            ids,
            vec![snap_a.snapshot_id.clone(), snap_b.snapshot_id.clone()]
        );
        let first = all.entries[0].snapshot.clone().unwrap();
        assert_eq!(first.source_volume_id, volumes[0]);
        assert_eq!(first.size_bytes, 4 * MIB);
        assert_eq!(first.creation_time, snap_a.creation_time);
        assert!(first.ready_to_use);

        let of_b = fx
            .client()
            .list_snapshots(ListSnapshotsRequest {
                source_volume_id: volumes[1].clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(of_b.entries.len(), 1);
        assert_eq!(
            of_b.entries[0].snapshot.clone().unwrap().snapshot_id,
            snap_b.snapshot_id
        );
        let by_id = fx
            .client()
            .list_snapshots(ListSnapshotsRequest {
                snapshot_id: snap_a.snapshot_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(by_id.entries.len(), 1);
        let of_c = fx
            .client()
            .list_snapshots(ListSnapshotsRequest {
                source_volume_id: volumes[2].clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(of_c.entries.is_empty());

        let s = status(
            fx.client()
                .list_volumes(ListVolumesRequest {
                    max_entries: 0,
                    starting_token: "not-ours".into(),
                })
                .await,
        );
        assert_eq!(s.code(), Code::Aborted);

        fx.delete_snapshot(&snap_a.snapshot_id).await;
        fx.delete_snapshot(&snap_b.snapshot_id).await;
        for id in &volumes {
            fx.delete_volume(id).await;
        }
        let empty = fx
            .client()
            .list_volumes(ListVolumesRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(empty.entries.is_empty());
    })
    .await;
}
