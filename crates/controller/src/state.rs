//! Everything a request needs besides its own arguments, owned by the service and passed by
//! reference: settings, the cluster configuration, Ceph connections, locks (in-process tables
//! and the RADOS locker) and failpoints.
//! No globals: tests build as many independent controllers as they like.

use std::sync::Arc;

use ceph::ConnectionCache;
use cluster_config::ClusterConfigWatcher;
use failpoint::Failpoints;
use journal::OperationLocks;

use crate::error::Result;
use crate::id_locks::IdLocks;
use crate::secrets::StandingCredentials;
use crate::settings::Settings;

/// Shared state of one controller.
pub struct State {
    pub settings: Settings,
    pub config: ClusterConfigWatcher,
    pub connections: ConnectionCache,
    pub standing: StandingCredentials,
    /// Request names (one CreateVolume/CreateSnapshot per name at a time) and snapshot
    /// preparation (the background half of CreateSnapshot).
    pub names: OperationLocks,
    /// Volume and snapshot ids (shared: snapshot/clone/restore; exclusive: delete/expand).
    pub ids: IdLocks,
    /// Takes the RADOS half of every lock (see [`crate::locks`]), naming this process.
    pub locker: ceph::Locker,
    pub journal: journal::Config,
    /// `cluster/pool/namespace` whose trash purge schedule this process has added
    /// (`--trash-purge=schedule`); the lock is never held across an await.
    pub purge_schedules: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Background work requests wait for (flattens, CephFS clones), announced when it ends.
    pub background: crate::background_watch::Watches,
}

impl State {
    /// Must be called inside a tokio runtime (the connection cache starts its sweeper there).
    pub fn new(settings: Settings, config: ClusterConfigWatcher) -> Arc<State> {
        let connections = ConnectionCache::with_limits(
            settings.ceph_timeouts.clone(),
            settings.connection_idle,
            settings.connect_limits,
        );
        let standing = StandingCredentials::new(settings.controller_credentials_dir.clone());
        let locker = ceph::Locker::new(owner_name(), settings.lock_duration);
        let journal = journal::Config {
            instance: settings.instance_id.clone(),
            failpoints: settings.failpoints.clone(),
            // The journal's own waiting locks; ours use other keys and other semantics.
            locks: OperationLocks::new(),
        };
        Arc::new(State {
            config,
            connections,
            standing,
            names: OperationLocks::new(),
            ids: IdLocks::new(),
            locker,
            journal,
            settings,
            purge_schedules: Default::default(),
            background: Default::default(),
        })
    }

    pub fn failpoints(&self) -> &Failpoints {
        &self.settings.failpoints
    }

    /// Reaches failpoint `name` (a no-op unless a test armed it).
    pub async fn failpoint(&self, name: &'static str) -> Result<()> {
        Ok(self.settings.failpoints.hit(name).await?)
    }

    /// [`State::failpoint`] for steps whose caller may have no failpoint (rollbacks).
    pub async fn maybe_failpoint(&self, name: Option<&'static str>) -> Result<()> {
        match name {
            Some(name) => self.failpoint(name).await,
            None => Ok(()),
        }
    }

    /// Snapshot of the configured clusters.
    pub fn clusters(&self) -> Arc<cluster_config::ClusterConfig> {
        self.config.current()
    }
}

/// `<host>/<pid>/<random>`: names this process in every lock cookie, so `rados lock info`
/// shows who holds what, and two processes (or two controllers in one test process) never
/// share a cookie.
pub fn owner_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buffer of buf.len() bytes owned here; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".to_owned()
    };
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_differ_between_calls() {
        let (a, b) = (owner_name(), owner_name());
        assert_ne!(a, b);
        assert!(a.contains(&format!("/{}/", std::process::id())), "{a}");
    }
}
