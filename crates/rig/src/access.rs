//! Who the bench (and the demo) are in Ceph, and the CSI secrets they hand a driver.
//!
//! Credentials come from the local bed's env file (`scripts/bed.sh` writes
//! `${SEPIA_BED_DIR:-/tmp/sepia-bed}/env`) or from flags with the key in a file, never from a
//! flag value (it would show in `ps`). The key lives in [`ceph::Credentials`], whose `Debug`
//! redacts it; it leaves this module only inside a CSI secrets map, whose generated `Debug` in
//! `sepia-csi` redacts it too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ceph::Credentials;

use crate::error::{Error, Result};

/// The monitors and cephx identity to use.
#[derive(Clone)]
pub struct Access {
    pub credentials: Credentials,
    /// Pool named by the bed (`SEPIA_CEPH_POOL`), when read from it.
    pub bed_pool: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("monitors", &self.credentials.monitors)
            .field("user", &self.credentials.user)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Where the bed's env file is when no path is given.
pub fn default_bed_env() -> PathBuf {
    let dir = std::env::var_os("SEPIA_BED_DIR").unwrap_or_else(|| "/tmp/sepia-bed".into());
    PathBuf::from(dir).join("env")
}

impl Access {
    /// Reads `export NAME=value` lines of the bed's env file.
    pub fn from_bed_env(path: &Path) -> Result<Access> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::BedEnv {
            path: path.to_owned(),
            reason: format!("cannot be read ({source}); start the bed with `scripts/bed.sh up`"),
        })?;
        let vars = parse_env_file(&text);
        let get = |name: &str| {
            vars.get(name).cloned().ok_or_else(|| Error::BedEnv {
                path: path.to_owned(),
                reason: format!("has no {name}"),
            })
        };
        Ok(Access {
            credentials: Credentials::new(
                get("SEPIA_CEPH_MONITORS")?,
                get("SEPIA_CEPH_USER")?,
                get("SEPIA_CEPH_KEY")?,
            ),
            bed_pool: vars.get("SEPIA_CEPH_POOL").cloned(),
        })
    }

    /// Monitors and user from flags, the key from a file (first line, trimmed; the file a
    /// Kubernetes Secret mounts as `userKey`).
    pub fn from_flags(monitors: &str, user: &str, key_file: &Path) -> Result<Access> {
        let key = std::fs::read_to_string(key_file).map_err(|source| Error::Io {
            what: "reading the key file",
            path: key_file.to_owned(),
            source,
        })?;
        let key = key.lines().next().unwrap_or("").trim().to_owned();
        if key.is_empty() {
            return Err(Error::InvalidArgument {
                field: "key-file",
                rule: format!("{} holds no key", key_file.display()),
            });
        }
        Ok(Access {
            credentials: Credentials::new(monitors, user, key),
            bed_pool: None,
        })
    }

    /// The secrets map of every CSI request, as Rook's `rook-csi-rbd-provisioner` Secret holds
    /// them. Only for building requests; never print it.
    pub fn csi_secrets(&self) -> HashMap<String, String> {
        HashMap::from([
            ("userID".to_owned(), self.credentials.user.clone()),
            ("userKey".to_owned(), self.credentials.key().to_owned()),
        ])
    }

    /// Monitor addresses as a config.json `monitors` list.
    pub fn monitor_list(&self) -> Vec<String> {
        self.credentials
            .monitors
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `export NAME=value` (or `NAME=value`) lines; blank lines and comments are skipped, one
/// pair of surrounding quotes is removed.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.strip_prefix("export ").unwrap_or(line))
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (name.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "export SEPIA_BED_DIR=/tmp/sepia-bed\n\
        # comment\n\
        export SEPIA_CEPH_MONITORS=127.0.0.1:40123\n\
        export SEPIA_CEPH_USER=admin\n\
        export SEPIA_CEPH_KEY=\"AQD9o0Fd6hQRChAAt7fMaSZXduT3NWEqylNpmg==\"\n\
        SEPIA_CEPH_POOL=rbd\n";

    #[test]
    fn env_file_lines_become_variables() {
        let vars = parse_env_file(ENV);
        assert_eq!(vars["SEPIA_CEPH_MONITORS"], "127.0.0.1:40123");
        assert_eq!(
            vars["SEPIA_CEPH_KEY"],
            "AQD9o0Fd6hQRChAAt7fMaSZXduT3NWEqylNpmg=="
        );
        assert_eq!(vars["SEPIA_CEPH_POOL"], "rbd");
        assert_eq!(vars.len(), 5);
    }

    #[test]
    fn bed_access_builds_csi_secrets_and_hides_the_key_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(&path, ENV).unwrap();
        let access = Access::from_bed_env(&path).unwrap();
        let secrets = access.csi_secrets();
        assert_eq!(secrets["userID"], "admin");
        assert_eq!(
            secrets["userKey"],
            "AQD9o0Fd6hQRChAAt7fMaSZXduT3NWEqylNpmg=="
        );
        assert_eq!(access.monitor_list(), ["127.0.0.1:40123"]);
        assert_eq!(access.bed_pool.as_deref(), Some("rbd"));
        assert!(!format!("{access:?}").contains("AQD9"));
    }

    #[test]
    fn a_bed_file_without_the_key_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(
            &path,
            "export SEPIA_CEPH_MONITORS=1.2.3.4:1\nexport SEPIA_CEPH_USER=a\n",
        )
        .unwrap();
        let err = Access::from_bed_env(&path).unwrap_err().to_string();
        assert!(err.contains("has no SEPIA_CEPH_KEY"), "{err}");
    }
}
