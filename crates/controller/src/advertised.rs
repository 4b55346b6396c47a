//! What ControllerGetCapabilities advertises: every stable capability we implement, and the
//! alpha ones `--alpha-capabilities` turns on.
//!
//! An alpha capability is part of the spec on probation: a CO or conformance suite built
//! against an older spec does not know it (csi-sanity v5.4.0 fails ControllerGetCapabilities on
//! GET_SNAPSHOT, new in CSI 1.12, with "Unknown capability"). So each is off unless named, and
//! an alpha RPC whose capability is off answers UNIMPLEMENTED, as the spec asks of an RPC
//! outside the advertised capabilities.
//!
//! So the flag's default is `none`. The manifests turn on [`AlphaCapabilities::SHIPPED`]: the
//! alpha capabilities every Kubernetes release since 1.22 and every csi-sanity release since 4.x
//! know, and that this driver has always advertised in its Deployments (turning off
//! SINGLE_NODE_MULTI_WRITER there would change the access modes the sidecars send for
//! existing ReadWriteOnce/ReadWriteOncePod volumes). GET_SNAPSHOT stays off until asked for.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use csi::v1::controller_service_capability::rpc::Type as Rpc;

/// Stable (non-alpha) controller capabilities, each backed by a real implementation.
const STABLE: [Rpc; 10] = [
    Rpc::CreateDeleteVolume,
    Rpc::CreateDeleteSnapshot,
    Rpc::CloneVolume,
    Rpc::ExpandVolume,
    Rpc::PublishUnpublishVolume,
    Rpc::PublishReadonly,
    Rpc::ListVolumes,
    Rpc::ListVolumesPublishedNodes,
    Rpc::ListSnapshots,
    Rpc::GetCapacity,
];

/// An alpha controller capability of CSI 1.12 that this controller implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alpha {
    /// SINGLE_NODE_MULTI_WRITER: the two single-node access modes (RWO vs RWOP).
    SingleNodeMultiWriter,
    /// GET_VOLUME: the ControllerGetVolume RPC.
    GetVolume,
    /// VOLUME_CONDITION: ControllerGetVolume reports whether the volume is usable.
    VolumeCondition,
    /// GET_SNAPSHOT: the GetSnapshot RPC (CSI 1.12).
    GetSnapshot,
}

impl Alpha {
    pub const ALL: [Alpha; 4] = [
        Alpha::SingleNodeMultiWriter,
        Alpha::GetVolume,
        Alpha::VolumeCondition,
        Alpha::GetSnapshot,
    ];

    /// The name `--alpha-capabilities` takes.
    pub fn flag_name(self) -> &'static str {
        match self {
            Alpha::SingleNodeMultiWriter => "single-node-multi-writer",
            Alpha::GetVolume => "get-volume",
            Alpha::VolumeCondition => "volume-condition",
            Alpha::GetSnapshot => "get-snapshot",
        }
    }

    fn rpc(self) -> Rpc {
        match self {
            Alpha::SingleNodeMultiWriter => Rpc::SingleNodeMultiWriter,
            Alpha::GetVolume => Rpc::GetVolume,
            Alpha::VolumeCondition => Rpc::VolumeCondition,
            Alpha::GetSnapshot => Rpc::GetSnapshot,
        }
    }
}

/// The alpha capabilities turned on (`--alpha-capabilities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlphaCapabilities(BTreeSet<Alpha>);

impl AlphaCapabilities {
    /// The flag's default value: every alpha capability off unless named.
    pub const DEFAULT: &'static str = "none";

    /// What the manifests pass: the alpha capabilities Kubernetes has relied on for years.
    pub const SHIPPED: &'static str = "single-node-multi-writer,get-volume,volume-condition";

    /// [`AlphaCapabilities::SHIPPED`], parsed.
    pub fn shipped() -> Self {
        [
            Alpha::SingleNodeMultiWriter,
            Alpha::GetVolume,
            Alpha::VolumeCondition,
        ]
        .into_iter()
        .collect()
    }

    pub fn none() -> Self {
        AlphaCapabilities(BTreeSet::new())
    }

    pub fn all() -> Self {
        AlphaCapabilities(Alpha::ALL.into_iter().collect())
    }

    pub fn enabled(&self, alpha: Alpha) -> bool {
        self.0.contains(&alpha)
    }

