//! Request validation that reads like the spec: `req.name.required("name")?`.

use crate::error::{Error, Result};

/// A required string field: empty means absent in proto3.
pub trait Required {
    fn required(&self, field: &'static str) -> Result<&str>;
}

impl Required for String {
    fn required(&self, field: &'static str) -> Result<&str> {
        if self.is_empty() {
            return Err(Error::Missing { field });
        }
        // CSI limits names and ids to 128 bytes; NUL would break every Ceph call.
        if self.len() > 128 {
            return Err(Error::invalid(
                field,
                "must be at most 128 bytes (CSI limit)",
            ));
        }
        if self.contains('\0') {
            return Err(Error::invalid(field, "must not contain NUL"));
        }
        Ok(self)
    }
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
        assert_eq!("pvc-1".to_owned().required("name").unwrap(), "pvc-1");
    }
}
