//! The plugin binary killed with SIGKILL while volumes are staged and published: the ceph-fuse
//! daemons live on (they are not the plugin's children once mounted), and the restarted
//! plugin finds its stages from the mount table and its records, reports on them and tears
//! them down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_plugin_restarts_and_still_serves_stats_unpublish_and_unstage() {
    let mut h = Harness::start_binary(deadlines()).await;
    let volume = h.create_subvolume("restart");
    h.stage(&volume).await.unwrap();
    h.publish(&volume, "pod", false).await.unwrap();
    let target = h.target_path(&volume, "pod");
    std::fs::write(target.join("before"), b"before the crash").unwrap();
    let daemons = ceph_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");

    h.kill_binary().await;
    // The daemon and the mounts outlive the plugin.
    assert_eq!(ceph_fuse_processes(&h.root.display().to_string()), daemons);
    assert_eq!(
        std::fs::read_to_string(target.join("before")).unwrap(),
        "before the crash"
    );

    h.serve_binary().await;
    let stats = h.stats(&volume, &target).await.unwrap();
    let condition = stats.volume_condition.unwrap();
    assert!(!condition.abnormal, "{condition:?}");
    assert!(!stats.usage.is_empty());
    // Stage and publish again are recognised as done.
    h.stage(&volume).await.unwrap();
    h.publish(&volume, "pod", false).await.unwrap();
    assert_eq!(ceph_fuse_processes(&h.root.display().to_string()), daemons);

    h.unpublish(&volume, "pod").await.unwrap();
    h.unstage(&volume).await.unwrap();
    assert_eq!(h.read_independently(&volume, "before"), "before the crash");
    h.assert_clean().await;
}
