//! Callers may give up on a call at any time (deadline, dropped future). The blocking call
//! keeps its own references to the Ceph handles, so it completes safely even when the caller
//! has already dropped the cluster, ioctx and image: no use-after-free, no lost write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ceph::rbd::{self, CreateOptions};

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_calls_complete_after_their_handles_are_dropped() {
    common::in_namespace("cancel", true, |ns| async move {
        let pool = common::bed().pool.clone();
        rbd::create(&ns.io, "img", 4 * MIB, &CreateOptions::default())
            .await
            .unwrap();
        let mut abandoned = 0;
        for i in 0..10u64 {
            // A private connection whose every handle is dropped right after giving up.
            let cluster = common::connect().await;
            let io = cluster.ioctx(&pool, &ns.name).await.unwrap();
            let image = rbd::open(&io, "img").await.unwrap();
            let oid = format!("o{i}");
            let kvs: [(&str, &[u8]); 1] = [("k", b"v")];
            let write = io.omap_set_creating(&oid, &kvs);
            let grow = image.resize((5 + i) * MIB);
            let (w, g) = tokio::join!(
                tokio::time::timeout(Duration::from_micros(1), write),
                tokio::time::timeout(Duration::from_micros(1), grow),
            );
            abandoned += usize::from(w.is_err()) + usize::from(g.is_err());
            drop((w, g, image, io, cluster));
        }
        assert!(
            abandoned > 0,
            "no call was abandoned; the test proves nothing"
        );
        let io = &ns.io;
        let all_written = common::eventually(Duration::from_secs(20), || async {
            let mut objects = io.list_objects().await.unwrap();
            objects.retain(|o| o.starts_with('o') && o.len() == 2);
            objects.len() == 10
        })
        .await;
        assert!(all_written, "abandoned omap writes did not all land");
        let grown = common::eventually(Duration::from_secs(20), || async {
            let img = rbd::open(io, "img").await.unwrap();
            let size = img.size().await.unwrap();
            img.close().await.unwrap();
            size == 14 * MIB
        })
        .await;
        // Whatever order they landed in, shrinks are refused, so the largest size wins.
        assert!(grown, "the largest abandoned resize did not land");
        // And the abandoned image handles were closed: no watcher is left behind.
        let closed = common::eventually(Duration::from_secs(20), || async {
            let img = rbd::open(io, "img").await.unwrap();
            let n = img.watchers().await.unwrap().len();
            img.close().await.unwrap();
            n == 1
        })
        .await;
        assert!(closed, "abandoned image handles still watch the image");
    })
    .await;
}
