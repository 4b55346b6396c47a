//! ControllerExpandVolume: grows (rounded), never shrinks, says when the node must grow the
//! filesystem, and refuses what it cannot do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, GIB, MIB, block_cap, code, mount_cap, uuid_of};
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{CapacityRange, ControllerExpandVolumeRequest};
use tonic::Code;

fn expand(
    fx: &Fixture,
    volume_id: &str,
    required: i64,
    limit: i64,
) -> ControllerExpandVolumeRequest {
    ControllerExpandVolumeRequest {
        volume_id: volume_id.to_owned(),
        capacity_range: Some(CapacityRange {
            required_bytes: required,
            limit_bytes: limit,
        }),
        secrets: fx.secrets(),
        volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grows_rounded_and_never_shrinks() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-grow", GIB).await;
        let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        let reply = fx
            .client()
            .controller_expand_volume(expand(&fx, &volume.volume_id, 2 * GIB + 1, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.capacity_bytes, 3 * GIB);
        assert!(reply.node_expansion_required);
        assert_eq!(fx.image_size(&image).await, 3 * GIB as u64);
        // Again: same answer. Smaller: no shrink, the current size.
        let again = fx
            .client()
            .controller_expand_volume(expand(&fx, &volume.volume_id, 2 * GIB + 1, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.capacity_bytes, 3 * GIB);
        let smaller = fx
            .client()
            .controller_expand_volume(expand(&fx, &volume.volume_id, GIB, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(smaller.capacity_bytes, 3 * GIB);
        assert_eq!(fx.image_size(&image).await, 3 * GIB as u64);
        // A CreateVolume retry of the same name is still satisfied by the grown volume.
        assert_eq!(
            fx.create_volume("pvc-grow", GIB).await.volume_id,
            volume.volume_id
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_volumes_need_no_node_expansion() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-block", GIB).await;
        let mut req = expand(&fx, &volume.volume_id, 2 * GIB, 0);
        req.volume_capability = Some(block_cap(Mode::SingleNodeWriter));
        let reply = fx
            .client()
            .controller_expand_volume(req)
            .await
            .unwrap()
            .into_inner();
        assert!(!reply.node_expansion_required);
        assert_eq!(reply.capacity_bytes, 2 * GIB);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_spec_codes() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-refuse", GIB).await;
        let mut client = fx.client();
        let status = code(
            client
                .controller_expand_volume(expand(&fx, "", GIB, 0))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        let mut no_range = expand(&fx, &volume.volume_id, GIB, 0);
        no_range.capacity_range = None;
        let status = code(client.controller_expand_volume(no_range).await);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("capacity_range"));
        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            client
                .controller_expand_volume(expand(&fx, missing, 2 * GIB, 0))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().contains(missing));
        let status = code(
            client
                .controller_expand_volume(expand(&fx, "garbage", 2 * GIB, 0))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        let status = code(
            client
                .controller_expand_volume(expand(&fx, &volume.volume_id, 2 * GIB, 2 * GIB - MIB))
                .await,
        );
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        assert_eq!(
            fx.image_size(&format!("csi-vol-{}", uuid_of(&volume.volume_id)))
                .await,
            GIB as u64
        );
    })
    .await;
}

/// The largest int64 rounds past what RBD and CSI can express: refused before Ceph is asked.
/// (The volume has an object map, so that even a controller without the check could not grow
/// it to exabytes: librbd refuses that size for an object map.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_past_int64_is_out_of_range() {
    Fixture::run(|fx| async move {
        let volume = fx
            .create_volume_with_features("pvc-huge", GIB, "layering,exclusive-lock,object-map")
            .await;
        let status = code(
            fx.client()
                .controller_expand_volume(expand(&fx, &volume.volume_id, i64::MAX, 0))
                .await,
        );
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        assert!(
            status.message().contains(&i64::MAX.to_string()),
            "{}",
            status.message()
        );
        assert_eq!(
            fx.image_size(&format!("csi-vol-{}", uuid_of(&volume.volume_id)))
                .await,
            GIB as u64
        );
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}
