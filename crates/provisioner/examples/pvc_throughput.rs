//! Bench: how fast claims become bound PVs, and what the provisioner costs in memory.
//!
//! Runs the real `sepia-provisioner` and `sepia-controller` (same build profile as this
//! example, else debug) against the API stand-in and the local Ceph, creates `--claims` PVCs
//! at once, and prints PVC→PV throughput plus the provisioner's RSS idle and after.
//!
//! `cargo build -p sepia-controller -p sepia-provisioner && cargo run -p sepia-provisioner --example pvc_throughput -- 500`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube_standin::Gvr;
use support::{CLASS, World};

#[tokio::main]
async fn main() {
    let claims: usize = std::env::args().nth(1).map_or(500, |n| {
        n.parse().expect("the argument is a number of claims")
    });
    let mut world = World::start(None).await;
    let provisioner = world.provisioner(&[], &[("RUST_LOG", "warn")]);
    // Idle: connected, caches synced, nothing to do.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_kib = provisioner.rss_kib();

    let started = Instant::now();
    for i in 0..claims {
        world.claim(&format!("bench-{i}"), "16Mi", CLASS, None);
    }
    let created = started.elapsed();
    let gvr = Gvr::of::<PersistentVolumeClaim>();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last_report = Instant::now();
    loop {
        let bound = world
            .standin
            .list_json(&gvr, Some("default"))
            .iter()
            .filter(|c| c["status"]["phase"] == "Bound")
            .count();
        if bound == claims {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "{bound}/{claims} bound after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "only {bound}/{claims} bound after 30 min\n{}",
            world.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    let after_kib = provisioner.rss_kib();
    let images = world.controller.images().len();
    println!(
        "claims: {claims} (created in {:.2}s)",
        created.as_secs_f64()
    );
    println!("all bound after: {:.2}s", took.as_secs_f64());
    println!(
        "throughput: {:.1} PVC→PV per second",
        claims as f64 / took.as_secs_f64()
    );
    println!("rbd images: {images}");
    println!("provisioner RSS idle: {} MiB", idle_kib / 1024);
    println!("provisioner RSS after: {} MiB", after_kib / 1024);
    assert_eq!(images, claims, "one image per claim");
}
