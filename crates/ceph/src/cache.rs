//! Connected clusters shared between requests. CSI passes credentials with every request;
//! connecting each time would cost a mon round trip and a cephx handshake per RPC.
//!
//! Keyed by (monitors, user, sha256(key)) so a rotated key gets a fresh connection and the key
//! itself is never kept as a map key. Concurrent first requests for one key connect once (a
//! per-entry `OnceCell`); a failed connect is not cached, the next request tries again.
//!
//! Connects are bounded ([`ConnectLimits`]): in total, and per identity (user at monitors,
//! whatever the key). A connect holds a blocking thread until librados returns, and one with a
//! key the monitors reject returns only at its timeout (Pacific's librados keeps hunting), so
//! a flood of bad keys would otherwise fill the blocking pool and starve the calls of
//! connections already made. A connect over a limit fails at once
//! ([`Error::ConnectLimit`]); the slot is held by the blocking call itself, so one whose caller
//! gave up still counts until librados lets go of the thread.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::timeouts::Timeouts;

/// How many connects may run at once. `total` must stay well below the runtime's blocking
/// threads: the rest is what calls on connected clusters can count on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectLimits {
    pub total: usize,
    /// Per identity (`client.<user>` at one monitor list), across all its keys.
    pub per_identity: usize,
}

impl Default for ConnectLimits {
    /// A quarter of the controller's default 32 blocking threads; two per identity so a
    /// rotated key can connect while the old one's connect is still out.
    fn default() -> Self {
        ConnectLimits {
            total: 8,
            per_identity: 2,
        }
    }
}

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
    slots: ConnectSlots,
}

impl ConnectionCache {
    /// `idle`: how long an unused connection is kept. Expired entries are dropped lazily on
    /// every `get` and, when created inside a tokio runtime, by a background sweep that ends
    /// with the cache.
    pub fn new(timeouts: Timeouts, idle: Duration) -> Self {
        Self::with_limits(timeouts, idle, ConnectLimits::default())
    }

    /// [`ConnectionCache::new`] with connect limits other than the default.
    pub fn with_limits(timeouts: Timeouts, idle: Duration, limits: ConnectLimits) -> Self {
        let entries: Arc<Entries> = Arc::default();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(Arc::downgrade(&entries), idle, timeouts.connect));
        }
        ConnectionCache {
            timeouts,
            idle,
            entries,
            slots: ConnectSlots::new(limits),
        }
    }

    /// The cached connection for `creds`, connecting if there is none (or it expired).
    pub async fn get(&self, creds: &Credentials) -> Result<Cluster> {
        let key = CacheKey {
            monitors: creds.monitors.trim().to_string(),
            entity: creds.entity(),
            key_sha256: Sha256::digest(creds.key().as_bytes()).into(),
        };
        let identity = Identity {
            monitors: key.monitors.clone(),
            entity: key.entity.clone(),
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
            .get_or_try_init(|| async {
                let slot = self.slots.take(identity)?;
                Cluster::connect_holding(creds, &self.timeouts, slot).await
            })
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

/// Who a connect claims to be, whatever its key: what [`ConnectLimits::per_identity`] counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Identity {
    monitors: String,
    entity: String,
}

/// The connects in flight, against [`ConnectLimits`].
struct ConnectSlots {
    limits: ConnectLimits,
    total: Arc<Semaphore>,
    by_identity: Arc<Mutex<HashMap<Identity, usize>>>,
}

impl ConnectSlots {
    fn new(limits: ConnectLimits) -> Self {
        ConnectSlots {
            limits,
            total: Arc::new(Semaphore::new(limits.total)),
            by_identity: Arc::default(),
        }
    }

    /// A slot for one connect as `identity`, or [`Error::ConnectLimit`] at once.
    fn take(&self, identity: Identity) -> Result<ConnectSlot> {
        let mut by_identity = self.by_identity.lock();
        let count = by_identity.get(&identity).copied().unwrap_or(0);
        if count >= self.limits.per_identity {
            return Err(Error::ConnectLimit {
                what: format!(
                    "{count} connects as {} to monitors {} are in flight already",
                    identity.entity, identity.monitors
                ),
            });
        }
        let permit =
            Arc::clone(&self.total)
                .try_acquire_owned()
                .map_err(|_| Error::ConnectLimit {
                    what: format!(
                        "{} connects are in flight already (connecting to monitors {} as {})",
                        self.limits.total, identity.monitors, identity.entity
                    ),
                })?;
        by_identity.insert(identity.clone(), count + 1);
        Ok(ConnectSlot {
            _permit: permit,
            identity,
            by_identity: Arc::clone(&self.by_identity),
        })
    }
}

/// One connect's place under [`ConnectLimits`], freed when dropped: by the blocking call that
/// connects, once librados returned (or when the call never started).
struct ConnectSlot {
    _permit: OwnedSemaphorePermit,
    identity: Identity,
    by_identity: Arc<Mutex<HashMap<Identity, usize>>>,
}

impl Drop for ConnectSlot {
    fn drop(&mut self) {
        let mut by_identity = self.by_identity.lock();
        if let Some(count) = by_identity.get_mut(&self.identity) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_identity.remove(&self.identity);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(user: &str) -> Identity {
        Identity {
            monitors: "10.0.0.1:3300".to_owned(),
            entity: format!("client.{user}"),
        }
    }

    #[test]
    fn connects_are_bounded_per_identity_and_in_total_and_freed_on_drop() {
        let slots = ConnectSlots::new(ConnectLimits {
            total: 3,
            per_identity: 2,
        });
        let a1 = slots.take(identity("a")).unwrap();
        let a2 = slots.take(identity("a")).unwrap();
        let e = slots.take(identity("a")).err().unwrap();
        assert!(e.is_connect_limit(), "{e}");
        assert!(e.to_string().contains("client.a"), "{e}");
        let b1 = slots.take(identity("b")).unwrap();
        let e = slots.take(identity("c")).err().unwrap();
        assert!(
            e.is_connect_limit() && e.to_string().contains("3 connects"),
            "{e}"
        );
        drop(a1);
        let a3 = slots.take(identity("a")).unwrap();
        drop((a2, a3, b1));
        assert!(slots.by_identity.lock().is_empty());
        assert_eq!(slots.total.available_permits(), 3);
    }
}
