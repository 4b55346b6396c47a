//! Staging and target paths as kubelet sends them, and nothing else: absolute, without NUL
//! or `..`, and below kubelet's root directory (`--kubelet-root`) once every symlink on the way
//! is followed. The plugin runs as root with the host's mounts; a path that climbs out of
//! kubelet's directory, directly or through a symlink, would have it mount, format or
//! unmount host paths, so such a request is refused with INVALID_ARGUMENT before anything
//! is touched.
//!
//! Paths are resolved one component at a time. A component that is a mount point (per the
//! mount table) is taken as it is, never `stat`ed: on a dead or stuck FUSE mount a `stat`
//! fails or hangs, while the mount table answers. The path handed back is the resolved one, the
//! form the mount table shows, and every later step uses it.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use csi::quote::quote;

use crate::error::NodeError;
use crate::mount::mountinfo;
use crate::syscall;

/// Linux' PATH_MAX: a longer path is never one kubelet made.
const MAX_PATH_BYTES: usize = 4096;

/// What the path is for, which decides what may already be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// NodeStage/NodeUnstage/NodePublish `staging_target_path`: a directory (or not yet there);
    /// never a file, never a mount point (the stage record is written into it).
    Staging,
    /// NodePublish/NodeUnpublish `target_path`: a directory, a file (block), a mount, or missing.
    Target,
    /// NodeGetVolumeStats/NodeExpandVolume `volume_path`: whatever is there; the ownership
    /// check decides.
    Volume,
}

/// kubelet's root directory, as configured.
#[derive(Debug, Clone)]
pub struct KubeletRoot {
    root: PathBuf,
}

/// What the last component of a resolved path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Missing,
    Directory,
    File,
    MountPoint,
    Other,
}

impl KubeletRoot {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The resolved form of `raw` (the request's `field`), or INVALID_ARGUMENT saying which rule
    /// it breaks.
    pub async fn confine(
        &self,
        field: &'static str,
        raw: &str,
        role: Role,
    ) -> Result<PathBuf, NodeError> {
        let refuse = |rule: String| NodeError::invalid(field, format!("{} {rule}", quote(raw)));
        if raw.contains('\0') {
            return Err(refuse("contains a NUL byte".into()));
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(refuse(format!("is longer than {MAX_PATH_BYTES} bytes")));
        }
        let path = Path::new(raw);
        if !path.is_absolute() {
            return Err(refuse("is not an absolute path".into()));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(refuse("contains a '..' component".into()));
        }
        let root = self.root.clone();
        let owned = path.to_path_buf();
        let resolved = syscall::blocking_raw("resolve", path, move || resolve(&root, &owned))
            .await?
            .map_err(|e| match e.kind() {
                ErrorKind::PermissionDenied | ErrorKind::Other => refuse(e.to_string()),
                _ => NodeError::io("resolve", path, &e),
            })?;
        let (resolved, found, root) = resolved;
        if !resolved.starts_with(&root) || resolved == root {
            return Err(refuse(format!(
                "is not below the kubelet root {} (it resolves to {})",
                root.display(),
                quote(&resolved.to_string_lossy())
            )));
        }
        match (role, found) {
            (Role::Staging, Found::File | Found::Other) => Err(refuse("is not a directory".into())),
            (Role::Staging, Found::MountPoint) => Err(refuse(
                "is a mount point; a staging path is a plain directory".into(),
            )),
            (Role::Target, Found::Other) => {
                Err(refuse("is neither a directory nor a regular file".into()))
            }
            _ => Ok(resolved),
        }
    }
}

/// Resolves `path` (absolute, no `..`) component by component, following symlinks, and returns
/// it with what its last component is and the canonical kubelet root. A symlink that leads
/// nowhere is refused (`ErrorKind::Other`): following it later would create whatever it names.
fn resolve(root: &Path, path: &Path) -> std::io::Result<(PathBuf, Found, PathBuf)> {
    let root = match std::fs::canonicalize(root) {
        Ok(canonical) => canonical,
        Err(e) if e.kind() == ErrorKind::NotFound => root.to_path_buf(),
        Err(e) => return Err(e),
    };
    let mounts: HashSet<PathBuf> =
        mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo")?)
            .into_iter()
            .map(|e| e.mount_point)
            .collect();
    let mut current = PathBuf::from("/");
    let mut found = Found::Directory;
    let mut parts = path.components().filter_map(|c| match c {
        Component::Normal(part) => Some(part),
        _ => None,
    });
    while let Some(part) = parts.next() {
        let candidate = current.join(part);
        if mounts.contains(&candidate) {
            current = candidate;
            found = Found::MountPoint;
            continue;
        }
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                current = candidate;
                current.extend(parts);
                return Ok((current, Found::Missing, root));
            }
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            current = std::fs::canonicalize(&candidate).map_err(|e| {
                std::io::Error::other(format!(
                    "leads through the symlink {}, which resolves nowhere ({e})",
                    candidate.display()
                ))
            })?;
            found = if mounts.contains(&current) {
                Found::MountPoint
            } else {
                kind(&std::fs::metadata(&current)?)
            };
        } else {
            current = candidate;
            found = kind(&meta);
        }
    }
    Ok((current, found, root))
}

