//! Empty volumes against the bed's filesystem: every RPC of their life, idempotency, the CSI
//! error codes, and the journal as ceph-csi writes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::*;
use tonic::Code;

#[tokio::test]
async fn identity_names_the_cephfs_driver_and_online_expansion() {
    Fixture::run(|fx| async move {
        let info = fx
            .identity
            .clone()
            .get_plugin_info(GetPluginInfoRequest {})
            .await
            .unwrap();
        assert_eq!(info.get_ref().name, "cephfs.csi.sepia.io");
        let probe = fx.identity.clone().probe(ProbeRequest {}).await.unwrap();
        assert_eq!(probe.get_ref().ready, Some(true));
        let caps = fx
            .client()
            .controller_get_capabilities(ControllerGetCapabilitiesRequest {})
            .await
            .unwrap()
            .into_inner()
            .capabilities;
        let rpcs: Vec<i32> = caps
            .iter()
            .filter_map(|c| match &c.r#type {
                Some(controller_service_capability::Type::Rpc(rpc)) => Some(rpc.r#type),
                _ => None,
            })
            .collect();
        use controller_service_capability::rpc::Type;
        for wanted in [
            Type::CreateDeleteVolume,
            Type::CreateDeleteSnapshot,
            Type::CloneVolume,
            Type::ExpandVolume,
        ] {
            assert!(
                rpcs.contains(&(wanted as i32)),
                "{wanted:?} not advertised: {rpcs:?}"
            );
        }
        assert!(!rpcs.contains(&(Type::PublishUnpublishVolume as i32)));
    })
    .await;
}

#[tokio::test]
async fn create_is_idempotent_and_delete_leaves_nothing() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-one", 10 * MIB).await;
        let again = fx.create_volume("pvc-one", 10 * MIB).await;
        assert_eq!(volume.volume_id, again.volume_id);
        assert_eq!(volume.capacity_bytes, 10 * MIB);
        let sub = subvolume_of(&volume.volume_id);
        assert_eq!(fx.subvolumes(), vec![sub.clone()]);
        assert_eq!(fx.quota(&sub), 10 << 20);
        // The ID's location is the FSCID.
        let fscid: u64 = {
            let out = ceph(&["fs", "dump", "--format", "json"]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            v["filesystems"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["mdsmap"]["fs_name"] == bed().fs.as_str())
                .unwrap()["id"]
                .as_u64()
                .unwrap()
        };
        let id = journal::CompositeId::decode(&volume.volume_id).unwrap();
        assert_eq!(id.location_id(), fscid);
        assert_eq!(id.cluster_id(), CLUSTER_ID);
        // The node's contract.
        let ctx = &volume.volume_context;
        assert_eq!(ctx["clusterID"], CLUSTER_ID);
        assert_eq!(ctx["fsName"], bed().fs);
        assert_eq!(ctx["subvolumeName"], sub);
        let path = ceph(&[
            "fs",
            "subvolume",
            "getpath",
            &bed().fs,
            &sub,
            "--group_name",
            &fx.group,
        ]);
        assert_eq!(ctx["subvolumePath"], path.trim());
        assert!(!ctx.contains_key("mounter"));
        // ceph-csi's journal: directory and entry, same keys and values.
        let dir = fx.omap("csi.volumes.default");
        assert_eq!(
            dir.get("csi.volume.pvc-one"),
            Some(&uuid_of(&volume.volume_id))
        );
        let entry = fx.omap(&format!("csi.volume.{}", uuid_of(&volume.volume_id)));
        assert_eq!(
            entry.get("csi.volname").map(String::as_str),
            Some("pvc-one")
        );
        assert_eq!(entry.get("csi.imagename"), Some(&sub));
        assert!(entry.keys().all(|k| k.starts_with("csi.")), "{entry:?}");

        // ControllerGetVolume: its size, healthy.
        let got = fx
            .client()
            .controller_get_volume(ControllerGetVolumeRequest {
                volume_id: volume.volume_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.volume.unwrap().capacity_bytes, 10 * MIB);
        let condition = got.status.unwrap().volume_condition.unwrap();
        assert!(!condition.abnormal, "{}", condition.message);

        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.subvolumes().is_empty());
        let s = status(
            fx.client()
                .controller_get_volume(ControllerGetVolumeRequest {
                    volume_id: volume.volume_id.clone(),
                })
                .await,
        );
        assert_eq!(s.code(), Code::NotFound);
        assert!(
            fx.journal_objects()
                .iter()
                .all(|o| o == "csi.volumes.default"),
            "{:?}",
            fx.journal_objects()
        );
        assert!(fx.omap("csi.volumes.default").is_empty());
        // Deleting again, or an ID that names nothing, is OK.
        fx.delete_volume(&volume.volume_id).await;
        fx.delete_volume("not-an-id").await;
    })
    .await;
}

