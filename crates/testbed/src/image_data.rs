//! Bytes in RBD images, through the `rbd` CLI (independent of the code under test): a test
//! writes a pattern into a volume before it is cut, then reads it back from what was made of
//! the cut (a restore, a clone) to prove the data survived.
//!
//! Writing uses `rbd import-diff` with a diff built here (format v1: banner, image size, one
//! write extent, end), which writes into an existing image without a kernel mapping.

use std::io::Write as _;

use crate::Bed;

/// `rbd diff v1` record tags (see the rbd CLI's `import-diff`).
const BANNER: &[u8] = b"rbd diff v1\n";
const IMAGE_SIZE: u8 = b's';
const WRITE: u8 = b'w';
const END: u8 = b'e';

impl Bed {
    /// Writes `data` at byte `offset` of image `spec` (`pool/namespace/image`). The image keeps
    /// its size; the write must fit inside it.
    pub fn rbd_write(&self, spec: &str, offset: u64, data: &[u8]) {
        let size = self.rbd_size(spec);
        let len = data.len() as u64;
        assert!(
            offset + len <= size,
            "a write of {len} bytes at {offset} does not fit in {spec} ({size} bytes)"
        );
        let mut diff = Vec::with_capacity(BANNER.len() + 27 + data.len());
        diff.extend_from_slice(BANNER);
        diff.push(IMAGE_SIZE);
        diff.extend_from_slice(&size.to_le_bytes());
        diff.push(WRITE);
        diff.extend_from_slice(&offset.to_le_bytes());
        diff.extend_from_slice(&len.to_le_bytes());
        diff.extend_from_slice(data);
        diff.push(END);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&diff).unwrap();
        file.flush().unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        self.cli("rbd", &["import-diff", "--no-progress", &path, spec]);
    }

    /// Reads `len` bytes at `offset` of `spec` (`pool/namespace/image`, or `…@snap`): exports
    /// the whole image, so keep test images small.
    pub fn rbd_read(&self, spec: &str, offset: u64, len: usize) -> Vec<u8> {
        let all = self.cli_bytes("rbd", &["export", "--no-progress", spec, "-"]);
        let start = usize::try_from(offset).unwrap();
        assert!(
            start + len <= all.len(),
            "{spec} has {} bytes, cannot read {len} at {offset}",
            all.len()
        );
        all[start..start + len].to_vec()
    }

    /// Size in bytes of image `spec`.
    pub fn rbd_size(&self, spec: &str) -> u64 {
        let info = self.cli("rbd", &["info", "--format", "json", spec]);
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        info["size"]
            .as_u64()
            .unwrap_or_else(|| panic!("no size in rbd info of {spec}: {info}"))
    }
}
