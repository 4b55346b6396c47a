//! The RBD images of the namespace, as `rbd ls -l` and `rbd info` would show them: size,
//! parent, snapshots, and the PVC name the driver tagged the image with.

use ceph::IoCtx;
use ceph::rbd::{self, SnapNamespace};

use rig::size::format_size;

use crate::error::{Error, Result};
use crate::table::Table;

/// Image metadata key the external-provisioner's PVC name ends up in (ceph-csi's name).
pub const PVC_NAME_KEY: &str = "csi.storage.k8s.io/pvc/name";

/// A snapshot of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub name: String,
    /// Original name of a snapshot removed while clones still needed it.
    pub trashed_from: Option<String>,
}

impl Snapshot {
    /// `csi-snap-…`, or `(removed, kept for clones) csi-snap-…` for a trashed snapshot.
    pub fn shown(&self) -> String {
        match &self.trashed_from {
            Some(original) => format!("(removed, kept for clones) {original}"),
            None => self.name.clone(),
        }
    }
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub name: String,
    pub id: String,
    pub size: u64,
    /// Parent image and snapshot (by its current name), for clones.
    pub parent_image: Option<String>,
    pub parent_snapshot: Option<String>,
    pub snapshots: Vec<Snapshot>,
    pub pvc_name: Option<String>,
}

/// Reads every image of `io`'s namespace, by name.
pub async fn list_images(io: &IoCtx) -> Result<Vec<ImageRow>> {
    let mut specs = rbd::list(io).await.map_err(|e| Error::ceph("rbd ls", e))?;
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rows = Vec::with_capacity(specs.len());
    for spec in specs {
        let step = |what: &str| format!("{what} of image {}", spec.name);
        let image = rbd::open(io, &spec.name)
            .await
            .map_err(|e| Error::ceph(step("open"), e))?;
        let read = async {
            let size = image
                .size()
                .await
                .map_err(|e| Error::ceph(step("size"), e))?;
            let parent = image
                .parent()
                .await
                .map_err(|e| Error::ceph(step("parent"), e))?;
            let snapshots = image
                .snap_list()
                .await
                .map_err(|e| Error::ceph(step("snapshots"), e))?
                .into_iter()
                .map(|s| Snapshot {
                    trashed_from: match s.namespace {
                        SnapNamespace::Trash { original_name } => Some(original_name),
                        _ => None,
                    },
                    name: s.name,
                })
                .collect();
            let pvc_name = image
                .metadata_get(PVC_NAME_KEY)
                .await
                .map_err(|e| Error::ceph(step("metadata"), e))?;
            Ok::<_, Error>(ImageRow {
                name: spec.name.clone(),
                id: spec.id.clone(),
                size,
                parent_snapshot: parent.as_ref().map(|p| p.snap_name.clone()),
                parent_image: parent.map(|p| p.image_name),
                snapshots,
                pvc_name,
            })
        };
        let row = read.await;
        let closed = image.close().await;
        let row = row?;
        closed.map_err(|e| Error::ceph(step("close"), e))?;
        rows.push(row);
    }
    Ok(rows)
}

/// The images as a table, each with its parent and snapshots on lines of their own. A
/// parent snapshot that was removed while this clone needed it (clone v2 keeps it in the trash
/// namespace under a uuid) is shown by its original name.
pub fn images_table(rows: &[ImageRow]) -> Table {
    let mut table = Table::new(["image", "id", "size", "pvc"]);
    for row in rows {
        table.row([
            row.name.clone(),
            row.id.clone(),
            format_size(row.size),
            row.pvc_name.clone().unwrap_or_else(|| "-".into()),
        ]);
        if let (Some(parent), Some(snap)) = (&row.parent_image, &row.parent_snapshot) {
            let shown = rows
                .iter()
                .find(|r| &r.name == parent)
                .and_then(|r| r.snapshots.iter().find(|s| &s.name == snap))
                .map_or_else(|| snap.clone(), Snapshot::shown);
            table.note(format!("└ parent: {parent}@{shown}"));
        }
        if !row.snapshots.is_empty() {
            let names: Vec<String> = row.snapshots.iter().map(Snapshot::shown).collect();
            table.note(format!("└ snapshots: {}", names.join(", ")));
        }
    }
    table
}
