//! ceph-csi's stage record, read so that volumes ceph-csi staged on this node can be taken
//! over (a node switching drivers under the same driver name): unstaged, expanded, reported
//! on and recovered after a restart like Sepia's own.
//!
//! ceph-csi writes `image-meta.json` where Sepia writes its record (in the staging path,
//! beside the `<staging>/<volume-id>` mount), as Go's `encoding/json` renders its
//! `rbdImageMetadataStash` (internal/rbd/rbd_util.go): `Version` (1 to 3), `pool`, `image`,
//! `accessType` (true when mapped with rbd-nbd), and from version 2 `encrypted`, from version 3
//! `radosNamespace`, `unmapOptions` (the mapper's options, comma-separated), `device` (the nbd
//! device; empty for krbd), `logDir` and `logFileStrategy` (rbd-nbd's log file).
//!
//! The record names neither the volume, nor block or mount access, nor (for krbd) the device.
//! So it is read against the node: the volume is the one mounted at `<staging>/<volume-id>`
//! (or, with nothing mounted, the one kubelet's staging path itself names), block or mount
//! access and the file system come from that mount, a krbd device from the kernel's list of
//! mapped images; the proof of [`crate::ownership`] (the mount is the recorded device) then
//! applies unchanged. Which mapper made the device: rbd-nbd when `accessType` says so; else
//! a loop device is Sepia's rbd-fuse (ceph-csi has no such mapper), anything else krbd.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::AccessKind;
use crate::filesystem::FsType;
use crate::mapper_kind::MapperKind;
use crate::mount::mountinfo::MountEntry;
use crate::stash::{self, Origin, Stash};

/// The newest record version ceph-csi writes; earlier ones lack fields, which default.
pub const NEWEST_VERSION: u32 = 3;

/// `rbdImageMetadataStash`, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephCsiStash {
    #[serde(rename = "Version")]
    pub version: u32,
    pub pool: String,
    #[serde(rename = "radosNamespace", default)]
    pub rados_namespace: String,
    pub image: String,
    #[serde(rename = "unmapOptions", default)]
    pub unmap_options: String,
    /// ceph-csi's name for "mapped with rbd-nbd".
    #[serde(rename = "accessType", default)]
    pub nbd: bool,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub device: String,
    #[serde(rename = "logDir", default)]
    pub log_dir: String,
    #[serde(rename = "logFileStrategy", default)]
    pub log_file_strategy: String,
}

/// Whether a parsed stash file is ceph-csi's: its version key is `Version`, Sepia's `version`.
pub fn is_ceph_csi(value: &serde_json::Value) -> bool {
    value.get("Version").is_some()
}

impl CephCsiStash {
    /// The mapper that made the device, as far as the record tells.
    pub fn mapper(&self) -> MapperKind {
        if self.nbd {
            MapperKind::Nbd
        } else if self.device.starts_with("/dev/loop") {
            MapperKind::Fuse
        } else {
            MapperKind::Krbd
        }
    }

    /// The record as a Sepia stage record of `volume_id`: `device` is the recorded one, or
    /// for krbd the one the kernel maps the image at; `mount` is what is mounted at
    /// `<staging>/<volume_id>`, if anything. Errs with why it cannot be taken over.
    pub fn to_stash(
        &self,
        volume_id: &str,
        device: Option<String>,
        mount: Option<&MountEntry>,
    ) -> Result<Stash, String> {
        if !(1..=NEWEST_VERSION).contains(&self.version) {
            return Err(format!(
                "ceph-csi record version {} is not one this plugin reads (1 to {NEWEST_VERSION})",
                self.version
            ));
        }
        if self.encrypted {
            return Err(
                "ceph-csi staged it encrypted (LUKS), which this plugin does not open or close: \
                 unstage it with ceph-csi"
                    .into(),
            );
        }
        // A device node bind (block access) shows the node's path as its root; a file system
        // is mounted whole.
        let (access_type, fs_type) = match mount {
            Some(mount) if mount.root != "/" => (AccessKind::Block, None),
            Some(mount) => (
                AccessKind::Mount,
                match mount.fs_type.as_str() {
                    "ext4" => Some(FsType::Ext4),
                    "xfs" => Some(FsType::Xfs),
                    _ => None,
                },
            ),
            None => (AccessKind::Mount, None),
        };
        Ok(Stash {
            version: stash::VERSION,
            volume_id: volume_id.to_string(),
            cluster_id: None,
            pool: self.pool.clone(),
            rados_namespace: self.rados_namespace.clone(),
            image: self.image.clone(),
            mapper: self.mapper(),
            device: device.filter(|d| !d.is_empty()),
            fuse_mount_dir: None,
            access_type,
            fs_type,
            read_only: mount.is_some_and(MountEntry::read_only),
            unmap_options: self
                .unmap_options
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
            map_options: Vec::new(),
            origin: Origin::CephCsi,
        })
    }
}

