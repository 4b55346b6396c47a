//! Sizes as Kubernetes writes them in a PVC (`1Gi`, `512Mi`, `10G`, plain bytes), so the bench
//! and the demo speak the unit users type.

use crate::error::{Error, Result};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Parses a Kubernetes quantity without fractions: digits followed by nothing (bytes), a binary
/// suffix (`Ki` `Mi` `Gi` `Ti`) or a decimal one (`k` `M` `G` `T`).
pub fn parse_size(text: &str) -> Result<u64> {
    let invalid = |rule: &str| Error::InvalidArgument {
        field: "size",
        rule: format!("{text:?} {rule}"),
    };
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(invalid("must start with a whole number (e.g. 1Gi)"));
    }
    let number: u64 = digits.parse().map_err(|_| invalid("is too large"))?;
    let unit: u64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => MIB,
        "Gi" => GIB,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => {
            return Err(invalid(
                "has an unknown unit (use Ki, Mi, Gi, Ti, k, M, G or T)",
            ));
        }
    };
    let bytes = number
        .checked_mul(unit)
        .ok_or_else(|| invalid("is too large"))?;
    if bytes == 0 {
        return Err(invalid("must be more than zero bytes"));
    }
    Ok(bytes)
}

/// `1 GiB`, `512 MiB`, or bytes when the size is not a whole number of MiB.
pub fn format_size(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantities_parse_to_bytes() {
        assert_eq!(parse_size("1Gi").unwrap(), GIB);
        assert_eq!(parse_size("512Mi").unwrap(), 512 * MIB);
        assert_eq!(parse_size("10G").unwrap(), 10_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2Ti").unwrap(), 2 << 40);
    }

    #[test]
    fn malformed_sizes_name_the_rule() {
        for (text, rule) in [
            ("", "whole number"),
            ("Gi", "whole number"),
            ("1.5Gi", "unknown unit"),
            ("1gb", "unknown unit"),
            ("0Mi", "more than zero"),
            ("99999999999999Ti", "too large"),
        ] {
            let err = parse_size(text).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid size:") && err.contains(rule),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(format_size(2 * GIB), "2 GiB");
        assert_eq!(format_size(1536 * MIB), "1536 MiB");
        assert_eq!(format_size(1000), "1000 B");
    }
}
