//! Names derived from a VolumeSnapshot's UID. Deriving them (instead of generating) is what
//! makes every step idempotent: a retry, a restart or a second replica computes the same
//! content name and the same CSI snapshot name, so nothing is created twice.

/// Upstream's default `--snapshot-name-prefix`.
pub const DEFAULT_SNAPSHOT_NAME_PREFIX: &str = "snapshot";

/// The dynamic content of a VolumeSnapshot: `snapcontent-<uid>`.
pub fn dynamic_content_name(snapshot_uid: &str) -> String {
    format!("snapcontent-{snapshot_uid}")
}

/// The CSI CreateSnapshot name: `<prefix>-<uid>`, the UID cut to `uuid_length` characters when
/// given (upstream's `--snapshot-name-uuid-length`, for backends with short name limits).
pub fn csi_snapshot_name(prefix: &str, snapshot_uid: &str, uuid_length: Option<usize>) -> String {
    let uid = match uuid_length {
        Some(length) => snapshot_uid.get(..length).unwrap_or(snapshot_uid),
        None => snapshot_uid,
    };
    format!("{prefix}-{uid}")
}

/// The VolumeSnapshot UID a dynamic content was named for, if the name has that shape.
pub fn snapshot_uid_of_content(content_name: &str) -> Option<&str> {
    content_name
        .strip_prefix("snapcontent-")
        .filter(|uid| !uid.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "8f1c5a2e-7d7e-4bcb-9a49-0c1a2b3c4d5e";

    #[test]
    fn names_follow_upstream() {
        assert_eq!(
            dynamic_content_name(UID),
            "snapcontent-8f1c5a2e-7d7e-4bcb-9a49-0c1a2b3c4d5e"
        );
        assert_eq!(
            csi_snapshot_name(DEFAULT_SNAPSHOT_NAME_PREFIX, UID, None),
            "snapshot-8f1c5a2e-7d7e-4bcb-9a49-0c1a2b3c4d5e"
        );
        assert_eq!(csi_snapshot_name("snap", UID, Some(8)), "snap-8f1c5a2e");
        assert_eq!(
            csi_snapshot_name("snap", UID, Some(100)),
            format!("snap-{UID}"),
            "a length beyond the UID keeps it whole"
        );
    }

    #[test]
    fn the_uid_is_read_back_from_a_dynamic_content_name() {
        assert_eq!(
            snapshot_uid_of_content(&dynamic_content_name(UID)),
            Some(UID)
        );
        assert_eq!(snapshot_uid_of_content("imported-content"), None);
        assert_eq!(snapshot_uid_of_content("snapcontent-"), None);
    }
}
