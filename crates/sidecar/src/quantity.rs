//! Kubernetes resource quantities (`10Gi`, `500M`, `1.5Gi`, `1e9`) as bytes, and bytes back as
//! the canonical binary-SI string Kubernetes would print. Sizes are read from user-written
//! claims in any notation; what a sidecar writes (a PV's capacity, a claim's status) reads as
//! one written by the upstream sidecars (`2Gi`, not `2147483648`).

/// Why a quantity string is not a byte count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "{0:?} is not a Kubernetes quantity (a number with an optional suffix such as Gi, M or e9)"
    )]
    Malformed(String),
    #[error("{0:?} is negative")]
    Negative(String),
    #[error("{0:?} does not fit in 64 bits")]
    TooLarge(String),
}

/// Parses a quantity into whole bytes, rounding a fractional result up: a request means "at
/// least" that much, as it does to Kubernetes.
///
/// # Errors
/// [`QuantityError`] naming the text: malformed, negative, or beyond `u64`.
pub fn parse_bytes(text: &str) -> Result<u64, QuantityError> {
    let malformed = || QuantityError::Malformed(text.to_owned());
    let too_large = || QuantityError::TooLarge(text.to_owned());
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return Err(malformed());
    }
    let mantissa: u128 = format!("{int_part}{frac_part}")
        .parse()
        .map_err(|_| too_large())?;

    // value = mantissa · 2^binary_shift · 10^decimal_exp
    let (binary_shift, mut decimal_exp): (u32, i32) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        exp if exp.starts_with(['e', 'E']) => (0, exp[1..].parse().map_err(|_| malformed())?),
        _ => return Err(malformed()),
    };
    decimal_exp -= i32::try_from(frac_part.len()).map_err(|_| malformed())?;
    if negative && mantissa != 0 {
        return Err(QuantityError::Negative(text.to_owned()));
    }
    let mut value = mantissa.checked_shl(binary_shift).ok_or_else(too_large)?;
    if value >> binary_shift != mantissa {
        return Err(too_large());
    }
    if decimal_exp >= 0 {
        for _ in 0..decimal_exp {
            value = value.checked_mul(10).ok_or_else(too_large)?;
        }
    } else {
        let divisor = (0..decimal_exp.unsigned_abs())
            .try_fold(1u128, |acc, _| acc.checked_mul(10))
            .ok_or_else(too_large)?;
        value = value.div_ceil(divisor);
    }
    u64::try_from(value).map_err(|_| too_large())
}

/// The canonical string of a byte count: the largest binary suffix that divides it evenly
/// (`1Gi`, `1536Mi`), else plain bytes.
pub fn format_bytes(bytes: u64) -> String {
    const SUFFIXES: [(&str, u32); 6] = [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ];
    if bytes == 0 {
        return "0".to_owned();
    }
    SUFFIXES
        .iter()
        .find(|(_, shift)| bytes.trailing_zeros() >= *shift)
        .map_or_else(
            || bytes.to_string(),
            |(suffix, shift)| format!("{}{suffix}", bytes >> shift),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suffix_form_parses_to_bytes() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("100", 100),
            ("1Ki", 1024),
            ("1Mi", 1 << 20),
            ("1Gi", 1 << 30),
            ("2Gi", 2 << 30),
            ("10Gi", 10 << 30),
            ("1536Mi", 1536 << 20),
            ("2Ti", 2 << 40),
            ("1Pi", 1 << 50),
            ("1Ei", 1 << 60),
            ("1k", 1000),
            ("1M", 1_000_000),
            ("1G", 1_000_000_000),
            ("5G", 5_000_000_000),
            ("1T", 1_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("1.5Gi", 3 << 29),
            ("0.5Ki", 512),
            ("1e3", 1000),
            ("1E3", 1000),
            ("1e9", 1_000_000_000),
            ("2.5e2", 250),
            ("1500m", 2),
            ("1m", 1),
            ("999n", 1),
            ("+1Gi", 1 << 30),
            ("-0", 0),
            (" 1Gi ", 1 << 30),
            (" +4Ki ", 4096),
            (".5Ki", 512),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_bytes(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn nonsense_negative_and_huge_are_refused_by_kind() {
        for text in [
            "", "Gi", "1Qi", "1.2.3", "1GiB", "1 Gi", "abc", "1e", "1ex", ".",
        ] {
            assert!(
                matches!(parse_bytes(text), Err(QuantityError::Malformed(_))),
                "{text:?}"
            );
        }
        assert!(matches!(
            parse_bytes("-1Gi"),
            Err(QuantityError::Negative(_))
        ));
        for text in [
            "16Ei",
            "32Ei",
            "1e20",
            "99999999999999999999999999999999999999999",
        ] {
            assert!(
                matches!(parse_bytes(text), Err(QuantityError::TooLarge(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bytes_print_canonically_and_round_trip() {
        let cases: &[(u64, &str)] = &[
            (0, "0"),
            (1, "1"),
            (1000, "1000"),
            (1024, "1Ki"),
            (1 << 30, "1Gi"),
            (2 << 30, "2Gi"),
            (3 << 29, "1536Mi"),
            (1536 << 20, "1536Mi"),
            (10 << 30, "10Gi"),
            ((1 << 30) + 1, "1073741825"),
        ];
        for &(bytes, want) in cases {
            assert_eq!(format_bytes(bytes), want);
            assert_eq!(parse_bytes(want), Ok(bytes), "round trip of {want}");
        }
        for bytes in [1u64, 4096, 3 << 29, 10 << 40, 123_456_789] {
            assert_eq!(parse_bytes(&format_bytes(bytes)), Ok(bytes));
        }
    }
}