fn kind(meta: &std::fs::Metadata) -> Found {
    if meta.is_dir() {
        Found::Directory
    } else if meta.is_file() {
        Found::File
    } else {
        Found::Other
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
        kubelet: KubeletRoot,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("kubelet");
        let outside = base.join("host");
        std::fs::create_dir_all(root.join("plugins/x/globalmount")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        Fixture {
            _dir: dir,
            kubelet: KubeletRoot::new(root.clone()),
            root,
            outside,
        }
    }

    async fn refused(k: &KubeletRoot, raw: &str, role: Role) -> String {
        match k.confine("staging_target_path", raw, role).await {
            Err(NodeError::InvalidField { field, rule }) => {
                assert_eq!(field, "staging_target_path");
                rule
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn paths_below_the_root_resolve_to_themselves() {
        let f = fixture();
        let staging = f.root.join("plugins/x/globalmount");
        let got = f
            .kubelet
            .confine("f", &staging.display().to_string(), Role::Staging)
            .await
            .unwrap();
        assert_eq!(got, staging);
        // Not there yet is fine: kubelet leaves the target to the plugin.
        let target = f.root.join("pods/p/volumes/v/mount");
        let got = f
            .kubelet
            .confine("f", &target.display().to_string(), Role::Target)
            .await
            .unwrap();
        assert_eq!(got, target);
        // A symlink that stays inside the root is followed.
        symlink(f.root.join("plugins"), f.root.join("plugins-link")).unwrap();
        let got = f
            .kubelet
            .confine(
                "f",
                &f.root
                    .join("plugins-link/x/globalmount")
                    .display()
                    .to_string(),
                Role::Staging,
            )
            .await
            .unwrap();
        assert_eq!(got, staging);
    }

    #[tokio::test]
    async fn a_kubelet_root_that_is_a_symlink_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let real = base.join("data/kubelet");
        std::fs::create_dir_all(real.join("pods")).unwrap();
        symlink(&real, base.join("kubelet")).unwrap();
        let kubelet = KubeletRoot::new(base.join("kubelet"));
        let raw = base.join("kubelet/pods/p/mount");
        let got = kubelet
            .confine("target_path", &raw.display().to_string(), Role::Target)
            .await
            .unwrap();
        assert_eq!(got, real.join("pods/p/mount"));
        let beside = base.join("data/other");
        std::fs::create_dir_all(&beside).unwrap();
        assert!(
            kubelet
                .confine("target_path", &beside.display().to_string(), Role::Target)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn paths_kubelet_never_sends_are_refused() {
        let f = fixture();
        let k = &f.kubelet;
        assert!(
            refused(k, "relative/path", Role::Volume)
                .await
                .contains("not an absolute")
        );
        let dotdot = format!("{}/plugins/../../host", f.root.display());
        assert!(refused(k, &dotdot, Role::Staging).await.contains("'..'"));
        let nul = format!("{}/plugins\0x", f.root.display());
        assert!(refused(k, &nul, Role::Staging).await.contains("NUL"));
        assert!(
            refused(k, "/", Role::Volume)
                .await
                .contains("not below the kubelet root")
        );
        assert!(
            refused(k, "/etc/shadow", Role::Volume)
                .await
                .contains("not below")
        );
        let root = f.root.display().to_string();
        assert!(refused(k, &root, Role::Volume).await.contains("not below"));
        // Symlinks out of the root, as a parent or as the path itself.
        symlink(&f.outside, f.root.join("escape")).unwrap();
        let through = format!("{root}/escape/globalmount");
        assert!(
            refused(k, &through, Role::Staging)
                .await
                .contains("resolves to")
        );
        let itself = format!("{root}/escape");
        assert!(
            refused(k, &itself, Role::Target)
                .await
                .contains("resolves to")
        );
        symlink(f.outside.join("nowhere"), f.root.join("dangling")).unwrap();
        let dangling = format!("{root}/dangling");
        assert!(
            refused(k, &dangling, Role::Target)
                .await
                .contains("resolves nowhere")
        );
        // A regular file as staging path.
        std::fs::write(f.root.join("file"), b"x").unwrap();
        let file = format!("{root}/file");
        assert!(
            refused(k, &file, Role::Staging)
                .await
                .contains("not a directory")
        );
        // A huge path is refused, and quoted capped.
        let huge = format!("{root}/{}", "a/".repeat(5000));
        let rule = refused(k, &huge, Role::Staging).await;
        assert!(
            rule.contains("longer than 4096") && rule.len() < 600,
            "{rule}"
        );
    }
}