#[tokio::test]
async fn mount_options_pass_into_the_volume_context() {
    Fixture::run(|fx| async move {
        let mut req = fx.create_request("pvc-opts", 4 * MIB);
        req.parameters.insert("mounter".into(), "fuse".into());
        req.parameters
            .insert("fuseMountOptions".into(), "debug".into());
        req.parameters
            .insert("kernelMountOptions".into(), "ms_mode=secure".into());
        req.parameters.insert("pool".into(), "cephfs_data".into());
        let volume = create(fx.client(), req).await;
        let ctx = &volume.volume_context;
        assert_eq!(ctx["mounter"], "fuse");
        assert_eq!(ctx["fuseMountOptions"], "debug");
        assert_eq!(ctx["kernelMountOptions"], "ms_mode=secure");
        let info = fx.info(&subvolume_of(&volume.volume_id)).unwrap();
        assert_eq!(info["data_pool"], "cephfs_data");
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

#[tokio::test]
async fn bad_requests_get_the_spec_codes_and_leave_nothing() {
    Fixture::run(|fx| async move {
        let mut c = fx.client();
        let mut req = fx.create_request("pvc-bad", MIB);
        req.parameters.remove("fsName");
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("fsName"), "{}", s.message());

        let mut req = fx.create_request("pvc-bad", MIB);
        req.parameters.insert("fsName".into(), "no-such-fs".into());
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("no-such-fs"), "{}", s.message());

        let mut req = fx.create_request("pvc-bad", MIB);
        req.parameters
            .insert("clusterID".into(), "elsewhere".into());
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("clusterID"), "{}", s.message());

        let mut req = fx.create_request("pvc-bad", MIB);
        req.secrets.remove("adminKey");
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("adminKey"), "{}", s.message());

        let mut req = fx.create_request("pvc-bad", MIB);
        req.parameters.insert("pool".into(), "no-such-pool".into());
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("pool"), "{}", s.message());

        let mut req = fx.create_request("pvc-bad", MIB);
        req.volume_capabilities = vec![block_cap(Mode::MultiNodeMultiWriter)];
        let s = status(c.create_volume(req).await);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("block"), "{}", s.message());

        let mut req = fx.create_request("", MIB);
        req.name.clear();
        assert_eq!(
            status(c.create_volume(req).await).code(),
            Code::InvalidArgument
        );

        // Same name, incompatible size: ALREADY_EXISTS.
        let volume = fx.create_volume("pvc-size", 4 * MIB).await;
        let mut req = fx.create_request("pvc-size", 8 * MIB);
        req.capacity_range.as_mut().unwrap().limit_bytes = 8 * MIB;
        assert_eq!(
            status(c.create_volume(req).await).code(),
            Code::AlreadyExists
        );
        fx.delete_volume(&volume.volume_id).await;

        // Refusals made nothing.
        assert!(fx.subvolumes().is_empty(), "{:?}", fx.subvolumes());
        assert!(fx.omap("csi.volumes.default").is_empty());

        // NOT_FOUND for volumes that do not exist.
        let s = status(
            c.controller_expand_volume(ControllerExpandVolumeRequest {
                volume_id: volume.volume_id.clone(),
                capacity_range: Some(CapacityRange {
                    required_bytes: 8 * MIB,
                    limit_bytes: 0,
                }),
                secrets: secrets(),
                ..Default::default()
            })
            .await,
        );
        assert_eq!(s.code(), Code::NotFound);
        let s = status(
            c.create_snapshot(fx.snapshot_request("snap-of-nothing", &volume.volume_id))
                .await,
        );
        assert_eq!(s.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_is_permission_denied() {
    Builder::default()
        .connect_timeout(Duration::from_secs(3))
        .run(|fx| async move {
            let mut req = fx.create_request("pvc-wrong-key", MIB);
            req.secrets.insert(
                "adminKey".into(),
                "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==".into(),
            );
            let s = status(fx.client().create_volume(req).await);
            assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
            assert!(!s.message().contains("AQBQm1xm"), "{}", s.message());
            let mut req = fx.create_request("pvc-wrong-user", MIB);
            req.secrets.insert("adminID".into(), "no-such-user".into());
            let s = status(fx.client().create_volume(req).await);
            assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
            assert!(fx.subvolumes().is_empty());
        })
        .await;
}

#[tokio::test]
async fn expand_grows_the_quota_and_never_shrinks() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-grow", 4 * MIB).await;
        let sub = subvolume_of(&volume.volume_id);
        let expand = |size: i64| ControllerExpandVolumeRequest {
            volume_id: volume.volume_id.clone(),
            capacity_range: Some(CapacityRange {
                required_bytes: size,
                limit_bytes: 0,
            }),
            secrets: secrets(),
            volume_capability: Some(mount_cap(Mode::MultiNodeMultiWriter)),
        };
        let reply = fx
            .client()
            .controller_expand_volume(expand(12 * MIB))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.capacity_bytes, 12 * MIB);
        assert!(!reply.node_expansion_required);
        assert_eq!(fx.quota(&sub), 12 << 20);
        // Again: same answer. Smaller: the current size, quota unchanged.
        let reply = fx
            .client()
            .controller_expand_volume(expand(12 * MIB))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.capacity_bytes, 12 * MIB);
        let reply = fx
            .client()
            .controller_expand_volume(expand(8 * MIB))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.capacity_bytes, 12 * MIB);
        assert_eq!(fx.quota(&sub), 12 << 20);
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

