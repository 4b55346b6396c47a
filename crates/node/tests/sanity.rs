//! The error codes csi-sanity (and the CSI spec) expect for missing or wrong fields, plus the
//! capability and info answers, over the real gRPC service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::collections::HashMap;

use csi::v1::node_service_capability::{Type as CapType, rpc::Type as RpcType};
use csi::v1::plugin_capability::Type as PluginCapType;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::*;
use harness::*;
use tonic::Code;

fn code<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(s) => (s.code(), s.message().to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_node_info_describe_this_plugin() {
    let mut h = Harness::start("sanity-info").await;
    let info = h
        .identity
        .get_plugin_info(GetPluginInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.name, DRIVER);
    assert!(!info.vendor_version.is_empty());
    let caps = h
        .identity
        .get_plugin_capabilities(GetPluginCapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        caps.capabilities
            .iter()
            .all(|c| !matches!(c.r#type, Some(PluginCapType::Service(_)))),
        "the node plugin has no controller service"
    );
    assert!(
        caps.capabilities
            .iter()
            .any(|c| matches!(c.r#type, Some(PluginCapType::VolumeExpansion(_))))
    );
    let probe = h
        .identity
        .probe(ProbeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(probe.ready, Some(true));

    let node_info = h
        .node
        .node_get_info(NodeGetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(node_info.node_id, "node-under-test");
    assert!(node_info.max_volumes_per_node >= 0);

    let caps = h
        .node
        .node_get_capabilities(NodeGetCapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<i32> = caps
        .capabilities
        .iter()
        .map(|c| match c.r#type {
            Some(CapType::Rpc(rpc)) => rpc.r#type,
            None => panic!("capability without type"),
        })
        .collect();
    got.sort();
    let mut want: Vec<i32> = [
        RpcType::StageUnstageVolume,
        RpcType::GetVolumeStats,
        RpcType::ExpandVolume,
        RpcType::VolumeCondition,
        RpcType::SingleNodeMultiWriter,
    ]
    .iter()
    .map(|t| *t as i32)
    .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_and_unstage_validate_their_fields() {
    let mut h = Harness::start("sanity-stage").await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let full = h.stage_request("vol", cap.clone());

    let mut r = full.clone();
    r.volume_id.clear();
    assert_eq!(
        code(h.node.node_stage_volume(r).await).0,
        Code::InvalidArgument
    );
    let mut r = full.clone();
    r.staging_target_path.clear();
    let (c, m) = code(h.node.node_stage_volume(r).await);
    assert_eq!(
        (c, m.contains("staging_target_path")),
        (Code::InvalidArgument, true),
        "{m}"
    );
    let mut r = full.clone();
    r.volume_capability = None;
    r.secrets = HashMap::new();
    r.volume_context = HashMap::new();
    let (c, m) = code(h.node.node_stage_volume(r).await);
    assert_eq!(
        (c, m.contains("volume_capability")),
        (Code::InvalidArgument, true),
        "{m}"
    );
    let mut r = full.clone();
    r.secrets.remove("userKey");
    let (c, m) = code(h.node.node_stage_volume(r).await);
    assert_eq!(
        (c, m.contains("secrets.userKey")),
        (Code::InvalidArgument, true),
        "{m}"
    );
    let mut r = full.clone();
    r.volume_context.remove("imageName");
    let (c, m) = code(h.node.node_stage_volume(r).await);
    assert_eq!(
        (c, m.contains("volume_context.imageName")),
        (Code::InvalidArgument, true),
        "{m}"
    );
    let mut r = full.clone();
    r.volume_id = "../escape".into();
    assert_eq!(
        code(h.node.node_stage_volume(r).await).0,
        Code::InvalidArgument
    );
    let r = h.stage_request("vol", mount_capability("btrfs", Mode::SingleNodeWriter));
    assert_eq!(
        code(h.node.node_stage_volume(r).await).0,
        Code::InvalidArgument
    );
    let r = h.stage_request("vol", mount_capability("ext4", Mode::MultiNodeMultiWriter));
    assert_eq!(
        code(h.node.node_stage_volume(r).await).0,
        Code::InvalidArgument
    );

    let mut r = h.unstage_request("vol");
    r.volume_id.clear();
    assert_eq!(
        code(h.node.node_unstage_volume(r).await).0,
        Code::InvalidArgument
    );
    let mut r = h.unstage_request("vol");
    r.staging_target_path.clear();
    assert_eq!(
        code(h.node.node_unstage_volume(r).await).0,
        Code::InvalidArgument
    );
    // Never staged: nothing to do, which is success.
    h.unstage("vol").await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_unpublish_validate_their_fields() {
    let mut h = Harness::start("sanity-publish").await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let full = h.publish_request("vol", "pod", cap.clone(), false);

    let mut r = full.clone();
    r.volume_id.clear();
    assert_eq!(
        code(h.node.node_publish_volume(r).await).0,
        Code::InvalidArgument
    );
    let mut r = full.clone();
    r.target_path.clear();
    assert_eq!(
        code(h.node.node_publish_volume(r).await).0,
        Code::InvalidArgument
    );
    // csi-sanity: id and target but no capability (and no staging path).
    let mut r = full.clone();
    r.volume_capability = None;
    r.staging_target_path.clear();
    assert_eq!(
        code(h.node.node_publish_volume(r).await).0,
        Code::InvalidArgument
    );
    // The spec's own code for a STAGE_UNSTAGE plugin asked to publish without a staging path.
    let mut r = full.clone();
    r.staging_target_path.clear();
    assert_eq!(
        code(h.node.node_publish_volume(r).await).0,
        Code::FailedPrecondition
    );
    // Not staged: the volume does not exist on this node.
    let (c, m) = code(h.node.node_publish_volume(full.clone()).await);
    assert_eq!(c, Code::NotFound, "{m}");
    assert!(
        !h.target_path("vol", "pod").exists(),
        "a failed publish created its target"
    );

    let mut r = h.unpublish_request("vol", "pod");
    r.volume_id.clear();
    assert_eq!(
        code(h.node.node_unpublish_volume(r).await).0,
        Code::InvalidArgument
    );
    let mut r = h.unpublish_request("vol", "pod");
    r.target_path.clear();
    assert_eq!(
        code(h.node.node_unpublish_volume(r).await).0,
        Code::InvalidArgument
    );
    // A target that is not there is already unpublished.
    h.unpublish("vol", "pod").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_expand_of_unknown_volumes_are_not_found() {
    let mut h = Harness::start("sanity-stats").await;
    let stats = |volume_id: &str, path: &str| NodeGetVolumeStatsRequest {
        volume_id: volume_id.into(),
        volume_path: path.into(),
        staging_target_path: String::new(),
    };
    let expand = |volume_id: &str, path: &str| NodeExpandVolumeRequest {
        volume_id: volume_id.into(),
        volume_path: path.into(),
        ..Default::default()
    };
    let kubelet = h.root.join("kubelet");
    let nowhere = kubelet.join("pods/none/volumes/kubernetes.io~csi/vol/mount");
    let nowhere = nowhere.display().to_string();
    // A directory that exists below kubelet's root but holds no volume.
    let empty = kubelet.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();

    for (volume_id, path, want) in [
        ("", nowhere.as_str(), Code::InvalidArgument),
        ("vol", "", Code::InvalidArgument),
        // kubelet never sends a relative path (csi-sanity's "some/path" included).
        ("vol", "some/path", Code::InvalidArgument),
        ("vol", nowhere.as_str(), Code::NotFound),
        ("vol", empty.as_str(), Code::NotFound),
    ] {
        let (c, m) = code(h.node.node_get_volume_stats(stats(volume_id, path)).await);
        assert_eq!(c, want, "stats {volume_id:?} {path:?}: {m}");
        let (c, m) = code(h.node.node_expand_volume(expand(volume_id, path)).await);
        assert_eq!(c, want, "expand {volume_id:?} {path:?}: {m}");
    }
}
