//! cephx identity. The key lives only in memory, inside [`Secret`], which cannot be printed and
//! is wiped when dropped, so no `{:?}` of a request, span field or error can carry it by accident.

use std::fmt;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A cephx key that never prints (Debug and Display show `<redacted>`) and is zeroed on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(key: impl Into<String>) -> Self {
        Secret(Zeroizing::new(key.into()))
    }

    /// The key itself; only for handing to librados or a child process' stdin.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who to connect to and as whom. `user` is the cephx id without the `client.` prefix (as in
/// Rook's `userID`); a leading `client.` is tolerated and stripped.
#[derive(Clone)]
pub struct Credentials {
    pub monitors: String,
    pub user: String,
    key: Secret,
}

impl Credentials {
    pub fn new(
        monitors: impl Into<String>,
        user: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Credentials {
            monitors: monitors.into(),
            user: user.into(),
            key: Secret::new(key),
        }
    }

    /// The cephx key; only for handing to librados or to a child process.
    pub fn key(&self) -> &str {
        self.key.expose()
    }

    /// `client.<user>`, the entity name librados authenticates as.
    pub fn entity(&self) -> String {
        let user = self.user.strip_prefix("client.").unwrap_or(&self.user);
        format!("client.{user}")
    }

    /// Rejects what librados would otherwise choke on. The key is checked to decode as a cephx
    /// key because librados logs the whole key text when it fails to decode it.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.monitors.trim().is_empty() {
            return Err(Error::invalid("monitors: must not be empty"));
        }
        if has_control_chars(&self.monitors) {
            return Err(Error::invalid(
                "monitors: must not contain control characters",
            ));
        }
        let user = self.user.strip_prefix("client.").unwrap_or(&self.user);
        if user.is_empty() {
            return Err(Error::invalid("user: must not be empty"));
        }
        if has_control_chars(user) || user.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "user: must not contain whitespace or control characters",
            ));
        }
        if !is_cephx_key(self.key()) {
            return Err(Error::invalid(
                "key: not a base64-encoded cephx key (as printed by `ceph auth get-key`)",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("monitors", &self.monitors)
            .field("user", &self.user)
            .field("key", &self.key)
            .finish()
    }
}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A cephx key is base64 of: u16 type, u32 secs, u32 nsecs, u16 length, then `length` bytes.
fn is_cephx_key(key: &str) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(key) else {
        return false;
    };
    let raw = Zeroizing::new(raw);
    if raw.len() < 12 {
        return false;
    }
    let len = usize::from(u16::from_le_bytes([raw[10], raw[11]]));
    len > 0 && raw.len() == 12 + len
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==";

    #[test]
    fn debug_never_shows_the_key() {
        let c = Credentials::new("127.0.0.1:6789", "admin", KEY);
        let shown = format!("{c:?} {:?} {}", c.key, c.key);
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(c.key(), KEY);
    }

    #[test]
    fn validation_names_the_field() {
        assert!(Credentials::new("m:1", "admin", KEY).validate().is_ok());
        assert_eq!(
            Credentials::new("m:1", "client.admin", KEY).entity(),
            "client.admin"
        );
        assert_eq!(
            Credentials::new("m:1", "admin", KEY).entity(),
            "client.admin"
        );
        for (c, field) in [
            (Credentials::new("", "admin", KEY), "monitors"),
            (Credentials::new("m:1", "", KEY), "user"),
            (Credentials::new("m:1", "client.", KEY), "user"),
            (Credentials::new("m:1", "a b", KEY), "user"),
            (Credentials::new("m:1", "admin", "not-base64!"), "key"),
            (Credentials::new("m:1", "admin", "AAAA"), "key"),
        ] {
            let e = c.validate().expect_err("must be rejected");
            assert!(e.to_string().contains(field), "{e}");
            assert!(!e.to_string().contains(KEY));
        }
    }
}
