//! Restarts of the node plugin (issue 15, item 1), for real: the `sepia-node` binary staged
//! volumes with the rbd-fuse mapper, then is killed with SIGKILL and started again. When only
//! the plugin died, its rbd-fuse daemons serve on and the new plugin takes the volumes over;
//! when the daemons died too (what a container restart does), the volumes are reported
//! abnormal and still unstage cleanly. Each runs with the plugin's own stage records and with
//! ceph-csi's (item 2: volumes ceph-csi staged are taken over the same way). Data is checked
//! in Ceph through copies of the images, never through the plugin's own mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::os::unix::fs::FileExt;
use std::path::Path;

use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_usage::Unit;
use harness::*;

/// Writes `data` at `offset` of the block device published at `target` and flushes it.
fn write_block(target: &Path, offset: u64, data: &[u8]) {
    let device = std::fs::OpenOptions::new()
        .write(true)
        .open(target)
        .unwrap();
    device.write_all_at(data, offset).unwrap();
    device.sync_all().unwrap();
}

fn read_block(target: &Path, offset: u64, len: usize) -> Vec<u8> {
    let device = std::fs::File::open(target).unwrap();
    let mut data = vec![0; len];
    device.read_exact_at(&mut data, offset).unwrap();
    data
}

/// Whose stage records the volumes have when the plugin restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Records {
    Sepia,
    /// Rewritten in ceph-csi's format after staging: as if ceph-csi had staged them.
    CephCsi,
}

impl Records {
    fn apply(self, h: &Harness, images: &[&str]) {
        if self == Records::CephCsi {
            for image in images {
                h.rewrite_stash_as_ceph_csi(image);
            }
        }
    }

    /// What the recovery log line says about the record's origin.
    fn origin(self) -> &'static str {
        match self {
            Records::Sepia => "origin=Sepia",
            Records::CephCsi => "origin=CephCsi",
        }
    }
}

/// The log lines of the running plugin that report `volume`'s recovery.
fn recovery_lines(h: &Harness, image: &str) -> Vec<String> {
    let volume_id = h.volume_id(image);
    h.plugin_log()
        .lines()
        .filter(|l| l.contains(&volume_id) && l.contains("after the restart"))
        .map(str::to_string)
        .collect()
}