/// Whether kubelet's staging path itself names `volume_id`: `.../<driver>/<sha256 of the
/// volume ID>/globalmount`, or the older `.../pv/<pv>/globalmount` whose `vol_data.json`
/// records the volume handle. How a ceph-csi record with nothing mounted beside it is tied
/// to the volume a request names.
pub fn staging_path_names(staging_path: &Path, volume_id: &str) -> std::io::Result<bool> {
    let Some(parent) = staging_path.parent() else {
        return Ok(false);
    };
    let digest = hex::encode(Sha256::digest(volume_id.as_bytes()));
    if parent.file_name().is_some_and(|name| *name == *digest) {
        return Ok(true);
    }
    let vol_data: PathBuf = parent.join("vol_data.json");
    let text = match std::fs::read_to_string(&vol_data) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("volumeHandle")?.as_str().map(|h| h == volume_id))
        .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ceph-csi writes for an rbd-nbd volume (Go's compact JSON, struct field order).
    const NBD: &str = r#"{"Version":3,"pool":"replicapool","radosNamespace":"team-a","image":"csi-vol-1","unmapOptions":"force","accessType":true,"encrypted":false,"device":"/dev/nbd2","logDir":"/var/log/ceph","logFileStrategy":"remove"}"#;
    /// And for a krbd volume: no device.
    const KRBD: &str = r#"{"Version":3,"pool":"replicapool","radosNamespace":"","image":"csi-vol-2","unmapOptions":"","accessType":false,"encrypted":false,"device":"","logDir":"","logFileStrategy":""}"#;

    fn parse(text: &str) -> CephCsiStash {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(is_ceph_csi(&value));
        serde_json::from_value(value).unwrap()
    }

    fn mount(root: &str, fs_type: &str, options: &[&str]) -> MountEntry {
        MountEntry {
            major: 43,
            minor: 2,
            root: root.into(),
            mount_point: "/k/s/vol".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            fs_type: fs_type.into(),
            source: "/dev/nbd2".into(),
        }
    }

    #[test]
    fn an_nbd_record_reads_as_a_mounted_nbd_stage_of_the_named_volume() {
        let record = parse(NBD);
        assert_eq!(record.mapper(), MapperKind::Nbd);
        let stash = record
            .to_stash(
                "vol",
                Some(record.device.clone()),
                Some(&mount("/", "xfs", &["ro", "relatime"])),
            )
            .unwrap();
        assert_eq!(stash.volume_id, "vol");
        assert_eq!(
            stash.image_spec().to_string(),
            "replicapool/team-a/csi-vol-1"
        );
        assert_eq!(stash.device.as_deref(), Some("/dev/nbd2"));
        assert_eq!(stash.access_type, AccessKind::Mount);
        assert_eq!(stash.fs_type, Some(FsType::Xfs));
        assert!(stash.read_only);
        assert_eq!(stash.unmap_options, ["force"]);
        assert_eq!(stash.origin, Origin::CephCsi);
    }

    #[test]
    fn a_krbd_record_takes_the_kernels_device_and_a_device_bind_is_block_access() {
        let record = parse(KRBD);
        assert_eq!(record.mapper(), MapperKind::Krbd);
        let stash = record
            .to_stash(
                "vol",
                Some("/dev/rbd0".into()),
                Some(&mount("/rbd0", "devtmpfs", &["rw"])),
            )
            .unwrap();
        assert_eq!(stash.device.as_deref(), Some("/dev/rbd0"));
        assert_eq!(stash.access_type, AccessKind::Block);
        assert_eq!(stash.fs_type, None);
        assert!(stash.unmap_options.is_empty());
        // Nothing mounted: only the teardown can use it.
        let bare = record.to_stash("vol", None, None).unwrap();
        assert_eq!(bare.device, None);
    }

    #[test]
    fn a_loop_device_is_sepias_rbd_fuse() {
        let mut record = parse(KRBD);
        record.device = "/dev/loop4".into();
        assert_eq!(record.mapper(), MapperKind::Fuse);
    }

    #[test]
    fn older_versions_read_and_unknown_ones_or_encrypted_volumes_are_refused() {
        let v1 = parse(r#"{"Version":1,"pool":"rbd","image":"img","accessType":false}"#);
        let stash = v1.to_stash("vol", None, None).unwrap();
        assert_eq!(stash.image_spec().to_string(), "rbd/img");
        let mut future = parse(KRBD);
        future.version = 4;
        assert!(
            future
                .to_stash("vol", None, None)
                .unwrap_err()
                .contains("version 4")
        );
        let mut encrypted = parse(KRBD);
        encrypted.encrypted = true;
        assert!(
            encrypted
                .to_stash("vol", None, None)
                .unwrap_err()
                .contains("LUKS")
        );
    }

    #[test]
    fn sepias_own_record_is_not_ceph_csis() {
        let value = serde_json::json!({"version": 1, "volumeId": "v"});
        assert!(!is_ceph_csi(&value));
    }

    #[test]
    fn kubelets_staging_path_names_its_volume() {
        let dir = tempfile::tempdir().unwrap();
        let digest = hex::encode(Sha256::digest(b"vol-1"));
        let staging = dir
            .path()
            .join(format!("rbd.csi.sepia.io/{digest}/globalmount"));
        assert!(staging_path_names(&staging, "vol-1").unwrap());
        assert!(!staging_path_names(&staging, "vol-2").unwrap());

        let legacy = dir.path().join("pv/pvc-1/globalmount");
        std::fs::create_dir_all(&legacy).unwrap();
        assert!(!staging_path_names(&legacy, "vol-1").unwrap());
        std::fs::write(
            dir.path().join("pv/pvc-1/vol_data.json"),
            r#"{"driverName":"rbd.csi.sepia.io","volumeHandle":"vol-1"}"#,
        )
        .unwrap();
        assert!(staging_path_names(&legacy, "vol-1").unwrap());
        assert!(!staging_path_names(&legacy, "vol-2").unwrap());
    }
}
