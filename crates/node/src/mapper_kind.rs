//! The three mappers by name, and the `--mapper` choice among them. Plain values, apart from
//! [`crate::mapper`] (which does the mapping) so that what only names a mapper — the settings,
//! the stage record, the option checks — does not depend on the mappers themselves.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapperKind {
    Krbd,
    Nbd,
    Fuse,
}

impl MapperKind {
    pub const ALL: [MapperKind; 3] = [MapperKind::Krbd, MapperKind::Nbd, MapperKind::Fuse];

    pub fn name(self) -> &'static str {
        match self {
            MapperKind::Krbd => "krbd",
            MapperKind::Nbd => "nbd",
            MapperKind::Fuse => "fuse",
        }
    }

    /// The volume context's `mounter` as ceph-csi names it (`rbd`, `rbd-nbd`), plus ours.
    pub fn from_mounter(mounter: &str) -> Result<Self, NodeError> {
        match mounter {
            "rbd" | "krbd" => Ok(MapperKind::Krbd),
            "rbd-nbd" | "nbd" => Ok(MapperKind::Nbd),
            "rbd-fuse" | "fuse" => Ok(MapperKind::Fuse),
            other => Err(NodeError::invalid(
                "volume_context.mounter",
                format!(
                    "{} is not rbd, rbd-nbd or rbd-fuse",
                    csi::quote::quote(other)
                ),
            )),
        }
    }
}

impl std::fmt::Display for MapperKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `--mapper` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapperChoice {
    Auto,
    Only(MapperKind),
}

impl FromStr for MapperChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(MapperChoice::Auto),
            "krbd" => Ok(MapperChoice::Only(MapperKind::Krbd)),
            "nbd" => Ok(MapperChoice::Only(MapperKind::Nbd)),
            "fuse" => Ok(MapperChoice::Only(MapperKind::Fuse)),
            other => Err(format!("{other:?} is not auto, krbd, nbd or fuse")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounter_names_follow_ceph_csi() {
        assert_eq!(MapperKind::from_mounter("rbd").unwrap(), MapperKind::Krbd);
        assert_eq!(
            MapperKind::from_mounter("rbd-nbd").unwrap(),
            MapperKind::Nbd
        );
        assert!(MapperKind::from_mounter("kernel").is_err());
    }

    #[test]
    fn choice_parses_flag_values() {
        assert_eq!("auto".parse::<MapperChoice>().unwrap(), MapperChoice::Auto);
        assert_eq!(
            "fuse".parse::<MapperChoice>().unwrap(),
            MapperChoice::Only(MapperKind::Fuse)
        );
        assert!("rbd-fuse".parse::<MapperChoice>().is_err());
    }
}
