//! Request validation that reads like the spec: `req.volume_id.required("volume_id")?`.

use std::collections::HashMap;

use crate::error::NodeError;

pub trait Required {
    /// The value, or INVALID_ARGUMENT naming `field` when it is empty.
    fn required(&self, field: &'static str) -> Result<&str, NodeError>;
}

impl Required for str {
    fn required(&self, field: &'static str) -> Result<&str, NodeError> {
        if self.is_empty() {
            Err(NodeError::MissingField { field })
        } else {
            Ok(self)
        }
    }
}

/// A non-empty entry of a CSI string map (volume context, secrets), or MissingField.
pub fn entry<'a>(
    map: &'a HashMap<String, String>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, NodeError> {
    optional(map, key).ok_or(NodeError::MissingField { field })
}

/// A non-empty entry, if present.
pub fn optional<'a>(map: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str).filter(|v| !v.is_empty())
}
