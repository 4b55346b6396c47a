//! Byte-level compatibility with ceph-csi's omap layout, in both directions, checked with
//! plain omap reads/writes and the `rados` CLI rather than through the journal itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Ns, expect, show};
use journal::{Config, Encryption, Kind, Location, Request};
use uuid::Uuid;

const PVC: &str = "pvc-3603c558-1c1b-4e4e-9d4c-1f4b5a0b7f8e";
const UUID: &str = "566a36f5-6e0f-11ed-b5c4-6efb82c232c4";
const SNAP: &str = "snapshot-7a1e64b2-5f0d-4a55-8a36-0d2a4d1c3e90";
const SNAP_UUID: &str = "9b3c1d2e-7f60-11ed-a1eb-0242ac120002";

#[tokio::test]
async fn reads_a_volume_written_the_way_ceph_csi_writes_it() {
    let ns = Ns::new("journal-compat-vol").await;
    // The manual procedure of ceph-csi's docs/resource-cleanup.md, in reverse.
    ns.rados(&[
        "setomapval",
        "csi.volumes.default",
        &format!("csi.volume.{PVC}"),
        UUID,
    ]);
    let entry_oid = format!("csi.volume.{UUID}");
    for (key, value) in [
        ("csi.volname", PVC),
        ("csi.imagename", &format!("csi-vol-{UUID}")),
        ("csi.imageid", "10226b8b4567"),
        ("csi.volume.owner", "team-a"),
        ("csi.volume.encryptKMS", "vault-tokens"),
        ("csi.volume.encryptionType", "block"),
        ("csi.groupid", "group-1"),
    ] {
        ns.rados(&["setomapval", &entry_oid, key, value]);
    }
    let before = ns.state().await;

    let volumes = ns.journal(Kind::Volume, &Config::default());
    let request = Request::new(PVC).with_encryption(Encryption {
        kms_id: "vault-tokens".into(),
        encryption_type: Some("block".into()),
    });
    let entry = volumes.lookup(&request).await.unwrap().expect("found");
    let location = Location {
        pool_id: ns.io.pool_id(),
        uuid: Uuid::parse_str(UUID).unwrap(),
    };
    assert_eq!(entry.location, location);
    assert_eq!(entry.request_name, PVC);
    assert_eq!(entry.image_name, format!("csi-vol-{UUID}"));
    assert_eq!(entry.image_id.as_deref(), Some("10226b8b4567"));
    assert_eq!(entry.owner.as_deref(), Some("team-a"));
    assert_eq!(
        entry.extra.get("csi.groupid").map(Vec::as_slice),
        Some(&b"group-1"[..])
    );
    assert_eq!(volumes.entry(&location).await.unwrap(), entry);

    let reserved = volumes.reserve(&request).await.unwrap();
    assert!(!reserved.fresh);
    assert_eq!(reserved.entry, entry);
    // Reading (and re-reserving) changed nothing, not even the keys we do not know.
    assert_eq!(ns.state().await, before, "{}", show(&before));
}

#[tokio::test]
async fn reads_a_snapshot_written_the_way_ceph_csi_writes_it() {
    let ns = Ns::new("journal-compat-snap").await;
    let entry_oid = format!("csi.snap.{SNAP_UUID}");
    ns.put(
        "csi.snaps.default",
        &[(&format!("csi.snap.{SNAP}"), SNAP_UUID)],
    )
    .await;
    ns.put(
        &entry_oid,
        &[
            ("csi.snapname", SNAP),
            ("csi.imagename", &format!("csi-snap-{SNAP_UUID}")),
            ("csi.source", &format!("csi-vol-{UUID}")),
            ("csi.imageid", "1027a3f9c1d2"),
        ],
    )
    .await;

    let snaps = ns.journal(Kind::Snapshot, &Config::default());
    let request = Request::new(SNAP).with_source(format!("csi-vol-{UUID}"));
    let entry = snaps.lookup(&request).await.unwrap().expect("found");
    assert_eq!(entry.location.uuid.to_string(), SNAP_UUID);
    assert_eq!(entry.image_name, format!("csi-snap-{SNAP_UUID}"));
    assert_eq!(entry.source, Some(format!("csi-vol-{UUID}")));
    assert_eq!(entry.image_id.as_deref(), Some("1027a3f9c1d2"));
    assert!(entry.extra.is_empty());
}

