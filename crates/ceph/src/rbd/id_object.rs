//! An image's id read from its `rbd_id.<name>` object: one object read, where opening the
//! image would cost a header read, a watch and an unwatch.

/// The object that holds the id of image `name`.
pub fn id_object_name(name: &str) -> String {
    format!("rbd_id.{name}")
}

/// `rbd_id.<name>` holds the id as Ceph encodes a string (cls_rbd `set_id`): a little-endian
/// u32 length, then the bytes. `None` when the bytes are not such an id.
pub fn decode_id_object(bytes: &[u8]) -> Option<String> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let id = std::str::from_utf8(rest.get(..len)?).ok()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_objects_decode_as_length_prefixed_strings() {
        assert_eq!(
            decode_id_object(b"\x0c\x00\x00\x002319fb67d2fb").as_deref(),
            Some("2319fb67d2fb")
        );
        assert_eq!(decode_id_object(b"\x0c\0\0\0short"), None, "truncated");
        assert_eq!(decode_id_object(b"\0\0\0\0"), None, "empty");
        assert_eq!(decode_id_object(b"\x02\0"), None, "no length");
        assert_eq!(decode_id_object(b"\x02\0\0\0a/"), None, "not an id");
        assert_eq!(decode_id_object(b""), None, "nothing");
    }
}