#[tokio::test]
async fn validate_confirms_every_mount_mode_and_refuses_block() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-validate", 4 * MIB).await;
        for mode in [
            Mode::SingleNodeWriter,
            Mode::SingleNodeReaderOnly,
            Mode::MultiNodeReaderOnly,
            Mode::MultiNodeSingleWriter,
            Mode::MultiNodeMultiWriter,
            Mode::SingleNodeSingleWriter,
            Mode::SingleNodeMultiWriter,
        ] {
            let reply = fx
                .client()
                .validate_volume_capabilities(ValidateVolumeCapabilitiesRequest {
                    volume_id: volume.volume_id.clone(),
                    volume_capabilities: vec![mount_cap(mode)],
                    secrets: secrets(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(reply.confirmed.is_some(), "{mode:?}: {}", reply.message);
        }
        let reply = fx
            .client()
            .validate_volume_capabilities(ValidateVolumeCapabilitiesRequest {
                volume_id: volume.volume_id.clone(),
                volume_capabilities: vec![block_cap(Mode::MultiNodeMultiWriter)],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.confirmed.is_none());
        assert!(reply.message.contains("block"), "{}", reply.message);
        fx.delete_volume(&volume.volume_id).await;
        let s = status(
            fx.client()
                .validate_volume_capabilities(ValidateVolumeCapabilitiesRequest {
                    volume_id: volume.volume_id.clone(),
                    volume_capabilities: vec![mount_cap(Mode::MultiNodeMultiWriter)],
                    ..Default::default()
                })
                .await,
        );
        assert_eq!(s.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test]
async fn capacity_is_the_data_pools_max_avail() {
    Fixture::run(|fx| async move {
        let reply = fx
            .client()
            .get_capacity(GetCapacityRequest {
                parameters: fx.params(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let out = ceph(&["df", "--format", "json"]);
        let df: serde_json::Value = serde_json::from_str(&out).unwrap();
        let pool = df["pools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "cephfs_data")
            .unwrap();
        let avail = pool["stats"]["max_avail"].as_i64().unwrap();
        assert!(reply.available_capacity > 0);
        // max_avail moves with other tests' writes; same order of magnitude.
        assert!(reply.available_capacity / 2 < avail && avail / 2 < reply.available_capacity);
    })
    .await;
}

#[tokio::test]
async fn a_group_removed_by_an_admin_is_made_again() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-first", 4 * MIB).await;
        fx.delete_volume(&volume.volume_id).await;
        ceph(&["fs", "subvolumegroup", "rm", &bed().fs, &fx.group]);
        // This process made the group before: its first attempt finds it gone and says so,
        // leaving nothing; the retry (as the provisioner's) makes the group again.
        let s = status(
            fx.client()
                .create_volume(fx.create_request("pvc-second", 4 * MIB))
                .await,
        );
        assert!(s.message().contains("does not exist"), "{}", s.message());
        assert!(fx.omap("csi.volumes.default").is_empty());
        let volume = fx.create_volume("pvc-second", 4 * MIB).await;
        assert_eq!(fx.subvolumes(), vec![subvolume_of(&volume.volume_id)]);
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}
