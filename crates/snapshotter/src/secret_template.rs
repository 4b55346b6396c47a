//! The snapshotter Secret named by a VolumeSnapshotClass, as upstream resolves it
//! (`utils.GetSecretReference`): the `…-secret-name` / `…-secret-namespace` parameters come in
//! pairs, may use `${volumesnapshotcontent.name}`, `${volumesnapshot.namespace}` and (name
//! only, since a user controls it) `${volumesnapshot.name}`, and must resolve to a valid
//! Secret name and namespace. Only the reference is resolved here; the Secret is read later.

use std::collections::BTreeMap;

use snapshot_api::keys;

use crate::error::SnapshotterError;

/// Which pair of class parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `csi.storage.k8s.io/snapshotter-secret-*`: CreateSnapshot and DeleteSnapshot.
    Snapshotter,
    /// `csi.storage.k8s.io/snapshotter-list-secret-*`: ListSnapshots.
    SnapshotterList,
}

impl SecretKind {
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            SecretKind::Snapshotter => (
                keys::SNAPSHOTTER_SECRET_NAME_KEY,
                keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY,
            ),
            SecretKind::SnapshotterList => (
                keys::SNAPSHOTTER_LIST_SECRET_NAME_KEY,
                keys::SNAPSHOTTER_LIST_SECRET_NAMESPACE_KEY,
            ),
        }
    }
}

/// A resolved Secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub name: String,
    pub namespace: String,
}

/// What the templates may refer to. The VolumeSnapshot is unknown when resolving for a
/// pre-provisioned content (upstream passes none).
#[derive(Debug, Clone, Copy)]
pub struct TemplateInputs<'a> {
    pub content_name: &'a str,
    /// `(namespace, name)` of the VolumeSnapshot.
    pub snapshot: Option<(&'a str, &'a str)>,
}

/// The Secret the class names for `kind`, or `None` when it names none.
///
/// # Errors
/// [`SnapshotterError`] (`Secret*`) naming the parameter and the broken rule.
pub fn resolve(
    kind: SecretKind,
    parameters: &BTreeMap<String, String>,
    inputs: TemplateInputs<'_>,
) -> Result<Option<SecretRef>, SnapshotterError> {
    let (name_key, namespace_key) = kind.keys();
    let (name_template, namespace_template) =
        match (parameters.get(name_key), parameters.get(namespace_key)) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(SnapshotterError::SecretUnpaired {
                    present: name_key,
                    missing: namespace_key,
                });
            }
            (None, Some(_)) => {
                return Err(SnapshotterError::SecretUnpaired {
                    present: namespace_key,
                    missing: name_key,
                });
            }
            (Some(name), Some(namespace)) => (name, namespace),
        };
    if name_template.is_empty() {
        return Err(SnapshotterError::SecretEmpty { key: name_key });
    }
    if namespace_template.is_empty() {
        return Err(SnapshotterError::SecretEmpty { key: namespace_key });
    }

    let mut namespace_tokens = vec![(keys::TOKEN_CONTENT_NAME, inputs.content_name)];
    let mut name_tokens = namespace_tokens.clone();
    if let Some((namespace, name)) = inputs.snapshot {
        namespace_tokens.push((keys::TOKEN_SNAPSHOT_NAMESPACE, namespace));
        name_tokens.push((keys::TOKEN_SNAPSHOT_NAMESPACE, namespace));
        name_tokens.push((keys::TOKEN_SNAPSHOT_NAME, name));
    }

    let namespace = expand(namespace_key, namespace_template, &namespace_tokens)?;
    if !is_dns1123_label(&namespace) {
        return Err(SnapshotterError::SecretInvalid {
            key: namespace_key,
            template: namespace_template.clone(),
            resolved: namespace,
            what: "namespace name",
        });
    }
    let name = expand(name_key, name_template, &name_tokens)?;
    if !is_dns1123_subdomain(&name) {
        return Err(SnapshotterError::SecretInvalid {
            key: name_key,
            template: name_template.clone(),
            resolved: name,
            what: "secret name",
        });
    }
    Ok(Some(SecretRef { name, namespace }))
}