    /// Everything ControllerGetCapabilities lists: the stable capabilities, then the alpha ones
    /// turned on.
    pub fn controller_capabilities(&self) -> Vec<Rpc> {
        STABLE
            .into_iter()
            .chain(self.0.iter().map(|alpha| alpha.rpc()))
            .collect()
    }
}

impl Default for AlphaCapabilities {
    /// The flag's default: none.
    fn default() -> Self {
        AlphaCapabilities::none()
    }
}

impl FromIterator<Alpha> for AlphaCapabilities {
    fn from_iter<I: IntoIterator<Item = Alpha>>(alphas: I) -> Self {
        AlphaCapabilities(alphas.into_iter().collect())
    }
}

impl FromStr for AlphaCapabilities {
    type Err = String;

    /// A comma-separated list of [`Alpha::flag_name`]s, or `all`, or `none` (also empty).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut set = AlphaCapabilities::none();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => set = AlphaCapabilities::all(),
                "none" => {}
                name => {
                    let alpha = Alpha::ALL
                        .into_iter()
                        .find(|alpha| alpha.flag_name() == name)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                Alpha::ALL.iter().map(|alpha| alpha.flag_name()).collect();
                            format!(
                                "{name:?} is not an alpha capability (known: {}, all, none)",
                                known.join(", ")
                            )
                        })?;
                    set.0.insert(alpha);
                }
            }
        }
        Ok(set)
    }
}

impl fmt::Display for AlphaCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|alpha| alpha.flag_name()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_flag_default_and_turns_every_alpha_capability_off() {
        let default = AlphaCapabilities::default();
        assert_eq!(
            AlphaCapabilities::DEFAULT.parse::<AlphaCapabilities>(),
            Ok(default.clone())
        );
        assert_eq!(default, AlphaCapabilities::none());
        assert_eq!(default.controller_capabilities(), STABLE.to_vec());
    }

    #[test]
    fn the_shipped_list_leaves_get_snapshot_off() {
        let shipped = AlphaCapabilities::shipped();
        assert_eq!(
            AlphaCapabilities::SHIPPED.parse::<AlphaCapabilities>(),
            Ok(shipped.clone())
        );
        assert_eq!(shipped.to_string(), AlphaCapabilities::SHIPPED);
        assert!(!shipped.enabled(Alpha::GetSnapshot));
        for alpha in [
            Alpha::SingleNodeMultiWriter,
            Alpha::GetVolume,
            Alpha::VolumeCondition,
        ] {
            assert!(shipped.enabled(alpha), "{alpha:?}");
        }
    }

    #[test]
    fn names_all_and_none_parse_and_unknown_names_are_refused() {
        let parsed: AlphaCapabilities = " get-snapshot , get-volume".parse().unwrap();
        assert!(parsed.enabled(Alpha::GetSnapshot) && parsed.enabled(Alpha::GetVolume));
        assert!(!parsed.enabled(Alpha::SingleNodeMultiWriter));
        assert_eq!("all".parse(), Ok(AlphaCapabilities::all()));
        assert_eq!("none".parse(), Ok(AlphaCapabilities::none()));
        assert_eq!("".parse(), Ok(AlphaCapabilities::none()));
        let e = "get-snapshots".parse::<AlphaCapabilities>().unwrap_err();
        assert!(
            e.contains("\"get-snapshots\"") && e.contains("get-snapshot,"),
            "{e}"
        );
    }

    #[test]
    fn each_alpha_capability_is_listed_exactly_when_on() {
        let stable = AlphaCapabilities::none().controller_capabilities();
        assert_eq!(stable.len(), 10);
        for alpha in Alpha::ALL {
            assert!(!stable.contains(&alpha.rpc()), "{alpha:?}");
            let one: AlphaCapabilities = [alpha].into_iter().collect();
            let listed = one.controller_capabilities();
            assert_eq!(listed.len(), 11);
            assert!(listed.contains(&alpha.rpc()), "{alpha:?}");
        }
        let all = AlphaCapabilities::all().controller_capabilities();
        assert_eq!(all.len(), 14);
        let distinct: BTreeSet<i32> = all.iter().map(|rpc| *rpc as i32).collect();
        assert_eq!(distinct.len(), all.len());
    }
}
