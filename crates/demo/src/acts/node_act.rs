//! The story's steps on the node, as the external-attacher and kubelet make them for a pod:
//! ControllerPublish, NodeStage + NodePublish, writing files as the pod would, mounting a
//! restored volume and reading it, and growing a mounted volume. Each step says where the
//! volume ended up on this node and what `df` shows.

use ceph::IoCtx;
use rig::size::{GIB, format_size};

use crate::drivers::controller::Driver;
use crate::error::{Error, Result};
use crate::in_ceph::journal_view::{PUBLICATION_PREFIX, published_nodes};
use crate::on_node::files::{AFTER_SNAPSHOT, BEFORE_SNAPSHOT, listing, read_text, write_durably};
use crate::on_node::mounted::{df, fs_size};
use crate::on_node::stack::describe_stack;
use crate::table::indent;
use crate::world::{Attachment, NodeSide};

/// ControllerPublishVolume to the node, as the external-attacher does for a VolumeAttachment;
/// keeps the publish context for the node calls and checks the controller's record in the
/// journal (`io`: the demo's namespace). The detail text.
pub(crate) async fn controller_publish(
    driver: &Driver,
    node: &NodeSide,
    io: &IoCtx,
    attachment: &mut Attachment,
) -> Result<String> {
    let published = driver
        .controller_publish(
            &attachment.volume_id,
            &attachment.volume_context,
            &node.node_id,
        )
        .await?;
    attachment.publish_context = published.publish_context;
    let recorded = published_nodes(io, &attachment.volume_id).await?;
    if recorded != [node.node_id.clone()] {
        return Err(Error::Check {
            problems: vec![format!(
                "{} is recorded as published to {recorded:?}, not to [{:?}]",
                attachment.label, node.node_id
            )],
        });
    }
    Ok(format!(
        "published to node {:?}, NodeGetInfo's node ID (the node plugin registered it in RADOS, \
         as a key of sepia.nodes.default){}\npublish context: {} (the node plugin reads the \
         volume context)\nrecorded by the controller: omap key {PUBLICATION_PREFIX}{} on \
         csi.volume.<uuid>, so no other node can take this single-node volume",
        node.node_id,
        if published.calls > 1 {
            format!(
                ", after {} calls: the registration had not landed yet",
                published.calls
            )
        } else {
            String::new()
        },
        if attachment.publish_context.is_empty() {
            "empty".to_owned()
        } else {
            format!("{:?}", attachment.publish_context)
        },
        node.node_id,
    ))
}

/// NodeStageVolume, then NodePublishVolume into the attachment's pod, as kubelet does when
/// the pod starts. The detail text: where the volume sits on the node and its `df`.
/// `found` says what NodeStage finds on the device: nothing (a new volume, formatted) or a
/// file system (a restore, mounted as it is).
pub(crate) async fn stage_and_publish(
    node: &NodeSide,
    attachment: &Attachment,
    found: Content,
) -> Result<String> {
    attachment.paths.prepare().await?;
    node.driver.stage(&attachment.node_volume()).await?;
    node.driver.publish(&attachment.node_volume()).await?;
    let stack = describe_stack(node.kubelet.root(), attachment).await?;
    let staged = match found {
        Content::Empty => {
            "mapped; the image was empty, so the plugin made an xfs file system; \
                           mounted below the staging path"
        }
        Content::Restored => {
            "mapped; the image holds the snapshot's xfs, mounted as it is below \
                              the staging path (with nouuid: it shares its origin's UUID)"
        }
    };
    Ok(format!(
        "NodeStageVolume: {staged}\nNodePublishVolume: bind-mounted into pod {}\n\n{stack}",
        attachment.pod
    ))
}

/// What a volume holds when it is staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    Empty,
    Restored,
}

