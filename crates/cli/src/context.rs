//! A connection to one configured cluster, built on the controller's own [`State`] so lookups,
//! locks and deletes are the controller's code, not a second copy.

use std::sync::Arc;

use cluster_config::{ClusterConfig, ClusterConfigWatcher};
use controller::pool::cluster::{Cluster, Pool};
use controller::pool::connect;
use controller::secrets::{Identity, Source};
use controller::{Settings, State};

use crate::args::Shared;
use crate::error::{Error, Result};
use crate::kube::Kube;

/// Standing-credential source name, as errors of the controller quote it.
pub const SOURCE: Source<'static> = Source::Standing("sepia");

pub struct Context {
    pub state: Arc<State>,
    pub cluster: Arc<Cluster>,
    pub shared: Shared,
    /// With `--kubeconfig`.
    pub kube: Option<Kube>,
}

impl Context {
    pub async fn connect(shared: &Shared) -> Result<Context> {
        let config = load_config(&shared.cluster_config)?;
        let cluster_id = choose_cluster(&config, shared)?;
        let state = state(config, shared, Settings::default());
        let cluster = connect::cluster(&state, &cluster_id, SOURCE).await?;
        let kube = match &shared.kubeconfig {
            Some(path) => Some(Kube::connect(path).await?),
            None => None,
        };
        Ok(Context {
            state,
            cluster,
            shared: shared.clone(),
            kube,
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

/// The plugins' config.json at `path`, parsed.
pub fn load_config(path: &std::path::Path) -> Result<ClusterConfig> {
    let bytes = std::fs::read(path).map_err(|e| Error::Config {
        what: format!("cannot read {}: {e}", path.display()),
    })?;
    ClusterConfig::parse(path, &bytes).map_err(|e| Error::Config {
        what: e.to_string(),
    })
}

/// `--cluster-id`, or the config's only cluster.
pub fn choose_cluster(config: &ClusterConfig, shared: &Shared) -> Result<String> {
    if let Some(id) = &shared.cluster_id {
        return match config.get(id) {
            Ok(_) => Ok(id.clone()),
            Err(_) => Err(Error::Usage {
                what: format!(
                    "--cluster-id {id:?} is not in {}; it names: {}",
                    shared.cluster_config.display(),
                    cluster_ids(config)
                ),
            }),
        };
    }
    match config.entries() {
        [one] => Ok(one.cluster_id.clone()),
        _ => Err(Error::Usage {
            what: format!(
                "--cluster-id is needed: {} names the clusters {}",
                shared.cluster_config.display(),
                cluster_ids(config)
            ),
        }),
    }
}

fn cluster_ids(config: &ClusterConfig) -> String {
    let ids: Vec<&str> = config
        .entries()
        .iter()
        .map(|e| e.cluster_id.as_str())
        .collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

/// The controller's state for `config`, connecting as `--credentials-dir` says.
pub fn state(config: ClusterConfig, shared: &Shared, settings: Settings) -> Arc<State> {
    let settings = Settings {
        controller_credentials_dir: Some(shared.credentials_dir.clone()),
        ..settings
    };
    State::new(settings, ClusterConfigWatcher::fixed(config))
}

/// Whether object `oid` exists in `pool` (an entry object, before a removal re-checks it).
pub async fn object_exists(pool: &Pool, oid: &str) -> Result<bool> {
    object_exists_in(&pool.io, oid).await
}

/// Whether object `oid` exists in `io`'s pool and namespace.
pub async fn object_exists_in(io: &ceph::IoCtx, oid: &str) -> Result<bool> {
    io.exists(oid)
        .await
        .map_err(|e| Error::ceph(format!("stat {oid}"), e))
}
