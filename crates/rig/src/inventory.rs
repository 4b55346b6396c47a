//! What a RADOS namespace holds, classified the way a Ceph user reads it: RBD images, the RBD
//! trash, the CSI journal (directory keys and per-uuid entry objects), image data/header
//! objects, and anything else. The bench reports leftovers with it; the demo shows with it that
//! nothing is left.

use ceph::IoCtx;
use ceph::rbd::{self, ImageSpec, TrashEntry};
use journal::{DEFAULT_INSTANCE, Kind, Layout};
use serde::Serialize;

use crate::error::{Error, Result};

/// Directory keys read per omap page.
const PAGE: u32 = 512;

/// Object name prefixes librbd uses for one image.
const IMAGE_OBJECT_PREFIXES: [&str; 5] = [
    "rbd_header.",
    "rbd_id.",
    "rbd_data.",
    "rbd_object_map.",
    "journal_data.",
];

/// One journal directory object and its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directory {
    pub oid: String,
    pub keys: Vec<String>,
}

/// Everything in one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    #[serde(serialize_with = "image_names")]
    pub images: Vec<ImageSpec>,
    #[serde(serialize_with = "trash_names")]
    pub trash: Vec<TrashEntry>,
    /// `csi.volumes.<instance>` / `csi.snaps.<instance>` objects with their keys.
    pub directories: Vec<Directory>,
    /// `csi.volume.<uuid>` / `csi.snap.<uuid>` objects.
    pub journal_entries: Vec<String>,
    /// Header, id, data and object-map objects of images.
    pub image_objects: Vec<String>,
    /// The rest: librbd's per-namespace bookkeeping (`rbd_directory`, `rbd_trash`, ...).
    pub other_objects: Vec<String>,
}

impl Inventory {
    /// Lists `io`'s namespace. Reads every object name: for scratch namespaces, not for a
    /// request path.
    pub async fn take(io: &IoCtx) -> Result<Inventory> {
        let step = |what: &str| format!("inventory of namespace {:?}: {what}", io.namespace());
        let images = rbd::list(io)
            .await
            .map_err(|e| Error::ceph(step("rbd ls"), e))?;
        let trash = rbd::trash_list(io)
            .await
            .map_err(|e| Error::ceph(step("rbd trash ls"), e))?;
        let mut objects = io
            .list_objects()
            .await
            .map_err(|e| Error::ceph(step("list objects"), e))?;
        objects.sort();
        let layouts = journal_layouts()?;
        let mut inventory = Inventory {
            images,
            trash,
            ..Default::default()
        };
        for oid in objects {
            if layouts.iter().any(|l| l.directory_oid() == oid) {
                let keys = directory_keys(io, &oid).await?;
                inventory.directories.push(Directory { oid, keys });
            } else if layouts.iter().any(|l| l.entry_uuid(&oid).is_some()) {
                inventory.journal_entries.push(oid);
            } else if IMAGE_OBJECT_PREFIXES.iter().any(|p| oid.starts_with(p)) {
                inventory.image_objects.push(oid);
            } else {
                inventory.other_objects.push(oid);
            }
        }
        Ok(inventory)
    }

    /// Directory keys of all journals.
    pub fn directory_key_count(&self) -> usize {
        self.directories.iter().map(|d| d.keys.len()).sum()
    }

    /// No image, trash entry, journal key or entry, or image object: what a namespace looks
    /// like after every volume and snapshot was deleted. Empty directory objects and librbd's
    /// bookkeeping objects may remain (ceph-csi never removes a directory object either).
    pub fn holds_nothing(&self) -> bool {
        self.images.is_empty()
            && self.trash.is_empty()
            && self.directory_key_count() == 0
            && self.journal_entries.is_empty()
            && self.image_objects.is_empty()
    }

    /// One line: `3 images, 1 in trash, 4 journal keys, 4 entry objects, 12 image objects`.
    pub fn brief(&self) -> String {
        format!(
            "{} images, {} in trash, {} journal keys, {} journal entry objects, {} image objects",
            self.images.len(),
            self.trash.len(),
            self.directory_key_count(),
            self.journal_entries.len(),
            self.image_objects.len()
        )
    }
}

/// The volume and snapshot journals of the default instance.
pub fn journal_layouts() -> Result<[Layout; 2]> {
    let layout = |kind| {
        Layout::new(kind, DEFAULT_INSTANCE).map_err(|e| Error::InvalidArgument {
            field: "instance",
            rule: e.to_string(),
        })
    };
    Ok([layout(Kind::Volume)?, layout(Kind::Snapshot)?])
}

/// Every key of a directory object, page by page.
async fn directory_keys(io: &IoCtx, oid: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let (page, more) = match io.omap_list(oid, &after, "", PAGE).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(keys),
            Err(e) => return Err(Error::ceph(format!("list keys of {oid}"), e)),
        };
        let Some((last, _)) = page.last() else {
            return Ok(keys);
        };
        after.clone_from(last);
        keys.extend(page.into_iter().map(|(key, _)| key));
        if !more {
            return Ok(keys);
        }
    }
}

fn image_names<S: serde::Serializer>(images: &[ImageSpec], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(images.iter().map(|i| &i.name))
}

fn trash_names<S: serde::Serializer>(trash: &[TrashEntry], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(trash.iter().map(|t| format!("{} ({})", t.name, t.id)))
}
