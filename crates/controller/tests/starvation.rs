//! A flood of CreateVolumes with wrong keys cannot starve requests whose connection is made
//! (issue 14, item 6). A connect with a key the monitors reject holds a blocking thread until
//! its timeout; before connects were bounded, 200 of them answered PERMISSION_DENIED but left
//! their queued connects running for about a minute, and a request with good, cached
//! credentials found no thread for its Ceph calls and ran out of time.
//!
//! Run against a real controller process with production's defaults (32 blocking threads,
//! 10 s connect timeout, connect limits), on the bed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::GIB;
use common::calls;
use common::processes::Processes;
use tokio::task::JoinSet;
use tonic::Code;

/// Concurrent CreateVolumes with wrong keys.
const FLOOD: usize = 200;
/// The deadline a sidecar gives the legitimate request: many times what a CreateVolume takes
/// on the bed, far less than the minute the flood used to hold the blocking pool.
const LEGITIMATE_DEADLINE: Duration = Duration::from_secs(30);

/// A well-formed cephx key no monitor knows: type 1 (AES), a time, 16 random bytes.
fn random_cephx_key() -> String {
    let mut raw = Vec::with_capacity(28);
    raw.extend_from_slice(&1u16.to_le_bytes());
    raw.extend_from_slice(&0x6600_0000u32.to_le_bytes());
    raw.extend_from_slice(&0u32.to_le_bytes());
    raw.extend_from_slice(&16u16.to_le_bytes());
    raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_keys_does_not_starve_a_connected_identity() {
    Processes::run(|px| async move {
        let controller = px.start("flooded", "").await;
        // The bed's identity is connected (and cached) before the flood, as in a controller
        // that has been serving.
        calls::create_volume(controller.client(), px.create_request("pvc-warm", GIB)).await;

        let mut flood = JoinSet::new();
        for i in 0..FLOOD {
            let mut request = px.create_request(&format!("pvc-flood-{i}"), GIB);
            request
                .secrets
                .insert("userKey".to_owned(), random_cephx_key());
            let mut client = controller.client();
            flood.spawn(async move { client.create_volume(request).await.map(drop) });
        }
        // The flood has reached the controller once its first answer is back.
        let mut answers = vec![flood.join_next().await.unwrap().unwrap()];

        let mut legitimate = tonic::Request::new(px.create_request("pvc-legitimate", GIB));
        legitimate.set_timeout(LEGITIMATE_DEADLINE);
        let started = Instant::now();
        let created = controller.client().create_volume(legitimate).await;
        // Measured, not asserted (speed is the benchmarks' business).
        eprintln!(
            "legitimate CreateVolume during the flood: {:?}",
            started.elapsed()
        );
        assert!(
            created.is_ok(),
            "the legitimate CreateVolume failed during the flood: {created:?}"
        );

        while let Some(answer) = flood.join_next().await {
            answers.push(answer.unwrap());
        }
        let codes: Vec<Code> = answers
            .iter()
            .map(|answer| match answer {
                Ok(()) => panic!("a CreateVolume with a wrong key succeeded"),
                Err(status) => status.code(),
            })
            .collect();
        let unexpected: Vec<_> = answers
            .iter()
            .filter_map(|answer| answer.as_ref().err())
            .filter(|status| !matches!(status.code(), Code::Unavailable | Code::PermissionDenied))
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:?}");
        let unavailable = codes.iter().filter(|c| **c == Code::Unavailable).count();
        eprintln!(
            "flood of {FLOOD}: {unavailable} UNAVAILABLE at once, {} PERMISSION_DENIED",
            codes.len() - unavailable
        );
        assert!(
            codes.contains(&Code::Unavailable),
            "no connect was refused for the limit: {codes:?}"
        );
    })
    .await;
}
