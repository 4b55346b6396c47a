//! Rules for the names the node puts on command lines and in paths: pool, RADOS namespace,
//! image (from the volume context, or a static volume's handle) and the cephx user.
//!
//! They reach `rbd`, `rbd-nbd` and `rbd-fuse` as arguments, and with rbd-fuse the image name
//! becomes a file name under the rbd-fuse mount, which a loop device is attached to and mkfs
//! is run over. So a name must be one harmless component whatever the mapper: no `/` (a path,
//! and RBD's own `pool/namespace/image` separator), no `@` (RBD's snapshot separator), not `.`
//! or `..`, no leading `-` (it would read as an option), no whitespace or control characters,
//! at most 255 bytes (a file name). Every name Ceph and ceph-csi generate passes.

use csi::quote::quote;

use crate::error::NodeError;

/// Longest name accepted: one file-name component.
pub const MAX_NAME_BYTES: usize = 255;

/// Checks `value` as a pool, namespace or image name; `field` names it in the error.
pub fn check_rbd_name(field: &'static str, value: &str) -> Result<(), NodeError> {
    let problem = if value.is_empty() {
        Some("must not be empty")
    } else {
        name_problem(value).or_else(|| {
            value.chars().any(|c| matches!(c, '/' | '@')).then_some(
                "must not contain '/' or '@' (RBD's pool/namespace/image@snapshot separators)",
            )
        })
    };
    match problem {
        None => Ok(()),
        Some(rule) => Err(NodeError::invalid(
            field,
            format!("{} {rule}", quote(value)),
        )),
    }
}

/// Checks a RADOS namespace: empty (the pool's default namespace) or an RBD name.
pub fn check_namespace(field: &'static str, value: &str) -> Result<(), NodeError> {
    if value.is_empty() {
        return Ok(());
    }
    check_rbd_name(field, value)
}

/// Checks a cephx user ID (`--id` of the Ceph tools, without `client.`).
pub fn check_user(field: &'static str, value: &str) -> Result<(), NodeError> {
    match name_problem(value) {
        None => Ok(()),
        Some(rule) => Err(NodeError::invalid(
            field,
            format!("{} {rule}", quote(value)),
        )),
    }
}

/// The rules every name shares.
fn name_problem(value: &str) -> Option<&'static str> {
    if value.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if value == "." || value == ".." {
        Some("must not be '.' or '..'")
    } else if value.starts_with('-') {
        Some("must not start with '-' (it would be read as an option)")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain whitespace or control characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ceph_and_ceph_csi_make_pass() {
        for good in [
            "replicapool",
            "csi-vol-197480ab-6e0f-11ed-b5c4-6efb82c232c4",
            ".mgr",
            "my-store.rgw.buckets.data",
            "team_a",
            "a..b",
        ] {
            check_rbd_name("pool", good).unwrap();
        }
        check_namespace("volume_context.radosNamespace", "").unwrap();
        check_user("secrets.userID", "csi-rbd-node").unwrap();
    }

    #[test]
    fn names_that_could_escape_or_inject_are_refused() {
        for bad in [
            "",
            "/some/host/file",
            "../../x",
            "..",
            ".",
            "a/b",
            "img@snap",
            "-o",
            "--keyfile=/etc/shadow",
            "a b",
            "a\nb",
            "a\0b",
        ] {
            let err = check_rbd_name("volume_context.imageName", bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    NodeError::InvalidField {
                        field: "volume_context.imageName",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
        assert!(check_rbd_name("pool", &"p".repeat(256)).is_err());
        assert!(check_user("secrets.userID", "-x").is_err());
    }

    #[test]
    fn the_error_quotes_at_most_256_bytes_of_the_name() {
        let long = "x".repeat(100_000);
        let err = check_rbd_name("volume_context.imageName", &long)
            .unwrap_err()
            .to_string();
        assert!(err.len() < 600, "{}", err.len());
        assert!(err.contains("…(100000 bytes)"), "{err}");
    }
}