fn stash_exists(h: &Harness, image: &str) -> bool {
    h.staging_path(image).join("image-meta.json").exists()
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_only_the_plugin_dies_its_volumes_stay_served_and_the_new_plugin_takes_them_over() {
    plugin_only_dies(Records::Sepia).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_ceph_csi_staged_stay_served_when_the_plugin_dies_and_are_taken_over() {
    plugin_only_dies(Records::CephCsi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_daemons_die_with_the_plugin_the_volume_is_abnormal_and_unstages_cleanly() {
    daemons_die_too(Records::Sepia).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_ceph_csi_staged_whose_daemon_died_is_abnormal_and_unstages_cleanly() {
    daemons_die_too(Records::CephCsi).await;
}

async fn plugin_only_dies(records: Records) {
    let mut h = Harness::start_child("restart-plugin", &[]).await;
    h.wait_ready().await;
    let fs_cap = mount_capability("ext4", Mode::SingleNodeWriter);
    let block_cap = block_capability(Mode::SingleNodeWriter);
    h.create_image("fs", 64);
    h.create_image("blk", 64);
    let fs_target = h.stage_and_publish("fs", "pod", fs_cap.clone()).await;
    let block_target = h.stage_and_publish("blk", "pod", block_cap.clone()).await;
    write_durably(&fs_target.join("before.txt"), b"written before the restart");
    write_block(&block_target, MIB, b"block data before the restart");
    records.apply(&h, &["fs", "blk"]);

    let daemons = rbd_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 2, "{daemons:?}");
    let plugin = h.plugin_pid();
    h.kill_plugin().await;
    assert!(!alive(plugin as u32), "the plugin {plugin} still runs");
    assert!(
        daemons.iter().all(|pid| alive(*pid)),
        "an rbd-fuse died with the plugin"
    );
    h.restart_plugin().await;
    h.wait_ready().await;

    for image in ["fs", "blk"] {
        let lines = recovery_lines(&h, image);
        assert!(
            lines.len() == 1
                && lines[0].contains(r#"outcome="daemon-alive""#)
                && lines[0].contains(records.origin()),
            "{image}: {lines:?}\n{}",
            h.plugin_log()
        );
    }
    // The mounts serve what was there, and new writes land in Ceph.
    assert_eq!(
        std::fs::read(fs_target.join("before.txt")).unwrap(),
        b"written before the restart"
    );
    write_durably(&fs_target.join("after.txt"), b"written after the restart");
    write_block(&block_target, 2 * MIB, b"block data after the restart");
    assert_eq!(
        read_block(&block_target, MIB, 29),
        b"block data before the restart"
    );
    assert_eq!(
        h.read_from_image_fs("fs", "after.txt"),
        b"written after the restart"
    );
    assert_eq!(
        h.read_from_image_fs("fs", "before.txt"),
        b"written before the restart"
    );
    assert_eq!(
        h.bed.rbd_read(&h.image_spec("blk"), 2 * MIB, 28),
        b"block data after the restart"
    );

    // The new plugin reports on and tears down what the old one staged.
    let stats = h.stats("fs", &fs_target).await.unwrap();
    let condition = stats.volume_condition.clone().unwrap();
    assert!(!condition.abnormal, "{condition:?}");
    let bytes = usage(&stats, Unit::Bytes);
    assert!(bytes.total > 0 && bytes.used > 0, "{bytes:?}");
    let stats = h.stats("blk", &block_target).await.unwrap();
    assert!(!stats.volume_condition.unwrap().abnormal);
    assert_eq!(stats.usage[0].total as u64, 64 * MIB);

    for image in ["fs", "blk"] {
        h.unpublish(image, "pod").await.unwrap();
        h.unstage(image).await.unwrap();
        assert!(!stash_exists(&h, image), "{image}: stage record left");
    }
    h.assert_clean().await;
}

async fn daemons_die_too(records: Records) {
    let mut h = Harness::start_child("restart-all", &["--command-timeout=5s"]).await;
    h.wait_ready().await;
    let cap = mount_capability("ext4", Mode::SingleNodeWriter);
    h.create_image("fs", 64);
    h.stage("fs", cap.clone()).await.unwrap();
    h.publish("fs", "pod", cap, false).await.unwrap();
    let target = h.target_path("fs", "pod");
    write_durably(&target.join("before.txt"), b"written before the restart");
    records.apply(&h, &["fs"]);

    // A container restart: the plugin and every daemon it started are killed.
    let daemons = rbd_fuse_processes(&h.root.display().to_string());
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    h.kill_plugin().await;
    for pid in &daemons {
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(killed, "kill -KILL {pid}");
    }
    for _ in 0..100 {
        if daemons.iter().all(|pid| !alive(*pid)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(daemons.iter().all(|pid| !alive(*pid)), "{daemons:?}");
    h.restart_plugin().await;
    h.wait_ready().await;

    let lines = recovery_lines(&h, "fs");
    assert!(
        lines.len() == 1
            && lines[0].contains(r#"outcome="lost""#)
            && lines[0].contains(records.origin()),
        "{lines:?}\n{}",
        h.plugin_log()
    );
    let condition = h
        .stats("fs", &target)
        .await
        .unwrap()
        .volume_condition
        .unwrap();
    assert!(condition.abnormal, "{condition:?}");

    h.unpublish("fs", "pod").await.unwrap();
    h.unstage("fs").await.unwrap();
    assert!(!stash_exists(&h, "fs"));
    h.assert_clean().await;
    // What was durably written before the crash is in Ceph.
    assert_eq!(
        h.read_from_image_fs("fs", "before.txt"),
        b"written before the restart"
    );
    // The killed daemon's watch would hold the image for another 30 s.
    h.blocklist_watchers("fs");
    h.remove_image("fs");
}
