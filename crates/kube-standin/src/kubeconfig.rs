//! Kubeconfig and `kube::Config` pointing at a stand-in.
//!
//! A real sidecar binary started with `--kubeconfig <file>` reads the same file format as
//! against a cluster; only the server URL is plain `http://127.0.0.1:<port>`, which kube's
//! connector accepts (it is built `https_or_http`). The user entry carries a bearer token the
//! stand-in issued: its admin's, or a ServiceAccount's for a binary that must run under RBAC.

use std::path::Path;

use crate::error::StandInError;

const NAME: &str = "sepia-kube-standin";

/// The kubeconfig YAML for a stand-in at `url`.
pub(crate) fn render(url: &str, token: &str) -> String {
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
    token: {token}
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
pub(crate) fn write(url: &str, token: &str, path: &Path) -> Result<(), StandInError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // The file holds a bearer token: readable by its owner only.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(render(url, token).as_bytes()))
        .map_err(|source| StandInError::Kubeconfig {
            path: path.display().to_string(),
            source,
        })
}
