//! `inspect` of a CephFS volume or snapshot: the decoded ID (location = FSCID), the journal
//! entry in the filesystem's metadata pool, and the subvolume (state, path, quota, snapshots)
//! or, for a snapshot, the subvolume snapshot — read through the CephFS controller's mgr calls.

use cephfs_controller::fs::{Fs, Which};
use journal::{CompositeId, Kind};
use serde::Serialize;
use uuid::Uuid;

use super::{IdReport, JournalReport, directory_in, id_rows, journal_rows, kube_rows, read_entry};
use crate::context::{Context, object_exists_in};
use crate::error::Result;
use crate::kube::References;
use crate::render::Table;

#[derive(Debug, Serialize)]
pub struct Report {
    pub handle: String,
    /// Always `cephfs`, for scripts telling the reports apart.
    pub driver: &'static str,
    /// `volume` or `snapshot`.
    pub kind: &'static str,
    /// The decoded ID; its `pool_*` fields name the filesystem (FSCID and name).
    pub id: Option<IdReport>,
    pub filesystem: String,
    pub subvolume_group: String,
    pub uuid: String,
    pub journal: JournalReport,
    /// The subvolume (a volume's own; a snapshot's source).
    pub subvolume_name: String,
    pub subvolume: Option<SubvolumeReport>,
    /// For a snapshot: its subvolume snapshot.
    pub snapshot: Option<SnapshotReport>,
    pub kubernetes: Option<References>,
}

