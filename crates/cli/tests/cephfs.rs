//! `sepia inspect` and `sepia orphans --fs` on CephFS volumes the real CephFS controller made
//! on the bed's filesystem (the CephFS controller tests' fixture: its own subvolume group and
//! journal namespace), with leftovers made behind its back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../cephfs-controller/tests/common/mod.rs"]
mod cephfs_common;
#[path = "common/findings.rs"]
mod findings;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cephfs_common::{CLUSTER_ID, Fixture, METADATA_POOL, MIB, bed, ceph, uuid_of};
use findings::{finding, findings};
use serde_json::{Value, json};

const SEPIA: &str = env!("CARGO_BIN_EXE_sepia");

/// The files `sepia` reads for this fixture: its cluster config (the fixture's subvolume group
/// and journal namespace; an RBD namespace no pool has, so no RBD pool is scanned) and the
/// bed's credentials.
fn files(fx: &Fixture, dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("config.json");
    let monitors: Vec<&str> = bed().monitors.split(',').collect();
    let body = json!([{"clusterID": CLUSTER_ID, "monitors": monitors,
        "cephFS": {"subvolumeGroup": fx.group, "radosNamespace": fx.namespace},
        "rbd": {"radosNamespace": format!("{}-none", fx.namespace)}}]);
    std::fs::write(&config, serde_json::to_vec(&body).unwrap()).unwrap();
    let creds = dir.join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("userID"), &bed().user).unwrap();
    std::fs::write(creds.join("userKey"), &bed().key).unwrap();
    (config, creds)
}

