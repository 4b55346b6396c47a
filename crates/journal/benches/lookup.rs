//! Lookup latency against the real bed with 0, 1 000 and 10 000 unrelated directory entries.
//!
//! `cargo bench -p sepia-journal --bench lookup` (bed running). The journal reads one key of
//! the directory and one attribute object, so its latency must stay flat as the directory
//! grows. For contrast the bench also times a ceph-csi style lookup, which pages through every
//! `csi.volume.` key of the directory (512 per round trip) until it meets the wanted one.
//!
//! Under `cargo test --benches` (no `--bench` argument) it runs a tiny smoke version so the
//! target is exercised without taking minutes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ceph::{Cluster, Credentials, IoCtx, Timeouts};
use journal::{Config, Journal, Kind, Request};
use sepia_testbed::Bed;

/// Directory keys written per omap_set while populating.
const BATCH: usize = 1000;

struct Plan {
    sizes: &'static [usize],
    lookups: usize,
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let plan = if full {
        Plan {
            sizes: &[0, 1_000, 10_000],
            lookups: 1000,
        }
    } else {
        Plan {
            sizes: &[0, 100],
            lookups: 10,
        }
    };
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();

    // Populate every directory first, then measure them in interleaved rounds, so load from
    // elsewhere on the machine hits every size alike instead of skewing one of them.
    let mut setups = Vec::new();
    for &size in plan.sizes {
        let namespace = bed.unique_name("journal-bench");
        let io = cluster.ioctx(&bed.pool, &namespace).await.unwrap();
        let journal = Journal::new(
            Kind::Volume,
            cluster.clone(),
            io.clone(),
            &Config::default(),
        )
        .unwrap();
        populate(&journal, &io, size).await;
        // The wanted key sorts last: the worst case for a scan, irrelevant for a by-key read.
        let request = Request::new("pvc-zzzz-bench-target");
        assert!(journal.reserve(&request).await.unwrap().fresh);
        setups.push(Setup {
            size,
            io,
            journal,
            request,
            ours: Vec::new(),
            scan: Vec::new(),
        });
    }
    for setup in &setups {
        // Warm-up: connection and OSD caches.
        assert!(
            setup
                .journal
                .lookup(&setup.request)
                .await
                .unwrap()
                .is_some()
        );
    }
    for _ in 0..ROUNDS {
        for setup in &mut setups {
            for _ in 0..(plan.lookups / ROUNDS).max(1) {
                let started = Instant::now();
                assert!(
                    setup
                        .journal
                        .lookup(&setup.request)
                        .await
                        .unwrap()
                        .is_some()
                );
                setup.ours.push(started.elapsed());
            }
            for _ in 0..(plan.lookups / ROUNDS / 5).max(1) {
                let started = Instant::now();
                assert!(scan_lookup(&setup.journal, &setup.io, &setup.request.request_name).await);
                setup.scan.push(started.elapsed());
            }
        }
    }

    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>10} {:>14} {:>14}",
        "entries", "lookups", "p50 µs", "p99 µs", "mean µs", "csi-scan p50", "csi-scan p99"
    );
    for setup in &mut setups {
        setup.ours.sort_unstable();
        setup.scan.sort_unstable();
        println!(
            "{:>8} {:>8} {:>10} {:>10} {:>10} {:>14} {:>14}",
            setup.size,
            setup.ours.len(),
            micros(percentile(&setup.ours, 50)),
            micros(percentile(&setup.ours, 99)),
            micros(mean(&setup.ours)),
            micros(percentile(&setup.scan, 50)),
            micros(percentile(&setup.scan, 99)),
        );
        cleanup(&setup.io).await;
    }
}

/// Interleaved measurement rounds.
const ROUNDS: usize = 20;

struct Setup {
    size: usize,
    io: IoCtx,
    journal: Journal,
    request: Request,
    ours: Vec<Duration>,
    scan: Vec<Duration>,
}

/// Writes `size` unrelated directory keys in large batches (one write op per batch).
async fn populate(journal: &Journal, io: &IoCtx, size: usize) {
    let directory = journal.layout().directory_oid();
    let uuid = uuid::Uuid::new_v4().to_string();
    let keys: Vec<String> = (0..size)
        .map(|i| {
            journal
                .layout()
                .directory_key(&format!("pvc-filler-{i:08}"))
        })
        .collect();
    for chunk in keys.chunks(BATCH) {
        let kvs: Vec<(&str, &[u8])> = chunk
            .iter()
            .map(|k| (k.as_str(), uuid.as_bytes()))
            .collect();
        io.omap_set_creating(directory, &kvs).await.unwrap();
    }
}

/// What ceph-csi does: list the directory's `csi.volume.` keys page by page until found.
async fn scan_lookup(journal: &Journal, io: &IoCtx, request_name: &str) -> bool {
    let directory = journal.layout().directory_oid();
    let wanted = journal.layout().directory_key(request_name);
    let mut after = String::new();
    loop {
        let (page, more) = io
            .omap_list(directory, &after, "csi.volume.", 512)
            .await
            .unwrap();
        if page.iter().any(|(key, _)| *key == wanted) {
            return true;
        }
        match page.last() {
            Some((last, _)) if more => after = last.clone(),
            _ => return false,
        }
    }
}

fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    let at = (sorted.len() * pct).div_ceil(100).saturating_sub(1);
    sorted.get(at).copied().unwrap_or_default()
}

fn mean(samples: &[Duration]) -> Duration {
    let count = u32::try_from(samples.len()).unwrap_or(u32::MAX).max(1);
    samples.iter().sum::<Duration>() / count
}

fn micros(duration: Duration) -> u128 {
    duration.as_micros()
}

async fn cleanup(io: &IoCtx) {
    for oid in io.list_objects().await.unwrap() {
        io.remove(&oid).await.unwrap();
    }
}
