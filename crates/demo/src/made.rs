//! What the story created through CSI, and the checks that Ceph holds exactly that: every ID
//! decodes to this cluster and pool, every ID leads to a journal entry naming the request and
//! an image, images have the sizes and parents the story implies, and the journal has no other
//! key. [`ids`] takes the story's IDs apart for the reader.

pub mod ids;

use journal::{CompositeId, Kind};

use crate::in_ceph::images::ImageRow;
use crate::in_ceph::journal_view::JournalView;

/// A volume or snapshot the story created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// For the reader: `PVC demo/data`, `VolumeSnapshot demo/data-snap`.
    pub label: String,
    pub kind: Kind,
    /// The CSI `name` (PV name, VolumeSnapshotContent-derived name).
    pub request_name: String,
    /// The CSI volume or snapshot ID.
    pub id: String,
    /// Size the image must have now.
    pub size: u64,
    /// ID of what it was made from: the volume of a snapshot, the snapshot of a restore, the
    /// volume of a clone.
    pub from: Option<String>,
    /// PVC name the driver should tag the image with (volumes).
    pub pvc_name: Option<String>,
}

impl Made {
    /// The decoded ID, if it decodes.
    pub fn decoded(&self) -> Option<CompositeId> {
        CompositeId::decode(&self.id).ok()
    }
}

/// Everything that does not match; empty when Ceph holds exactly what the story made.
pub fn check(
    made: &[Made],
    images: &[ImageRow],
    journal: &JournalView,
    cluster_id: &str,
    pool_id: i64,
) -> Vec<String> {
    let mut problems: Vec<String> = journal
        .unreadable
        .iter()
        .map(|u| format!("unreadable journal entry: {u}"))
        .collect();
    let image_of = |id: &str, kind: Kind| {
        let uuid = CompositeId::decode(id).ok()?.uuid();
        journal.entry(kind, &uuid).map(|e| e.image_name.clone())
    };
    for m in made {
        let decoded = match CompositeId::decode(&m.id) {
            Ok(decoded) => decoded,
            Err(e) => {
                problems.push(format!("{}: ID {:?} does not decode: {e}", m.label, m.id));
                continue;
            }
        };
        if decoded.cluster_id() != cluster_id {
            problems.push(format!(
                "{}: ID names cluster {:?}, not {cluster_id:?}",
                m.label,
                decoded.cluster_id()
            ));
        }
        if i64::try_from(decoded.location_id()).ok() != Some(pool_id) {
            problems.push(format!(
                "{}: ID names pool id {}, not {pool_id}",
                m.label,
                decoded.location_id()
            ));
        }
        let Some(entry) = journal.entry(m.kind, &decoded.uuid()) else {
            problems.push(format!(
                "{}: no journal entry {}{}",
                m.label,
                m.kind.entry_prefix(),
                decoded.uuid()
            ));
            continue;
        };
        if entry.request_name != m.request_name {
            problems.push(format!(
                "{}: journal names request {:?}, not {:?}",
                m.label, entry.request_name, m.request_name
            ));
        }
        let Some(image) = images.iter().find(|i| i.name == entry.image_name) else {
            problems.push(format!(
                "{}: image {} does not exist",
                m.label, entry.image_name
            ));
            continue;
        };
        if entry.image_id.as_deref() != Some(image.id.as_str()) {
            problems.push(format!(
                "{}: csi.imageid is {:?}, the image's id is {}",
                m.label, entry.image_id, image.id
            ));
        }
        if image.size != m.size {
            problems.push(format!(
                "{}: image {} has {} bytes, not {}",
                m.label, image.name, image.size, m.size
            ));
        }
        if let (Kind::Volume, Some(pvc)) = (m.kind, &m.pvc_name)
            && image.pvc_name.as_ref() != Some(pvc)
        {
            problems.push(format!(
                "{}: image {} is tagged with PVC {:?}, not {pvc:?}",
                m.label, image.name, image.pvc_name
            ));
        }
        match (m.kind, &m.from) {
            (Kind::Snapshot, Some(volume_id)) => {
                let source = image_of(volume_id, Kind::Volume);
                if source.is_none() || entry.source != source {
                    problems.push(format!(
                        "{}: csi.source is {:?}, the source volume's image is {source:?}",
                        m.label, entry.source
                    ));
                }
            }
            (Kind::Volume, Some(from))
                if made
                    .iter()
                    .any(|o| &o.id == from && o.kind == Kind::Snapshot) =>
            {
                let snapshot_image = image_of(from, Kind::Snapshot);
                if snapshot_image.is_none() || image.parent_image != snapshot_image {
                    problems.push(format!(
                        "{}: restored image's parent is {:?}, not the snapshot image {snapshot_image:?}",
                        m.label, image.parent_image
                    ));
                }
            }
            _ => {}
        }
    }
    let volumes = made.iter().filter(|m| m.kind == Kind::Volume).count();
    let snapshots = made.len() - volumes;
    if journal.directory_keys != (volumes, snapshots) {
        problems.push(format!(
            "the journal directories hold {} volume and {} snapshot keys, the story made {volumes} and {snapshots}",
            journal.directory_keys.0, journal.directory_keys.1
        ));
    }
    problems
}

#[cfg(test)]
mod tests;
