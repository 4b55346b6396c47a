//! A journal entry's attributes: reading them from omap, writing them for a reservation and
//! checking a request against them.

use std::collections::BTreeMap;

use crate::attributes as key;
use crate::error::{Error, Result};
use crate::id::Location;
use crate::kind::Kind;
use crate::layout::{decode_pool_id, encode_pool_id};
use crate::request::{Encryption, Request};

/// A complete journal entry, as found in its attribute object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Volume or snapshot journal.
    pub kind: Kind,
    /// Pool and uuid of the attribute object (and the image).
    pub location: Location,
    /// `csi.volname` / `csi.snapname`.
    pub request_name: String,
    /// `csi.imagename`, or the default prefix + uuid for entries that predate the key.
    pub image_name: String,
    /// `csi.imageid`, once the image exists.
    pub image_id: Option<String>,
    /// `csi.source` (snapshots).
    pub source: Option<String>,
    /// `csi.volume.owner`.
    pub owner: Option<String>,
    /// `csi.journalpool`: the directory's pool when it differs from [`Location::pool_id`].
    pub journal_pool_id: Option<i64>,
    /// `csi.volume.encryptKMS` and `csi.volume.encryptionType`.
    pub encryption: Option<Encryption>,
    /// Every other `csi.*` key, raw, so callers can carry them forward.
    pub extra: BTreeMap<String, Vec<u8>>,
}

/// An attribute object that is not a complete entry, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    Complete(Box<Entry>),
    /// Missing mandatory keys; `request_name` is the stored name, if any.
    Incomplete {
        defect: &'static str,
        request_name: Option<String>,
    },
}

/// Reads attribute keys as listed from `object`.
pub(crate) fn parse(
    kind: Kind,
    location: Location,
    object: &str,
    mut omap: BTreeMap<String, Vec<u8>>,
) -> Result<Parsed> {
    let mut take = |name: &str| -> Result<Option<String>> {
        omap.remove(name)
            .map(|value| {
                String::from_utf8(value).map_err(|_| Error::Corrupt {
                    object: object.to_owned(),
                    key: name.to_owned(),
                    rule: "must be UTF-8 text",
                })
            })
            .transpose()
    };
    let request_name = take(kind.name_key())?.filter(|name| !name.is_empty());
    let image_name = take(key::IMAGE_NAME)?;
    let image_id = take(key::IMAGE_ID)?.filter(|id| !id.is_empty());
    let source = take(key::SOURCE)?;
    let owner = take(key::OWNER)?;
    let kms_id = take(key::ENCRYPT_KMS)?;
    let encryption_type = take(key::ENCRYPTION_TYPE)?;
    let journal_pool = take(key::JOURNAL_POOL)?;

    let Some(request_name) = request_name else {
        return Ok(Parsed::Incomplete {
            defect: "no request name",
            request_name: None,
        });
    };
    if kind.requires_source() && source.as_deref().is_none_or(str::is_empty) {
        return Ok(Parsed::Incomplete {
            defect: "no source",
            request_name: Some(request_name),
        });
    }
    let journal_pool_id = journal_pool
        .map(|text| {
            decode_pool_id(&text).ok_or_else(|| Error::Corrupt {
                object: object.to_owned(),
                key: key::JOURNAL_POOL.to_owned(),
                rule: "must be a 16-hex-digit pool id",
            })
        })
        .transpose()?;
    let encryption = match (kms_id, encryption_type) {
        (Some(kms_id), encryption_type) => Some(Encryption {
            kms_id,
            encryption_type,
        }),
        (None, Some(stray)) => {
            omap.insert(key::ENCRYPTION_TYPE.to_owned(), stray.into_bytes());
            None
        }
        (None, None) => None,
    };
    let image_name = image_name
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("{}{}", kind.default_image_prefix(), location.uuid));
    Ok(Parsed::Complete(Box::new(Entry {
        kind,
        location,
        request_name,
        image_name,
        image_id,
        source,
        owner,
        journal_pool_id,
        encryption,
        extra: omap,
    })))
}

/// The attribute keys of a new reservation, exactly the set ceph-csi writes.
pub(crate) fn render(
    kind: Kind,
    request: &Request,
    image_name: &str,
    journal_pool_id: Option<i64>,
) -> Vec<(&'static str, String)> {
    let mut kvs = vec![
        (kind.name_key(), request.request_name.clone()),
        (key::IMAGE_NAME, image_name.to_owned()),
    ];
    if let Some(source) = &request.source {
        kvs.push((key::SOURCE, source.clone()));
    }
    if let Some(owner) = &request.owner {
        kvs.push((key::OWNER, owner.clone()));
    }
    if let Some(pool) = journal_pool_id {
        kvs.push((key::JOURNAL_POOL, encode_pool_id(pool)));
    }
    if let Some(encryption) = &request.encryption {
        kvs.push((key::ENCRYPT_KMS, encryption.kms_id.clone()));
        if let Some(encryption_type) = &encryption.encryption_type {
            kvs.push((key::ENCRYPTION_TYPE, encryption_type.clone()));
        }
    }
    kvs
}

/// Fails with [`Error::NameConflict`] when `request` cannot be answered by `entry`.
///
/// Only what the journal records is compared: the source (a snapshot of another image under
/// the same name is a different snapshot) and encryption (a plain volume cannot satisfy an
/// encrypted request, nor the reverse). Size is the controller's check: it owns the image.
pub(crate) fn check_compatible(entry: &Entry, request: &Request) -> Result<()> {
    let conflict = |field, stored: Option<&str>, requested: Option<&str>| Error::NameConflict {
        kind: entry.kind,
        request_name: request.request_name.clone(),
        field,
        stored: stored.unwrap_or("<none>").to_owned(),
        requested: requested.unwrap_or("<none>").to_owned(),
    };
    if let Some(requested) = &request.source
        && entry.source.as_deref() != Some(requested)
    {
        return Err(conflict("source", entry.source.as_deref(), Some(requested)));
    }
    let stored_kms = entry.encryption.as_ref().map(|e| e.kms_id.as_str());
    let requested_kms = request.encryption.as_ref().map(|e| e.kms_id.as_str());
    if stored_kms != requested_kms {
        return Err(conflict("encryption KMS", stored_kms, requested_kms));
    }
    let stored_type = entry
        .encryption
        .as_ref()
        .and_then(|e| e.encryption_type.as_deref());
    let requested_type = request
        .encryption
        .as_ref()
        .and_then(|e| e.encryption_type.as_deref());
    if let (Some(stored), Some(requested)) = (stored_type, requested_type)
        && stored != requested
    {
        return Err(conflict("encryption type", Some(stored), Some(requested)));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
