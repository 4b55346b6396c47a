//! Finds the local test bed started by `scripts/bed.sh up` (a real single-node Ceph with cephx and a
//! JetStream-enabled nats-server on loopback) so integration tests talk to real services.
//!
//! Tests never skip when the bed is missing: [`Bed::get`] panics with the command that starts it.
//! A silently skipped test would be counted as passing, which is exactly what a test suite must
//! not do.
//!
//! The bed is found through the variables the bed's env file exports, or, when they are not in the
//! environment (a test run from an IDE), through the env file itself at
//! `${SEPIA_BED_DIR:-/tmp/sepia-bed}/env`.
//!
//! Module map:
//! - this file: [`Bed`], where the bed is and how to reach it (and its Ceph CLIs).
//! - [`process`]: child processes of real binaries (killed on drop, logged to a file), the
//!   workspace's binaries, free ports.
//! - [`http`]: GETs of a process's `/metrics`, `/healthz`, `/readyz`, and the address it logged.
//! - [`mounts`]: mounts a test left under its directory, for clean-up after a failure.
//! - [`nats`]: a nats-server of a test's own, for tests that stop and restart NATS or must
//!   not share the bed's stream.
//! - [`image_data`]: writing and reading bytes of an RBD image through the `rbd` CLI, so a
//!   test can prove a snapshot, restore or clone holds the data written before its cut.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // test support: a missing bed or a failed set-up must stop the test run loudly

pub mod http;
pub mod image_data;
pub mod mounts;
pub mod nats;
pub mod process;

pub use nats::NatsServer;
pub use process::{Process, free_port, workspace_binary};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where and how to reach the running bed.
#[derive(Clone)]
pub struct Bed {
    /// Monitor address list as librados takes it, e.g. `127.0.0.1:40123`.
    pub monitors: String,
    /// cephx user without the `client.` prefix (the bed's admin).
    pub user: String,
    /// cephx key of `user` (base64). Never print it.
    pub key: String,
    /// An RBD-initialised pool tests may use (each test in its own RADOS namespace).
    pub pool: String,
    /// The CephFS name.
    pub fs: String,
    /// `nats://127.0.0.1:port` of the JetStream server.
    pub nats_url: String,
    /// ceph.conf of the bed (with the admin keyring) for the `ceph`/`rbd`/`rados` CLIs.
    pub conf_path: PathBuf,
}

impl std::fmt::Debug for Bed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bed")
            .field("monitors", &self.monitors)
            .field("user", &self.user)
            .field("key", &"<redacted>")
            .field("pool", &self.pool)
            .field("fs", &self.fs)
            .field("nats_url", &self.nats_url)
            .field("conf_path", &self.conf_path)
            .finish()
    }
}

const VARS: [&str; 7] = [
    "SEPIA_CEPH_MONITORS",
    "SEPIA_CEPH_USER",
    "SEPIA_CEPH_KEY",
    "SEPIA_CEPH_POOL",
    "SEPIA_CEPH_FS",
    "SEPIA_NATS_URL",
    "CEPH_CONF",
];

impl Bed {
    /// The running bed. Panics (failing the test) when no bed can be found.
    pub fn get() -> &'static Bed {
        static BED: OnceLock<Bed> = OnceLock::new();
        BED.get_or_init(|| match Self::from_env().or_else(Self::from_env_file) {
            Some(bed) => bed,
            None => panic!(
                "the Sepia test bed is not running (no SEPIA_CEPH_* variables and no env file at {}); \
                 start it with `scripts/bed.sh up` (CI={})",
                env_file().display(),
                std::env::var("CI").unwrap_or_default()
            ),
        })
    }

    fn from_env() -> Option<Bed> {
        let vars: HashMap<String, String> = VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        Self::from_map(&vars)
    }

    fn from_env_file() -> Option<Bed> {
        let text = std::fs::read_to_string(env_file()).ok()?;
        let vars = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::from_map(&vars)
    }

    fn from_map(vars: &HashMap<String, String>) -> Option<Bed> {
        let get = |k: &str| vars.get(k).cloned();
        Some(Bed {
            monitors: get("SEPIA_CEPH_MONITORS")?,
            user: get("SEPIA_CEPH_USER")?,
            key: get("SEPIA_CEPH_KEY")?,
            pool: get("SEPIA_CEPH_POOL")?,
            fs: get("SEPIA_CEPH_FS")?,
            nats_url: get("SEPIA_NATS_URL")?,
            conf_path: get("CEPH_CONF")?.into(),
        })
    }

    /// A name no other test (in this or a parallel test process) uses: for RADOS namespaces, image
    /// names and request names, so tests can run side by side against one cluster.
    pub fn unique_name(&self, prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
    }

    /// Runs a Ceph CLI (`ceph`, `rbd`, `rados`) against the bed as its admin and returns stdout.
    /// For test set-up and for checking Ceph state independently of the code under test.
    pub fn cli(&self, program: &str, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cli_bytes(program, args)).into_owned()
    }

    /// [`Bed::cli`] for binary output (e.g. `rbd export … -`).
    pub fn cli_bytes(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("timeout")
            .arg("60")
            .arg(program)
            .args(args)
            .env("CEPH_CONF", &self.conf_path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if !out.status.success() {
            panic!(
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.stdout
    }
}

fn env_file() -> PathBuf {
    let dir = std::env::var("SEPIA_BED_DIR").unwrap_or_else(|_| "/tmp/sepia-bed".into());
    PathBuf::from(dir).join("env")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines_parse_into_a_bed() {
        let vars: HashMap<String, String> = VARS
            .iter()
            .map(|k| (k.to_string(), format!("v-{k}")))
            .collect();
        let bed = Bed::from_map(&vars).expect("all variables present");
        assert_eq!(bed.monitors, "v-SEPIA_CEPH_MONITORS");
        assert_eq!(bed.conf_path, PathBuf::from("v-CEPH_CONF"));
        assert!(!format!("{bed:?}").contains("v-SEPIA_CEPH_KEY"));
    }

    #[test]
    fn a_missing_variable_means_no_bed() {
        let vars: HashMap<String, String> = VARS[1..]
            .iter()
            .map(|k| (k.to_string(), "x".into()))
            .collect();
        assert!(Bed::from_map(&vars).is_none());
    }

    #[test]
    fn unique_names_differ() {
        let bed = Bed::from_map(
            &VARS
                .iter()
                .map(|k| (k.to_string(), "x".to_string()))
                .collect(),
        )
        .expect("bed");
        assert_ne!(bed.unique_name("ns"), bed.unique_name("ns"));
    }
}
