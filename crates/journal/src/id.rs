//! The composite volume / snapshot ID shared with ceph-csi.
//!
//! `VVVV-LLLL-<clusterID>-<PPPPPPPPPPPPPPPP>-<uuid>`: version (4 hex), clusterID length
//! (4 hex), the clusterID read *by that length* (it may contain `-`, e.g. a Ceph fsid, so the
//! ID is never split on `-`), the 16-hex location id (RBD: pool id of the image; CephFS:
//! FSCID) and the 36-character uuid of the journal entry. ceph-csi's encoder writes lowercase
//! hex and version 1 only; decoding accepts exactly that form, so `encode(decode(s)) == s`
//! for every accepted `s` and an ID can be compared byte-wise.
//!
//! The decoder takes arbitrary bytes from a CSI request: every path returns a typed
//! [`Error::InvalidId`] naming the field and the rule, and nothing indexes unchecked.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::Error;

/// Where a journal entry's attribute object (and its image) lives: what an ID's location
/// field and uuid decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// Pool of the attribute object and the image (the ID's location field for RBD).
    pub pool_id: i64,
    /// The entry's uuid.
    pub uuid: Uuid,
}

/// The only encoding version ceph-csi has ever written.
pub const VERSION: u16 = 1;
/// The CSI spec's limit on volume and snapshot IDs (and ceph-csi's encoder limit).
pub const MAX_ID_LEN: usize = 128;
/// Characters of an ID that are not the clusterID: `VVVV-LLLL-` + `-` + 16 hex + `-` + uuid.
pub const FIXED_LEN: usize = 4 + 1 + 4 + 1 + 1 + 16 + 1 + 36;
/// Longest clusterID that still fits in [`MAX_ID_LEN`].
pub const MAX_CLUSTER_ID_LEN: usize = MAX_ID_LEN - FIXED_LEN;

const UUID_LEN: usize = 36;

/// A decoded volume or snapshot ID. Construction validates, so every value encodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompositeId {
    cluster_id: String,
    location_id: u64,
    uuid: Uuid,
}

impl CompositeId {
    /// Builds an ID, checking the clusterID (non-empty, at most [`MAX_CLUSTER_ID_LEN`]
    /// visible ASCII characters without `/`: the ID becomes a staging directory name).
    pub fn new(cluster_id: impl Into<String>, location_id: u64, uuid: Uuid) -> Result<Self, Error> {
        let cluster_id = cluster_id.into();
        check_cluster_id(&cluster_id)?;
        Ok(CompositeId {
            cluster_id,
            location_id,
            uuid,
        })
    }

    /// The clusterID (key into the driver's cluster configuration).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// RBD: the pool id of the image (and its journal entry); CephFS: the FSCID.
    pub fn location_id(&self) -> u64 {
        self.location_id
    }

    /// Uuid of the journal entry (`csi.volume.<uuid>` / `csi.snap.<uuid>`).
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// The ID of the RBD journal entry at `location` (location field = its pool id).
    pub fn for_location(cluster_id: impl Into<String>, location: &Location) -> Result<Self, Error> {
        let pool = u64::try_from(location.pool_id)
            .map_err(|_| invalid("location_id", "must not be a negative pool id"))?;
        Self::new(cluster_id, pool, location.uuid)
    }

    /// The RBD journal entry this ID names: its location field read as a pool id.
    pub fn location(&self) -> Result<Location, Error> {
        let pool_id = i64::try_from(self.location_id)
            .map_err(|_| invalid("location_id", "is too large for a pool id"))?;
        Ok(Location {
            pool_id,
            uuid: self.uuid,
        })
    }

    /// The wire form; always at most [`MAX_ID_LEN`] characters.
    pub fn encode(&self) -> String {
        self.to_string()
    }