/// Writes one of the story's files into the mounted volume, as the pod would.
pub(crate) async fn write(attachment: &Attachment, (name, text): (&str, &str)) -> Result<String> {
    let target = &attachment.paths.target;
    write_durably(target, name, text).await?;
    Ok(format!(
        "wrote {name} ({} bytes) into {} of pod {}, then fsync'd the file and its directory\n\
         ls -l:\n  {}",
        text.len(),
        attachment.label,
        attachment.pod,
        listing(target).await?.join("\n  ")
    ))
}

/// The restored volume holds what was written before the snapshot and nothing written after;
/// its origin still holds both. The detail text, or the differences as the step's error.
pub(crate) async fn check_restore(restored: &Attachment, origin: &Attachment) -> Result<String> {
    let target = &restored.paths.target;
    let before = read_text(target, BEFORE_SNAPSHOT.0).await?;
    let after = read_text(target, AFTER_SNAPSHOT.0).await?;
    let origin_after = read_text(&origin.paths.target, AFTER_SNAPSHOT.0).await?;
    let mut problems = Vec::new();
    if before.as_deref() != Some(BEFORE_SNAPSHOT.1) {
        problems.push(format!(
            "{} in {} holds {before:?}, not what was written before the snapshot",
            BEFORE_SNAPSHOT.0, restored.label
        ));
    }
    if after.is_some() {
        problems.push(format!(
            "{} holds {}, written after the snapshot",
            restored.label, AFTER_SNAPSHOT.0
        ));
    }
    if origin_after.as_deref() != Some(AFTER_SNAPSHOT.1) {
        problems.push(format!("{} lost {}", origin.label, AFTER_SNAPSHOT.0));
    }
    if !problems.is_empty() {
        return Err(Error::OnNode { problems });
    }
    Ok(format!(
        "ls -l in pod {}:\n  {}\ncat {}: {}{} is absent, as it should be: it was written after \
         the snapshot ({} still has it)",
        restored.pod,
        listing(target).await?.join("\n  "),
        BEFORE_SNAPSHOT.0,
        BEFORE_SNAPSHOT.1,
        AFTER_SNAPSHOT.0,
        origin.label,
    ))
}

/// ControllerExpandVolume, then NodeExpandVolume while the volume is mounted (what the
/// external-resizer and kubelet do for a bigger PVC); the file system must really grow.
pub(crate) async fn expand(
    driver: &Driver,
    node: &NodeSide,
    attachment: &Attachment,
    size: u64,
) -> Result<String> {
    let target = &attachment.paths.target;
    let df_before = df(target).await?;
    let before = fs_size(target).await?;
    let (capacity, node_expansion) = driver.expand(&attachment.volume_id, size).await?;
    if u64::try_from(capacity).unwrap_or(0) < size {
        return Err(Error::BadReply {
            rpc: "ControllerExpandVolume",
            missing: "the requested capacity",
        });
    }
    let node_capacity = if node_expansion {
        Some(
            node.driver
                .expand(&attachment.volume_id, &attachment.paths, size)
                .await?,
        )
    } else {
        None
    };
    let after = fs_size(target).await?;
    let added = size.saturating_sub(before);
    if after <= before + added / 2 {
        return Err(Error::on_node(format!(
            "the file system of {} did not grow: {} before, {} after",
            attachment.label,
            format_size(before),
            format_size(after)
        )));
    }
    Ok(format!(
        "df -h before:\n{}ControllerExpandVolume: image grown to {}; node expansion required: \
         {node_expansion}\nNodeExpandVolume (mounted, in use by pod {}): {}\ndf -h after:\n{}\
         file system size (statvfs): {} → {} (xfs grows online; ext4 would need \
         CAP_SYS_RESOURCE, which this sandbox lacks, hence xfs)",
        indent(&df_before),
        format_size(u64::try_from(capacity).unwrap_or(0)),
        attachment.pod,
        node_capacity.map_or_else(
            || "not called".to_owned(),
            |c| format!("capacity {}", format_size(u64::try_from(c).unwrap_or(0)))
        ),
        indent(&df(target).await?),
        format_size(before),
        format_size(after),
    ))
}

/// The size the story grows PVC demo/data to.
pub(crate) const GROWN: u64 = 2 * GIB;
