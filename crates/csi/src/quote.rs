//! Quoting a value a client sent, in an error or a log line, without echoing all of it.
//!
//! A CSI request can carry a 1 MB volume ID or a 100 KB parameter. Echoed in full, the
//! error no longer fits the `grpc-message` header (the client gets a transport error instead
//! of INVALID_ARGUMENT) and every log line that quotes it balloons. [`quote`] keeps the first
//! [`QUOTE_LIMIT`] bytes, escaped like a Rust string literal (so control characters and
//! newlines cannot forge log lines), then says how long the value really was:
//! `"aaaa…"…(1048576 bytes)`.

use std::fmt;
use std::path::Path;

/// Bytes of a value quoted before it is cut.
pub const QUOTE_LIMIT: usize = 256;

/// `value` for an error message or a log field: escaped, in quotes, cut after
/// [`QUOTE_LIMIT`] bytes. `Display` and `Debug` print the same.
pub fn quote(value: &str) -> Quoted<'_> {
    Quoted(value)
}

/// [`quote`] for a path (not valid UTF-8 parts are replaced, as `Path::display` does).
pub fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy()).to_string()
}

/// See [`quote`].
#[derive(Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if value.len() <= QUOTE_LIMIT {
            return write!(f, "{value:?}");
        }
        let mut cut = QUOTE_LIMIT;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        write!(f, "{:?}…({} bytes)", &value[..cut], value.len())
    }
}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_escaped() {
        assert_eq!(quote("pvc-1").to_string(), "\"pvc-1\"");
        assert_eq!(quote("a\nb\0").to_string(), "\"a\\nb\\0\"");
        assert_eq!(
            quote(&"x".repeat(QUOTE_LIMIT)).to_string().len(),
            QUOTE_LIMIT + 2
        );
    }

    #[test]
    fn long_values_are_cut_and_their_length_told() {
        let long = "v".repeat(1 << 20);
        let quoted = quote(&long).to_string();
        assert_eq!(
            quoted,
            format!("\"{}\"…(1048576 bytes)", "v".repeat(QUOTE_LIMIT))
        );
        // Never inside a character: 255 ASCII bytes, then a 3-byte one straddling the limit.
        let straddling = format!("{}€{}", "a".repeat(QUOTE_LIMIT - 1), "b".repeat(500));
        let quoted = quote(&straddling).to_string();
        assert!(quoted.starts_with(&format!("\"{}\"", "a".repeat(QUOTE_LIMIT - 1))));
        assert!(quoted.ends_with(&format!("…({} bytes)", straddling.len())));
        assert_eq!(format!("{:?}", quote(&long)), format!("{}", quote(&long)));
    }

    #[test]
    fn paths_are_quoted_like_strings() {
        assert_eq!(
            quote_path(Path::new("/var/lib/kubelet")),
            "\"/var/lib/kubelet\""
        );
    }
}
