//! Many snapshots requested at once all become ready (upstream's throttled client and
//! backoff-driven polling make this slow: external-snapshotter#1344), and all go again.

use std::time::Instant;

use snapshot_api::{DeletionPolicy, VolumeSnapshot};

use crate::harness::*;

const MIB: i64 = 1 << 20;
const COUNT: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_snapshots_at_once_all_become_ready_and_all_go() {
    let mut env = Env::start("many").await;
    env.start_snapshotter("snapshotter", &[]);
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    let mut volumes = Vec::new();
    for i in 0..COUNT {
        let volume_id = env.create_volume(&format!("pvc-many-{i}"), 8 * MIB).await;
        env.put_bound_claim("batch", &format!("data-{i}"), &volume_id, "8Mi");
        volumes.push(volume_id);
    }
    let volume_images = env.images();
    let start = Instant::now();
    for i in 0..COUNT {
        env.put_snapshot("batch", &format!("snap-{i}"), &format!("data-{i}"), None);
    }
    for i in 0..COUNT {
        let ready = env.wait_ready("batch", &format!("snap-{i}")).await;
        assert_eq!(ready.status.unwrap().restore_size.unwrap().0, "8Mi");
    }
    eprintln!(
        "{COUNT} VolumeSnapshots created at once → all readyToUse: {:?}",
        start.elapsed()
    );
    // One snapshot image per volume.
    env.wait_image_count(2 * COUNT).await;

    let start = Instant::now();
    for i in 0..COUNT {
        env.delete::<VolumeSnapshot>("batch", &format!("snap-{i}"));
    }
    for i in 0..COUNT {
        env.wait_gone::<VolumeSnapshot>("batch", &format!("snap-{i}"), "snapshot gone")
            .await;
    }
    eprintln!(
        "{COUNT} VolumeSnapshots deleted at once → all gone: {:?}",
        start.elapsed()
    );
    env.wait_images(&volume_images).await;
    for volume_id in &volumes {
        env.delete_volume(volume_id).await;
    }
    env.wait_images(&[]).await;
}
