//! Lease names and holder identities as csi-lib-utils derives them, so a Sepia sidecar and an
//! upstream one for the same driver contend for the same Lease during a migration.

/// csi-lib-utils' rule: every character outside `[a-zA-Z0-9-]` becomes `-`, and a trailing `-`
/// gets an `X` appended (a Lease name must end alphanumeric).
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.ends_with('-') {
        out.push('X');
    }
    out
}

/// external-provisioner: the driver name itself (`/` → `-`, then sanitized).
pub fn provisioner(driver: &str) -> String {
    sanitize(&driver.replace('/', "-"))
}

/// csi-snapshotter: `external-snapshotter-leader-<driver>`.
pub fn snapshotter(driver: &str) -> String {
    sanitize(&format!("external-snapshotter-leader-{driver}"))
}

/// external-resizer: `external-resizer-<driver>`.
pub fn resizer(driver: &str) -> String {
    sanitize(&format!("external-resizer-{driver}"))
}

/// external-attacher: `external-attacher-leader-<driver>`.
pub fn attacher(driver: &str) -> String {
    sanitize(&format!("external-attacher-leader-{driver}"))
}

/// The holder identity of this process: the pod name (`POD_NAME`, else the hostname, as
/// upstream), plus a per-process suffix. Upstream uses the bare hostname, so two processes on
/// one host would both believe they hold the Lease; the suffix rules that out.
pub fn identity(host: &str, suffix: &str) -> String {
    sanitize(&format!("{host}_{suffix}"))
}

/// Where this process runs, for [`identity`]: `POD_NAME`, else the kernel's hostname.
pub fn host_name() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// The Lease namespace when `--leader-election-namespace` is not given: `POD_NAMESPACE`, else
/// the service account's namespace, else `default` (upstream's order).
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .ok()
                .map(|n| n.trim().to_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_csi_lib_utils() {
        assert_eq!(provisioner("rbd.csi.ceph.com"), "rbd-csi-ceph-com");
        assert_eq!(provisioner("example.com/driver"), "example-com-driver");
        assert_eq!(provisioner("driver."), "driver-X");
        assert_eq!(
            snapshotter("rbd.csi.sepia.io"),
            "external-snapshotter-leader-rbd-csi-sepia-io"
        );
        assert_eq!(
            resizer("rbd.csi.sepia.io"),
            "external-resizer-rbd-csi-sepia-io"
        );
        assert_eq!(
            attacher("rbd.csi.sepia.io"),
            "external-attacher-leader-rbd-csi-sepia-io"
        );
    }

    #[test]
    fn sanitize_keeps_allowed_characters_and_fixes_the_end() {
        assert_eq!(sanitize("aZ09-"), "aZ09-X");
        assert_eq!(sanitize("a_b:c"), "a-b-c");
        assert_eq!(sanitize("ü"), "-X");
        assert_eq!(identity("node1.example", "ab12"), "node1-example-ab12");
    }
}
