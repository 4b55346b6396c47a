//! The omap journal of the namespace, read through `sepia-journal` (decoded entries) and as raw
//! omap (what `rados listomapvals` shows), so the two can be read side by side.

use ceph::{Cluster, IoCtx};
use journal::listing::MAX_PAGE;
use journal::{CompositeId, Config, Entry, Journal, Kind};

use crate::error::{Error, Result};
use crate::in_ceph::hexdump::listomapvals_entry;
use crate::table::Table;

/// Prefix of the controller's publication records on a volume's journal entry, completed by
/// the node ID (a Sepia extension; ceph-csi reads only the `csi.*` keys there).
pub use journal::records::publication::KEY_PREFIX as PUBLICATION_PREFIX;
/// More nodes than a demo volume is ever published to.
const PUBLICATIONS_READ: u32 = 64;

/// Omap keys read per page of a raw dump.
const RAW_PAGE: u32 = 512;

/// One RADOS object of the journal with its omap, raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    pub oid: String,
    pub omap: Vec<(String, Vec<u8>)>,
}

/// Both journals of one namespace.
#[derive(Debug, Clone, Default)]
pub struct JournalView {
    /// Complete entries, volumes first, each in request-name order.
    pub entries: Vec<Entry>,
    /// Directory keys per kind: (volumes, snapshots).
    pub directory_keys: (usize, usize),
    /// Directory keys whose entry could not be read, with why.
    pub unreadable: Vec<String>,
    /// The directory objects and entry objects, in the order they were read.
    pub raw: Vec<RawObject>,
}

impl JournalView {
    /// Reads the volume and snapshot journals of the default instance in `io`'s namespace.
    pub async fn read(cluster: &Cluster, io: &IoCtx) -> Result<JournalView> {
        let mut view = JournalView::default();
        for kind in [Kind::Volume, Kind::Snapshot] {
            let journal = Journal::new(kind, cluster.clone(), io.clone(), &Config::default())
                .map_err(|e| Error::journal(format!("open the {kind} journal"), e))?;
            let directory = journal.layout().directory_oid().to_owned();
            if let Some(raw) = read_raw(io, &directory).await? {
                view.raw.push(raw);
            }
            let mut keys = 0;
            let mut start_after = String::new();
            loop {
                let page = journal
                    .list(&start_after, MAX_PAGE)
                    .await
                    .map_err(|e| Error::journal(format!("list {directory}"), e))?;
                for listed in &page.entries {
                    keys += 1;
                    let Some(location) = listed.location else {
                        view.unreadable.push(format!(
                            "{directory} key for {:?} is not a uuid",
                            listed.request_name
                        ));
                        continue;
                    };
                    match journal.entry(&location).await {
                        Ok(entry) => view.entries.push(entry),
                        Err(e) => view
                            .unreadable
                            .push(format!("{}: {e}", listed.request_name)),
                    }
                    let oid = journal.layout().entry_oid(&location.uuid);
                    if let Some(raw) = read_raw(io, &oid).await? {
                        view.raw.push(raw);
                    }
                }
                match page.next {
                    Some(next) => start_after = next,
                    None => break,
                }
            }
            match kind {
                Kind::Volume => view.directory_keys.0 = keys,
                Kind::Snapshot => view.directory_keys.1 = keys,
            }
        }
        Ok(view)
    }

    /// The entry of `kind` with `uuid`.
    pub fn entry(&self, kind: Kind, uuid: &uuid::Uuid) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.kind == kind && e.location.uuid == *uuid)
    }

    /// Decoded volume entries; `label` names an entry for the reader (e.g. `PVC demo/data`).
    pub fn volumes_table(&self, label: &dyn Fn(&Entry) -> String) -> Table {
        let mut table = Table::new(["", "csi.volname", "csi.imagename", "csi.imageid", "owner"]);
        for e in self.entries.iter().filter(|e| e.kind == Kind::Volume) {
            table.row([
                label(e),
                e.request_name.clone(),
                e.image_name.clone(),
                e.image_id.clone().unwrap_or_else(|| "(none yet)".into()),
                e.owner.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        table
    }

    /// Decoded snapshot entries.
    pub fn snapshots_table(&self, label: &dyn Fn(&Entry) -> String) -> Table {
        let mut table = Table::new([
            "",
            "csi.snapname",
            "csi.imagename",
            "csi.imageid",
            "csi.source",
        ]);
        for e in self.entries.iter().filter(|e| e.kind == Kind::Snapshot) {
            table.row([
                label(e),
                e.request_name.clone(),
                e.image_name.clone(),
                e.image_id.clone().unwrap_or_else(|| "(none yet)".into()),
                e.source.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        table
    }

    /// The journal objects `include` accepts, as `rados -p <pool> --namespace <ns>
    /// listomapvals <oid>` prints them, then one line naming the objects left out.
    pub fn raw_dump(&self, pool: &str, namespace: &str, include: &dyn Fn(&str) -> bool) -> String {
        let mut out = String::new();
        let mut omitted = Vec::new();
        for object in &self.raw {
            if !include(&object.oid) {
                omitted.push(object.oid.as_str());
                continue;
            }
            out.push_str(&format!(
                "$ rados -p {pool} --namespace {namespace} listomapvals {}\n",
                object.oid
            ));
            for (key, value) in &object.omap {
                out.push_str(&listomapvals_entry(key, value));
            }
        }
        if !omitted.is_empty() {
            out.push_str(&format!(
                "(not shown, same layout: {})\n",
                omitted.join(", ")
            ));
        }
        out
    }
}

/// All omap pairs of `oid`, or `None` when the object does not exist.
pub async fn read_raw(io: &IoCtx, oid: &str) -> Result<Option<RawObject>> {
    let mut omap = Vec::new();
    let mut after = String::new();
    loop {
        let (page, more) = match io.omap_list(oid, &after, "", RAW_PAGE).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(Error::ceph(format!("list omap of {oid}"), e)),
        };
        let last = page.last().map(|(key, _)| key.clone());
        omap.extend(page);
        match last {
            Some(last) if more => after = last,
            _ => {
                return Ok(Some(RawObject {
                    oid: oid.to_owned(),
                    omap,
                }));
            }
        }
    }
}

/// The nodes the controller has recorded `volume_id` as published to: the
/// `sepia.publish.<node id>` keys of its `csi.volume.<uuid>` object.
pub async fn published_nodes(io: &IoCtx, volume_id: &str) -> Result<Vec<String>> {
    let uuid = CompositeId::decode(volume_id)
        .map_err(|e| Error::journal(format!("decode volume ID {volume_id}"), e))?
        .uuid();
    let oid = format!("{}{uuid}", Kind::Volume.entry_prefix());
    let (keys, _more) = io
        .omap_list(&oid, "", PUBLICATION_PREFIX, PUBLICATIONS_READ)
        .await
        .map_err(|e| Error::ceph(format!("read the publications on {oid}"), e))?;
    Ok(keys
        .into_iter()
        .filter_map(|(key, _)| key.strip_prefix(PUBLICATION_PREFIX).map(str::to_owned))
        .collect())
}
