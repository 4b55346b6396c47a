//! What a CephFS request shares: the controller state of the RBD side (settings, cluster
//! config, connections, locks, failpoints) plus the subvolume groups this process has made
//! sure of, so CreateVolume asks the mgr once per group and process.

use std::collections::HashSet;
use std::sync::Arc;

use controller::error::Result;
use controller::state::State;
use parking_lot::Mutex;

use crate::fs::Fs;

pub struct Driver {
    pub state: Arc<State>,
    groups: Mutex<HashSet<String>>,
}

impl Driver {
    pub fn new(state: Arc<State>) -> Arc<Driver> {
        Arc::new(Driver {
            state,
            groups: Mutex::new(HashSet::new()),
        })
    }

    /// Creates `fs`'s subvolume group unless this process already did.
    pub async fn ensure_group(&self, fs: &Fs) -> Result<()> {
        let key = group_key(fs);
        if self.groups.lock().contains(&key) {
            return Ok(());
        }
        fs.ensure_group().await?;
        self.groups.lock().insert(key);
        Ok(())
    }

    /// Forgets that `fs`'s group was made (an admin removed it: the mgr said ENOENT), so the
    /// next CreateVolume makes it again.
    pub fn forget_group(&self, fs: &Fs) {
        self.groups.lock().remove(&group_key(fs));
    }
}

fn group_key(fs: &Fs) -> String {
    format!("{}/{}/{}", fs.cluster.id, fs.name, fs.group)
}