    /// Parses an ID from a CSI request. Never panics, whatever the input.
    pub fn decode(id: &str) -> Result<Self, Error> {
        if id.len() > MAX_ID_LEN {
            return Err(invalid("id", "must be at most 128 characters"));
        }
        if id.len() < FIXED_LEN + 1 {
            return Err(invalid(
                "id",
                "too short for version-length-clusterID-location-uuid",
            ));
        }
        // Every byte we slice at must be ASCII for the slices to be valid; checking the whole
        // ID up front keeps each later step a plain byte offset.
        if !id.is_ascii() {
            return Err(invalid("id", "must be ASCII"));
        }
        let version = hex_field(&id[0..4], "version", "must be 4 lowercase hex digits")?;
        if version != u64::from(VERSION) {
            return Err(invalid("version", "must be 0001 (the only known encoding)"));
        }
        separator(id, 4, "version")?;
        let length = hex_field(
            &id[5..9],
            "cluster_id_length",
            "must be 4 lowercase hex digits",
        )?;
        separator(id, 9, "cluster_id_length")?;
        // Compare in u64: `length` is at most 0xffff and `id.len()` at most 128.
        if id.len() as u64 != FIXED_LEN as u64 + length {
            return Err(invalid(
                "cluster_id_length",
                "does not match the length of the ID (clusterID + 64 characters)",
            ));
        }
        let cluster_end = id.len() - (FIXED_LEN - 10);
        let cluster_id = &id[10..cluster_end];
        separator(id, cluster_end, "cluster_id")?;
        let location_start = cluster_end + 1;
        let location_id = hex_field(
            &id[location_start..location_start + 16],
            "location_id",
            "must be 16 lowercase hex digits",
        )?;
        separator(id, location_start + 16, "location_id")?;
        let uuid = parse_uuid(&id[location_start + 17..])?;
        Self::new(cluster_id, location_id, uuid)
    }
}

impl fmt::Display for CompositeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}-{:04x}-{}-{:016x}-{}",
            VERSION,
            self.cluster_id.len(),
            self.cluster_id,
            self.location_id,
            self.uuid.hyphenated()
        )
    }
}

impl FromStr for CompositeId {
    type Err = Error;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::decode(id)
    }
}

/// Parses a uuid in the only form ceph-csi writes (36 characters, lowercase, hyphenated), so
/// object names derived from it match byte for byte.
pub fn parse_uuid(text: &str) -> Result<Uuid, Error> {
    const RULE: &str = "must be a lowercase hyphenated uuid (8-4-4-4-12 hex digits)";
    let well_formed = text.len() == UUID_LEN
        && text.bytes().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => matches!(byte, b'0'..=b'9' | b'a'..=b'f'),
        });
    if !well_formed {
        return Err(invalid("uuid", RULE));
    }
    Uuid::try_parse(text).map_err(|_| invalid("uuid", RULE))
}

fn check_cluster_id(cluster_id: &str) -> Result<(), Error> {
    if cluster_id.is_empty() {
        return Err(invalid("cluster_id", "must not be empty"));
    }
    if cluster_id.len() > MAX_CLUSTER_ID_LEN {
        return Err(invalid(
            "cluster_id",
            "must be at most 64 characters (the ID is limited to 128)",
        ));
    }
    if !cluster_id
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'/')
    {
        return Err(invalid(
            "cluster_id",
            "must be visible ASCII characters without '/'",
        ));
    }
    Ok(())
}

fn hex_field(text: &str, field: &'static str, rule: &'static str) -> Result<u64, Error> {
    if text.is_empty() || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid(field, rule));
    }
    u64::from_str_radix(text, 16).map_err(|_| invalid(field, rule))
}

fn separator(id: &str, at: usize, after: &'static str) -> Result<(), Error> {
    if id.as_bytes().get(at) == Some(&b'-') {
        Ok(())
    } else {
        Err(invalid(after, "must be followed by '-'"))
    }
}

fn invalid(field: &'static str, rule: &'static str) -> Error {
    Error::InvalidId { field, rule }
}

#[cfg(test)]
mod tests;
