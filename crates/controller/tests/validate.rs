//! ValidateVolumeCapabilities: every access mode and type, with ceph-csi's rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, GIB, block_cap, code, mount_cap};
use csi::v1::ValidateVolumeCapabilitiesRequest;
use csi::v1::volume_capability::access_mode::Mode;
use tonic::Code;

fn request(
    fx: &Fixture,
    volume_id: &str,
    caps: Vec<csi::v1::VolumeCapability>,
) -> ValidateVolumeCapabilitiesRequest {
    ValidateVolumeCapabilitiesRequest {
        volume_id: volume_id.to_owned(),
        volume_capabilities: caps,
        secrets: fx.secrets(),
        ..Default::default()
    }
}

const SINGLE_NODE: [Mode; 3] = [
    Mode::SingleNodeWriter,
    Mode::SingleNodeSingleWriter,
    Mode::SingleNodeMultiWriter,
];
const MULTI_WRITER: [Mode; 2] = [Mode::MultiNodeSingleWriter, Mode::MultiNodeMultiWriter];
const READERS: [Mode; 2] = [Mode::SingleNodeReaderOnly, Mode::MultiNodeReaderOnly];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirms_exactly_the_supported_combinations() {
    Fixture::run(|fx| async move {
        let empty = fx.create_volume("pvc-empty", GIB).await;
        let snapshot = fx
            .create_snapshot_ready(fx.snapshot_request("snapshot-v", &empty.volume_id))
            .await;
        let restored = fx.create_volume_from(&snapshot.snapshot_id).await;
        let mut client = fx.client();
        let check = |id: String, cap: csi::v1::VolumeCapability| {
            let req = request(&fx, &id, vec![cap]);
            let mut client = client.clone();
            async move {
                client
                    .validate_volume_capabilities(req)
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        for mode in SINGLE_NODE {
            for cap in [mount_cap(mode), block_cap(mode)] {
                assert!(
                    check(empty.volume_id.clone(), cap)
                        .await
                        .confirmed
                        .is_some(),
                    "{mode:?}"
                );
            }
        }
        for mode in MULTI_WRITER {
            let refused = check(empty.volume_id.clone(), mount_cap(mode)).await;
            assert!(
                refused.confirmed.is_none() && refused.message.contains("block"),
                "{mode:?}: {refused:?}"
            );
            assert!(
                check(empty.volume_id.clone(), block_cap(mode))
                    .await
                    .confirmed
                    .is_some(),
                "{mode:?}"
            );
        }
        for mode in READERS {
            for cap in [mount_cap(mode), block_cap(mode)] {
                let refused = check(empty.volume_id.clone(), cap.clone()).await;
                assert!(refused.confirmed.is_none(), "{mode:?} on an empty volume");
                assert!(
                    check(restored.clone(), cap).await.confirmed.is_some(),
                    "{mode:?} on a restored volume"
                );
            }
        }
        // The confirmation echoes the capabilities.
        let confirmed = check(empty.volume_id.clone(), mount_cap(Mode::SingleNodeWriter))
            .await
            .confirmed
            .unwrap();
        assert_eq!(
            confirmed.volume_capabilities,
            vec![mount_cap(Mode::SingleNodeWriter)]
        );

        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            client
                .validate_volume_capabilities(request(
                    &fx,
                    missing,
                    vec![mount_cap(Mode::SingleNodeWriter)],
                ))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound);
        let status = code(
            client
                .validate_volume_capabilities(request(
                    &fx,
                    "",
                    vec![mount_cap(Mode::SingleNodeWriter)],
                ))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        let status = code(
            client
                .validate_volume_capabilities(request(&fx, &empty.volume_id, vec![]))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
    })
    .await;
}
