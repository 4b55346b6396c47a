//! [`SecretMap`]: the one type a CSI `secrets` map has inside our code, from the moment it is
//! read (a request arriving at the driver, a Secret read by a sidecar) until it is handed to
//! Ceph or put into an outgoing CSI message.
//!
//! It lives here, beside [`crate::redact`], because every binary that holds secrets speaks CSI
//! and already depends on this crate, and redaction has one owner: the generated messages and
//! this map print secrets the same way (keys shown, values `<redacted>`). A plain
//! `HashMap<String, String>` in a `#[derive(Debug)]` struct would print a cephx key the first
//! time someone logs `?request`.

use std::collections::HashMap;
use std::fmt;

use zeroize::Zeroize as _;

use crate::redact::{REDACTED, RedactedMap};

/// A CSI secrets map whose `Debug` and `Display` show only keys, and whose values are wiped
/// from memory when it is dropped.
///
/// Values leave it only through [`SecretMap::get`] (to hand one to Ceph) and
/// [`SecretMap::into_csi`] (to fill a generated request, whose `Debug` redacts too).
#[derive(Clone, Default)]
pub struct SecretMap(HashMap<String, String>);

impl SecretMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, for handing to Ceph; never for a log line or an error.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Sets `key`, wiping any value it replaces.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        if let Some(mut old) = self.0.insert(key.into(), value.into()) {
            old.zeroize();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The keys (which secret was passed is fine to show), in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The map for a generated CSI request's `secrets` field. From there on the values are no
    /// longer wiped on drop (prost owns them), but the message's `Debug` still redacts them.
    pub fn into_csi(mut self) -> HashMap<String, String> {
        std::mem::take(&mut self.0)
    }
}

impl From<HashMap<String, String>> for SecretMap {
    /// Takes a received request's map as it is, without copying the values.
    fn from(map: HashMap<String, String>) -> Self {
        SecretMap(map)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for SecretMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut map = SecretMap::new();
        map.extend(pairs);
        map
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for SecretMap {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        for (key, value) in pairs {
            self.insert(key, value);
        }
    }
}

impl Drop for SecretMap {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        RedactedMap::new(self.0.keys()).fmt(f)
    }
}

impl fmt::Display for SecretMap {
    /// `userID=<redacted>, userKey=<redacted>`, keys sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort();
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key}={REDACTED}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AQD9o0FdxSECRETxSECRETxSECRETxDuT3NWEqylNpmg==";

    fn map() -> SecretMap {
        [("userID", "admin"), ("userKey", KEY)]
            .into_iter()
            .collect()
    }

    #[test]
    fn every_format_shows_keys_and_hides_values() {
        let secrets = map();
        for shown in [
            format!("{secrets:?}"),
            format!("{secrets:#?}"),
            format!("{secrets}"),
            format!("{secrets:>200}"),
        ] {
            assert!(!shown.contains(KEY), "{shown}");
            assert!(!shown.contains("admin"), "{shown}");
            assert!(
                shown.contains("userID") && shown.contains("userKey"),
                "{shown}"
            );
        }
        assert_eq!(
            format!("{secrets:?}"),
            r#"{"userID": <redacted>, "userKey": <redacted>}"#
        );
        assert_eq!(
            format!("{secrets}"),
            "userID=<redacted>, userKey=<redacted>"
        );
    }

    #[test]
    fn values_reach_ceph_and_csi_messages_unchanged() {
        let mut secrets = map();
        assert_eq!(secrets.get("userKey"), Some(KEY));
        assert_eq!(secrets.get("missing"), None);
        secrets.insert("userKey", "other");
        assert_eq!(secrets.get("userKey"), Some("other"));
        let csi = secrets.into_csi();
        assert_eq!(csi.len(), 2);
        assert_eq!(csi["userID"], "admin");
        let back = SecretMap::from(csi);
        assert_eq!(back.len(), 2);
        let mut keys: Vec<&str> = back.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["userID", "userKey"]);
    }
}
