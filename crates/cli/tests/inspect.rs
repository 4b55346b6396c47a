//! `sepia inspect` on every kind of handle, against volumes the real controller made on the bed
//! and an entry written the way ceph-csi writes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fixture, bed, uuid_of};
use serde_json::Value;

/// Writes a journal entry the way ceph-csi does (directory key, then the entry object with
/// `keys`) into the test's namespace and returns its ID.
async fn ceph_csi_entry(
    fx: &Fixture,
    kind: &str,
    request: &str,
    uuid: &str,
    keys: &[(&str, &[u8])],
) -> String {
    let io = &fx.ns.io;
    io.omap_set_creating(
        &format!("csi.{kind}s.default"),
        &[(&format!("csi.{kind}.{request}"), uuid.as_bytes())],
    )
    .await
    .unwrap();
    io.omap_set_creating(&format!("csi.{kind}.{uuid}"), keys)
        .await
        .unwrap();
    journal::CompositeId::new(
        "bed",
        u64::try_from(io.pool_id()).unwrap(),
        uuid.parse().unwrap(),
    )
    .unwrap()
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_a_volume_id_decodes_the_id_and_shows_entry_image_and_directory() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-inspect-vol").await;
        let r = fx.sepia_json(&["inspect", &volume.volume_id]).await;
        assert_eq!(r["kind"], "volume");
        assert_eq!(r["id"]["version"], 1);
        assert_eq!(r["id"]["cluster_id"], "bed");
        assert_eq!(r["id"]["pool_name"], bed().pool.as_str());
        assert_eq!(r["uuid"], uuid_of(&volume.volume_id));
        let j = &r["journal"];
        assert_eq!(j["exists"], true);
        assert_eq!(j["request_name"], "pvc-inspect-vol");
        assert_eq!(j["directory_points_here"], true);
        assert_eq!(j["keys"]["csi.volname"], "pvc-inspect-vol");
        let image_name = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        assert_eq!(j["keys"]["csi.imagename"], image_name.as_str());
        assert_eq!(r["image"]["size"], 1 << 20);
        assert_eq!(r["image"]["depth"], 0);
        assert_eq!(
            r["image"]["watchers"],
            Value::Array(vec![]),
            "our own watch is not listed"
        );
        assert_eq!(j["keys"]["csi.imageid"], r["image"]["id"]);

        // The same volume by image name, as a table.
        let out = fx
            .sepia(&["inspect", &image_name, "--pool", &bed().pool])
            .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("request name") && text.contains("pvc-inspect-vol"),
            "{text}"
        );
        assert!(text.contains("clone depth"), "{text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_a_snapshot_id_shows_its_record_and_parent_chain() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-inspect-src").await;
        let snapshot = fx.create_snapshot("snap-inspect", &volume.volume_id).await;
        let source_image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        // The snapshot's clone-based layout is made after the reply: wait for its image id.
        let ok = common::eventually(std::time::Duration::from_secs(60), || async {
            let r = fx.sepia_json(&["inspect", &snapshot.snapshot_id]).await;
            r["journal"]["keys"]["csi.imageid"].is_string() && r["image"].is_object()
        })
        .await;
        assert!(ok, "the snapshot never got its image");
        let r = fx.sepia_json(&["inspect", &snapshot.snapshot_id]).await;
        assert_eq!(r["kind"], "snapshot");
        assert_eq!(r["journal"]["request_name"], "snap-inspect");
        assert_eq!(r["journal"]["keys"]["csi.source"], source_image.as_str());
        assert!(r["journal"]["records"]["snapshot cut"].is_string(), "{r:#}");
        assert_eq!(r["journal"]["records"]["source size"], "1048576");
        assert_eq!(r["image"]["depth"], 1, "{r:#}");
        let parent = r["image"]["parents"][0]["spec"].as_str().unwrap();
        assert!(parent.ends_with(&format!("/{source_image}")), "{parent}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_reads_an_entry_ceph_csi_wrote_and_says_its_image_is_missing() {
    Fixture::run(|fx| async move {
        let uuid = "566a36f5-6e0f-11ed-b5c4-6efb82c232c4";
        let pvc = "pvc-3603c558-1c1b-4e4e-9d4c-1f4b5a0b7f8e";
        let image = format!("csi-vol-{uuid}");
        let keys: [(&str, &[u8]); 5] = [
            ("csi.volname", pvc.as_bytes()),
            ("csi.imagename", image.as_bytes()),
            ("csi.imageid", b"10226b8b4567"),
            ("csi.volume.owner", b"team-a"),
            ("csi.groupid", b"group-1"),
        ];
        let id = ceph_csi_entry(&fx, "volume", pvc, uuid, &keys).await;
        let r = fx.sepia_json(&["inspect", &id]).await;
        assert_eq!(r["kind"], "volume");
        assert_eq!(r["journal"]["request_name"], pvc);
        assert_eq!(r["journal"]["directory_points_here"], true);
        assert_eq!(r["journal"]["keys"]["csi.groupid"], "group-1");
        assert_eq!(r["journal"]["keys"]["csi.volume.owner"], "team-a");
        assert_eq!(r["image_name"], image.as_str());
        assert!(r["image"].is_null(), "{r:#}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_reads_a_snapshot_entry_ceph_csi_wrote() {
    Fixture::run(|fx| async move {
        let uuid = "1c2b3a49-6e0f-11ed-b5c4-6efb82c232c4";
        let request = "snapshot-4a1e0c55-9a3b-4c1e-8f0d-2b3c4d5e6f70";
        let image = format!("csi-snap-{uuid}");
        let source = "csi-vol-566a36f5-6e0f-11ed-b5c4-6efb82c232c4";
        let keys: [(&str, &[u8]); 4] = [
            ("csi.snapname", request.as_bytes()),
            ("csi.imagename", image.as_bytes()),
            ("csi.source", source.as_bytes()),
            ("csi.imageid", b"10336c8b4567"),
        ];
        let id = ceph_csi_entry(&fx, "snap", request, uuid, &keys).await;
        let r = fx.sepia_json(&["inspect", &id]).await;
        assert_eq!(r["kind"], "snapshot", "{r:#}");
        assert_eq!(r["journal"]["request_name"], request);
        assert_eq!(r["journal"]["directory_points_here"], true);
        assert_eq!(r["journal"]["keys"]["csi.source"], source);
        assert_eq!(r["image_name"], image.as_str());
        assert!(r["image"].is_null(), "{r:#}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_refuses_what_is_not_a_handle_naming_the_rule() {
    Fixture::run(|fx| async move {
        let out = fx
            .sepia(&["inspect", "not-a-thing", "--pool", &bed().pool])
            .await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("neither a volume/snapshot ID nor an image name"),
            "{err}"
        );
        let out = fx
            .sepia(&["inspect", "csi-vol-566a36f5-6e0f-11ed-b5c4-6efb82c232c4"])
            .await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--pool is needed"), "{err}");
    })
    .await;
}
