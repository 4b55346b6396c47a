//! Oversized client values (issue 14, item 8): a 1 MB id or a 100 KB parameter value is
//! refused with INVALID_ARGUMENT whose message quotes at most 256 bytes of it, then its length
//! — never echoed whole, which would not fit the `grpc-message` header (the client would get
//! a transport error) and would balloon the controller's log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::processes::Processes;
use common::{Fixture, GIB, code, mount_cap};
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::*;
use tonic::{Code, Status};

/// Longest message a refusal may have: the quote (256 bytes plus escapes and the length) and
/// the words around it.
const SHORT: usize = 1024;

fn megabyte_id() -> String {
    "0001-0003-bed-".to_owned() + &"7".repeat(1 << 20)
}

fn hundred_kilobytes() -> String {
    "v".repeat(100 << 10)
}

/// The refusal is INVALID_ARGUMENT, short, and quotes the cut value with its length.
fn assert_short_refusal(what: &str, status: &Status, length: usize) {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{what}: {:?}",
        status.code()
    );
    let message = status.message();
    assert!(
        message.len() < SHORT,
        "{what}: {} bytes: {}",
        message.len(),
        &message[..SHORT.min(message.len())]
    );
    assert!(
        message.contains(&format!("{length} bytes")),
        "{what}: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_id_is_invalid_argument_with_a_short_message() {
    // Every RPC taking an id, the alpha ones (GetSnapshot, ControllerGetVolume) included.
    Fixture::builder()
        .alpha_capabilities("all")
        .run(|fx| async move {
            let id = megabyte_id();
            let mut client = fx.client();
            let outcomes: Vec<(&str, Result<(), Status>)> = vec![
                (
                    "DeleteVolume",
                    client
                        .delete_volume(fx.delete_volume_request(&id))
                        .await
                        .map(drop),
                ),
                (
                    "ControllerExpandVolume",
                    client
                        .controller_expand_volume(ControllerExpandVolumeRequest {
                            volume_id: id.clone(),
                            capacity_range: Some(CapacityRange {
                                required_bytes: 2 * GIB,
                                limit_bytes: 0,
                            }),
                            secrets: fx.secrets(),
                            volume_capability: None,
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ControllerPublishVolume",
                    client
                        .controller_publish_volume(ControllerPublishVolumeRequest {
                            volume_id: id.clone(),
                            node_id: "node-a".into(),
                            volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
                            secrets: fx.secrets(),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ControllerPublishVolume node_id",
                    client
                        .controller_publish_volume(ControllerPublishVolumeRequest {
                            volume_id: "0001-0003-bed-0000000000000001-x".into(),
                            node_id: id.clone(),
                            volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
                            secrets: fx.secrets(),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ControllerUnpublishVolume node_id",
                    client
                        .controller_unpublish_volume(ControllerUnpublishVolumeRequest {
                            volume_id: "0001-0003-bed-0000000000000001-x".into(),
                            node_id: id.clone(),
                            secrets: fx.secrets(),
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ValidateVolumeCapabilities",
                    client
                        .validate_volume_capabilities(ValidateVolumeCapabilitiesRequest {
                            volume_id: id.clone(),
                            volume_capabilities: vec![mount_cap(Mode::SingleNodeWriter)],
                            secrets: fx.secrets(),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ControllerGetVolume",
                    client
                        .controller_get_volume(ControllerGetVolumeRequest {
                            volume_id: id.clone(),
                        })
                        .await
                        .map(drop),
                ),
                (
                    "CreateVolume name",
                    client
                        .create_volume(fx.create_request(&id, GIB))
                        .await
                        .map(drop),
                ),
                (
                    "CreateVolume from a volume",
                    client
                        .create_volume(fx.clone_request("pvc-from-huge", GIB, &id))
                        .await
                        .map(drop),
                ),
                (
                    "CreateSnapshot source",
                    client
                        .create_snapshot(fx.snapshot_request("snapshot-of-huge", &id))
                        .await
                        .map(drop),
                ),
                (
                    "DeleteSnapshot",
                    client
                        .delete_snapshot(fx.delete_snapshot_request(&id))
                        .await
                        .map(drop),
                ),
                (
                    "GetSnapshot",
                    client
                        .get_snapshot(GetSnapshotRequest {
                            snapshot_id: id.clone(),
                            secrets: fx.secrets(),
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ListSnapshots",
                    client
                        .list_snapshots(ListSnapshotsRequest {
                            source_volume_id: id.clone(),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
            ];
            for (what, outcome) in outcomes {
                match outcome {
                    Ok(()) => panic!("{what}: a 1 MB id was accepted"),
                    Err(status) => assert_short_refusal(what, &status, id.len()),
                }
            }
            assert_eq!(fx.leftovers().await, Vec::<String>::new());
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_kilobyte_parameter_is_invalid_argument_with_a_short_message() {
    Fixture::run(|fx| async move {
        let value = hundred_kilobytes();
        let mut cases: Vec<(&str, CreateVolumeRequest)> = Vec::new();
        for key in [
            "imageFeatures",
            "clusterID",
            "pool",
            "dataPool",
            "mounter",
            "stripeUnit",
            "radosNamespace",
        ] {
            let mut req = fx.create_request("pvc-huge-param", GIB);
            req.parameters.insert(key.into(), value.clone());
            if key == "stripeUnit" {
                req.parameters.insert("stripeCount".into(), "1".into());
            }
            cases.push((key, req));
        }
        let mut unknown_key = fx.create_request("pvc-huge-key", GIB);
        unknown_key
            .parameters
            .insert(value.clone(), "layering".into());
        cases.push(("unknown key", unknown_key));
        let mut fs_type = fx.create_request("pvc-huge-fs", GIB);
        fs_type.volume_capabilities = vec![VolumeCapability {
            access_type: Some(volume_capability::AccessType::Mount(
                volume_capability::MountVolume {
                    fs_type: value.clone(),
                    ..Default::default()
                },
            )),
            access_mode: Some(volume_capability::AccessMode {
                mode: Mode::SingleNodeWriter as i32,
            }),
        }];
        cases.push(("fs_type", fs_type));
        for (what, req) in cases {
            let status = code(fx.client().create_volume(req).await);
            assert_short_refusal(what, &status, value.len());
        }

        let mut snapshot = fx.snapshot_request("snapshot-huge-param", "0001-0003-bed-0-x");
        snapshot
            .parameters
            .insert("snapshotNamePrefix".into(), value.clone());
        let status = code(fx.client().create_snapshot(snapshot).await);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().len() < SHORT, "{}", status.message().len());

        let status = code(
            fx.client()
                .get_capacity(GetCapacityRequest {
                    parameters: [
                        ("clusterID".to_owned(), common::CLUSTER_ID.to_owned()),
                        ("pool".to_owned(), value.clone()),
                    ]
                    .into(),
                    ..Default::default()
                })
                .await,
        );
        assert_short_refusal("GetCapacity pool", &status, value.len());

        let status = code(
            fx.client()
                .list_volumes(ListVolumesRequest {
                    starting_token: value.clone(),
                    max_entries: 0,
                })
                .await,
        );
        // The spec's code for a token we did not hand out.
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
        assert!(status.message().len() < SHORT, "{}", status.message().len());
        assert!(status.message().contains(&format!("{} bytes", value.len())));

        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

/// The controller's own log (a real process): no line quotes more than the cut value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_quotes_oversized_values_cut() {
    Processes::run(|px| async move {
        let controller = px.start("controller", "").await;
        let id = megabyte_id();
        let status = code(
            controller
                .client()
                .delete_volume(px.delete_volume_request(&id))
                .await,
        );
        assert_short_refusal("DeleteVolume", &status, id.len());
        let mut req = px.create_request("pvc-huge-param", GIB);
        req.parameters
            .insert("imageFeatures".into(), hundred_kilobytes());
        let status = code(controller.client().create_volume(req).await);
        assert_short_refusal("CreateVolume", &status, 100 << 10);

        let log = controller.log().await;
        assert!(
            log.contains(&format!("{} bytes", id.len())),
            "the refusal was not logged"
        );
        let longest = log.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < 4 * SHORT, "a log line of {longest} bytes");
    })
    .await;
}
