//! Request validation that reads like the spec: `req.name.required("name")?`.

use crate::error::{Error, Result};

/// The CSI spec's general size limit of a string field (names, ids).
pub const CSI_STRING_LIMIT: usize = 128;
/// `node_id` overrides it (CSI: "SHALL NOT exceed 192 bytes").
pub const CSI_NODE_ID_LIMIT: usize = 192;

/// A required string field: empty means absent in proto3.
pub trait Required {
    /// Present, within [`CSI_STRING_LIMIT`], without NUL.
    fn required(&self, field: &'static str) -> Result<&str> {
        self.required_within(field, CSI_STRING_LIMIT)
    }

    /// Present, at most `limit` bytes, without NUL.
    fn required_within(&self, field: &'static str, limit: usize) -> Result<&str>;
}

impl Required for String {
    fn required_within(&self, field: &'static str, limit: usize) -> Result<&str> {
        if self.is_empty() {
            return Err(Error::Missing { field });
        }
        optional_within(self, field, limit)
    }
}

/// An optional string field ("" = absent): at most `limit` bytes, without NUL. A value past
/// the limit is refused without being quoted (its length is).
pub fn optional_within<'a>(value: &'a str, field: &'static str, limit: usize) -> Result<&'a str> {
    // CSI limits names and ids; NUL would break every Ceph call.
    if value.len() > limit {
        return Err(Error::invalid(
            field,
            format!(
                "must be at most {limit} bytes (CSI limit), not {} bytes",
                value.len()
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL"));
    }
    Ok(value)
}

/// A required message field.
pub fn present<'a, T>(value: &'a Option<T>, field: &'static str) -> Result<&'a T> {
    value.as_ref().ok_or(Error::Missing { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_long_and_nul_strings_are_refused_by_name() {
        assert!(matches!(
            String::new().required("name"),
            Err(Error::Missing { field: "name" })
        ));
        assert!(
            "x".repeat(129)
                .required("name")
                .unwrap_err()
                .to_string()
                .contains("name")
        );
        assert!("a\0b".to_owned().required("volume_id").is_err());
        let node = "n".repeat(CSI_NODE_ID_LIMIT);
        assert!(node.required_within("node_id", CSI_NODE_ID_LIMIT).is_ok());
        assert!(node.required("node_id").is_err());
        let long = "x".repeat(1 << 20).required("volume_id").unwrap_err();
        assert!(long.to_string().len() < 100, "{long}");
        assert_eq!("pvc-1".to_owned().required("name").unwrap(), "pvc-1");
    }
}
