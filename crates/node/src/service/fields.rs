//! Request validation that reads like the spec: `req.volume_id.required("volume_id")?`.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::NodeError;

pub(crate) trait Required {
    /// The value, or INVALID_ARGUMENT naming `field` when it is empty.
    fn required(&self, field: &'static str) -> Result<&str, NodeError>;

    fn required_path(&self, field: &'static str) -> Result<PathBuf, NodeError> {
        self.required(field).map(PathBuf::from)
    }
}

impl Required for String {
    fn required(&self, field: &'static str) -> Result<&str, NodeError> {
        if self.is_empty() {
            Err(NodeError::MissingField { field })
        } else {
            Ok(self)
        }
    }
}

/// A non-empty entry of a CSI string map (volume context, secrets), or MissingField.
pub(crate) fn entry<'a>(
    map: &'a HashMap<String, String>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, NodeError> {
    optional(map, key).ok_or(NodeError::MissingField { field })
}

/// A non-empty entry, if present.
pub(crate) fn optional<'a>(map: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Empty string = not given (proto3 has no presence for strings).
pub(crate) fn optional_path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}
