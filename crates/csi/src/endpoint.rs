//! Parsing of CSI endpoint strings (`--csi-address`, `CSI_ENDPOINT`) into socket paths.
//!
//! CSI only runs over unix sockets. Accepted forms follow gRPC's naming rules, which the
//! Go sidecars use: `unix:///abs/path`, `unix:path` (relative or absolute) and, as the
//! sidecars also allow, a bare filesystem path.

use std::path::PathBuf;

use crate::error::Error;

/// Returns the socket path an endpoint names.
///
/// # Errors
/// [`Error::InvalidEndpoint`] for an empty endpoint, a non-unix scheme, or `unix://`
/// followed by anything but an absolute path.
pub fn socket_path(endpoint: &str) -> Result<PathBuf, Error> {
    let invalid = |reason| Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason,
    };
    let path = if let Some(rest) = endpoint.strip_prefix("unix://") {
        if !rest.starts_with('/') {
            return Err(invalid(
                "unix:// must be followed by an absolute path (unix:///path)",
            ));
        }
        rest
    } else if let Some(rest) = endpoint.strip_prefix("unix:") {
        rest
    } else if endpoint.contains("://") {
        return Err(invalid("only unix sockets are supported (unix:///path)"));
    } else {
        endpoint
    };
    if path.is_empty() {
        return Err(invalid("the socket path is empty"));
    }
    if path.contains('\0') {
        return Err(invalid("the socket path contains a NUL byte"));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms_name_the_socket_path() {
        for (endpoint, want) in [
            ("unix:///csi/csi.sock", "/csi/csi.sock"),
            ("unix:/csi/csi.sock", "/csi/csi.sock"),
            ("unix:csi.sock", "csi.sock"),
            (
                "/var/lib/kubelet/plugins/rbd.csi.ceph.com/csi.sock",
                "/var/lib/kubelet/plugins/rbd.csi.ceph.com/csi.sock",
            ),
            ("run/csi.sock", "run/csi.sock"),
        ] {
            assert_eq!(
                socket_path(endpoint).unwrap(),
                PathBuf::from(want),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn rejected_forms_say_which_rule_they_break() {
        for (endpoint, reason) in [
            ("", "the socket path is empty"),
            (
                "unix://",
                "unix:// must be followed by an absolute path (unix:///path)",
            ),
            (
                "unix://csi.sock",
                "unix:// must be followed by an absolute path (unix:///path)",
            ),
            ("unix:", "the socket path is empty"),
            (
                "tcp://127.0.0.1:10000",
                "only unix sockets are supported (unix:///path)",
            ),
            ("unix:/a\0b", "the socket path contains a NUL byte"),
        ] {
            match socket_path(endpoint) {
                Err(Error::InvalidEndpoint {
                    endpoint: e,
                    reason: r,
                }) => {
                    assert_eq!(e, endpoint);
                    assert_eq!(r, reason, "{endpoint:?}");
                }
                other => panic!("{endpoint:?}: expected InvalidEndpoint, got {other:?}"),
            }
        }
    }
}
