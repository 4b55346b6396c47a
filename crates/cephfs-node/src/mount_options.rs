//! Allowlists for what a StorageClass or PV may add to a mount: `fuseMountOptions` and
//! `kernelMountOptions` (volume context or cluster config, ceph-csi's keys) and the
//! capability's mount flags (PV `mountOptions`, applied to the pod's bind mount).
//!
//! The plugin runs as root: an option it does not know could point the client at another
//! identity, key file or file system (`name=`, `secretfile=`, `fs=` are the plugin's to set),
//! run ceph-fuse in the foreground (`debug`, `-f`) so the mount never returns, or relax
//! permission checks. So every option is checked here, by name and value, before anything is
//! mounted, and a refused one is INVALID_ARGUMENT naming the field and the rule.

use node::NodeError;
use node::checks::option_rules::{Rule, number_in, one_of};

/// Generic per-mount flags every mount kind takes.
const VFS_FLAGS: [&str; 8] = [
    "ro",
    "noatime",
    "nodiratime",
    "relatime",
    "strictatime",
    "noexec",
    "nosuid",
    "nodev",
];

/// Options the plugin sets itself from the volume context and secrets.
const IDENTITY_OPTIONS: [&str; 7] = [
    "name",
    "secret",
    "secretfile",
    "mds_namespace",
    "fs",
    "mon_addr",
    "fsid",
];

/// `fuseMountOptions`: FUSE `-o` options for ceph-fuse.
pub fn parse_fuse(field: &'static str, value: &str) -> Result<Vec<String>, NodeError> {
    parse(field, value, |name, value| match (name, value) {
        (flag, None) if VFS_FLAGS.contains(&flag) || flag == "default_permissions" => Ok(()),
        ("max_read", Some(v)) => number_in(v, 4096, 16 << 20),
        _ => Err(
            "is not an allowed ceph-fuse option (allowed: ro, noatime, nodiratime, \
                  relatime, strictatime, noexec, nosuid, nodev, default_permissions, max_read=N)"
                .to_string(),
        ),
    })
}

/// `kernelMountOptions`: options of the kernel CephFS client.
pub fn parse_kernel(field: &'static str, value: &str) -> Result<Vec<String>, NodeError> {
    const FLAGS: [&str; 14] = [
        "dirstat",
        "nodirstat",
        "rbytes",
        "norbytes",
        "nocrc",
        "crc",
        "noasyncreaddir",
        "asyncreaddir",
        "fsc",
        "nofsc",
        "dcache",
        "nodcache",
        "nocopyfrom",
        "noquotadf",
    ];
    parse(field, value, |name, value| match (name, value) {
        (flag, None) if VFS_FLAGS.contains(&flag) || FLAGS.contains(&flag) => Ok(()),
        ("wsize" | "rsize" | "rasize", Some(v)) => number_in(v, 0, 64 << 20),
        ("caps_max" | "readdir_max_entries" | "readdir_max_bytes", Some(v)) => {
            number_in(v, 0, 1 << 30)
        }
        ("mount_timeout" | "caps_wanted_delay_min" | "caps_wanted_delay_max", Some(v)) => {
            number_in(v, 1, 3600)
        }
        ("recover_session", Some(v)) => one_of(v, &["no", "clean"]),
        ("ms_mode", Some(v)) => one_of(
            v,
            &["legacy", "crc", "secure", "prefer-crc", "prefer-secure"],
        ),
        _ => Err("is not an allowed kernel CephFS option".to_string()),
    })
}

/// The capability's mount flags, applied to the pod's bind mount.
pub fn parse_mount_flags(flags: &[String]) -> Result<Vec<String>, NodeError> {
    parse(
        "volume_capability.mount.mount_flags",
        &flags.join(","),
        |name, value| match (name, value) {
            (flag, None) if VFS_FLAGS.contains(&flag) => Ok(()),
            _ => Err(format!(
                "is not a flag a bind mount takes (allowed: {})",
                VFS_FLAGS.join(", ")
            )),
        },
    )
}

/// Splits `value` at commas and checks each `name[=value]` with `rule`.
fn parse(
    field: &'static str,
    value: &str,
    rule: impl Fn(&str, Option<&str>) -> Rule,
) -> Result<Vec<String>, NodeError> {
    let mut out = Vec::new();
    for option in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let (name, v) = match option.split_once('=') {
            Some((name, v)) => (name, Some(v)),
            None => (option, None),
        };
        let checked = if IDENTITY_OPTIONS.contains(&name) {
            Err("is set by the plugin from the volume context and secrets".to_string())
        } else {
            rule(name, v)
        };
        checked.map_err(|rule| {
            NodeError::invalid(field, format!("{} {rule}", csi::quote::quote(option)))
        })?;
        out.push(option.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_options_are_allowlisted() {
        assert_eq!(
            parse_fuse("f", " noatime, max_read=131072 ,").unwrap(),
            vec!["noatime", "max_read=131072"]
        );
        for bad in [
            "debug",
            "allow_root",
            "max_read=1",
            "fs=other",
            "-f",
            "auto_unmount",
        ] {
            let Err(NodeError::InvalidField { field, rule }) = parse_fuse("f", bad) else {
                panic!("{bad} accepted");
            };
            assert_eq!(field, "f");
            assert!(rule.contains(bad), "{rule}");
        }
    }

    #[test]
    fn kernel_options_are_allowlisted_and_identity_is_ours() {
        assert_eq!(
            parse_kernel("k", "ms_mode=secure,rsize=65536,noasyncreaddir").unwrap(),
            vec!["ms_mode=secure", "rsize=65536", "noasyncreaddir"]
        );
        for bad in [
            "secretfile=/etc/shadow",
            "name=admin",
            "mds_namespace=x",
            "ms_mode=plain",
            "rsize=-1",
            "user_xattr",
        ] {
            assert!(parse_kernel("k", bad).is_err(), "{bad}");
        }
        let Err(NodeError::InvalidField { rule, .. }) = parse_kernel("k", "secret=AQB") else {
            panic!("secret accepted");
        };
        assert!(rule.contains("set by the plugin"), "{rule}");
    }

    #[test]
    fn mount_flags_are_vfs_flags_only() {
        assert_eq!(
            parse_mount_flags(&["noatime".into(), "nosuid".into()]).unwrap(),
            vec!["noatime", "nosuid"]
        );
        assert!(parse_mount_flags(&["remount".into()]).is_err());
        assert!(parse_mount_flags(&["rw,bind".into()]).is_err());
    }
}
