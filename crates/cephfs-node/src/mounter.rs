//! Which CephFS client mounts a volume: `ceph-fuse` (user space; any node with the binary) or
//! the kernel client (`mount -t ceph`; needs the ceph module). The volume context's `mounter`
//! picks one (ceph-csi's key and values); otherwise `--mounter` decides, `auto` meaning the
//! kernel client where the module is loaded and ceph-fuse elsewhere, as ceph-csi does.

use serde::{Deserialize, Serialize};

use node::NodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mounter {
    Fuse,
    Kernel,
}

impl Mounter {
    /// The volume context's `mounter` value.
    pub fn from_context(value: &str) -> Result<Self, NodeError> {
        match value {
            "fuse" => Ok(Mounter::Fuse),
            "kernel" => Ok(Mounter::Kernel),
            other => Err(NodeError::invalid(
                "volume_context.mounter",
                format!("{} is not one of fuse, kernel", csi::quote::quote(other)),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mounter::Fuse => "fuse",
            Mounter::Kernel => "kernel",
        }
    }

    /// The file system type the mount table shows for this mounter's mounts.
    pub fn fs_type(self) -> &'static str {
        match self {
            Mounter::Fuse => "fuse.ceph-fuse",
            Mounter::Kernel => "ceph",
        }
    }
}

impl std::fmt::Display for Mounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a mount is made, in words for an error: `read-only` or `read-write`.
pub fn rw(read_only: bool) -> &'static str {
    if read_only { "read-only" } else { "read-write" }
}

/// `--mounter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MounterChoice {
    Auto,
    Fuse,
    Kernel,
}

/// What this node can mount with, found once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// `Err(why)` when ceph-fuse cannot run here.
    pub fuse: Result<(), String>,
    /// `Err(why)` when the kernel has no CephFS client.
    pub kernel: Result<(), String>,
}

impl Support {
    /// Looks for `ceph-fuse` on PATH and `ceph` in /proc/filesystems.
    pub fn detect() -> Self {
        let fuse = match std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).find(|dir| dir.join("ceph-fuse").is_file())
        }) {
            Some(_) => Ok(()),
            None => Err("ceph-fuse is not on PATH".to_string()),
        };
        let kernel = match std::fs::read_to_string("/proc/filesystems") {
            Ok(text) if has_ceph(&text) => Ok(()),
            Ok(_) => {
                Err("the ceph kernel module is not loaded (no ceph in /proc/filesystems)".into())
            }
            Err(e) => Err(format!("/proc/filesystems: {e}")),
        };
        Self { fuse, kernel }
    }

    fn of(&self, mounter: Mounter) -> &Result<(), String> {
        match mounter {
            Mounter::Fuse => &self.fuse,
            Mounter::Kernel => &self.kernel,
        }
    }

    /// The mounter for a volume: the context's when set, else the flag's choice.
    pub fn select(
        &self,
        choice: MounterChoice,
        requested: Option<Mounter>,
    ) -> Result<Mounter, NodeError> {
        let mounter = match (requested, choice) {
            (Some(mounter), _) => mounter,
            (None, MounterChoice::Fuse) => Mounter::Fuse,
            (None, MounterChoice::Kernel) => Mounter::Kernel,
            (None, MounterChoice::Auto) if self.kernel.is_ok() => Mounter::Kernel,
            (None, MounterChoice::Auto) => Mounter::Fuse,
        };
        match self.of(mounter) {
            Ok(()) => Ok(mounter),
            Err(reason) => Err(NodeError::MapperUnavailable {
                mapper: format!("{mounter} (the CephFS mounter)"),
                reason: reason.clone(),
            }),
        }
    }

    /// Some mounter works here.
    pub fn any(&self) -> bool {
        self.fuse.is_ok() || self.kernel.is_ok()
    }

    pub fn summary(&self) -> String {
        let state = |r: &Result<(), String>| match r {
            Ok(()) => "yes".to_string(),
            Err(why) => format!("no ({why})"),
        };
        format!(
            "fuse: {}, kernel: {}",
            state(&self.fuse),
            state(&self.kernel)
        )
    }
}

/// Whether /proc/filesystems lists the kernel client (`nodev\tceph`).
fn has_ceph(text: &str) -> bool {
    text.lines()
        .any(|line| line.split_whitespace().last() == Some("ceph"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support(fuse: bool, kernel: bool) -> Support {
        let r = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err("absent".to_string())
            }
        };
        Support {
            fuse: r(fuse),
            kernel: r(kernel),
        }
    }

    #[test]
    fn the_context_wins_and_auto_prefers_the_kernel() {
        let both = support(true, true);
        assert_eq!(
            both.select(MounterChoice::Auto, None).unwrap(),
            Mounter::Kernel
        );
        assert_eq!(
            both.select(MounterChoice::Fuse, None).unwrap(),
            Mounter::Fuse
        );
        assert_eq!(
            both.select(MounterChoice::Fuse, Some(Mounter::Kernel))
                .unwrap(),
            Mounter::Kernel
        );
        let fuse_only = support(true, false);
        assert_eq!(
            fuse_only.select(MounterChoice::Auto, None).unwrap(),
            Mounter::Fuse
        );
        assert!(matches!(
            fuse_only.select(MounterChoice::Auto, Some(Mounter::Kernel)),
            Err(NodeError::MapperUnavailable { .. })
        ));
        assert!(fuse_only.select(MounterChoice::Kernel, None).is_err());
    }

    #[test]
    fn context_values_are_ceph_csis() {
        assert_eq!(Mounter::from_context("fuse").unwrap(), Mounter::Fuse);
        assert_eq!(Mounter::from_context("kernel").unwrap(), Mounter::Kernel);
        assert!(Mounter::from_context("nfs").is_err());
        assert!(has_ceph("nodev\tsysfs\nnodev\tceph\n"));
        assert!(!has_ceph("nodev\tsysfs\nnodev\tfuse\n"));
    }
}
