//! `sepia inspect`: from a volume or snapshot ID (or an image name) to everything Sepia and
//! Ceph know about it — the decoded ID, every key of its journal entry (Sepia's own records
//! decoded), its directory key, the image, trash leftovers and publication records. An ID of a
//! CephFS volume or snapshot (or a subvolume name with `--fs`) is shown by
//! [`cephfs`] instead.

pub mod cephfs;

use std::collections::BTreeMap;

use ceph::IoCtx;
use controller::pool::cluster::Pool;
use journal::records::publication::{self, Publication};
use journal::records::{snapshot, source};
use journal::{CompositeId, Kind, Location};
use serde::Serialize;
use uuid::Uuid;

use crate::args::InspectArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::image_info::{self, ImageReport};
use crate::kube::References;
use crate::render::{self, Table};

/// Omap keys read per call when listing an entry object.
const PAGE: u32 = 256;

#[derive(Debug, Serialize)]
pub struct Report {
    pub handle: String,
    /// `volume` or `snapshot`.
    pub kind: &'static str,
    pub id: Option<IdReport>,
    pub pool: String,
    pub uuid: String,
    pub journal: JournalReport,
    pub image_name: String,
    pub image: Option<ImageReport>,
    /// Trash entries (`id name`) of this uuid's images.
    pub trash: Vec<String>,
    pub publications: BTreeMap<String, Publication>,
    /// With `--kubeconfig`: the objects that reference this ID.
    pub kubernetes: Option<References>,
}

#[derive(Debug, Serialize)]
pub struct IdReport {
    pub version: u16,
    pub cluster_id: String,
    pub pool_id: u64,
    pub pool_name: String,
    pub uuid: String,
}

#[derive(Debug, Serialize, Default)]
pub struct JournalReport {
    pub entry_object: String,
    pub exists: bool,
    /// Every key of the entry object, values as text.
    pub keys: BTreeMap<String, String>,
    /// Sepia's own records, decoded.
    pub records: BTreeMap<String, String>,
    pub request_name: Option<String>,
    pub directory_key: Option<String>,
    /// The directory key's value, and whether it points at this entry.
    pub directory_value: Option<String>,
    pub directory_points_here: bool,
    /// Why the entry could not be read as a complete one, if so.
    pub defect: Option<String>,
}

/// An RBD or a CephFS report.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Inspected {
    Rbd(Box<Report>),
    CephFs(Box<cephfs::Report>),
}

pub async fn run(args: &InspectArgs) -> Result<()> {
    let cx = Context::connect(&args.shared).await?;
    match inspect_any(&cx, &args.handle, args.fs.as_deref()).await? {
        Inspected::Rbd(report) => render::print(args.shared.output, &*report, table),
        Inspected::CephFs(report) => render::print(args.shared.output, &*report, cephfs::table),
    }
}

/// Everything about `handle`: a CephFS subvolume name when `fs` names a filesystem, an ID of
/// whichever driver has its entry, else an RBD image name.
pub async fn inspect_any(cx: &Context, handle: &str, fs: Option<&str>) -> Result<Inspected> {
    let resolved = match kube_handle(cx, handle).await? {
        Some(volume_id) => volume_id,
        None => handle.to_owned(),
    };
    if let Some(report) = cephfs::try_inspect(cx, handle, &resolved, fs).await? {
        return Ok(Inspected::CephFs(Box::new(report)));
    }
    Ok(Inspected::Rbd(Box::new(
        inspect_resolved(cx, handle, &resolved).await?,
    )))
}

/// Everything about `handle` (RBD).
pub async fn inspect(cx: &Context, handle: &str) -> Result<Report> {
    let resolved = match kube_handle(cx, handle).await? {
        Some(volume_id) => volume_id,
        None => handle.to_owned(),
    };
    inspect_resolved(cx, handle, &resolved).await
}

