//! A volume restored from a snapshot holds what was written before the snapshot and nothing
//! written after, and can be staged on the same node while its origin is still staged (xfs
//! refuses a second file system with the same UUID unless mounted `nouuid`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use csi::v1::volume_capability::access_mode::Mode;
use harness::*;

async fn snapshot_then_restore(fs_type: &str, size_mib: u64) {
    let mut h = Harness::start(&format!("snap-{fs_type}")).await;
    let (origin, restored) = ("origin", "restored");
    h.create_image(origin, size_mib);
    let cap = mount_capability(fs_type, Mode::SingleNodeWriter);
    h.stage(origin, cap.clone()).await.unwrap();
    h.publish(origin, "pod", cap.clone(), false).await.unwrap();
    let target = h.target_path(origin, "pod");

    write_durably(&target.join("before.txt"), b"written before the snapshot");
    h.rbd(&[
        "snap",
        "create",
        &format!("{}@snap-1", h.image_spec(origin)),
    ]);
    write_durably(&target.join("after.txt"), b"written after the snapshot");
    write_durably(
        &target.join("before.txt"),
        b"overwritten after the snapshot",
    );

    // What CreateVolume from a snapshot does: a clone (format 2, no protect needed).
    h.rbd(&[
        "clone",
        "--rbd-default-clone-format",
        "2",
        &format!("{}@snap-1", h.image_spec(origin)),
        &h.image_spec(restored),
    ]);
    h.stage(restored, cap.clone()).await.unwrap();
    h.publish(restored, "pod", cap.clone(), false)
        .await
        .unwrap();
    let restored_target = h.target_path(restored, "pod");
    assert_eq!(
        std::fs::read_to_string(restored_target.join("before.txt")).unwrap(),
        "written before the snapshot"
    );
    assert!(!restored_target.join("after.txt").exists());
    // The origin keeps its own, later data.
    assert_eq!(
        std::fs::read_to_string(target.join("before.txt")).unwrap(),
        "overwritten after the snapshot"
    );
    assert!(target.join("after.txt").exists());

    for image in [origin, restored] {
        h.unpublish(image, "pod").await.unwrap();
        h.unstage(image).await.unwrap();
    }
    h.assert_clean().await;
    h.remove_image(restored);
    h.rbd(&["snap", "purge", "--no-progress", &h.image_spec(origin)]);
    h.remove_image(origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext4_restore_has_data_from_before_the_snapshot_only() {
    snapshot_then_restore("ext4", 64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xfs_restore_stages_beside_its_origin_and_has_only_earlier_data() {
    snapshot_then_restore("xfs", 320).await;
}
