//! Who we are towards Ceph: `userID`/`userKey` from a request's secrets (Rook's
//! `rook-csi-rbd-provisioner` Secret), or the controller's standing credentials for the RPCs CSI
//! sends without secrets (ListVolumes, GetCapacity, ControllerGetVolume, and publish calls whose
//! StorageClass names no publish secret).
//!
//! The key goes straight into [`ceph::Credentials`], whose Debug prints `<redacted>`; errors
//! name the secret key (`userKey`), never its value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ceph::Secret;
use csi::SecretMap;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Secret key of the cephx user name (without `client.`).
pub const USER_ID: &str = "userID";
/// Secret key of the cephx key.
pub const USER_KEY: &str = "userKey";

/// A local file read has no business taking longer.
const READ_DEADLINE: Duration = Duration::from_secs(5);

/// A cephx identity without monitors: monitors come from the cluster config.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: String,
    pub key: Secret,
}

impl Identity {
    /// The identity in a request's secrets. Errors name the missing or empty key.
    pub fn from_secrets(secrets: &SecretMap) -> Result<Identity> {
        let user = non_empty(secrets, USER_ID)?;
        let key = non_empty(secrets, USER_KEY)?;
        check_text(USER_ID, user)?;
        check_text(USER_KEY, key)?;
        Ok(Identity {
            user: user.to_owned(),
            key: Secret::new(key),
        })
    }

    /// Credentials for a cluster's monitors.
    pub fn credentials(&self, monitors: String) -> ceph::Credentials {
        ceph::Credentials::new(monitors, self.user.clone(), self.key.expose())
    }
}

/// Where the identity of a request comes from.
#[derive(Clone, Debug)]
pub enum Source<'a> {
    /// The request must carry secrets (CreateVolume, DeleteVolume, snapshots, expand).
    Request(&'a SecretMap),
    /// The request's secrets when it has any, else the standing credentials.
    RequestOrStanding(&'a SecretMap, &'static str),
    /// The RPC has no secrets in CSI.
    Standing(&'static str),
}

/// The controller's standing credentials: a mounted Secret read on every use, so a rotated key
/// is picked up without a restart.
#[derive(Clone, Debug)]
pub struct StandingCredentials {
    dir: Option<PathBuf>,
}

impl StandingCredentials {
    pub fn new(dir: Option<PathBuf>) -> Self {
        StandingCredentials { dir }
    }

    /// Resolves `source` into an identity.
    pub async fn resolve(&self, source: Source<'_>) -> Result<Identity> {
        match source {
            Source::Request(secrets) => Identity::from_secrets(secrets),
            Source::RequestOrStanding(secrets, _) if !secrets.is_empty() => {
                Identity::from_secrets(secrets)
            }
            Source::RequestOrStanding(_, rpc) | Source::Standing(rpc) => self.load(rpc).await,
        }
    }

    async fn load(&self, rpc: &'static str) -> Result<Identity> {
        let Some(dir) = &self.dir else {
            return Err(Error::NoStandingCredentials { rpc });
        };
        let user = read_file(dir, USER_ID).await?;
        let key = read_file(dir, USER_KEY).await?;
        let user = user.trim().to_owned();
        let key = key.trim();
        for (name, value) in [(USER_ID, user.as_str()), (USER_KEY, key)] {
            if value.is_empty() {
                return Err(Error::StandingCredentials {
                    what: format!("file {} is empty", dir.join(name).display()),
                });
            }
        }
        Ok(Identity {
            user,
            key: Secret::new(key),
        })
    }
}

async fn read_file(dir: &Path, name: &str) -> Result<Zeroizing<String>> {
    let path = dir.join(name);
    let failed = |what: String| Error::StandingCredentials {
        what: format!("cannot read {}: {what}", path.display()),
    };
    match tokio::time::timeout(READ_DEADLINE, tokio::fs::read(&path)).await {
        Ok(Ok(bytes)) => String::from_utf8(bytes).map(Zeroizing::new).map_err(|e| {
            // Wipe the rejected bytes too; the message never shows them.
            drop(Zeroizing::new(e.into_bytes()));
            failed("not UTF-8".to_owned())
        }),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!("no answer within {READ_DEADLINE:?}"))),
    }
}

fn non_empty<'a>(secrets: &'a SecretMap, key: &'static str) -> Result<&'a str> {
    match secrets.get(key) {
        None => Err(Error::MissingSecret { key }),
        Some(value) if value.trim().is_empty() => Err(Error::InvalidSecret {
            key,
            rule: "must not be empty".to_owned(),
        }),
        Some(value) => Ok(value.trim()),
    }
}

fn check_text(key: &'static str, value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidSecret {
            key,
            rule: "must not contain whitespace or control characters".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==";

    fn secrets(pairs: &[(&str, &str)]) -> SecretMap {
        pairs.iter().copied().collect()
    }

    #[test]
    fn missing_keys_are_named_and_values_never_shown() {
        let e = Identity::from_secrets(&secrets(&[(USER_KEY, KEY)])).unwrap_err();
        assert!(e.to_string().contains("\"userID\""), "{e}");
        let e = Identity::from_secrets(&secrets(&[(USER_ID, "admin")])).unwrap_err();
        assert!(e.to_string().contains("\"userKey\""), "{e}");
        let e =
            Identity::from_secrets(&secrets(&[(USER_ID, "admin"), (USER_KEY, "a b")])).unwrap_err();
        assert!(
            e.to_string().contains("userKey") && !e.to_string().contains("a b"),
            "{e}"
        );
        let ok = Identity::from_secrets(&secrets(&[(USER_ID, "admin"), (USER_KEY, KEY)])).unwrap();
        assert!(!format!("{ok:?}").contains(KEY));
    }

    #[tokio::test]
    async fn standing_credentials_come_from_a_secret_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(USER_ID), "csi-rbd-provisioner\n").unwrap();
        std::fs::write(dir.path().join(USER_KEY), format!("{KEY}\n")).unwrap();
        let standing = StandingCredentials::new(Some(dir.path().to_owned()));
        let id = standing
            .resolve(Source::Standing("ListVolumes"))
            .await
            .unwrap();
        assert_eq!(id.user, "csi-rbd-provisioner");
        assert_eq!(id.key.expose(), KEY);
        let none = StandingCredentials::new(None);
        let e = none
            .resolve(Source::Standing("GetCapacity"))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("--controller-credentials-dir"),
            "{e}"
        );
        // Request secrets win when present.
        let s = secrets(&[(USER_ID, "other"), (USER_KEY, KEY)]);
        let id = standing
            .resolve(Source::RequestOrStanding(&s, "ControllerPublishVolume"))
            .await
            .unwrap();
        assert_eq!(id.user, "other");
    }
}
