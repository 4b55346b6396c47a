//! Volumes ceph-csi staged (issue 15, item 2): its stage record (`image-meta.json`, in its
//! exact JSON) over volumes mapped by this plugin's own mapper (rbd-fuse + loop here; the
//! proof is the same for every mapper: the staged mount's source is the recorded device).
//! kubelet's calls work on them as on the plugin's own stages, and act on nothing else.
//! Restarts over ceph-csi's records are in `restarts.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::path::PathBuf;

use csi::v1::NodeUnstageVolumeRequest;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_usage::Unit;
use harness::*;
use sha2::{Digest, Sha256};
use tonic::Code;

fn stash_path(h: &Harness, image: &str) -> PathBuf {
    h.staging_path(image).join("image-meta.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_ceph_csi_staged_are_restaged_reported_expanded_and_unstaged() {
    let mut h = Harness::start("takeover").await;
    // xfs: it grows while mounted without CAP_SYS_RESOURCE (which ext4 needs and this
    // machine's test runs lack), and mkfs.xfs wants 300 MiB at least.
    let fs_cap = mount_capability("xfs", Mode::SingleNodeWriter);
    let block_cap = block_capability(Mode::SingleNodeWriter);
    h.create_image("fs", 320);
    h.create_image("blk", 64);
    let fs_target = h.stage_and_publish("fs", "pod", fs_cap.clone()).await;
    let block_target = h.stage_and_publish("blk", "pod", block_cap.clone()).await;
    write_durably(&fs_target.join("data.txt"), b"staged by ceph-csi");
    h.rewrite_stash_as_ceph_csi("fs");
    h.rewrite_stash_as_ceph_csi("blk");
    let records = [
        std::fs::read(stash_path(&h, "fs")).unwrap(),
        std::fs::read(stash_path(&h, "blk")).unwrap(),
    ];

    // kubelet stages again after the switch: they are staged, as asked; the records stay
    // ceph-csi's, byte for byte.
    h.stage("fs", fs_cap.clone()).await.unwrap();
    h.stage("blk", block_cap.clone()).await.unwrap();
    let err = h
        .stage("fs", mount_capability("ext4", Mode::SingleNodeWriter))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(std::fs::read(stash_path(&h, "fs")).unwrap(), records[0]);
    assert_eq!(std::fs::read(stash_path(&h, "blk")).unwrap(), records[1]);

    let stats = h.stats("fs", &fs_target).await.unwrap();
    assert!(!stats.volume_condition.clone().unwrap().abnormal);
    let bytes = usage(&stats, Unit::Bytes);
    assert!(bytes.used > 0, "{bytes:?}");
    let stats = h.stats("blk", &block_target).await.unwrap();
    assert!(!stats.volume_condition.unwrap().abnormal);
    assert_eq!(stats.usage[0].total as u64, 64 * MIB);

    // Expansion: the device shows the grown image, the file system grows online.
    let before = fs_size(&fs_target);
    h.resize_image("fs", 512);
    assert_eq!(
        h.expand("fs", &fs_target, 512 * MIB, false).await.unwrap() as u64,
        512 * MIB
    );
    assert!(fs_size(&fs_target) > before);
    h.resize_image("blk", 96);
    assert_eq!(
        h.expand("blk", &block_target, 96 * MIB, false)
            .await
            .unwrap() as u64,
        96 * MIB
    );
    assert_eq!(
        std::fs::read(fs_target.join("data.txt")).unwrap(),
        b"staged by ceph-csi"
    );

    for image in ["fs", "blk"] {
        h.unpublish(image, "pod").await.unwrap();
        h.unstage(image).await.unwrap();
        assert!(!stash_path(&h, image).exists(), "{image}");
    }
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceph_csi_record_is_only_the_volume_mounted_beside_it() {
    let mut h = Harness::start("takeover-own").await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.create_image("fs", 64);
    h.stage("fs", cap.clone()).await.unwrap();
    h.rewrite_stash_as_ceph_csi("fs");
    let record = std::fs::read(stash_path(&h, "fs")).unwrap();
    let staged = h.staging_path("fs").join(h.volume_id("fs"));

    // Another volume ID over this staging path: nothing of that volume is here.
    let err = h
        .node
        .node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id: h.volume_id("other"),
            staging_target_path: h.staging_path("fs").display().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = h
        .expand("other", &h.staging_path("fs"), 0, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = h.stats("other", &staged).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(is_mounted(&staged));
    assert_eq!(std::fs::read(stash_path(&h, "fs")).unwrap(), record);

    // An encrypted volume ceph-csi staged is not this plugin's to tear down.
    let encrypted = String::from_utf8(record.clone())
        .unwrap()
        .replace(r#""encrypted":false"#, r#""encrypted":true"#);
    std::fs::write(stash_path(&h, "fs"), encrypted).unwrap();
    let err = h.unstage("fs").await.unwrap_err();
    assert!(err.message().contains("LUKS"), "{err:?}");
    assert!(is_mounted(&staged));

    std::fs::write(stash_path(&h, "fs"), &record).unwrap();
    h.unstage("fs").await.unwrap();
    assert!(!stash_path(&h, "fs").exists());
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceph_csi_record_with_nothing_mounted_is_undone_only_where_kubelet_named_the_volume() {
    let mut h = Harness::start("takeover-bare").await;
    let volume_id = h.volume_id("vol");
    let record = format!(
        r#"{{"Version":3,"pool":"{}","radosNamespace":"{}","image":"vol","unmapOptions":"","accessType":false,"encrypted":false,"device":"/dev/loop4095","logDir":"","logFileStrategy":""}}"#,
        h.bed.pool, h.namespace
    );
    // A staging path that does not name the volume (the harness' own layout): not its.
    std::fs::create_dir_all(h.staging_path("vol")).unwrap();
    std::fs::write(stash_path(&h, "vol"), &record).unwrap();
    let err = h.unstage("vol").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(stash_path(&h, "vol").exists());

    // kubelet's layout, `<driver>/<sha256 of the volume ID>/globalmount`: ceph-csi's stage
    // of this volume was cut short; unstage finishes it.
    let digest = hex::encode(Sha256::digest(volume_id.as_bytes()));
    let staging = h.kubelet_root().join(format!(
        "plugins/kubernetes.io/csi/{DRIVER}/{digest}/globalmount"
    ));
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("image-meta.json"), &record).unwrap();
    h.node
        .node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id,
            staging_target_path: staging.display().to_string(),
        })
        .await
        .unwrap();
    assert!(!staging.join("image-meta.json").exists());
    h.assert_clean().await;
}
