//! Secrets never reach a log line or a status message, whatever the RPC and however it fails.
//! Everything the controller logs (at trace level) during a session of calls is captured and
//! searched for the keys it was given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Fixture, GIB};
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{ControllerPublishVolumeRequest, DeleteVolumeRequest};

/// A well-formed cephx key that is not the user's.
const WRONG_KEY: &str = "AQBKqwNr0aFhKxAAXD53fkfa5BAcBk1oDL/50g==";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_in_any_log_line_or_status() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let statuses = Fixture::run(|fx| async move {
        let mut statuses = Vec::new();
        let volume = fx.create_volume("pvc-hygiene", GIB).await;
        fx.create_snapshot_ready(fx.snapshot_request("snapshot-hygiene", &volume.volume_id))
            .await;
        fx.register_node("node-a").await;
        fx.client()
            .controller_publish_volume(ControllerPublishVolumeRequest {
                volume_id: volume.volume_id.clone(),
                node_id: "node-a".into(),
                volume_capability: Some(common::mount_cap(Mode::SingleNodeWriter)),
                secrets: fx.secrets(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut wrong = fx.create_request("pvc-wrong", GIB);
        wrong.secrets.insert("userKey".into(), WRONG_KEY.into());
        statuses.push(
            fx.client()
                .create_volume(wrong)
                .await
                .unwrap_err()
                .message()
                .to_owned(),
        );
        let mut garbage = fx.create_request("pvc-garbage", GIB);
        garbage
            .secrets
            .insert("userKey".into(), "garbage!key".into());
        statuses.push(
            fx.client()
                .create_volume(garbage)
                .await
                .unwrap_err()
                .message()
                .to_owned(),
        );
        let mut secrets = fx.secrets();
        secrets.insert("userKey".into(), WRONG_KEY.into());
        statuses.push(
            fx.client()
                .delete_volume(DeleteVolumeRequest {
                    volume_id: volume.volume_id.clone(),
                    secrets,
                })
                .await
                .unwrap_err()
                .message()
                .to_owned(),
        );
        statuses
    })
    .await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("CreateVolume"),
        "nothing was logged; the test would prove nothing"
    );
    let key = &common::bed().key;
    for secret in [key.as_str(), WRONG_KEY, "garbage!key"] {
        assert!(!logs.contains(secret), "a key reached the logs");
        for status in &statuses {
            assert!(!status.contains(secret), "a key reached a status: {status}");
        }
    }
    assert!(
        statuses.iter().all(|s| s.contains("userKey")),
        "{statuses:?}"
    );
}

/// Every request type of ours that carries secrets, formatted every way a log line or an error
/// could format it, with a known key in its secrets: the key shows nowhere, the key's name does.
#[test]
fn no_request_type_formats_its_secrets() {
    use controller::capabilities::Capability;
    use controller::params::{SnapshotParams, VolumeParams};
    use controller::publish::PublishRequest;
    use controller::secrets::{Identity, Source};
    use controller::size::Capacity;
    use controller::snapshot::create::CreateSnapshot;
    use controller::volume::create::CreateRequest;
    use csi::SecretMap;
    use journal::records::source::ContentSource;
    use std::collections::HashMap;

    const USER: &str = "tenant-user-7f3a";
    let secrets = || -> SecretMap {
        HashMap::from([
            ("userID".to_owned(), USER.to_owned()),
            ("userKey".to_owned(), WRONG_KEY.to_owned()),
        ])
        .into()
    };
    let params = HashMap::from([
        ("clusterID".to_owned(), "bed".to_owned()),
        ("pool".to_owned(), "rbd".to_owned()),
    ]);
    let capability = Capability::parse(
        &common::mount_cap(Mode::SingleNodeWriter),
        "volume_capability",
    )
    .unwrap();
    let create = CreateRequest {
        name: "pvc-format".into(),
        capacity: Capacity::from_csi(None).unwrap(),
        capabilities: vec![capability.clone()],
        params: VolumeParams::parse(&params).unwrap(),
        source: Some(ContentSource::Volume("source-id".into())),
        secrets: secrets(),
    };
    let snapshot = CreateSnapshot {
        name: "snapshot-format".into(),
        source_volume_id: "source-id".into(),
        params: SnapshotParams::parse(&HashMap::new()).unwrap(),
        secrets: secrets(),
    };
    let publish = PublishRequest {
        volume_id: "volume-id".into(),
        node_id: "node-a".into(),
        capability,
        readonly: false,
        secrets: secrets(),
    };
    let map = secrets();
    let identity = Identity::from_secrets(&map).unwrap();
    let shown = [
        format!("{create:?}"),
        format!("{create:#?}"),
        format!("{snapshot:?}"),
        format!("{snapshot:#?}"),
        format!("{publish:?}"),
        format!("{publish:#?}"),
        format!("{:?}", Source::Request(&map)),
        format!("{:#?}", Source::RequestOrStanding(&map, "GetSnapshot")),
        format!("{identity:?}"),
        format!("{identity:#?}"),
        format!("{map:?}"),
        format!("{map:#?}"),
        format!("{map}"),
    ];
    for text in &shown {
        assert!(!text.contains(WRONG_KEY), "a key was formatted: {text}");
    }
    // The secret maps themselves print their keys, so the output shows which secret was sent;
    // the identity shows the user (not a secret) and redacts the key.
    for text in shown.iter().filter(|t| !t.starts_with("Identity")) {
        assert!(text.contains("userKey"), "{text}");
    }
    assert!(shown[8].contains(USER), "{}", shown[8]);
}
