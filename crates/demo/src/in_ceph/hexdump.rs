//! Omap values printed exactly as `rados listomapvals` prints them, so a Ceph user sees the
//! output they know next to the decoded table.

use std::fmt::Write as _;

/// One key and its value in `rados listomapvals` form: the key, `value (N bytes) :`, a
/// `hexdump -C` style dump ending with the length as an offset, and a blank line.
pub fn listomapvals_entry(key: &str, value: &[u8]) -> String {
    let mut out = format!("{key}\nvalue ({} bytes) :\n", value.len());
    out.push_str(&hexdump(value));
    out.push('\n');
    out
}

/// `hexdump -C`: 16 bytes a line as two groups of 8, printable ASCII between bars, then the
/// total length as a final offset line.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", line * 16);
        for i in 0..16 {
            match chunk.get(i) {
                Some(byte) => {
                    let _ = write!(out, "{byte:02x} ");
                }
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.push('|');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    let _ = writeln!(out, "{:08x}", bytes.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `rados -p rbd listomapvals obj` (Ceph 16) after
    /// `rados setomapval obj csi.volume.pvc-1 658a5e73-5b74-11ed-8140-16898a94d4f5`.
    const RADOS: &str = "csi.volume.pvc-1
value (36 bytes) :
00000000  36 35 38 61 35 65 37 33  2d 35 62 37 34 2d 31 31  |658a5e73-5b74-11|
00000010  65 64 2d 38 31 34 30 2d  31 36 38 39 38 61 39 34  |ed-8140-16898a94|
00000020  64 34 66 35                                       |d4f5|
00000024

";

    #[test]
    fn output_matches_rados_listomapvals_byte_for_byte() {
        assert_eq!(
            listomapvals_entry("csi.volume.pvc-1", b"658a5e73-5b74-11ed-8140-16898a94d4f5"),
            RADOS
        );
    }

    #[test]
    fn full_lines_short_lines_and_unprintable_bytes() {
        assert_eq!(
            hexdump(b"0123456789abcdef"),
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n00000010\n"
        );
        assert_eq!(
            hexdump(b"a\0"),
            "00000000  61 00                                             |a.|\n00000002\n"
        );
        assert_eq!(hexdump(b""), "00000000\n");
    }
}
