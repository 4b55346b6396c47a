//! StorageClass parameters split the way external-provisioner splits them: the reserved
//! `csi.storage.k8s.io/` keys (fsType, secret references) are the provisioner's and are taken
//! out; everything else goes to the driver verbatim.

use std::collections::BTreeMap;

use sidecar::secret_template::{SecretTemplate, TemplateError, read_pair};

use crate::keys::{PARAM_FSTYPE, RESERVED_PREFIX};

/// The operations a StorageClass can name a secret for (`csi.storage.k8s.io/<kind>-secret-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretKind {
    Provisioner,
    ControllerPublish,
    NodeStage,
    NodePublish,
    ControllerExpand,
    NodeExpand,
    ControllerModify,
}

impl SecretKind {
    pub const ALL: [SecretKind; 7] = [
        SecretKind::Provisioner,
        SecretKind::ControllerPublish,
        SecretKind::NodeStage,
        SecretKind::NodePublish,
        SecretKind::ControllerExpand,
        SecretKind::NodeExpand,
        SecretKind::ControllerModify,
    ];

    /// The `<kind>` in `csi.storage.k8s.io/<kind>-secret-name`.
    pub fn key_stem(self) -> &'static str {
        match self {
            SecretKind::Provisioner => "provisioner",
            SecretKind::ControllerPublish => "controller-publish",
            SecretKind::NodeStage => "node-stage",
            SecretKind::NodePublish => "node-publish",
            SecretKind::ControllerExpand => "controller-expand",
            SecretKind::NodeExpand => "node-expand",
            SecretKind::ControllerModify => "controller-modify",
        }
    }

    fn name_key(self) -> String {
        format!("{RESERVED_PREFIX}{}-secret-name", self.key_stem())
    }

    fn namespace_key(self) -> String {
        format!("{RESERVED_PREFIX}{}-secret-namespace", self.key_stem())
    }
}

/// The deprecated catch-all pair, used for every kind that names no secret of its own.
const DEFAULT_SECRET_NAME: &str = "csi.storage.k8s.io/secret-name";
const DEFAULT_SECRET_NAMESPACE: &str = "csi.storage.k8s.io/secret-namespace";

/// A StorageClass's parameters, split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassParams {
    pub fs_type: Option<String>,
    pub secrets: BTreeMap<SecretKind, SecretTemplate>,
    /// What CreateVolume gets (before the extra metadata is added).
    pub driver_params: BTreeMap<String, String>,
}

