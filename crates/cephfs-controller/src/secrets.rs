//! Who we are towards Ceph on the CephFS side: `adminID`/`adminKey` in a request's secrets
//! (Rook's `rook-csi-cephfs-provisioner` Secret), or the controller's standing credentials
//! (files `userID`/`userKey`, shared with the RBD side) for RPCs CSI sends without secrets.
//!
//! The key goes straight into [`ceph::Secret`]; errors name the secret key, never its value.

use ceph::Secret;
use controller::error::{Error, Result};
use controller::secrets::{Identity, Source};
use controller::state::State;
use csi::SecretMap;

/// Secret key of the cephx user name (without `client.`).
pub const ADMIN_ID: &str = "adminID";
/// Secret key of the cephx key.
pub const ADMIN_KEY: &str = "adminKey";

/// Where the identity of a request comes from.
#[derive(Clone, Copy, Debug)]
pub enum Creds<'a> {
    /// The request must carry `adminID`/`adminKey`.
    Request(&'a SecretMap),
    /// The request's secrets when it has any, else the standing credentials.
    RequestOrStanding(&'a SecretMap, &'static str),
    /// The RPC has no secrets in CSI.
    Standing(&'static str),
}

/// Resolves the identity; errors name `adminID`/`adminKey`.
pub async fn identity(state: &State, from: Creds<'_>) -> Result<Identity> {
    match from {
        Creds::Request(secrets) => from_secrets(secrets),
        Creds::RequestOrStanding(secrets, _) if !secrets.is_empty() => from_secrets(secrets),
        Creds::RequestOrStanding(_, rpc) | Creds::Standing(rpc) => {
            state.standing.resolve(Source::Standing(rpc)).await
        }
    }
}

fn from_secrets(secrets: &SecretMap) -> Result<Identity> {
    let user = text(secrets, ADMIN_ID)?;
    let key = text(secrets, ADMIN_KEY)?;
    Ok(Identity {
        user: user.to_owned(),
        key: Secret::new(key),
    })
}

fn text<'a>(secrets: &'a SecretMap, key: &'static str) -> Result<&'a str> {
    let value = secrets.get(key).ok_or(Error::MissingSecret { key })?.trim();
    if value.is_empty() {
        return Err(Error::InvalidSecret {
            key,
            rule: "must not be empty".to_owned(),
        });
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidSecret {
            key,
            rule: "must not contain whitespace or control characters".to_owned(),
        });
    }
    Ok(value)
}

/// The RBD side's connect errors name `userID`/`userKey`; here the request said
/// `adminID`/`adminKey`.
pub fn rename_keys(e: Error) -> Error {
    match e {
        Error::InvalidSecret {
            key: "userKey",
            rule,
        } => Error::InvalidSecret {
            key: ADMIN_KEY,
            rule,
        },
        Error::InvalidSecret {
            key: "userID",
            rule,
        } => Error::InvalidSecret {
            key: ADMIN_ID,
            rule,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==";

    #[test]
    fn admin_keys_are_named_and_values_never_shown() {
        let only_key: SecretMap = [(ADMIN_KEY, KEY)].into_iter().collect();
        let e = from_secrets(&only_key).unwrap_err();
        assert!(e.to_string().contains("adminID"), "{e}");
        let spaced: SecretMap = [(ADMIN_ID, "admin"), (ADMIN_KEY, "a b")]
            .into_iter()
            .collect();
        let e = from_secrets(&spaced).unwrap_err();
        assert!(e.to_string().contains("adminKey") && !e.to_string().contains("a b"));
        let ok: SecretMap = [(ADMIN_ID, "admin"), (ADMIN_KEY, KEY)]
            .into_iter()
            .collect();
        let id = from_secrets(&ok).unwrap();
        assert_eq!(id.user, "admin");
        assert!(!format!("{id:?}").contains(KEY));
    }
}