#[tokio::test]
async fn writes_exactly_the_keys_and_values_ceph_csi_writes() {
    let ns = Ns::new("journal-compat-write").await;
    let volumes = ns.journal(Kind::Volume, &Config::default());
    let reserved = volumes
        .reserve(&Request::new(PVC).with_owner("team-a"))
        .await
        .unwrap();
    assert!(reserved.fresh);
    let uuid = reserved.entry.location.uuid.to_string();
    assert_eq!(reserved.entry.image_name, format!("csi-vol-{uuid}"));
    volumes
        .store_image_id(&reserved.entry.location, "10226b8b4567")
        .await
        .unwrap();

    let entry_oid = format!("csi.volume.{uuid}");
    let image_name = format!("csi-vol-{uuid}");
    let want = expect(&[
        (
            "csi.volumes.default",
            &[(&*format!("csi.volume.{PVC}"), &*uuid)],
        ),
        (
            &entry_oid,
            &[
                ("csi.imageid", "10226b8b4567"),
                ("csi.imagename", &image_name),
                ("csi.volname", PVC),
                ("csi.volume.owner", "team-a"),
            ],
        ),
    ]);
    let got = ns.state().await;
    assert_eq!(got, want, "{}", show(&got));

    // And the rados CLI, an independent reader, sees raw strings: no framing, no NUL.
    assert_eq!(
        ns.rados(&["listomapkeys", "csi.volumes.default"]),
        format!("csi.volume.{PVC}\n")
    );
    assert_eq!(
        ns.rados(&[
            "getomapval",
            "csi.volumes.default",
            &format!("csi.volume.{PVC}"),
            "-"
        ]),
        uuid
    );
    assert_eq!(
        ns.rados(&["getomapval", &entry_oid, "csi.imagename", "-"]),
        image_name
    );
}

#[tokio::test]
async fn snapshot_reservations_write_ceph_csi_snapshot_keys() {
    let ns = Ns::new("journal-compat-snap-write").await;
    let snaps = ns.journal(Kind::Snapshot, &Config::default());
    let reserved = snaps
        .reserve(&Request::new(SNAP).with_source("csi-vol-parent"))
        .await
        .unwrap();
    let uuid = reserved.entry.location.uuid.to_string();
    let want = expect(&[
        (
            "csi.snaps.default",
            &[(&*format!("csi.snap.{SNAP}"), &*uuid)],
        ),
        (
            &format!("csi.snap.{uuid}"),
            &[
                ("csi.imagename", &format!("csi-snap-{uuid}")),
                ("csi.snapname", SNAP),
                ("csi.source", "csi-vol-parent"),
            ],
        ),
    ]);
    let got = ns.state().await;
    assert_eq!(got, want, "{}", show(&got));
}

#[tokio::test]
async fn instance_id_and_image_prefix_follow_the_configuration() {
    let ns = Ns::new("journal-compat-instance").await;
    let config = Config {
        instance: "cluster-b".into(),
        ..Config::default()
    };
    let volumes = ns.journal(Kind::Volume, &config);
    let reserved = volumes
        .reserve(&Request::new(PVC).with_image_prefix("team-vol-"))
        .await
        .unwrap();
    let uuid = reserved.entry.location.uuid.to_string();
    assert_eq!(reserved.entry.image_name, format!("team-vol-{uuid}"));
    let got = ns.state().await;
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec![
            "csi.volume.".to_owned() + &uuid,
            "csi.volumes.cluster-b".to_owned()
        ]
    );
    // The default instance's journal does not see it.
    let default = ns.journal(Kind::Volume, &Config::default());
    assert_eq!(default.lookup(&Request::new(PVC)).await.unwrap(), None);
}