/// Replaces `${token}`; any other use of `$` is an unknown token (as Go's `os.Expand` would
/// leave it unresolved).
fn expand(
    key: &'static str,
    template: &str,
    tokens: &[(&str, &str)],
) -> Result<String, SnapshotterError> {
    let mut out = String::with_capacity(template.len());
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.strip_prefix('{').and_then(|s| s.split_once('}')) {
            Some((token, tail)) => {
                match tokens.iter().find(|(t, _)| *t == token) {
                    Some((_, value)) => out.push_str(value),
                    None => unknown.push(token.to_owned()),
                }
                rest = tail;
            }
            None => {
                unknown.push(
                    after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(SnapshotterError::SecretUnknownTokens {
            key,
            template: template.to_owned(),
            tokens: unknown,
        })
    }
}

/// RFC 1123 label: what a namespace name must be.
fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: what a Secret name must be.
fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
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

    const NAME: &str = keys::SNAPSHOTTER_SECRET_NAME_KEY;
    const NS: &str = keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY;

    fn with_snapshot() -> TemplateInputs<'static> {
        TemplateInputs {
            content_name: "snapcontent-1",
            snapshot: Some(("apps", "db-snap")),
        }
    }

    fn secret(name: &str, namespace: &str) -> Option<SecretRef> {
        Some(SecretRef {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        })
    }

    type Case<'a> = (
        &'static str,
        BTreeMap<String, String>,
        TemplateInputs<'a>,
        Result<Option<SecretRef>, &'static str>,
    );

    #[test]
    fn resolution_table() {
        let no_snapshot = TemplateInputs {
            content_name: "snapcontent-1",
            snapshot: None,
        };
        let cases: Vec<Case<'_>> = vec![
            ("no parameters", params(&[]), with_snapshot(), Ok(None)),
            (
                "literal pair",
                params(&[(NAME, "rook-csi-rbd-provisioner"), (NS, "rook-ceph")]),
                with_snapshot(),
                Ok(secret("rook-csi-rbd-provisioner", "rook-ceph")),
            ),
            (
                "every token",
                params(&[
                    (NAME, "${volumesnapshot.name}-${volumesnapshotcontent.name}"),
                    (NS, "${volumesnapshot.namespace}"),
                ]),
                with_snapshot(),
                Ok(secret("db-snap-snapcontent-1", "apps")),
            ),
            (
                "content name works without a snapshot",
                params(&[
                    (NAME, "s-${volumesnapshotcontent.name}"),
                    (NS, "kube-system"),
                ]),
                no_snapshot,
                Ok(secret("s-snapcontent-1", "kube-system")),
            ),
            (
                "name without namespace",
                params(&[(NAME, "s")]),
                with_snapshot(),
                Err("both must be given"),
            ),
            (
                "namespace without name",
                params(&[(NS, "n")]),
                with_snapshot(),
                Err("both must be given"),
            ),
            (
                "empty name",
                params(&[(NAME, ""), (NS, "n")]),
                with_snapshot(),
                Err("is empty"),
            ),
            (
                "snapshot name is not allowed in the namespace",
                params(&[(NAME, "s"), (NS, "${volumesnapshot.name}")]),
                with_snapshot(),
                Err("unknown or unavailable token"),
            ),
            (
                "snapshot tokens need a snapshot",
                params(&[(NAME, "${volumesnapshot.name}"), (NS, "n")]),
                no_snapshot,
                Err("unknown or unavailable token"),
            ),
            (
                "unknown token",
                params(&[(NAME, "${pvc.name}"), (NS, "n")]),
                with_snapshot(),
                Err("\"pvc.name\""),
            ),
            (
                "bare dollar",
                params(&[(NAME, "$HOME"), (NS, "n")]),
                with_snapshot(),
                Err("\"HOME\""),
            ),
            (
                "invalid namespace",
                params(&[(NAME, "s"), (NS, "Not_A_Namespace")]),
                with_snapshot(),
                Err("not a valid namespace name"),
            ),
            (
                "invalid secret name",
                params(&[(NAME, "UPPER"), (NS, "n")]),
                with_snapshot(),
                Err("not a valid secret name"),
            ),
        ];
        for (what, parameters, inputs, want) in cases {
            let got = resolve(SecretKind::Snapshotter, &parameters, inputs);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
                (Err(e), Err(needle)) => {
                    let text = e.to_string();
                    assert!(text.contains(needle), "{what}: {text}");
                    assert!(
                        text.contains("csi.storage.k8s.io/snapshotter-secret-"),
                        "{what}: names the parameter: {text}"
                    );
                }
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn list_secrets_use_their_own_parameters() {
        let parameters = params(&[
            (NAME, "create"),
            (NS, "n"),
            (keys::SNAPSHOTTER_LIST_SECRET_NAME_KEY, "list"),
            (keys::SNAPSHOTTER_LIST_SECRET_NAMESPACE_KEY, "m"),
        ]);
        assert_eq!(
            resolve(SecretKind::SnapshotterList, &parameters, with_snapshot()).unwrap(),
            secret("list", "m")
        );
    }
}
