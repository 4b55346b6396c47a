//! Paged listing of the directory (ListVolumes / ListSnapshots, the CLI) and the orphan scan.
//!
//! These are the only journal operations that read more than one key, and they read the
//! directory in pages, never all at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::attributes::JOURNAL_POOL;
use crate::error::{Error, Result};
use crate::id::Location;
use crate::journal::{Journal, ceph_error};
use crate::layout::{decode_directory_value, decode_pool_id};

/// Most directory keys one listing page returns.
pub const MAX_PAGE: u32 = 1024;

/// One directory key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The request name (directory key without its prefix).
    pub request_name: String,
    /// Where the value points; `None` when it is not a (pool/)uuid.
    pub location: Option<Location>,
}

/// A page of [`Journal::list`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Entries in request-name order.
    pub entries: Vec<Listed>,
    /// Pass as `start_after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Result of [`Journal::scan`]: leftovers no request will ever look at again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    /// Attribute objects (in the journal's pool) no directory key points at.
    pub orphans: Vec<Location>,
    /// Directory keys whose attribute object (in the journal's pool) does not exist.
    pub dangling: Vec<Listed>,
    /// Directory keys whose value is not a (pool/)uuid.
    pub malformed: Vec<String>,
}

impl Journal {
    /// Up to `max` (at most [`MAX_PAGE`]) directory entries whose request name sorts after
    /// `start_after` (`""` for the first page).
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), start_after = %start_after, max = max))]
    pub async fn list(&self, start_after: &str, max: u32) -> Result<Page> {
        if max == 0 {
            return Err(Error::InvalidArgument {
                field: "max",
                rule: "must be at least 1",
            });
        }
        let max = max.min(MAX_PAGE);
        let directory = self.layout.directory_oid();
        let prefix = self.kind().directory_key_prefix();
        let after = if start_after.is_empty() {
            String::new()
        } else {
            self.layout.directory_key(start_after)
        };
        let (raw, more) = match self.io.omap_list(directory, &after, prefix, max).await {
            Ok(page) => page,
            Err(err) if err.is_not_found() => return Ok(Page::default()),
            Err(err) => return Err(ceph_error("list directory", directory, err)),
        };
        let entries: Vec<Listed> = raw
            .into_iter()
            .filter_map(|(key, value)| {
                let request_name = self.layout.request_name(&key)?.to_owned();
                let location =
                    decode_directory_value(&value).map(|target| target.location(self.pool_id()));
                Some(Listed {
                    request_name,
                    location,
                })
            })
            .collect();
        let next = more
            .then(|| entries.last().map(|last| last.request_name.clone()))
            .flatten();
        Ok(Page { entries, next })
    }

    /// Whether the attribute object of `uuid` (in this pool) names another directory pool.
    async fn directory_elsewhere(&self, uuid: &uuid::Uuid) -> Result<bool> {
        let oid = self.layout.entry_oid(uuid);
        let omap = match self.io.omap_get_by_keys(&oid, &[JOURNAL_POOL]).await {
            Ok(omap) => omap,
            Err(err) if err.is_not_found() => return Ok(false),
            Err(err) => return Err(ceph_error("read journal pool", &oid, err)),
        };
        Ok(omap
            .get(JOURNAL_POOL)
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(decode_pool_id)
            .is_some_and(|pool| pool != self.pool_id()))
    }

    /// Finds leftovers in this journal's pool and namespace: attribute objects nobody points
    /// at (left by ceph-csi's object-first reservation order, or by a crashed
    /// [`Journal::delete`] whose retry never came) and directory keys pointing at nothing.
    /// Objects recording another journal pool (`csi.journalpool`) are referenced from there and
    /// are not reported. Reports only: a reservation in flight looks like a dangling key for a
    /// moment, so a cleaner must re-check under the name lock before removing anything.
    ///
    /// Lists every object of the namespace, so its cost grows with the pool; it is meant for
    /// the CLI, never for a request path.
    #[tracing::instrument(skip_all, fields(kind = %self.kind()))]
    pub async fn scan(&self) -> Result<Scan> {
        let objects = self
            .io
            .list_objects()
            .await
            .map_err(|err| ceph_error("list objects", self.layout.directory_oid(), err))?;
        let mut unreferenced: BTreeSet<_> = objects
            .iter()
            .filter_map(|oid| self.layout.entry_uuid(oid))
            .collect();
        let existing = unreferenced.clone();
        let mut scan = Scan::default();
        let mut referenced: BTreeMap<String, Location> = BTreeMap::new();
        let mut start_after = String::new();
        loop {
            let page = self.list(&start_after, MAX_PAGE).await?;
            for listed in page.entries {
                match listed.location {
                    None => scan.malformed.push(listed.request_name),
                    Some(location) => {
                        referenced.insert(listed.request_name, location);
                    }
                }
            }
            match page.next {
                Some(next) => start_after = next,
                None => break,
            }
        }
        for (request_name, location) in referenced {
            if location.pool_id != self.pool_id() {
                continue;
            }
            unreferenced.remove(&location.uuid);
            if !existing.contains(&location.uuid) {
                scan.dangling.push(Listed {
                    request_name,
                    location: Some(location),
                });
            }
        }
        for uuid in unreferenced {
            if !self.directory_elsewhere(&uuid).await? {
                scan.orphans.push(Location {
                    pool_id: self.pool_id(),
                    uuid,
                });
            }
        }
        Ok(scan)
    }
}
