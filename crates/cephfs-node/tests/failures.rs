//! What goes wrong: requests that must be refused (and leave nothing behind), paths holding
//! something else, and a ceph-fuse daemon that is stopped or killed under a staged volume.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessType, BlockVolume};
use harness::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn another_volume_at_a_staged_path_is_already_exists_and_left_alone() {
    let mut h = Harness::start(deadlines()).await;
    let first = h.create_subvolume("first");
    let second = h.create_subvolume("second");
    h.stage(&first).await.unwrap();
    std::fs::write(h.staged_mount(&first).join("data"), b"first").unwrap();

    // The second volume sent to the first one's staging path.
    let mut request = h.stage_request(&second, Mode::MultiNodeMultiWriter);
    request.staging_target_path = h.staging_path(&first).display().to_string();
    let status = h.node.node_stage_volume(request).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains(&first.id), "{}", status.message());
    // Its unstage there finds nothing of its own and touches nothing; its publish from there
    // is NOT_FOUND.
    let unstage = csi::v1::NodeUnstageVolumeRequest {
        volume_id: second.id.clone(),
        staging_target_path: h.staging_path(&first).display().to_string(),
    };
    h.node.node_unstage_volume(unstage).await.unwrap();
    let mut publish = h.publish_request(&second, "pod", false);
    publish.staging_target_path = h.staging_path(&first).display().to_string();
    let status = h.node.node_publish_volume(publish).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(
        std::fs::read_to_string(h.staged_mount(&first).join("data")).unwrap(),
        "first"
    );

    h.unstage(&first).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_mount_at_the_mount_point_is_never_touched() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("foreign");
    let mount_point = h.staged_mount(&volume);
    std::fs::create_dir_all(&mount_point).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "foreign", &mount_point.display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let stage = h.stage(&volume).await.unwrap_err();
    assert_eq!(stage.code(), Code::AlreadyExists, "{stage:?}");
    let unstage = h.unstage(&volume).await.unwrap_err();
    assert_eq!(unstage.code(), Code::NotFound, "{unstage:?}");
    let stats = h.stats(&volume, &mount_point).await.unwrap_err();
    assert_eq!(stats.code(), Code::NotFound, "{stats:?}");
    assert!(is_mounted(&mount_point), "the foreign mount was taken away");
    let _ = std::process::Command::new("umount")
        .arg(&mount_point)
        .status();
}

