//! The two journals ceph-csi keeps, and the names each one uses.
//!
//! Both are the same two-level structure (a per-pool directory object mapping request names to
//! uuids, plus one attribute object per uuid); only the object prefixes, the key holding the
//! request name and whether a source is mandatory differ. Keeping those differences in one
//! table lets one engine serve both.

use std::fmt;

/// Which journal: CSI volumes or CSI snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `csi.volumes.<instance>` / `csi.volume.<uuid>`.
    Volume,
    /// `csi.snaps.<instance>` / `csi.snap.<uuid>`.
    Snapshot,
}

impl Kind {
    /// Prefix of the directory object, completed by the instance id.
    pub fn directory_prefix(self) -> &'static str {
        match self {
            Kind::Volume => "csi.volumes.",
            Kind::Snapshot => "csi.snaps.",
        }
    }

    /// Prefix of a directory key, completed by the request name. Equal to
    /// [`Kind::entry_prefix`] in ceph-csi; they live in different objects.
    pub fn directory_key_prefix(self) -> &'static str {
        match self {
            Kind::Volume => "csi.volume.",
            Kind::Snapshot => "csi.snap.",
        }
    }

    /// Prefix of a per-uuid attribute object, completed by the uuid.
    pub fn entry_prefix(self) -> &'static str {
        match self {
            Kind::Volume => "csi.volume.",
            Kind::Snapshot => "csi.snap.",
        }
    }

    /// The attribute object of an entry (`csi.volume.<uuid>` / `csi.snap.<uuid>`): the one
    /// spelling of its name, for the journal's layout and Sepia's records alike.
    pub fn entry_oid(self, uuid: &uuid::Uuid) -> String {
        format!("{}{}", self.entry_prefix(), uuid.hyphenated())
    }

    /// Attribute key holding the request name.
    pub fn name_key(self) -> &'static str {
        match self {
            Kind::Volume => "csi.volname",
            Kind::Snapshot => "csi.snapname",
        }
    }

    /// ceph-csi's default image name prefix (`volumeNamePrefix` / `snapshotNamePrefix`), also
    /// assumed for old entries that predate `csi.imagename`.
    pub fn default_image_prefix(self) -> &'static str {
        match self {
            Kind::Volume => "csi-vol-",
            Kind::Snapshot => "csi-snap-",
        }
    }

    /// Snapshots must record their source image: ceph-csi treats a snapshot entry without
    /// `csi.source` as not reserved, and a different source as a name conflict.
    pub fn requires_source(self) -> bool {
        matches!(self, Kind::Snapshot)
    }

    /// Lowercase noun for messages and failpoint names.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Volume => "volume",
            Kind::Snapshot => "snapshot",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}
