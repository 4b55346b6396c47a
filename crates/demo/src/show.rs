//! The text under the steps: a created volume, what Ceph holds, and what is left at the end.

use journal::{CompositeId, Kind};
use rig::inventory::Inventory;
use rig::size::format_size;

use crate::drivers::controller::Volume;
use crate::in_ceph::images::{ImageRow, images_table};
use crate::in_ceph::journal_view::JournalView;
use crate::made::Made;
use crate::made::ids::{ids_list, ids_table};
use crate::options::Options;
use crate::table::Table;

/// The volume id, capacity and volume context of a CreateVolume answer.
pub fn volume_details(volume: &Volume) -> String {
    let mut context: Vec<String> = volume
        .context
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    context.sort();
    format!(
        "volume_id {}\ncapacity {}; volume_context: {}",
        volume.volume_id,
        format_size(u64::try_from(volume.capacity_bytes).unwrap_or(0)),
        context.join(", ")
    )
}

/// The images, the journal (decoded, then raw: the directories and one entry of each kind) and
/// the IDs, each entry labelled with what the story made it for.
pub fn ceph_holdings(
    made: &[Made],
    images: &[ImageRow],
    journal: &JournalView,
    opts: &Options,
) -> String {
    let label = |entry: &journal::Entry| {
        made.iter()
            .find(|m| {
                m.kind == entry.kind
                    && CompositeId::decode(&m.id).is_ok_and(|id| id.uuid() == entry.location.uuid)
            })
            .map_or_else(|| "?".to_owned(), |m| m.label.clone())
    };
    let mut out = format!(
        "\nRBD images (rbd -p {} --namespace {} ls -l):\n",
        opts.pool, opts.namespace
    );
    out.push_str(&images_table(images).render("  "));
    out.push_str("\nVolume journal, decoded (csi.volumes.default → csi.volume.<uuid>):\n");
    out.push_str(&journal.volumes_table(&label).render("  "));
    out.push_str("\nSnapshot journal, decoded (csi.snaps.default → csi.snap.<uuid>):\n");
    out.push_str(&journal.snapshots_table(&label).render("  "));
    out.push_str("\nThe same journal, raw (the directories, and one entry of each kind):\n");
    let shown: Vec<String> = [Kind::Volume, Kind::Snapshot]
        .into_iter()
        .filter_map(|kind| {
            let first = made.iter().find(|m| m.kind == kind)?;
            Some(format!(
                "{}{}",
                kind.entry_prefix(),
                first.decoded()?.uuid()
            ))
        })
        .collect();
    let include = |oid: &str| {
        oid.starts_with(Kind::Volume.directory_prefix())
            || oid.starts_with(Kind::Snapshot.directory_prefix())
            || shown.iter().any(|s| s == oid)
    };
    for line in journal
        .raw_dump(&opts.pool, &opts.namespace, &include)
        .lines()
    {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\nIDs handed to Kubernetes:\n");
    out.push_str(&ids_list(made).render("  "));
    out.push_str("\nThe IDs decoded (VVVV-LLLL-<clusterID>-<pool id>-<uuid>):\n");
    out.push_str(&ids_table(made, &opts.pool).render("  "));
    out
}

/// The counts that must be zero, and the objects that may remain until the namespace goes.
pub fn nothing_left(left: &Inventory) -> String {
    let mut table = Table::new(["what", "count"]);
    for (what, count) in [
        ("RBD images", left.images.len()),
        ("RBD trash entries", left.trash.len()),
        ("journal directory keys", left.directory_key_count()),
        ("journal entry objects", left.journal_entries.len()),
        ("image header/data objects", left.image_objects.len()),
    ] {
        table.row([what.to_owned(), count.to_string()]);
    }
    let mut remaining: Vec<String> = left
        .directories
        .iter()
        .map(|d| format!("{} ({} keys)", d.oid, d.keys.len()))
        .collect();
    remaining.extend(left.other_objects.iter().cloned());
    format!(
        "{}remaining objects: {} (empty journal directories, librbd's per-namespace \
         bookkeeping and the node plugin's registration, removed with the namespace)",
        table.render(""),
        if remaining.is_empty() {
            "none".to_owned()
        } else {
            remaining.join(", ")
        }
    )
}
