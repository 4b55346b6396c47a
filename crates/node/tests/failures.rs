//! Failure injection: whatever goes wrong mid-stage, the error reaches the CO with the right
//! code and the node is left exactly as before (no mount, no loop device, no rbd-fuse, no
//! stash), so the next attempt starts clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::time::{Duration, Instant};

use csi::v1::volume_capability::access_mode::Mode;
use harness::*;
use node::settings::Deadlines;
use tonic::Code;

fn assert_no_stage_state(h: &Harness, image: &str) {
    let staging = h.staging_path(image);
    assert!(
        !staging.join("image-meta.json").exists(),
        "stash left behind"
    );
    assert!(
        !staging.join(h.volume_id(image)).exists(),
        "staging target left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_mkfs_leaves_nothing_behind_and_a_retry_succeeds() {
    let mut h = Harness::start("fail-mkfs").await;
    let image = "vol";
    h.create_image(image, 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let mut request = h.stage_request(image, cap.clone());
    // Allowed, but more inodes than 64 MiB can hold: mke2fs itself refuses.
    request
        .volume_context
        .insert("mkfsOptions".into(), "-N 4000000000".into());
    let err = h.node.node_stage_volume(request).await.unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert!(err.message().contains("mkfs.ext4"), "{}", err.message());
    h.assert_clean().await;
    assert_no_stage_state(&h, image);
    // The device was left blank (mkfs never ran), so a good stage formats and mounts it.
    h.stage(image, cap).await.unwrap();
    h.unstage(image).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_not_found_and_leaves_nothing() {
    let mut h = Harness::start("fail-noimg").await;
    let err = h
        .stage(
            "never-created",
            mount_capability("ext4", Mode::SingleNodeWriter),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    h.assert_clean().await;
    assert_no_stage_state(&h, "never-created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_map_is_killed_at_its_deadline_and_undone() {
    // rbd-fuse would give up connecting after a minute; the map deadline is 2 s.
    let deadlines = Deadlines {
        map: Duration::from_secs(2),
        connect: Duration::from_secs(60),
        ..Deadlines::default()
    };
    let mut h = Harness::start_with("fail-hang", deadlines).await;
    let image = "vol";
    let mut request = h.stage_request(image, mount_capability("ext4", Mode::SingleNodeWriter));
    // Its only monitor refuses connections: rbd-fuse retries forever.
    request
        .volume_context
        .insert("clusterID".into(), DEAD_CLUSTER_ID.into());
    let started = Instant::now();
    let err = h.node.node_stage_volume(request).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(err.message().contains("rbd-fuse"), "{}", err.message());
    assert!(
        took >= Duration::from_secs(2),
        "returned before the deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(30),
        "not killed at the deadline: {took:?}"
    );
    h.assert_clean().await;
    assert_no_stage_state(&h, image);
    // No key file outlived the attempt.
    let keys = h.root.join("state/keys");
    assert_eq!(std::fs::read_dir(&keys).map(|d| d.count()).unwrap_or(0), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_rbd_fuse_makes_the_volume_abnormal_and_unstage_still_cleans_up() {
    let mut h = Harness::start("fail-dead").await;
    let image = "vol";
    h.create_image(image, 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.stage(image, cap.clone()).await.unwrap();
    h.publish(image, "pod", cap, false).await.unwrap();
    let target = h.target_path(image, "pod");
    let stats = h.stats(image, &target).await.unwrap();
    assert!(!stats.volume_condition.unwrap().abnormal);

    let pids = rbd_fuse_processes(&h.root.display().to_string());
    assert_eq!(pids.len(), 1, "{pids:?}");
    std::process::Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status()
        .unwrap();
    for _ in 0..50 {
        if rbd_fuse_processes(&h.root.display().to_string()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stats = h.stats(image, &target).await.unwrap();
    let condition = stats.volume_condition.unwrap();
    assert!(condition.abnormal, "{condition:?}");
    assert!(
        condition.message.contains("not connected"),
        "{}",
        condition.message
    );

    h.unpublish(image, "pod").await.unwrap();
    h.unstage(image).await.unwrap();
    h.assert_clean().await;
    assert_no_stage_state(&h, image);

    // The killed client's watch would hold the image for another 30 s; evict it the way an
    // operator fences a dead node, so the image and the test's namespace can go now.
    h.blocklist_watchers(image);
    h.remove_image(image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_cut_short_is_undone_by_the_next_stage() {
    let mut h = Harness::start("fail-crash").await;
    let image = "vol";
    h.create_image(image, 64);
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.stage(image, cap.clone()).await.unwrap();
    // As if the plugin died after mapping but before mounting: mapping and stash remain.
    let staged = h.staging_path(image).join(h.volume_id(image));
    assert!(
        std::process::Command::new("umount")
            .arg(&staged)
            .status()
            .unwrap()
            .success()
    );
    let loops_before = h
        .leftovers()
        .iter()
        .filter(|l| l.starts_with("loop:"))
        .count();
    assert_eq!(loops_before, 1);

    h.stage(image, cap).await.unwrap();
    let loops_after = h
        .leftovers()
        .iter()
        .filter(|l| l.starts_with("loop:"))
        .count();
    assert_eq!(
        loops_after,
        1,
        "the old mapping was not undone: {:#?}",
        h.leftovers()
    );
    assert!(
        node::mount::mountinfo::is_mount_point(&staged)
            .await
            .unwrap()
    );
    h.unstage(image).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_busy_with_another_operation_is_aborted() {
    let mut h = Harness::start("fail-busy").await;
    let image = "vol";
    let _held = h.driver().locks.lock_volume(&h.volume_id(image)).unwrap();
    let err = h
        .stage(image, mount_capability("ext4", Mode::SingleNodeWriter))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let err = h.unstage(image).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cluster_is_a_failed_precondition() {
    let mut h = Harness::start("fail-cluster").await;
    let mut request = h.stage_request("vol", mount_capability("ext4", Mode::SingleNodeWriter));
    request
        .volume_context
        .insert("clusterID".into(), "nowhere".into());
    let err = h.node.node_stage_volume(request).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("nowhere"), "{}", err.message());
    assert_no_stage_state(&h, "vol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_carry_the_key() {
    let deadlines = Deadlines {
        connect: Duration::from_secs(2),
        ..Deadlines::default()
    };
    let mut h = Harness::start_with("fail-secret", deadlines).await;
    let mut request = h.stage_request("vol", mount_capability("ext4", Mode::SingleNodeWriter));
    // A wrong (but well-formed) key for the right user: rbd-fuse fails to authenticate.
    let wrong = "AQAZ8OxoAAAAABAAJ5Hqxz0xVJz5A2UNhXkJ0w==";
    request.secrets.insert("userKey".into(), wrong.into());
    let err = h.node.node_stage_volume(request).await.unwrap_err();
    // rbd-fuse's own connect timeout (2 s here) reports the failure, not our kill.
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert!(err.message().contains("rbd-fuse"), "{}", err.message());
    assert!(!err.message().contains(wrong), "{}", err.message());
    assert!(!err.message().contains(&h.bed.key), "{}", err.message());
    h.assert_clean().await;
}