#[derive(Debug, Serialize)]
pub struct SubvolumeReport {
    /// `complete`, `snapshot-retained`, or a clone's state (`pending`, `in-progress`, …).
    pub state: String,
    pub path: Option<String>,
    /// The quota in bytes; `None` without one.
    pub size: Option<u64>,
    pub snapshots: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SnapshotReport {
    pub name: String,
    pub exists: bool,
    pub created_at: Option<String>,
}

/// The CephFS report of `resolved` when it is one: a subvolume name with `fs`, or an ID whose
/// entry the filesystem of its FSCID holds (and no RBD pool of that id does).
pub async fn try_inspect(
    cx: &Context,
    handle: &str,
    resolved: &str,
    fs: Option<&str>,
) -> Result<Option<Report>> {
    if let Ok(composite) = CompositeId::decode(resolved) {
        if composite.cluster_id() != cx.cluster.id || rbd_entry_exists(cx, &composite).await? {
            return Ok(None);
        }
        let Some(fs) = crate::cephfs::open(cx, Which::Id(composite.location_id())).await? else {
            return Ok(None);
        };
        let uuid = composite.uuid();
        let Some(kind) = entry_kind(&fs, uuid).await? else {
            return Ok(None);
        };
        let id = IdReport {
            version: journal::id::VERSION,
            cluster_id: composite.cluster_id().to_owned(),
            pool_id: composite.location_id(),
            pool_name: fs.name.clone(),
            uuid: uuid.to_string(),
        };
        return Ok(Some(inspect(cx, &fs, handle, kind, uuid, Some(id)).await?));
    }
    let Some(fs_name) = fs else {
        return Ok(None);
    };
    let fs = crate::cephfs::open_named(cx, fs_name).await?;
    let (kind, uuid) =
        crate::orphans::driver_image(resolved).ok_or_else(|| crate::error::Error::Usage {
            what: format!(
                "{resolved:?} is neither a volume/snapshot ID nor a subvolume (or snapshot) name \
                 csi-vol-<uuid> / csi-snap-<uuid>"
            ),
        })?;
    Ok(Some(inspect(cx, &fs, handle, kind, uuid, None).await?))
}

/// Whether the RBD journal of the pool with this ID's location id has its entry.
async fn rbd_entry_exists(cx: &Context, composite: &CompositeId) -> Result<bool> {
    let Ok(location) = controller::pool::lookup::location_of(composite) else {
        return Ok(false);
    };
    let pool = match cx.cluster.pool_by_id(location.pool_id).await {
        Ok(pool) => pool,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(crate::error::Error::ceph("open pool by id", e)),
    };
    for kind in [Kind::Volume, Kind::Snapshot] {
        let oid = kind.entry_oid(&location.uuid);
        if object_exists_in(&pool.io, &oid).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Which of the filesystem's journals has an entry object for `uuid`.
async fn entry_kind(fs: &Fs, uuid: Uuid) -> Result<Option<Kind>> {
    for (kind, journal) in [(Kind::Volume, &fs.volumes), (Kind::Snapshot, &fs.snapshots)] {
        if object_exists_in(&fs.io, &journal.layout().entry_oid(&uuid)).await? {
            return Ok(Some(kind));
        }
    }
    Ok(None)
}

async fn inspect(
    cx: &Context,
    fs: &Fs,
    handle: &str,
    kind: Kind,
    uuid: Uuid,
    id: Option<IdReport>,
) -> Result<Report> {
    let journal = match kind {
        Kind::Volume => &fs.volumes,
        Kind::Snapshot => &fs.snapshots,
    };
    let location = fs.location(uuid);
    let mut report_journal = read_entry(&fs.io, journal, uuid).await?;
    let mut own_name = format!("{}{}", kind.default_image_prefix(), uuid.hyphenated());
    let mut source = None;
    if report_journal.exists {
        match journal.entry(&location).await {
            Ok(entry) => {
                own_name.clone_from(&entry.image_name);
                source.clone_from(&entry.source);
                directory_in(&fs.io, journal, &entry, &mut report_journal).await?;
            }
            Err(journal::Error::Incomplete { defect, .. }) => {
                report_journal.defect = Some(defect.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let (subvolume_name, snapshot) = match kind {
        Kind::Volume => (own_name, None),
        Kind::Snapshot => {
            let source = source.unwrap_or_default();
            let info = if source.is_empty() {
                None
            } else {
                fs.snapshot_info(&source, &own_name).await?
            };
            let snapshot = SnapshotReport {
                exists: info.is_some(),
                created_at: info.map(|i| i.created_at),
                name: own_name,
            };
            (source, Some(snapshot))
        }
    };
    let subvolume = match fs.info(&subvolume_name).await? {
        Some(info) => Some(SubvolumeReport {
            size: info.quota(),
            snapshots: fs.snapshots_of(&subvolume_name).await?,
            state: info.state,
            path: info.path,
        }),
        None => None,
    };
    let kubernetes = match &cx.kube {
        Some(kube) => Some(kube.references(&fs.id_of(uuid)?).await?),
        None => None,
    };
    Ok(Report {
        handle: handle.to_owned(),
        driver: "cephfs",
        kind: kind.noun(),
        id,
        filesystem: fs.name.clone(),
        subvolume_group: fs.group.clone(),
        uuid: uuid.to_string(),
        journal: report_journal,
        subvolume_name,
        subvolume,
        snapshot,
        kubernetes,
    })
}

pub fn table(r: &Report) -> Table {
    let mut t = Table::default();
    t.row("handle", format!("cephfs {}", r.kind), &r.handle);
    if let Some(id) = &r.id {
        id_rows(&mut t, id, "filesystem");
    }
    journal_rows(&mut t, &r.journal);
    let section = format!(
        "subvolume {}/{}/{}",
        r.filesystem, r.subvolume_group, r.subvolume_name
    );
    match &r.subvolume {
        None => t.row(&section, "exists", "no"),
        Some(s) => {
            t.row(&section, "state", &s.state);
            if let Some(path) = &s.path {
                t.row(&section, "path", path);
            }
            let size = s
                .size
                .map_or("no quota".to_owned(), |b| format!("{b} bytes"));
            t.row(&section, "size", size);
            let snapshots = if s.snapshots.is_empty() {
                "none".to_owned()
            } else {
                s.snapshots.join(", ")
            };
            t.row(&section, "snapshots", snapshots);
        }
    }
    if let Some(snap) = &r.snapshot {
        let section = format!("snapshot {}", snap.name);
        t.row(&section, "exists", if snap.exists { "yes" } else { "no" });
        if let Some(created) = &snap.created_at {
            t.row(&section, "created", created);
        }
    }
    if let Some(k) = &r.kubernetes {
        kube_rows(&mut t, k);
    }
    t
}