/// A reserved parameter that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassParamError {
    #[error("StorageClass parameter {key:?}: {rule}")]
    Reserved { key: String, rule: &'static str },
    /// Half a secret pair, or an empty one.
    #[error(transparent)]
    Secret(#[from] TemplateError),
}

/// Splits `params` into the provisioner's settings and the driver's parameters.
///
/// # Errors
/// An unknown `csi.storage.k8s.io/` key, a secret name without its namespace (or the reverse),
/// or an empty template.
pub fn parse(params: &BTreeMap<String, String>) -> Result<ClassParams, ClassParamError> {
    let mut out = ClassParams::default();
    let known_secret_keys: Vec<String> = SecretKind::ALL
        .iter()
        .flat_map(|k| [k.name_key(), k.namespace_key()])
        .chain([
            DEFAULT_SECRET_NAME.to_owned(),
            DEFAULT_SECRET_NAMESPACE.to_owned(),
        ])
        .collect();
    for (key, value) in params {
        if !key.starts_with(RESERVED_PREFIX) {
            out.driver_params.insert(key.clone(), value.clone());
        } else if key == PARAM_FSTYPE {
            if !value.is_empty() {
                out.fs_type = Some(value.clone());
            }
        } else if !known_secret_keys.contains(key) {
            return Err(ClassParamError::Reserved {
                key: key.clone(),
                rule: "unknown key in the reserved csi.storage.k8s.io/ prefix",
            });
        }
    }
    let default = read_pair(params, DEFAULT_SECRET_NAME, DEFAULT_SECRET_NAMESPACE)?;
    for kind in SecretKind::ALL {
        let own = read_pair(params, &kind.name_key(), &kind.namespace_key())?;
        if let Some(template) = own.or_else(|| default.clone()) {
            out.secrets.insert(kind, template);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reserved_keys_are_taken_out_and_the_rest_passes_through() {
        let parsed = parse(&params(&[
            ("clusterID", "c1"),
            ("pool", "rbd"),
            ("imageFeatures", "layering"),
            ("csi.storage.k8s.io/fstype", "xfs"),
            ("csi.storage.k8s.io/provisioner-secret-name", "prov"),
            ("csi.storage.k8s.io/provisioner-secret-namespace", "ceph"),
            (
                "csi.storage.k8s.io/node-stage-secret-name",
                "node-${pvc.name}",
            ),
            (
                "csi.storage.k8s.io/node-stage-secret-namespace",
                "${pvc.namespace}",
            ),
        ]))
        .unwrap();
        assert_eq!(
            parsed.driver_params,
            params(&[
                ("clusterID", "c1"),
                ("imageFeatures", "layering"),
                ("pool", "rbd")
            ])
        );
        assert_eq!(parsed.fs_type.as_deref(), Some("xfs"));
        assert_eq!(parsed.secrets.len(), 2);
        assert_eq!(parsed.secrets[&SecretKind::Provisioner].name, "prov");
        assert_eq!(
            parsed.secrets[&SecretKind::NodeStage].namespace,
            "${pvc.namespace}"
        );
    }

    #[test]
    fn every_kind_has_its_own_keys() {
        for kind in SecretKind::ALL {
            let stem = kind.key_stem();
            let parsed = parse(&params(&[
                (&format!("csi.storage.k8s.io/{stem}-secret-name"), "s"),
                (&format!("csi.storage.k8s.io/{stem}-secret-namespace"), "ns"),
            ]))
            .unwrap();
            assert_eq!(parsed.secrets.keys().copied().collect::<Vec<_>>(), [kind]);
        }
    }

    #[test]
    fn the_default_pair_fills_kinds_without_their_own() {
        let parsed = parse(&params(&[
            ("csi.storage.k8s.io/secret-name", "all"),
            ("csi.storage.k8s.io/secret-namespace", "ns"),
            ("csi.storage.k8s.io/provisioner-secret-name", "prov"),
            ("csi.storage.k8s.io/provisioner-secret-namespace", "ns"),
        ]))
        .unwrap();
        assert_eq!(parsed.secrets.len(), SecretKind::ALL.len());
        assert_eq!(parsed.secrets[&SecretKind::Provisioner].name, "prov");
        assert_eq!(parsed.secrets[&SecretKind::NodeStage].name, "all");
    }

    #[test]
    fn broken_reserved_keys_name_the_key_and_rule() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[("csi.storage.k8s.io/unknown", "x")],
                "csi.storage.k8s.io/unknown",
                "unknown",
            ),
            (
                &[("csi.storage.k8s.io/provisioner-secret-name", "x")],
                "csi.storage.k8s.io/provisioner-secret-name",
                "-namespace",
            ),
            (
                &[("csi.storage.k8s.io/node-stage-secret-namespace", "x")],
                "csi.storage.k8s.io/node-stage-secret-namespace",
                "-name",
            ),
            (
                &[
                    ("csi.storage.k8s.io/provisioner-secret-name", ""),
                    ("csi.storage.k8s.io/provisioner-secret-namespace", "ns"),
                ],
                "csi.storage.k8s.io/provisioner-secret-name",
                "empty",
            ),
            (
                &[("csi.storage.k8s.io/pvc/name", "x")],
                "csi.storage.k8s.io/pvc/name",
                "unknown",
            ),
        ];
        for (pairs, key, rule_word) in cases {
            let err = parse(&params(pairs)).unwrap_err();
            let text = err.to_string();
            let named = match &err {
                ClassParamError::Reserved { key, .. } => key,
                ClassParamError::Secret(e) => &e.key,
            };
            assert_eq!(named, key, "{text}");
            assert!(text.contains(rule_word), "{text}");
        }
    }
}
