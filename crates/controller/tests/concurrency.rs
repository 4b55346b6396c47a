//! Concurrent requests: one image per name whatever the crowd, parallel names all succeed, a
//! request in flight makes its twin ABORTED, and a request that runs out of time releases its
//! name for the retry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Fixture, GIB};
use controller::failpoints::create;
use failpoint::Action;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_identical_creates_make_one_image() {
    Fixture::run(|fx| async move {
        let calls = (0..64).map(|_| {
            let mut client = fx.client();
            let req = fx.create_request("pvc-crowd", GIB);
            async move { client.create_volume(req).await }
        });
        let outcomes = futures::future::join_all(calls).await;
        let mut ids = BTreeSet::new();
        let mut aborted = 0;
        for outcome in outcomes {
            match outcome {
                Ok(reply) => {
                    ids.insert(reply.into_inner().volume.unwrap().volume_id);
                }
                Err(status) if status.code() == Code::Aborted => aborted += 1,
                Err(status) => panic!("unexpected {status:?}"),
            }
        }
        eprintln!(
            "64 identical CreateVolume: {} answered, {aborted} aborted (retry)",
            64 - aborted
        );
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(fx.images().await.len(), 1);
        // The aborted ones retry, as the provisioner does, and get the same volume.
        let again = fx.create_volume("pvc-crowd", GIB).await;
        assert!(ids.contains(&again.volume_id));
        assert_eq!(fx.omap("csi.volumes.default").await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_names_in_parallel_all_succeed() {
    Fixture::run(|fx| async move {
        let calls = (0..32).map(|i| {
            let mut client = fx.client();
            let req = fx.create_request(&format!("pvc-par-{i}"), GIB);
            async move { client.create_volume(req).await }
        });
        let started = std::time::Instant::now();
        let outcomes = futures::future::join_all(calls).await;
        eprintln!("32 parallel CreateVolume in {:?}", started.elapsed());
        let ids: BTreeSet<String> = outcomes
            .into_iter()
            .map(|o| o.unwrap().into_inner().volume.unwrap().volume_id)
            .collect();
        assert_eq!(ids.len(), 32);
        assert_eq!(fx.images().await.len(), 32);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_of_a_request_in_flight_is_aborted() {
    Fixture::run(|fx| async move {
        fx.failpoints
            .set(create::AFTER_IMAGE_CREATED, Action::Pause);
        let first = {
            let mut client = fx.client();
            let req = fx.create_request("pvc-twin", GIB);
            tokio::spawn(async move { client.create_volume(req).await })
        };
        tokio::time::timeout(
            Duration::from_secs(30),
            fx.failpoints.wait_for_hits(create::AFTER_IMAGE_CREATED, 1),
        )
        .await
        .unwrap();
        let status = fx
            .client()
            .create_volume(fx.create_request("pvc-twin", GIB))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
        assert!(
            status.message().contains("pvc-twin"),
            "{}",
            status.message()
        );
        fx.failpoints.resume(create::AFTER_IMAGE_CREATED);
        let created = first.await.unwrap().unwrap().into_inner().volume.unwrap();
        assert_eq!(
            fx.create_volume("pvc-twin", GIB).await.volume_id,
            created.volume_id
        );
    })
    .await;
}

/// The client's deadline; the controller answers 200 ms before it.
const CLIENT_DEADLINE: Duration = Duration::from_secs(2);
/// What the controller's budget for that request is, as its answer quotes it.
const BUDGET_QUOTED: &str = "did not complete within 1.8s";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_out_of_time_releases_its_name_and_the_retry_finishes() {
    // The controller's own budget is an hour: only the client's deadline can end the call.
    let builder = Fixture::builder().rpc_timeout(Duration::from_secs(3600));
    builder
        .run(|fx| async move {
            fx.failpoints
                .set(create::AFTER_IMAGE_CREATED, Action::Pause);
            let mut req = tonic::Request::new(fx.create_request("pvc-slow", GIB));
            req.set_timeout(CLIENT_DEADLINE);
            let mut client = fx.client();
            // Not a speed check: a controller that ignored the deadline would never answer while
            // the step is held, and the test must fail rather than hang.
            let status = tokio::time::timeout(Duration::from_secs(300), client.create_volume(req))
                .await
                .expect("no answer while the step is held: the client's deadline was ignored")
                .unwrap_err();
            assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
            // The answer came from the client's deadline while the step was still held: one hit,
            // the image made, the pause not lifted.
            assert!(
                status.message().contains(BUDGET_QUOTED),
                "{}",
                status.message()
            );
            assert_eq!(fx.failpoints.hits(create::AFTER_IMAGE_CREATED), 1);
            assert_eq!(fx.images().await.len(), 1);
            fx.failpoints.resume(create::AFTER_IMAGE_CREATED);
            // Not ABORTED: the timed-out handler let go of the name.
            let volume = fx.create_volume("pvc-slow", GIB).await;
            assert_eq!(
                fx.images().await,
                vec![format!("csi-vol-{}", common::uuid_of(&volume.volume_id))]
            );
        })
        .await;
}
