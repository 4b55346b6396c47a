//! File systems on a mapped device: detect, create (only on a blank device), mount options,
//! online grow.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::NodeError;
use crate::process::ChildCommand;

/// The file systems the node creates and grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsType {
    Ext4,
    Xfs,
}

impl FsType {
    /// From the capability's `fs_type`; empty means ext4, the provisioner's default too.
    pub fn parse(fs_type: &str) -> Result<Self, NodeError> {
        match fs_type {
            "" | "ext4" => Ok(FsType::Ext4),
            "xfs" => Ok(FsType::Xfs),
            other => Err(NodeError::invalid(
                "volume_capability.mount.fs_type",
                format!(
                    "{} is not supported (ext4 or xfs)",
                    csi::quote::quote(other)
                ),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
        }
    }

    /// ceph-csi's defaults: no reserved blocks and lazy init for ext4 (mkfs of a thin RBD image
    /// must not write the whole inode table), `-K` (no discard of a fresh, empty image) for xfs.
    fn default_mkfs_options(self) -> &'static [&'static str] {
        match self {
            FsType::Ext4 => &["-m0", "-Enodiscard,lazy_itable_init=1,lazy_journal_init=1"],
            FsType::Xfs => &["-K"],
        }
    }

    /// Options every mount of this type gets. xfs refuses a second file system with the same
    /// UUID, which every clone and restored snapshot has, unless told `nouuid`.
    pub fn mount_options(self) -> &'static [&'static str] {
        match self {
            FsType::Ext4 => &[],
            FsType::Xfs => &["nouuid"],
        }
    }

    /// The `mkfs` command for `device`: `custom` (the volume context's `mkfsOptions`)
    /// replaces the defaults, as in ceph-csi. ext4 always gets `-F` because a whole device
    /// makes mke2fs ask for confirmation, and there is nobody to answer.
    pub fn mkfs_command(
        self,
        device: &str,
        custom: Option<&[String]>,
        deadline: Duration,
    ) -> ChildCommand {
        let mut cmd = ChildCommand::new(format!("mkfs.{}", self.name()), deadline);
        if self == FsType::Ext4 {
            cmd = cmd.arg("-F");
        }
        cmd = match custom {
            Some(options) => cmd.args(options),
            None => cmd.args(self.default_mkfs_options()),
        };
        cmd.arg(device)
    }

    /// Grows the mounted file system to its device's size: resize2fs takes the device,
    /// xfs_growfs the mount point.
    pub fn grow_command(
        self,
        device: &str,
        mount_point: &Path,
        deadline: Duration,
    ) -> ChildCommand {
        match self {
            FsType::Ext4 => ChildCommand::new("resize2fs", deadline).arg(device),
            FsType::Xfs => ChildCommand::new("xfs_growfs", deadline).arg(mount_point),
        }
    }
}

/// Size in bytes of the ext file system on `device`, from its superblock (`dumpe2fs -h`).
pub async fn ext4_size(device: &str, deadline: Duration) -> Result<u64, NodeError> {
    let cmd = ChildCommand::new("dumpe2fs", deadline).args(["-h", device]);
    let output = cmd.run().await?;
    parse_ext4_size(&output.stdout).ok_or_else(|| NodeError::Device {
        step: "dumpe2fs",
        message: format!("no block count/size in the superblock of {device}"),
    })
}

fn parse_ext4_size(dump: &str) -> Option<u64> {
    let field = |name: &str| {
        dump.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some(field("Block count:")? * field("Block size:")?)
}

/// The check resize2fs insists on before an offline resize; `-p` only makes safe repairs.
pub fn fsck_command(device: &str, deadline: Duration) -> ChildCommand {
    ChildCommand::new("e2fsck", deadline).args(["-f", "-p", device])
}

/// What is on a device according to blkid's low-level probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Blank,
    Filesystem(String),
    PartitionTable(String),
}

/// Probes `device` without trusting the blkid cache (`-p`). blkid exits 2 when it finds no
/// signature at all: the only state in which the node will run mkfs.
pub async fn probe(device: &str, deadline: Duration) -> Result<Content, NodeError> {
    let cmd = ChildCommand::new("blkid", deadline)
        .args(["-p", "-s", "TYPE", "-s", "PTTYPE", "-o", "export"])
        .arg(device);
    let output = cmd.output().await?;
    match output.code() {
        Some(2) => Ok(Content::Blank),
        Some(0) => Ok(parse_probe(&output.stdout)),
        _ => Err(cmd.failed(&output)),
    }
}

fn parse_probe(stdout: &str) -> Content {
    let mut fs = None;
    let mut pt = None;
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("TYPE=") {
            fs = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("PTTYPE=") {
            pt = Some(v.to_string());
        }
    }
    match (fs, pt) {
        (Some(fs), _) => Content::Filesystem(fs),
        (None, Some(pt)) => Content::PartitionTable(pt),
        // A signature blkid will not name (exit 0, nothing printed): not blank, not ours.
        (None, None) => Content::PartitionTable("unknown signature".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_type_defaults_to_ext4_and_rejects_others() {
        assert_eq!(FsType::parse("").unwrap(), FsType::Ext4);
        assert_eq!(FsType::parse("xfs").unwrap(), FsType::Xfs);
        let err = FsType::parse("btrfs").unwrap_err();
        assert!(
            err.to_string().contains("volume_capability.mount.fs_type"),
            "{err}"
        );
    }

    #[test]
    fn ext4_mkfs_uses_ceph_csi_defaults() {
        let cmd = FsType::Ext4.mkfs_command("/dev/loop7", None, Duration::from_secs(1));
        assert_eq!(
            cmd.command_line(),
            "mkfs.ext4 -F -m0 -Enodiscard,lazy_itable_init=1,lazy_journal_init=1 /dev/loop7"
        );
    }

    #[test]
    fn custom_mkfs_options_replace_the_defaults() {
        let custom = vec!["-b".to_string(), "1024".to_string()];
        let cmd = FsType::Xfs.mkfs_command("/dev/rbd0", Some(&custom), Duration::from_secs(1));
        assert_eq!(cmd.command_line(), "mkfs.xfs -b 1024 /dev/rbd0");
        let xfs = FsType::Xfs.mkfs_command("/dev/rbd0", None, Duration::from_secs(1));
        assert_eq!(xfs.command_line(), "mkfs.xfs -K /dev/rbd0");
    }

    #[test]
    fn grow_targets_device_for_ext4_and_mount_point_for_xfs() {
        let d = Duration::from_secs(1);
        assert_eq!(
            FsType::Ext4
                .grow_command("/dev/loop1", Path::new("/m"), d)
                .command_line(),
            "resize2fs /dev/loop1"
        );
        assert_eq!(
            FsType::Xfs
                .grow_command("/dev/loop1", Path::new("/m"), d)
                .command_line(),
            "xfs_growfs /m"
        );
    }

    #[test]
    fn ext4_size_comes_from_block_count_and_size() {
        let dump = "Filesystem volume name:   <none>\nBlock count:              16384\nBlock size:               4096\n";
        assert_eq!(parse_ext4_size(dump), Some(64 << 20));
        assert_eq!(parse_ext4_size("Block size: 4096\n"), None);
    }

    #[test]
    fn probe_output_is_classified() {
        assert_eq!(
            parse_probe("DEVNAME=/dev/loop0\nTYPE=ext4\n"),
            Content::Filesystem("ext4".into())
        );
        assert_eq!(
            parse_probe("DEVNAME=/dev/loop0\nPTTYPE=gpt\n"),
            Content::PartitionTable("gpt".into())
        );
    }
}
