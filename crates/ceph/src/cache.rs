//! Connected clusters shared between requests. CSI passes credentials with every request;
//! connecting each time would cost a mon round trip and a cephx handshake per RPC.
//!
//! Keyed by (monitors, user, sha256(key)) so a rotated key gets a fresh connection and the key
//! itself is never kept as a map key. Concurrent first requests for one key connect once (a
//! per-entry `OnceCell`); a failed connect is not cached, the next request tries again.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::credentials::Credentials;
use crate::error::Result;
use crate::timeouts::Timeouts;

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    monitors: String,
    entity: String,
    key_sha256: [u8; 32],
}

struct Entry {
    cluster: OnceCell<Cluster>,
    last_used: Mutex<Instant>,
}

type Entries = Mutex<HashMap<CacheKey, Arc<Entry>>>;

pub struct ConnectionCache {
    timeouts: Timeouts,
    idle: Duration,
    entries: Arc<Entries>,
}

impl ConnectionCache {
    /// `idle`: how long an unused connection is kept. Expired entries are dropped lazily on
    /// every `get` and, when created inside a tokio runtime, by a background sweep that ends
    /// with the cache.
    pub fn new(timeouts: Timeouts, idle: Duration) -> Self {
        let entries: Arc<Entries> = Arc::default();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(Arc::downgrade(&entries), idle, timeouts.connect));
        }
        ConnectionCache {
            timeouts,
            idle,
            entries,
        }
    }

    /// The cached connection for `creds`, connecting if there is none (or it expired).
    pub async fn get(&self, creds: &Credentials) -> Result<Cluster> {
        let key = CacheKey {
            monitors: creds.monitors.trim().to_string(),
            entity: creds.entity(),
            key_sha256: Sha256::digest(creds.key().as_bytes()).into(),
        };
        let entry = {
            let mut entries = self.entries.lock();
            remove_expired(&mut entries, self.idle, self.timeouts.connect);
            Arc::clone(entries.entry(key).or_insert_with(|| {
                Arc::new(Entry {
                    cluster: OnceCell::new(),
                    last_used: Mutex::new(Instant::now()),
                })
            }))
        };
        // The map lock is released; only this entry's cell serialises its connect.
        let connected = entry
            .cluster
            .get_or_try_init(|| Cluster::connect(creds, &self.timeouts))
            .await;
        match connected {
            Ok(cluster) => {
                *entry.last_used.lock() = Instant::now();
                Ok(cluster.clone())
            }
            Err(e) => {
                // Not cached: forget the empty entry so failed credentials do not pile up.
                let mut entries = self.entries.lock();
                entries.retain(|_, cached| {
                    !(Arc::ptr_eq(cached, &entry) && cached.cluster.get().is_none())
                });
                Err(e)
            }
        }
    }

    /// Number of cached entries (connected or connecting).
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops entries unused for `idle`. An entry still without a cluster is either connecting
/// (its `last_used` is the start of the connect) or was abandoned by a cancelled caller; it
/// gets the connect deadline on top so a slow connect is never orphaned.
fn remove_expired(entries: &mut HashMap<CacheKey, Arc<Entry>>, idle: Duration, connect: Duration) {
    let now = Instant::now();
    entries.retain(|_, e| {
        let age = now.duration_since(*e.last_used.lock());
        if e.cluster.initialized() {
            age < idle
        } else {
            age < idle + connect
        }
    });
}

async fn sweep(entries: Weak<Entries>, idle: Duration, connect: Duration) {
    let period = (idle / 2).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(period).await;
        let Some(entries) = entries.upgrade() else {
            return;
        };
        // Dropping a last `Cluster` under the lock is cheap: its shutdown is handed to the
        // blocking pool.
        remove_expired(&mut entries.lock(), idle, connect);
    }
}
