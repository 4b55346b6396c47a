//! Kubeconfig and `kube::Config` pointing at a stand-in.
//!
//! A real sidecar binary started with `--kubeconfig <file>` reads the same file format as
//! against a cluster; only the server URL is plain `http://127.0.0.1:<port>`, which kube's
//! connector accepts (it is built `https_or_http`). The token is a dummy: the stand-in does no
//! authentication, but a user entry with credentials keeps the file shaped like a real one.

use std::path::Path;

use crate::error::StandInError;

const NAME: &str = "sepia-kube-standin";

/// The kubeconfig YAML for a stand-in at `url`.
pub(crate) fn render(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {NAME}
  cluster:
    server: {url}
users:
- name: {NAME}
  user:
    token: dummy-token-the-stand-in-does-not-check
contexts:
- name: {NAME}
  context:
    cluster: {NAME}
    user: {NAME}
    namespace: default
current-context: {NAME}
"
    )
}

/// Write the kubeconfig to `path` (created or truncated).
pub(crate) fn write(url: &str, path: &Path) -> Result<(), StandInError> {
    std::fs::write(path, render(url)).map_err(|source| StandInError::Kubeconfig {
        path: path.display().to_string(),
        source,
    })
}
