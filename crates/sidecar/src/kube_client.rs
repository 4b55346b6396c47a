//! Kubernetes clients: configuration from `--kubeconfig` or the in-cluster service account,
//! throttled by `--kube-api-qps`/`--kube-api-burst`, tagged with a User-Agent naming the
//! component and replica (so API audit logs, and tests, can tell replicas apart).

pub mod rate_limit;

use std::path::Path;

use http::{HeaderName, HeaderValue};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::SidecarError;
use rate_limit::RateLimitLayer;

/// Reads the client configuration: the kubeconfig file when given (as upstream's
/// `--kubeconfig`), else the pod's service account.
///
/// # Errors
/// [`SidecarError::KubeConfig`] naming where it looked.
pub async fn load_config(kubeconfig: Option<&Path>) -> Result<Config, SidecarError> {
    match kubeconfig {
        Some(path) => {
            let fail = |message: String| SidecarError::KubeConfig {
                source_desc: format!("--kubeconfig {}", path.display()),
                message,
            };
            let file = Kubeconfig::read_from(path).map_err(|e| fail(e.to_string()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| fail(e.to_string()))
        }
        None => Config::incluster().map_err(|e| SidecarError::KubeConfig {
            source_desc: "in-cluster service account".to_owned(),
            message: e.to_string(),
        }),
    }
}

/// A client whose requests share one token bucket of `qps`/`burst`. Each call builds its own
/// connection pool, which is why leader election gets a client of its own: renewals must not
/// queue behind a busy controller's requests.
///
/// # Errors
/// [`SidecarError::KubeClient`] when the TLS or auth stack cannot be built from `config`.
pub fn throttled_client(
    mut config: Config,
    qps: f64,
    burst: u32,
    user_agent: &str,
) -> Result<Client, SidecarError> {
    if let Ok(value) = HeaderValue::from_str(user_agent) {
        config
            .headers
            .push((HeaderName::from_static("user-agent"), value));
    }
    let builder = ClientBuilder::try_from(config).map_err(SidecarError::KubeClient)?;
    Ok(builder.with_layer(&RateLimitLayer::new(qps, burst)).build())
}
