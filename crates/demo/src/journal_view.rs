//! The omap journal of the namespace, read through `sepia-journal` (decoded entries) and as raw
//! omap (what `rados listomapvals` shows), so the two can be read side by side.

use ceph::{Cluster, IoCtx};
use journal::listing::MAX_PAGE;
use journal::{Config, Entry, Journal, Kind};

use crate::error::{Error, Result};
use crate::hexdump::listomapvals_entry;
use crate::table::Table;

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
