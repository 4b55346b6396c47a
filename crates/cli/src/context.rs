//! A connection to one configured cluster, built on the controller's own [`State`] so lookups,
//! locks and deletes are the controller's code, not a second copy.

use std::sync::Arc;

use cluster_config::{ClusterConfig, ClusterConfigWatcher};
use controller::cluster::{Cluster, Pool};
use controller::secrets::{Identity, Source};
use controller::{Settings, State};

use crate::args::Shared;
use crate::error::{Error, Result};

/// Standing-credential source name, as errors of the controller quote it.
pub const SOURCE: Source<'static> = Source::Standing("sepia");

pub struct Context {
    pub state: Arc<State>,
    pub cluster: Arc<Cluster>,
    pub shared: Shared,
}

impl Context {
    pub async fn connect(shared: &Shared) -> Result<Context> {
        let path = &shared.cluster_config;
        let bytes = std::fs::read(path).map_err(|e| Error::Config {
            what: format!("cannot read {}: {e}", path.display()),
        })?;
        let config = ClusterConfig::parse(path, &bytes).map_err(|e| Error::Config {
            what: e.to_string(),
        })?;
        let cluster_id = match &shared.cluster_id {
            Some(id) => id.clone(),
            None => match config.entries() {
                [one] => one.cluster_id.clone(),
                entries => {
                    return Err(Error::Usage {
                        what: format!(
                            "--cluster-id is needed: {} names {} clusters",
                            path.display(),
                            entries.len()
                        ),
                    });
                }
            },
        };
        let settings = Settings {
            controller_credentials_dir: Some(shared.credentials_dir.clone()),
            ..Settings::default()
        };
        let state = State::new(settings, ClusterConfigWatcher::fixed(config));
        let cluster = state.cluster(&cluster_id, SOURCE).await?;
        Ok(Context {
            state,
            cluster,
            shared: shared.clone(),
        })
    }

    /// The identity of `--credentials-dir`, as a CSI request's secrets (the controller's
    /// delete paths take them).
    pub async fn secrets(&self) -> Result<csi::SecretMap> {
        let Identity { user, key } = self.state.standing.resolve(SOURCE).await?;
        let mut map = csi::SecretMap::new();
        map.insert(controller::secrets::USER_ID, user);
        map.insert(controller::secrets::USER_KEY, key.expose());
        Ok(map)
    }

    /// `--pool`, or a usage error naming what needs it.
    pub async fn pool(&self, needed_for: &str) -> Result<Pool> {
        let Some(name) = &self.shared.pool else {
            return Err(Error::Usage {
                what: format!("--pool is needed for {needed_for}"),
            });
        };
        self.cluster
            .pool(name)
            .await
            .map_err(|e| Error::ceph(format!("open pool {name}"), e))
    }
}
