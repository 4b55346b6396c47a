//! DeleteVolume's "in use" check without false alarms.
//!
//! Deleting a snapshot queues the mgr's background purge of its clone image, and the mgr's
//! `rbd_support` module opens the clone's *parent* — the volume — to detach it: for a moment
//! the volume has a watcher nobody mapped. A DeleteVolume right behind the DeleteSnapshot (what
//! Kubernetes does when a namespace is deleted) then sees two watchers. Watchers whose address
//! belongs to an mgr module's RADOS client (`ceph mgr dump` → `active_clients`) are not users.
//! The mgr's clients are looked up once and cached, so the check stays one `watchers_list`
//! call.

use ceph::rbd::Watcher;
use serde_json::{Value, json};

use super::Floor;
use crate::outcome::{OpError, OpResult};

impl Floor {
    /// How many of `watchers` (listed through our own open handle) are real users: neither our
    /// handle nor an mgr module. The mgr's client nonces are cached: they change only when the
    /// mgr restarts, and a watcher they do not explain triggers one refresh before the volume
    /// counts as in use.
    pub(super) async fn users_among(&self, watchers: &[Watcher]) -> OpResult<usize> {
        if watchers.len() <= 1 {
            return Ok(0);
        }
        let cached = self.mgr_nonces.lock().clone();
        if count_users(watchers, &cached) == 0 {
            return Ok(0);
        }
        let fresh = self.fetch_mgr_nonces().await?;
        let users = count_users(watchers, &fresh);
        *self.mgr_nonces.lock() = fresh;
        Ok(users)
    }

    async fn fetch_mgr_nonces(&self) -> OpResult<Vec<u64>> {
        let dump = self
            .cluster
            .mon_command(json!({"prefix": "mgr dump", "format": "json"}))
            .await
            .map_err(|e| OpError::from_ceph("mgr dump", &e))?
            .json::<Value>()
            .map_err(|e| OpError::from_ceph("mgr dump", &e))?;
        Ok(mgr_client_nonces(&dump))
    }
}

/// Watchers that are neither an mgr module nor (one of them) our own handle.
fn count_users(watchers: &[Watcher], mgr_nonces: &[u64]) -> usize {
    watchers
        .iter()
        .filter(|w| {
            !mgr_nonces
                .iter()
                .any(|nonce| w.addr.ends_with(&format!("/{nonce}")))
        })
        .count()
        .saturating_sub(1)
}

/// Nonces of the mgr modules' RADOS clients, from `ceph mgr dump` JSON: a watcher's address is
/// `<ip>:<port>/<nonce>`.
pub fn mgr_client_nonces(dump: &Value) -> Vec<u64> {
    dump.get("active_clients")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|client| client.get("addrvec")?.as_array())
        .flatten()
        .filter_map(|addr| addr.get("nonce")?.as_u64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_come_from_every_active_mgr_client() {
        let dump = json!({
            "active_addrs": {"addrvec": [{"type": "v2", "addr": "127.0.0.1:6816", "nonce": 8968}]},
            "active_clients": [
                {"name": "devicehealth", "addrvec": [{"type": "v2", "addr": "127.0.0.1:0", "nonce": 3547250261u64}]},
                {"name": "rbd_support", "addrvec": [{"type": "v2", "addr": "127.0.0.1:0", "nonce": 452951039}]},
            ],
        });
        assert_eq!(mgr_client_nonces(&dump), [3547250261, 452951039]);
        assert!(mgr_client_nonces(&json!({})).is_empty());
    }

    #[test]
    fn our_watch_and_the_mgr_s_are_not_users() {
        let watcher = |addr: &str| Watcher {
            addr: addr.into(),
            id: 1,
            cookie: 1,
        };
        let ours = watcher("127.0.0.1:0/1111");
        let mgr = watcher("127.0.0.1:0/452951039");
        let node = watcher("10.0.0.7:0/2222");
        assert_eq!(count_users(std::slice::from_ref(&ours), &[]), 0);
        assert_eq!(count_users(&[ours.clone(), mgr.clone()], &[452951039]), 0);
        assert_eq!(
            count_users(&[ours.clone(), mgr.clone()], &[]),
            1,
            "unknown mgr"
        );
        assert_eq!(count_users(&[ours, mgr, node], &[452951039]), 1);
    }
}
