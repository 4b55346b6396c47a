//! ControllerPublish/Unpublish: publication records, refusals per the spec, and
//! ControllerGetVolume reporting them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, GIB, block_cap, code, mount_cap, uuid_of};
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{
    ControllerGetVolumeRequest, ControllerPublishVolumeRequest, ControllerUnpublishVolumeRequest,
    VolumeCapability,
};
use tonic::Code;

fn publish(
    volume_id: &str,
    node_id: &str,
    cap: VolumeCapability,
    readonly: bool,
) -> ControllerPublishVolumeRequest {
    // No secrets: Kubernetes sends them only when the StorageClass names a publish secret; the
    // controller's standing credentials are used instead.
    ControllerPublishVolumeRequest {
        volume_id: volume_id.to_owned(),
        node_id: node_id.to_owned(),
        volume_capability: Some(cap),
        readonly,
        ..Default::default()
    }
}

fn unpublish(volume_id: &str, node_id: &str) -> ControllerUnpublishVolumeRequest {
    ControllerUnpublishVolumeRequest {
        volume_id: volume_id.to_owned(),
        node_id: node_id.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_volume_is_published_to_one_node_at_a_time() {
    Fixture::run(|fx| async move {
        fx.register_node("node-a").await;
        fx.register_node("node-b").await;
        let volume = fx.create_volume("pvc-rwo", GIB).await;
        let id = volume.volume_id.clone();
        let mut client = fx.client();
        let rwo = mount_cap(Mode::SingleNodeWriter);
        for _ in 0..3 {
            client
                .controller_publish_volume(publish(&id, "node-a", rwo.clone(), false))
                .await
                .unwrap();
        }
        let record = fx.omap(&format!("csi.volume.{}", uuid_of(&id))).await;
        let value: serde_json::Value =
            serde_json::from_str(&record["sepia.publish.node-a"]).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"readonly": false, "accessMode": "SINGLE_NODE_WRITER"})
        );

        let status = code(
            client
                .controller_publish_volume(publish(&id, "node-b", rwo.clone(), false))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(status.message().contains("node-a"), "{}", status.message());
        let status = code(
            client
                .controller_publish_volume(publish(&id, "node-a", rwo.clone(), true))
                .await,
        );
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

        let got = client
            .controller_get_volume(ControllerGetVolumeRequest {
                volume_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let status = got.status.unwrap();
        assert_eq!(status.published_node_ids, vec!["node-a".to_owned()]);
        assert!(!status.volume_condition.unwrap().abnormal);
        assert_eq!(got.volume.unwrap().capacity_bytes, GIB);

        for _ in 0..3 {
            client
                .controller_unpublish_volume(unpublish(&id, "node-a"))
                .await
                .unwrap();
        }
        client
            .controller_publish_volume(publish(&id, "node-b", rwo, false))
            .await
            .unwrap();
        let record = fx.omap(&format!("csi.volume.{}", uuid_of(&id))).await;
        assert!(!record.contains_key("sepia.publish.node-a"));
        assert!(record.contains_key("sepia.publish.node-b"));
        // The journal keys ceph-csi reads are untouched.
        assert_eq!(
            record.get("csi.volname").map(String::as_str),
            Some("pvc-rwo")
        );
        // Unpublish from every node at once.
        client
            .controller_unpublish_volume(unpublish(&id, ""))
            .await
            .unwrap();
        assert!(
            !fx.omap(&format!("csi.volume.{}", uuid_of(&id)))
                .await
                .keys()
                .any(|k| k.starts_with("sepia.publish."))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_node_block_volume_is_published_to_many_nodes() {
    Fixture::run(|fx| async move {
        fx.register_node("node-a").await;
        fx.register_node("node-b").await;
        let volume = fx.create_volume("pvc-rwx", GIB).await;
        let id = volume.volume_id.clone();
        let mut client = fx.client();
        let rwx = block_cap(Mode::MultiNodeMultiWriter);
        client
            .controller_publish_volume(publish(&id, "node-a", rwx.clone(), false))
            .await
            .unwrap();
        client
            .controller_publish_volume(publish(&id, "node-b", rwx, false))
            .await
            .unwrap();
        let got = client
            .controller_get_volume(ControllerGetVolumeRequest {
                volume_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut nodes = got.status.unwrap().published_node_ids;
        nodes.sort();
        assert_eq!(nodes, vec!["node-a".to_owned(), "node-b".to_owned()]);
        // A single-node publication cannot join them.
        fx.register_node("node-c").await;
        let status = code(
            client
                .controller_publish_volume(publish(
                    &id,
                    "node-c",
                    block_cap(Mode::SingleNodeWriter),
                    false,
                ))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition);
        // Multi-node writers need block.
        let status = code(
            client
                .controller_publish_volume(publish(
                    &id,
                    "node-c",
                    mount_cap(Mode::MultiNodeMultiWriter),
                    false,
                ))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_volumes_and_nodes_are_not_found_and_unpublish_of_them_succeeds() {
    Fixture::run(|fx| async move {
        fx.register_node("node-a").await;
        let volume = fx.create_volume("pvc-x", GIB).await;
        let mut client = fx.client();
        let rwo = mount_cap(Mode::SingleNodeWriter);
        let status = code(
            client
                .controller_publish_volume(publish(&volume.volume_id, "ghost", rwo.clone(), false))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().contains("ghost"));
        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            client
                .controller_publish_volume(publish(missing, "node-a", rwo.clone(), false))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        for (volume_id, node_id, field) in [("", "node-a", "volume_id"), (missing, "", "node_id")] {
            let status = code(
                client
                    .controller_publish_volume(publish(volume_id, node_id, rwo.clone(), false))
                    .await,
            );
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().contains(field));
        }
        let mut no_cap = publish(&volume.volume_id, "node-a", rwo, false);
        no_cap.volume_capability = None;
        assert_eq!(
            code(client.controller_publish_volume(no_cap).await).code(),
            Code::InvalidArgument
        );

        client
            .controller_unpublish_volume(unpublish(missing, "node-a"))
            .await
            .unwrap();
        client
            .controller_unpublish_volume(unpublish(&volume.volume_id, "ghost"))
            .await
            .unwrap();
        client
            .controller_unpublish_volume(unpublish("garbage", "node-a"))
            .await
            .unwrap();
        let status = code(
            client
                .controller_unpublish_volume(unpublish("", "node-a"))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_volume_reports_a_missing_image_as_abnormal() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-lost", GIB).await;
        let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        ceph::rbd::remove(&fx.io, &image).await.unwrap();
        let got = fx
            .client()
            .controller_get_volume(ControllerGetVolumeRequest {
                volume_id: volume.volume_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let condition = got.status.unwrap().volume_condition.unwrap();
        assert!(condition.abnormal);
        assert!(condition.message.contains(&image), "{}", condition.message);
        let status = code(
            fx.client()
                .controller_get_volume(ControllerGetVolumeRequest {
                    volume_id: "garbage".into(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_standing_credentials_rpcs_without_secrets_explain_the_flag() {
    Fixture::builder()
        .without_standing_credentials()
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-nocreds", GIB).await;
            let status = code(
                fx.client()
                    .controller_get_volume(ControllerGetVolumeRequest {
                        volume_id: volume.volume_id.clone(),
                    })
                    .await,
            );
            assert_eq!(status.code(), Code::FailedPrecondition);
            assert!(
                status.message().contains("--controller-credentials-dir"),
                "{}",
                status.message()
            );
            // With secrets in the request, publish works without them.
            fx.register_node("node-a").await;
            let mut req = publish(
                &volume.volume_id,
                "node-a",
                mount_cap(Mode::SingleNodeWriter),
                false,
            );
            req.secrets = fx.secrets();
            fx.client().controller_publish_volume(req).await.unwrap();
        })
        .await;
}
