//! The value checks `mkfsOptions`, `mapOptions` and `unmapOptions` share: each answers `Ok`
//! or the rule the value broke, quoting (capped) what it was given.

use csi::quote::quote;

/// `Err` holds the rule that was broken, for the caller to prefix with the option's name.
pub type Rule = Result<(), String>;

pub fn one_of(value: &str, allowed: &[&str]) -> Rule {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{} is not one of {}",
            quote(value),
            allowed.join(", ")
        ))
    }
}

/// A plain decimal number (no sign, no unit) from `min` to `max`.
pub fn number_in(value: &str, min: u64, max: u64) -> Rule {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!(
            "{} is not a number from {min} to {max}",
            quote(value)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimals_in_range() {
        assert!(number_in("30", 0, 60).is_ok());
        for bad in ["-1", "+1", "61", "1e3", "", "0x10", " 1"] {
            assert!(number_in(bad, 0, 60).is_err(), "{bad:?}");
        }
        assert!(one_of("crc", &["crc", "secure"]).is_ok());
        assert!(one_of("/x", &["crc"]).unwrap_err().contains("\"/x\""));
    }
}
