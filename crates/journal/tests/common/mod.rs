//! Shared fixtures of the journal's integration tests: a connection to the local bed, a fresh
//! RADOS namespace per test, and a dump of every object and omap key in it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::BTreeMap;

use ceph::{Cluster, Credentials, IoCtx, Timeouts};
use journal::{Config, Journal, Kind};
use sepia_testbed::Bed;

/// Every object of a namespace with all its omap keys (raw values).
pub type State = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// A test's own namespace in the bed's pool; its objects are removed on drop.
pub struct Ns {
    pub cluster: Cluster,
    pub io: IoCtx,
    pub name: String,
    pub pool: String,
}

impl Ns {
    pub async fn new(prefix: &str) -> Ns {
        let bed = Bed::get();
        let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
        let cluster = Cluster::connect(&creds, &Timeouts::default())
            .await
            .expect("connect to the bed");
        let name = bed.unique_name(prefix);
        let io = cluster.ioctx(&bed.pool, &name).await.expect("ioctx");
        Ns {
            cluster,
            io,
            name,
            pool: bed.pool.clone(),
        }
    }

    /// The same namespace in another pool (for split journal/image pools).
    pub async fn sibling(&self, pool: &str) -> Ns {
        let io = self.cluster.ioctx(pool, &self.name).await.expect("ioctx");
        Ns {
            cluster: self.cluster.clone(),
            io,
            name: self.name.clone(),
            pool: pool.to_owned(),
        }
    }

    pub fn journal(&self, kind: Kind, config: &Config) -> Journal {
        Journal::new(kind, self.cluster.clone(), self.io.clone(), config).unwrap()
    }

    /// The namespace's complete omap content, read with plain librados calls.
    pub async fn state(&self) -> State {
        state_of(&self.io).await
    }

    /// Plain omap write, as ceph-csi (or `rados setomapval`) would do it: creates the object.
    pub async fn put(&self, oid: &str, pairs: &[(&str, &str)]) {
        let kvs: Vec<(&str, &[u8])> = pairs.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        self.io.omap_set_creating(oid, &kvs).await.unwrap();
    }

    /// `rados -p <pool> -N <ns> <args>` against the bed.
    pub fn rados(&self, args: &[&str]) -> String {
        let bed = Bed::get();
        let mut full = vec!["-p", self.pool.as_str(), "-N", self.name.as_str()];
        full.extend_from_slice(args);
        bed.cli("rados", &full)
    }
}

pub async fn state_of(io: &IoCtx) -> State {
    let mut state = State::new();
    for oid in io.list_objects().await.unwrap() {
        let mut keys = BTreeMap::new();
        let mut after = String::new();
        loop {
            let (page, more) = io.omap_list(&oid, &after, "", 1000).await.unwrap();
            if let Some((last, _)) = page.last() {
                after = last.clone();
            }
            keys.extend(page);
            if !more {
                break;
            }
        }
        state.insert(oid, keys);
    }
    state
}

/// Builds an expected [`State`] from text.
pub fn expect(objects: &[(&str, &[(&str, &str)])]) -> State {
    objects
        .iter()
        .map(|(oid, pairs)| {
            (
                (*oid).to_owned(),
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                    .collect(),
            )
        })
        .collect()
}

/// Renders a state as text for readable assertion failures.
pub fn show(state: &State) -> String {
    let mut out = String::new();
    for (oid, keys) in state {
        out.push_str(oid);
        out.push('\n');
        for (key, value) in keys {
            out.push_str(&format!("  {key} = {}\n", String::from_utf8_lossy(value)));
        }
    }
    out
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Best effort, also after a failed assertion: a test's namespace must not outlive it.
        let bed = Bed::get();
        let pool = self.pool.as_str();
        let listing = std::process::Command::new("timeout")
            .args(["60", "rados", "-p", pool, "-N", &self.name, "ls"])
            .env("CEPH_CONF", &bed.conf_path)
            .output();
        let Ok(listing) = listing else { return };
        for oid in String::from_utf8_lossy(&listing.stdout).lines() {
            let _ = std::process::Command::new("timeout")
                .args(["60", "rados", "-p", pool, "-N", &self.name, "rm", oid])
                .env("CEPH_CONF", &bed.conf_path)
                .output();
        }
    }
}
