//! Redacted `Debug` output for CSI messages that carry secrets.
//!
//! `build.rs` removes the derived `Debug` from every message with a `[(csi_secret) = true]`
//! field and generates one that prints those fields through the helpers below, so
//! `{:?}`, `tracing`'s `?field` and `#[instrument]` can never leak a cephx key. Secret maps
//! keep their keys (which secret was passed is useful when debugging) but every value
//! prints as `<redacted>`.

use std::fmt;

include!(concat!(env!("OUT_DIR"), "/secret_messages.rs"));

/// Marker printed in place of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Prints as `<redacted>`.
#[derive(Clone, Copy, Default)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Prints a map's keys, sorted so output is stable, each with a `<redacted>` value.
pub struct RedactedMap<'a, K> {
    keys: Vec<&'a K>,
}

impl<'a, K: Ord> RedactedMap<'a, K> {
    /// Takes only the keys, so the values cannot end up in the output by accident.
    pub fn new(keys: impl IntoIterator<Item = &'a K>) -> Self {
        let mut keys: Vec<&'a K> = keys.into_iter().collect();
        keys.sort();
        Self { keys }
    }
}

impl<K: fmt::Debug> fmt::Debug for RedactedMap<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|k| (k, Redacted)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn redacted_map_shows_sorted_keys_and_hides_values() {
        let map = HashMap::from([
            (
                "userKey".to_string(),
                "AQD9o0Fd6hQRChAAt7fMaSZXduT3NWEqylNpmg==".to_string(),
            ),
            ("userID".to_string(), "admin".to_string()),
        ]);
        let out = format!("{:?}", RedactedMap::new(map.keys()));
        assert_eq!(out, r#"{"userID": <redacted>, "userKey": <redacted>}"#);
    }
}
