//! Rules for the CephFS names a request carries: they end up in ceph-fuse's arguments and in
//! the kernel mount source, so only what Ceph and ceph-csi actually produce passes.

use csi::quote::quote;
use node::NodeError;

/// A CephFS file system name: letters, digits, `-`, `_`, `.`; at most 255 bytes.
pub fn check_fs_name(field: &'static str, value: &str) -> Result<(), NodeError> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && !value.starts_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(NodeError::invalid(
            field,
            format!(
                "{} is not a CephFS name (letters, digits, '-', '_', '.'; at most 255 bytes)",
                quote(value)
            ),
        ))
    }
}

/// A subvolume path as `fs subvolume getpath` prints it: absolute, components of letters,
/// digits, `-`, `_`, `.` (never `.` or `..` alone), at most 4096 bytes.
pub fn check_subvolume_path(field: &'static str, value: &str) -> Result<(), NodeError> {
    let rule = if value.len() > 4096 {
        Some("is longer than 4096 bytes")
    } else if !value.starts_with('/') || value == "/" {
        Some("is not an absolute path below the file system's root")
    } else if value[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        Some("has an empty, '.' or '..' component")
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
    {
        Some("holds a character other than letters, digits, '-', '_', '.', '/'")
    } else {
        None
    };
    match rule {
        None => Ok(()),
        Some(rule) => Err(NodeError::invalid(
            field,
            format!("{} {rule}", quote(value)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceph_names_pass_and_others_are_named() {
        check_fs_name("f", "cephfs").unwrap();
        check_fs_name("f", "my_fs.2-b").unwrap();
        for bad in ["", "-o", "a b", "a,b", "a/b", &"x".repeat(256)] {
            assert!(check_fs_name("f", bad).is_err(), "{bad:?}");
        }
        check_subvolume_path(
            "p",
            "/volumes/csi/csi-vol-1a2b/4e785e60-3fd0-481d-90e0-c6c497bdd994",
        )
        .unwrap();
        for bad in [
            "",
            "/",
            "volumes/csi",
            "/volumes/../etc",
            "/volumes//x",
            "/volumes/x/",
            "/volumes/a,b",
            "/volumes/a:b",
            "/volumes/a b",
        ] {
            let Err(NodeError::InvalidField { field, .. }) = check_subvolume_path("p", bad) else {
                panic!("{bad:?} accepted");
            };
            assert_eq!(field, "p");
        }
    }
}