async fn sepia_json(fx: &Fixture, dir: &Path, args: &[&str]) -> Value {
    let (config, creds) = files(fx, dir);
    let mut cmd = tokio::process::Command::new(SEPIA);
    cmd.args(args)
        .args(["-o", "json", "--cluster-config"])
        .arg(&config)
        .arg("--credentials-dir")
        .arg(&creds)
        .env_remove("CEPH_CONF")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("sepia finished in time")
        .expect("sepia ran");
    assert!(
        out.status.success(),
        "sepia {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_a_cephfs_volume_snapshot_and_subvolume_name() {
    Fixture::run(|fx| async move {
        let dir = tempfile::tempdir().unwrap();
        let volume = fx.create_volume("pvc-fs-inspect", MIB).await;
        let snapshot = fx
            .create_snapshot("snap-fs-inspect", &volume.volume_id)
            .await;
        let subvolume = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        let snap_name = format!("csi-snap-{}", uuid_of(&snapshot.snapshot_id));

        let r = sepia_json(&fx, dir.path(), &["inspect", &volume.volume_id]).await;
        assert_eq!(r["driver"], "cephfs", "{r:#}");
        assert_eq!(r["kind"], "volume");
        assert_eq!(r["id"]["cluster_id"], CLUSTER_ID);
        assert_eq!(
            r["id"]["pool_name"],
            bed().fs.as_str(),
            "the location is the filesystem"
        );
        assert_eq!(r["filesystem"], bed().fs.as_str());
        assert_eq!(r["subvolume_group"], fx.group.as_str());
        assert_eq!(r["journal"]["request_name"], "pvc-fs-inspect");
        assert_eq!(r["journal"]["directory_points_here"], true);
        assert_eq!(r["journal"]["keys"]["csi.imagename"], subvolume.as_str());
        assert_eq!(r["subvolume_name"], subvolume.as_str());
        let sub = &r["subvolume"];
        assert_eq!(sub["state"], "complete");
        assert_eq!(sub["size"], MIB);
        assert!(
            sub["path"]
                .as_str()
                .unwrap()
                .contains(&format!("/{}/{subvolume}", fx.group)),
            "{sub:#}"
        );
        assert_eq!(sub["snapshots"], json!([snap_name]));

        let r = sepia_json(&fx, dir.path(), &["inspect", &snapshot.snapshot_id]).await;
        assert_eq!(r["kind"], "snapshot", "{r:#}");
        assert_eq!(r["journal"]["request_name"], "snap-fs-inspect");
        assert_eq!(
            r["subvolume_name"],
            subvolume.as_str(),
            "a snapshot shows its source"
        );
        assert_eq!(r["snapshot"]["name"], snap_name.as_str());
        assert_eq!(r["snapshot"]["exists"], true);
        assert!(r["snapshot"]["created_at"].is_string(), "{r:#}");

        // By subvolume name.
        let r = sepia_json(&fx, dir.path(), &["inspect", &subvolume, "--fs", &bed().fs]).await;
        assert_eq!(r["uuid"], uuid_of(&volume.volume_id), "{r:#}");
        assert!(r["id"].is_null());
        assert_eq!(r["journal"]["request_name"], "pvc-fs-inspect");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_reads_a_cephfs_entry_ceph_csi_wrote() {
    Fixture::run(|fx| async move {
        let dir = tempfile::tempdir().unwrap();
        // The FSCID, from an ID the controller composed.
        let made = fx.create_volume("pvc-fs-made", MIB).await;
        let fscid = journal::CompositeId::decode(&made.volume_id)
            .unwrap()
            .location_id();
        let uuid = "7f6e1d6c-5b0a-11ee-9b4c-0242ac120002";
        let pvc = "pvc-0b6e3d52-8a3c-4f4e-a0d7-1c2d3e4f5a6b";
        let subvolume = format!("csi-vol-{uuid}");
        ceph(&[
            "fs",
            "subvolume",
            "create",
            &bed().fs,
            &subvolume,
            "--group_name",
            &fx.group,
            "--size",
            "1048576",
        ]);
        let ns = fx.namespace.clone();
        let setomapval = |object: &str, key: &str, value: &str| {
            bed().cli(
                "rados",
                &[
                    "-p",
                    METADATA_POOL,
                    "-N",
                    &ns,
                    "setomapval",
                    object,
                    key,
                    value,
                ],
            );
        };
        setomapval("csi.volumes.default", &format!("csi.volume.{pvc}"), uuid);
        let entry = format!("csi.volume.{uuid}");
        setomapval(&entry, "csi.volname", pvc);
        setomapval(&entry, "csi.imagename", &subvolume);
        setomapval(&entry, "csi.volume.owner", "team-b");
        let id = journal::CompositeId::new(CLUSTER_ID, fscid, uuid.parse().unwrap())
            .unwrap()
            .encode();

        let r = sepia_json(&fx, dir.path(), &["inspect", &id]).await;
        assert_eq!(r["driver"], "cephfs", "{r:#}");
        assert_eq!(r["kind"], "volume");
        assert_eq!(r["journal"]["request_name"], pvc);
        assert_eq!(r["journal"]["directory_points_here"], true);
        assert_eq!(r["journal"]["keys"]["csi.volume.owner"], "team-b");
        assert_eq!(r["subvolume_name"], subvolume.as_str());
        assert_eq!(r["subvolume"]["state"], "complete");
        assert_eq!(r["subvolume"]["size"], MIB);
    })
    .await;
}

/// The fields the findings are compared by.
const FIELDS: &[&str] = &["what", "kind", "uuid"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_lists_cephfs_leftovers_and_delete_removes_exactly_those() {
    Fixture::run(|fx| async move {
        let dir = tempfile::tempdir().unwrap();
        let fs = bed().fs.clone();
        let group = fx.group.clone();
        let healthy = fx.create_volume("pvc-fs-healthy", MIB).await;
        let healthy_snap = fx
            .create_snapshot("snap-fs-healthy", &healthy.volume_id)
            .await;

        // Subvolume removed behind the controller's back: entry without subvolume.
        let lost = fx.create_volume("pvc-fs-lost", MIB).await;
        let lost_uuid = uuid_of(&lost.volume_id);
        ceph(&[
            "fs",
            "subvolume",
            "rm",
            &fs,
            &format!("csi-vol-{lost_uuid}"),
            "--group_name",
            &group,
        ]);

        // DeleteVolume crashed after the subvolume went, before the journal: entry without
        // subvolume.
        let crashed = fx.create_volume("pvc-fs-crashed-delete", MIB).await;
        let crashed_uuid = uuid_of(&crashed.volume_id);
        let point = cephfs_controller::failpoints::delete::AFTER_SUBVOLUME_REMOVED;
        fx.failpoints.set(point, failpoint::Action::Fail);
        let failed = fx
            .client()
            .delete_volume(csi::v1::DeleteVolumeRequest {
                volume_id: crashed.volume_id.clone(),
                secrets: cephfs_common::secrets(),
            })
            .await;
        fx.failpoints.set(point, failpoint::Action::Off);
        assert!(failed.is_err(), "the failpoint did not crash DeleteVolume");

        // Journal entry removed behind its back: subvolume without entry.
        let unjournaled = fx.create_volume("pvc-fs-unjournaled", MIB).await;
        let unjournaled_uuid = uuid_of(&unjournaled.volume_id);
        let ns = fx.namespace.clone();
        let rados = |args: &[&str]| {
            let mut all = vec!["-p", METADATA_POOL, "-N", &ns];
            all.extend(args);
            bed().cli("rados", &all);
        };
        rados(&["rm", &format!("csi.volume.{unjournaled_uuid}")]);
        rados(&[
            "rmomapkey",
            "csi.volumes.default",
            "csi.volume.pvc-fs-unjournaled",
        ]);

        // Subvolume snapshot removed behind its back: snapshot entry without snapshot.
        let source = fx.create_volume("pvc-fs-source", MIB).await;
        let snap = fx.create_snapshot("snap-fs-lost", &source.volume_id).await;
        let snap_uuid = uuid_of(&snap.snapshot_id);
        ceph(&[
            "fs",
            "subvolume",
            "snapshot",
            "rm",
            &fs,
            &format!("csi-vol-{}", uuid_of(&source.volume_id)),
            &format!("csi-snap-{snap_uuid}"),
            "--group_name",
            &group,
        ]);

        // A volume deleted while it has a snapshot: its subvolume stays, retained for the
        // snapshot, without an entry; listed, never removed.
        let retained = fx.create_volume("pvc-fs-retained", MIB).await;
        let retained_uuid = uuid_of(&retained.volume_id);
        fx.create_snapshot("snap-fs-retained", &retained.volume_id)
            .await;
        fx.delete_volume(&retained.volume_id).await;

        let scan = ["orphans", "--fs", fs.as_str()];
        let report = sepia_json(&fx, dir.path(), &scan).await;
        assert_eq!(
            report["pools"],
            json!([format!("{fs}/{group}")]),
            "{report:#}"
        );
        let expected = BTreeSet::from([
            finding(&["entry-without-image", "volume", &lost_uuid]),
            finding(&["entry-without-image", "volume", &crashed_uuid]),
            finding(&["image-without-entry", "volume", &unjournaled_uuid]),
            finding(&["entry-without-image", "snapshot", &snap_uuid]),
            finding(&["kept-by-clones", "volume", &retained_uuid]),
        ]);
        assert_eq!(findings(&report, FIELDS), expected, "{report:#}");
        for f in report["findings"].as_array().unwrap() {
            assert_eq!(f["driver"], "cephfs");
            assert_eq!(f["removable"], f["what"] != "kept-by-clones", "{f:#}");
            // The mgr keeps no creation time for a retained subvolume.
            if f["removable"] == true {
                assert!(f["age_seconds"].is_u64(), "no age: {f:#}");
            }
        }

        let mut delete = scan.to_vec();
        delete.extend(["--delete", "--yes"]);
        let deleted = sepia_json(&fx, dir.path(), &delete).await;
        findings::assert_all_removed(&deleted, 4);
        let after = sepia_json(&fx, dir.path(), &scan).await;
        assert_eq!(
            findings(&after, FIELDS),
            BTreeSet::from([finding(&["kept-by-clones", "volume", &retained_uuid])]),
            "{after:#}"
        );

        // Exactly those went.
        let subvolumes: BTreeSet<String> = fx.subvolumes().into_iter().collect();
        let want: BTreeSet<String> = [&healthy.volume_id, &source.volume_id, &retained.volume_id]
            .iter()
            .map(|id| format!("csi-vol-{}", uuid_of(id)))
            .collect();
        assert_eq!(subvolumes, want);
        let objects: BTreeSet<String> = fx.journal_objects().into_iter().collect();
        assert!(
            !objects.contains(&format!("csi.volume.{lost_uuid}")),
            "{objects:?}"
        );
        assert!(
            !objects.contains(&format!("csi.snap.{snap_uuid}")),
            "{objects:?}"
        );
        assert!(objects.contains(&format!("csi.volume.{}", uuid_of(&healthy.volume_id))));
        assert!(objects.contains(&format!("csi.snap.{}", uuid_of(&healthy_snap.snapshot_id))));
        let directory = fx.omap("csi.volumes.default");
        assert!(
            !directory.contains_key("csi.volume.pvc-fs-lost"),
            "{directory:?}"
        );
    })
    .await;
}