/// One way to spoil a good stage request.
type Change = dyn Fn(&mut csi::v1::NodeStageVolumeRequest);

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_naming_the_field_and_leave_nothing() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("bad");
    let cases: Vec<(&str, Box<Change>, Code, &str)> = vec![
        (
            "no key",
            Box::new(|r| {
                r.secrets.remove("userKey");
            }),
            Code::InvalidArgument,
            "secrets.userKey",
        ),
        (
            "no fsName",
            Box::new(|r| {
                r.volume_context.remove("fsName");
            }),
            Code::InvalidArgument,
            "volume_context.fsName",
        ),
        (
            "relative path",
            Box::new(|r| {
                r.volume_context
                    .insert("subvolumePath".into(), "volumes/x".into());
            }),
            Code::InvalidArgument,
            "volume_context.subvolumePath",
        ),
        (
            "climbing path",
            Box::new(|r| {
                r.volume_context
                    .insert("subvolumePath".into(), "/volumes/../etc".into());
            }),
            Code::InvalidArgument,
            "volume_context.subvolumePath",
        ),
        (
            "foreground fuse",
            Box::new(|r| {
                r.volume_context
                    .insert("fuseMountOptions".into(), "debug".into());
            }),
            Code::InvalidArgument,
            "volume_context.fuseMountOptions",
        ),
        (
            "our identity",
            Box::new(|r| {
                r.volume_context
                    .insert("kernelMountOptions".into(), "secretfile=/etc/shadow".into());
            }),
            Code::InvalidArgument,
            "volume_context.kernelMountOptions",
        ),
        (
            "bad mounter",
            Box::new(|r| {
                r.volume_context.insert("mounter".into(), "nfs".into());
            }),
            Code::InvalidArgument,
            "volume_context.mounter",
        ),
        (
            "block",
            Box::new(|r| {
                r.volume_capability.as_mut().unwrap().access_type =
                    Some(AccessType::Block(BlockVolume {}));
            }),
            Code::InvalidArgument,
            "volume_capability.access_type",
        ),
        (
            "unknown cluster",
            Box::new(|r| {
                r.volume_context
                    .insert("clusterID".into(), "nowhere".into());
            }),
            Code::FailedPrecondition,
            "nowhere",
        ),
        (
            "outside kubelet",
            Box::new(|r| {
                r.staging_target_path = "/etc".into();
            }),
            Code::InvalidArgument,
            "staging_target_path",
        ),
    ];
    for (what, change, code, named) in cases {
        let mut request = h.stage_request(&volume, Mode::MultiNodeMultiWriter);
        change(&mut request);
        let status = h.node.node_stage_volume(request).await.unwrap_err();
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(
            status.message().contains(named),
            "{what}: {}",
            status.message()
        );
        assert!(
            !status.message().contains(&h.bed.key),
            "{what}: the key in {}",
            status.message()
        );
    }
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_a_clear_error_and_leaves_nothing_mounted() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("wrongkey");
    let mut request = h.stage_request(&volume, Mode::MultiNodeMultiWriter);
    // A well-formed cephx key that is not the user's.
    let wrong = "AQBgBhdrGuTCMRAAwDrCJw2Kwa5mB4WXLIZWpX==";
    assert_ne!(wrong, h.bed.key);
    request.secrets.insert("userKey".into(), wrong.into());
    let status = h.node.node_stage_volume(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(
        status.message().contains("ceph-fuse"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains(wrong), "{}", status.message());
    assert!(!h.staged_mount(&volume).exists());
    h.assert_clean().await;
    // The right key then stages it.
    h.stage(&volume).await.unwrap();
    h.unstage(&volume).await.unwrap();
    h.assert_clean().await;
}

/// Stats of a stage whose ceph-fuse got `signal`: abnormal, answered without hanging;
/// then unpublish and unstage still clean up.
async fn dead_daemon_is_abnormal(signal: &str) {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume(&format!("sig{signal}"));
    h.stage(&volume).await.unwrap();
    h.publish(&volume, "pod", false).await.unwrap();
    let target = h.target_path(&volume, "pod");
    let healthy = h.stats(&volume, &target).await.unwrap();
    assert!(!healthy.volume_condition.unwrap().abnormal);

    let daemons = ceph_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    let pid = daemons[0].0;
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Wait for the signal to take effect (observed state, not a sleep).
    for _ in 0..200 {
        let state = ceph_fuse_processes(&h.root.display().to_string());
        let done = match signal {
            "STOP" => state.iter().any(|(p, s)| *p == pid && *s == 'T'),
            _ => !state.iter().any(|(p, _)| *p == pid),
        };
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    if signal == "KILL" {
        h.evict_clients_of(&h.staged_mount(&volume));
    }
    for path in [target.clone(), h.staged_mount(&volume)] {
        let stats = h.stats(&volume, &path).await.unwrap();
        let condition = stats.volume_condition.unwrap();
        assert!(condition.abnormal, "{signal}: {condition:?}");
        assert!(
            condition.message.contains("ceph-fuse"),
            "{}",
            condition.message
        );
        assert!(stats.usage.is_empty(), "{:?}", stats.usage);
    }
    h.unpublish(&volume, "pod").await.unwrap();
    h.unstage(&volume).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_ceph_fuse_is_abnormal_and_unstage_cuts_it_off() {
    dead_daemon_is_abnormal("STOP").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_ceph_fuse_is_abnormal_and_unstage_cleans_up() {
    dead_daemon_is_abnormal("KILL").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_stage_mounts_a_dead_ceph_fuse_stage_afresh() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("afresh");
    h.stage(&volume).await.unwrap();
    let staged = h.staged_mount(&volume);
    std::fs::write(staged.join("kept"), b"kept").unwrap();
    let root = h.root.display().to_string();
    let before = ceph_fuse_processes(&root);
    assert_eq!(before.len(), 1, "{before:?}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &before[0].0.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..200 {
        if ceph_fuse_processes(&root).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    h.evict_clients_of(&staged);
    let dead = h.stats(&volume, &staged).await.unwrap();
    assert!(dead.volume_condition.unwrap().abnormal);

    h.stage(&volume).await.unwrap();
    let after = ceph_fuse_processes(&root);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0].0, before[0].0);
    let live = h.stats(&volume, &staged).await.unwrap();
    assert!(!live.volume_condition.unwrap().abnormal);
    assert_eq!(
        std::fs::read_to_string(staged.join("kept")).unwrap(),
        "kept"
    );
    h.unstage(&volume).await.unwrap();
    h.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_on_what_is_not_staged_get_the_codes_the_spec_names() {
    let mut h = Harness::start(deadlines()).await;
    let volume = h.create_subvolume("unstaged");
    // Publish before stage: the volume is not there (NOT_FOUND); no staging path at all is
    // the spec's FAILED_PRECONDITION.
    let status = h.publish(&volume, "pod", false).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let mut request = h.publish_request(&volume, "pod", false);
    request.staging_target_path.clear();
    let status = h.node.node_publish_volume(request).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // Stats of a path with nothing mounted: NOT_FOUND.
    let status = h
        .stats(&volume, &h.target_path(&volume, "pod"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // Unpublish and unstage of what is not there: done.
    h.unpublish(&volume, "pod").await.unwrap();
    h.unstage(&volume).await.unwrap();
    // Missing IDs and paths are INVALID_ARGUMENT naming the field.
    let status = h
        .node
        .node_unstage_volume(csi::v1::NodeUnstageVolumeRequest {
            volume_id: String::new(),
            staging_target_path: h.staging_path(&volume).display().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("volume_id"), "{status:?}");
    let status = h
        .node
        .node_unpublish_volume(csi::v1::NodeUnpublishVolumeRequest {
            volume_id: volume.id.clone(),
            target_path: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("target_path"), "{status:?}");
    h.assert_clean().await;
}
