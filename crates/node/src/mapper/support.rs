//! Which mappers can work on this node, decided once at start-up from what the kernel and the
//! image offer, so `auto` is honest: a mapper counts only when both its kernel side and its
//! tool are present.

use std::path::{Path, PathBuf};

use crate::mapper_kind::MapperKind;

/// Why each mapper cannot work here (`None` = it can).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    krbd: Option<String>,
    nbd: Option<String>,
    fuse: Option<String>,
}

impl Support {
    /// Looks at the real system.
    pub fn detect() -> Self {
        let path = std::env::var_os("PATH").unwrap_or_default();
        Self::detect_in(Path::new("/"), &path)
    }

    /// Looks under `root` (tests point it at a fake tree) with `path` as `$PATH`.
    pub fn detect_in(root: &Path, path: &std::ffi::OsStr) -> Self {
        let at = |p: &str| root.join(p.trim_start_matches('/'));
        let tool = |name: &str| {
            std::env::split_paths(path)
                .map(|dir| dir.join(name))
                .any(|p| p.is_file())
        };
        let need = |checks: &[(bool, String)]| {
            checks
                .iter()
                .filter(|(ok, _)| !ok)
                .map(|(_, why)| why.clone())
                .reduce(|a, b| format!("{a}; {b}"))
        };
        let missing = |p: PathBuf| format!("{} is missing", p.display());
        Self {
            // `add_single_major` is what `rbd map` writes to; it exists once rbd.ko is loaded.
            krbd: need(&[
                (
                    at("/sys/bus/rbd/add_single_major").exists(),
                    format!(
                        "{} (rbd kernel module not loaded)",
                        missing(at("/sys/bus/rbd/add_single_major"))
                    ),
                ),
                (tool("rbd"), "rbd tool not found in PATH".into()),
            ]),
            nbd: need(&[
                (
                    at("/sys/module/nbd").exists() || at("/dev/nbd0").exists(),
                    "nbd kernel module not loaded (no /sys/module/nbd, no /dev/nbd0)".into(),
                ),
                (tool("rbd-nbd"), "rbd-nbd tool not found in PATH".into()),
            ]),
            fuse: need(&[
                (at("/dev/fuse").exists(), missing(at("/dev/fuse"))),
                (
                    at("/dev/loop-control").exists(),
                    missing(at("/dev/loop-control")),
                ),
                (tool("rbd-fuse"), "rbd-fuse tool not found in PATH".into()),
                (tool("losetup"), "losetup tool not found in PATH".into()),
            ]),
        }
    }

    /// Builds a support table directly (tests, or a node told exactly what it has).
    pub fn from_reasons(krbd: Option<String>, nbd: Option<String>, fuse: Option<String>) -> Self {
        Self { krbd, nbd, fuse }
    }

    pub fn reason(&self, kind: MapperKind) -> Option<&str> {
        match kind {
            MapperKind::Krbd => self.krbd.as_deref(),
            MapperKind::Nbd => self.nbd.as_deref(),
            MapperKind::Fuse => self.fuse.as_deref(),
        }
    }

    pub fn first_supported(&self) -> Option<MapperKind> {
        MapperKind::ALL
            .into_iter()
            .find(|k| self.reason(*k).is_none())
    }

    /// One line for logs and errors: each mapper and why it is (not) usable.
    pub fn summary(&self) -> String {
        MapperKind::ALL
            .iter()
            .map(|k| match self.reason(*k) {
                None => format!("{k}: usable"),
                Some(why) => format!("{k}: {why}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