/// Everything about the RBD volume or snapshot `resolved` (`handle`, or the ID its PVC or PV
/// stands for).
async fn inspect_resolved(cx: &Context, handle: &str, resolved: &str) -> Result<Report> {
    let (pool, kind, uuid, id) = resolve(cx, resolved).await?;
    let location = Location {
        pool_id: pool.io.pool_id(),
        uuid,
    };
    let journal = match kind {
        Kind::Volume => pool.volumes()?,
        Kind::Snapshot => pool.snapshots()?,
    };
    let mut report_journal = read_entry(&pool.io, &journal, uuid).await?;
    let mut image_name = format!("{}{}", kind.default_image_prefix(), uuid.hyphenated());
    if report_journal.exists {
        match journal.entry(&location).await {
            Ok(entry) => {
                image_name.clone_from(&entry.image_name);
                directory(&pool, &journal, &entry, &mut report_journal).await?;
            }
            Err(journal::Error::Incomplete { defect, .. }) => {
                report_journal.defect = Some(defect.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let image = image_info::read(&pool, &image_name).await?;
    let trash = ceph::rbd::trash_list(&pool.io)
        .await
        .map_err(|e| Error::ceph(format!("trash of {}", pool.spec("")), e))?
        .into_iter()
        .filter(|t| t.name.contains(&uuid.hyphenated().to_string()))
        .map(|t| format!("{} {}", t.id, t.name))
        .collect();
    let publications = match kind {
        Kind::Volume => publication::read_all(&pool.io, &uuid).await?,
        Kind::Snapshot => BTreeMap::new(),
    };
    let kubernetes = match &cx.kube {
        Some(kube) => Some(
            kube.references(&controller::pool::lookup::volume_id(
                &cx.cluster,
                &location,
            )?)
            .await?,
        ),
        None => None,
    };
    Ok(Report {
        kubernetes,
        handle: handle.to_owned(),
        kind: kind.noun(),
        id,
        pool: pool.spec("").trim_end_matches('/').to_owned(),
        uuid: uuid.to_string(),
        journal: report_journal,
        image_name,
        image,
        trash,
        publications,
    })
}

/// With a kubeconfig, the volume ID a PVC (`namespace/name`) or PV name stands for.
pub(crate) async fn kube_handle(cx: &Context, handle: &str) -> Result<Option<String>> {
    let Some(kube) = &cx.kube else {
        return Ok(None);
    };
    if CompositeId::decode(handle).is_ok() {
        return Ok(None);
    }
    match handle.split_once('/') {
        Some((namespace, name)) => Ok(Some(kube.claim_handle(namespace, name).await?)),
        None => kube.volume_handle(handle).await,
    }
}

/// Pool, kind and uuid that `handle` names: an ID decodes to them (the kind is whichever
/// journal has the entry); an image name needs `--pool` and carries the uuid at its end.
async fn resolve(cx: &Context, handle: &str) -> Result<(Pool, Kind, Uuid, Option<IdReport>)> {
    if let Ok(composite) = CompositeId::decode(handle) {
        return resolve_id(cx, &composite).await;
    }
    let pool = cx.pool("an image name").await?;
    let base = handle.strip_suffix("-temp").unwrap_or(handle);
    let uuid = base
        .len()
        .checked_sub(36)
        .and_then(|start| base.get(start..))
        .and_then(|tail| Uuid::parse_str(tail).ok())
        .ok_or_else(|| Error::Usage {
            what: format!(
                "{handle:?} is neither a volume/snapshot ID nor an image name ending in a uuid"
            ),
        })?;
    let kind = if base.starts_with(Kind::Snapshot.default_image_prefix()) {
        Kind::Snapshot
    } else {
        Kind::Volume
    };
    Ok((pool, kind, uuid, None))
}

async fn resolve_id(
    cx: &Context,
    composite: &CompositeId,
) -> Result<(Pool, Kind, Uuid, Option<IdReport>)> {
    if composite.cluster_id() != cx.cluster.id {
        return Err(Error::Usage {
            what: format!(
                "the ID names clusterID {:?}; connect to it with --cluster-id",
                composite.cluster_id()
            ),
        });
    }
    let location =
        controller::pool::lookup::location_of(composite).map_err(|what| Error::Usage {
            what: format!("the ID is malformed: {what}"),
        })?;
    let pool = cx
        .cluster
        .pool_by_id(location.pool_id)
        .await
        .map_err(|e| Error::ceph(format!("open pool id {}", location.pool_id), e))?;
    let mut kind = Kind::Volume;
    for candidate in [Kind::Volume, Kind::Snapshot] {
        let oid = candidate.entry_oid(&location.uuid);
        let exists = crate::context::object_exists(&pool, &oid).await?;
        if exists {
            kind = candidate;
            break;
        }
    }
    let id = IdReport {
        version: journal::id::VERSION,
        cluster_id: composite.cluster_id().to_owned(),
        pool_id: composite.location_id(),
        pool_name: pool.io.pool_name().to_owned(),
        uuid: composite.uuid().to_string(),
    };
    Ok((pool, kind, location.uuid, Some(id)))
}

/// Every key of `journal`'s entry object for `uuid` in `io`, as text and with Sepia's records
/// decoded (the directory key is read once the entry is known: [`directory_in`]).
pub(crate) async fn read_entry(
    io: &IoCtx,
    journal: &journal::Journal,
    uuid: Uuid,
) -> Result<JournalReport> {
    let entry_object = journal.layout().entry_oid(&uuid);
    let raw = read_all_keys(io, &entry_object).await?;
    let exists = raw.is_some();
    let raw = raw.unwrap_or_default();
    Ok(JournalReport {
        entry_object,
        exists,
        records: decode_records(journal.kind(), &raw),
        keys: raw
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect(),
        ..JournalReport::default()
    })
}

/// Every omap key of `oid`, or `None` when the object does not exist.
async fn read_all_keys(io: &IoCtx, oid: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let mut keys = BTreeMap::new();
    let mut after = String::new();
    loop {
        let (page, more) = match io.omap_list(oid, &after, "", PAGE).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(Error::ceph(format!("read {oid}"), e)),
        };
        if let Some((last, _)) = page.last() {
            after.clone_from(last);
        }
        keys.extend(page);
        if !more {
            return Ok(Some(keys));
        }
    }
}

/// Sepia's `sepia.*` keys in words.
fn decode_records(kind: Kind, raw: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    let mut records = BTreeMap::new();
    let text = |key: &str| {
        raw.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    match kind {
        Kind::Snapshot => {
            if let Some(record) = snapshot::decode_map(raw) {
                let created = humantime::format_rfc3339_seconds(record.created);
                records.insert("snapshot cut".to_owned(), created.to_string());
                records.insert("source size".to_owned(), record.size.to_string());
            }
        }
        Kind::Volume => {
            if let Some(value) = text(source::KEY) {
                let source = source::ContentSource::decode(&value)
                    .map_or_else(|| format!("unreadable: {value:?}"), |s| s.to_string());
                records.insert("created from".to_owned(), source);
            }
            for (key, value) in raw {
                if let Some(node) = key.strip_prefix(publication::KEY_PREFIX) {
                    records.insert(
                        format!("published to {node}"),
                        String::from_utf8_lossy(value).into_owned(),
                    );
                }
            }
        }
    }
    records
}

/// The directory key of `entry`'s request name, in the pool holding its directory.
async fn directory(
    pool: &Pool,
    own: &journal::Journal,
    entry: &journal::Entry,
    report: &mut JournalReport,
) -> Result<()> {
    let directory_pool = match entry.journal_pool_id {
        Some(id) if id != pool.io.pool_id() => pool
            .sibling(id)
            .await
            .map_err(|e| Error::ceph(format!("open journal pool id {id}"), e))?,
        _ => pool.clone(),
    };
    directory_in(&directory_pool.io, own, entry, report).await
}

/// The directory key of `entry`'s request name in `io` (the pool and namespace of the journal's
/// directory object).
pub(crate) async fn directory_in(
    io: &IoCtx,
    own: &journal::Journal,
    entry: &journal::Entry,
    report: &mut JournalReport,
) -> Result<()> {
    let layout = own.layout();
    let key = layout.directory_key(&entry.request_name);
    let oid = layout.directory_oid();
    let value = match io.omap_get_by_keys(oid, &[key.as_str()]).await {
        Ok(mut found) => found.remove(&key),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(Error::ceph(format!("read {oid}"), e)),
    };
    report.directory_points_here = value
        .as_deref()
        .and_then(journal::layout::decode_directory_value)
        .is_some_and(|target| target.location(io.pool_id()) == entry.location);
    report.directory_value = value.map(|v| String::from_utf8_lossy(&v).into_owned());
    report.request_name = Some(entry.request_name.clone());
    report.directory_key = Some(format!("{oid} {key}"));
    Ok(())
}

pub fn table(r: &Report) -> Table {
    let mut t = Table::default();
    t.row("handle", r.kind, &r.handle);
    if let Some(id) = &r.id {
        id_rows(&mut t, id, "pool");
    }
    journal_rows(&mut t, &r.journal);
    image_rows(&mut t, r);
    if let Some(k) = &r.kubernetes {
        kube_rows(&mut t, k);
    }
    for (node, p) in &r.publications {
        t.row(
            "publications",
            node,
            format!("{} readonly={}", p.access_mode, p.readonly),
        );
    }
    t
}

/// The decoded ID; `location` names its location field (pool, or filesystem).
pub(crate) fn id_rows(t: &mut Table, id: &IdReport, location: &str) {
    t.row("id", "version", id.version);
    t.row("id", "clusterID", &id.cluster_id);
    t.row(
        "id",
        location,
        format!("{} (id {})", id.pool_name, id.pool_id),
    );
    t.row("id", "uuid", &id.uuid);
}

pub(crate) fn journal_rows(t: &mut Table, j: &JournalReport) {
    let entry = if j.exists { "" } else { " (missing)" };
    t.row(
        "journal",
        "entry object",
        format!("{}{entry}", j.entry_object),
    );
    if let Some(name) = &j.request_name {
        t.row("journal", "request name", name);
    }
    if let Some(key) = &j.directory_key {
        let value = j.directory_value.as_deref().unwrap_or("(missing)");
        let here = if j.directory_points_here {
            ""
        } else {
            " — does not point here"
        };
        t.row("journal", "directory key", format!("{key} = {value}{here}"));
    }
    if let Some(defect) = &j.defect {
        t.row("journal", "defect", defect);
    }
    for (k, v) in &j.keys {
        t.row("journal keys", k, v);
    }
    for (k, v) in &j.records {
        t.row("sepia records", k, v);
    }
}

fn image_rows(t: &mut Table, r: &Report) {
    let section = format!("image {}/{}", r.pool, r.image_name);
    match &r.image {
        None => t.row(&section, "exists", "no"),
        Some(i) => {
            t.row(&section, "id", &i.id);
            t.row(&section, "size", i.size);
            t.row(&section, "features", i.features.join(","));
            if let Some(created) = i.created {
                t.row(&section, "created", created);
            }
            t.row(&section, "clone depth", i.depth);
            for (n, p) in i.parents.iter().enumerate() {
                let trash = if p.in_trash { " (in trash)" } else { "" };
                t.row(
                    &section,
                    format!("parent {}", n + 1),
                    format!("{}@{}{trash}", p.spec, p.snapshot),
                );
            }
            for s in &i.snapshots {
                t.row(
                    &section,
                    format!("snapshot {}", s.id),
                    format!("{} {} bytes [{}]", s.name, s.size, s.namespace),
                );
            }
            let watchers = if i.watchers.is_empty() {
                "none".to_owned()
            } else {
                i.watchers.join(", ")
            };
            t.row(&section, "watchers", watchers);
        }
    }
    for entry in &r.trash {
        t.row("trash", "entry", entry);
    }
}

pub(crate) fn kube_rows(t: &mut Table, k: &References) {
    {
        let rows = [
            ("PersistentVolume", &k.persistent_volumes),
            ("PersistentVolumeClaim", &k.claims),
            ("VolumeAttachment", &k.volume_attachments),
            ("VolumeSnapshotContent", &k.volume_snapshot_contents),
            ("VolumeSnapshot", &k.volume_snapshots),
        ];
        for (kind, names) in rows {
            let names = if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            };
            t.row("kubernetes", kind, names);
        }
    }
}
