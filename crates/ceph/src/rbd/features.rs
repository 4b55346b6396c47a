//! RBD image feature bits (`rbd/features.h`) and the names Ceph uses for them in
//! `rbd info`, `rbd create --image-feature` and ceph-csi's `imageFeatures` parameter.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

bitflags::bitflags! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Features: u64 {
        const LAYERING = 1 << 0;
        const STRIPINGV2 = 1 << 1;
        const EXCLUSIVE_LOCK = 1 << 2;
        const OBJECT_MAP = 1 << 3;
        const FAST_DIFF = 1 << 4;
        const DEEP_FLATTEN = 1 << 5;
        const JOURNALING = 1 << 6;
        const DATA_POOL = 1 << 7;
        const OPERATIONS = 1 << 8;
        const MIGRATING = 1 << 9;
        const NON_PRIMARY = 1 << 10;
        const DIRTY_CACHE = 1 << 11;
    }
}

/// Ceph's names, in bit order (`RBD_FEATURE_NAME_*`).
const NAMES: [(Features, &str); 12] = [
    (Features::LAYERING, "layering"),
    (Features::STRIPINGV2, "striping"),
    (Features::EXCLUSIVE_LOCK, "exclusive-lock"),
    (Features::OBJECT_MAP, "object-map"),
    (Features::FAST_DIFF, "fast-diff"),
    (Features::DEEP_FLATTEN, "deep-flatten"),
    (Features::JOURNALING, "journaling"),
    (Features::DATA_POOL, "data-pool"),
    (Features::OPERATIONS, "operations"),
    (Features::MIGRATING, "migrating"),
    (Features::NON_PRIMARY, "non-primary"),
    (Features::DIRTY_CACHE, "dirty-cache"),
];

impl Features {
    /// Parses a comma-separated list as ceph-csi's `imageFeatures` parameter holds it
    /// ("layering,exclusive-lock"); blanks around names and empty items are ignored. An
    /// unknown name is InvalidArgument naming it.
    pub fn parse(list: &str) -> Result<Features> {
        let mut features = Features::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some((bit, _)) = NAMES.iter().find(|(_, n)| *n == name) else {
                let known: Vec<&str> = NAMES.iter().map(|(_, n)| *n).collect();
                return Err(Error::invalid(format!(
                    "image feature {name:?}: unknown (known: {})",
                    known.join(", ")
                )));
            };
            features |= *bit;
        }
        Ok(features)
    }

    /// Ceph's names of the set bits, in bit order.
    pub fn names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(bit, _)| self.contains(*bit))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Comma-separated Ceph names; bits without a name print as hex so nothing is hidden.
impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.names().into_iter().map(String::from).collect();
        let unknown = self.bits() & !Features::all().bits();
        if unknown != 0 {
            parts.push(format!("{unknown:#x}"));
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Features {
    type Err = Error;

    fn from_str(s: &str) -> Result<Features> {
        Features::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_ceph_and_round_trip() {
        let f = Features::parse("layering, exclusive-lock,object-map,fast-diff,deep-flatten")
            .expect("known names");
        assert_eq!(f.bits(), 61, "RBD_FEATURES_DEFAULT");
        assert_eq!(
            f.to_string(),
            "layering,exclusive-lock,object-map,fast-diff,deep-flatten"
        );
        assert_eq!(f.to_string().parse::<Features>().ok(), Some(f));
        assert_eq!(Features::parse("").ok(), Some(Features::empty()));
        assert_eq!(
            Features::parse("striping,journaling")
                .ok()
                .map(|f| f.bits()),
            Some(2 | 64)
        );
        let all = Features::all();
        assert_eq!(all.to_string().parse::<Features>().ok(), Some(all));
    }

    #[test]
    fn unknown_name_is_refused_by_name() {
        let e = Features::parse("layering,bogus").expect_err("unknown feature");
        assert!(e.to_string().contains("\"bogus\""), "{e}");
    }

    #[test]
    fn unknown_bits_are_shown() {
        let f = Features::from_bits_retain(1 | (1 << 40));
        assert_eq!(f.to_string(), "layering,0x10000000000");
    }
}
