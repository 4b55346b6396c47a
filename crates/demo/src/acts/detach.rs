//! Act four (steps 15–17): the pods are gone, so kubelet unpublishes and unstages each
//! volume and the external-attacher unpublishes it from the node — every call twice, since
//! CSI requires a repeated call to succeed — and then the proof that nothing of the story is
//! left mounted or mapped on the node.

use ceph::IoCtx;

use crate::drivers::controller::Driver;
use crate::error::{Error, Result};
use crate::in_ceph::journal_view::{PUBLICATION_PREFIX, published_nodes};
use crate::on_node::mounted::{mount_table, path_exists};
use crate::on_node::node_leftovers::{NodeLeftovers, scan_settled};
use crate::story::Story;
use crate::table::Table;
use crate::world::{Attachment, NodeSide, World};

pub(crate) async fn detach(story: &mut Story, world: &mut World) -> Result<()> {
    let (Some(driver), Some(node), Some(io)) = (
        world.driver.as_ref(),
        world.node.as_ref(),
        world.scratch.as_ref().map(|s| &s.io),
    ) else {
        return Err(Error::Check {
            problems: vec!["no controller or node connection, or no namespace".into()],
        });
    };
    // Newest first: the restored volume, then PVC demo/data.
    for attachment in world.attached.iter_mut().rev() {
        let detail = story.step(detach_one(driver, node, io, attachment)).await?;
        story.detail(&detail);
    }
    let left = story
        .step(async {
            let left = scan_settled(node.kubelet.root(), &world.attached).await?;
            if left.is_empty() {
                Ok(left)
            } else {
                Err(Error::OnNode {
                    problems: left.lines(),
                })
            }
        })
        .await?;
    story.detail(&nothing_left_on_node(&left, world));
    Ok(())
}

/// NodeUnpublish, NodeUnstage, ControllerUnpublish of one volume, each twice; checks that the
/// target path, the staged mount and the controller's publication record are gone.
async fn detach_one(
    driver: &Driver,
    node: &NodeSide,
    io: &IoCtx,
    attachment: &mut Attachment,
) -> Result<String> {
    let paths = attachment.paths.clone();
    let id = attachment.volume_id.clone();
    for _ in 0..2 {
        node.driver.unpublish(&id, &paths).await?;
    }
    if path_exists(&paths.target).await? {
        return Err(Error::on_node(format!(
            "NodeUnpublishVolume left the target path {}",
            paths.target.display()
        )));
    }
    for _ in 0..2 {
        node.driver.unstage(&id, &paths).await?;
    }
    if let Some(mount) = mount_table()
        .await?
        .into_iter()
        .find(|m| m.mount_point.starts_with(&paths.staging))
    {
        return Err(Error::on_node(format!(
            "NodeUnstageVolume left {} mounted at {}",
            mount.source,
            mount.mount_point.display()
        )));
    }
    for _ in 0..2 {
        driver.controller_unpublish(&id, &node.node_id).await?;
    }
    let recorded = published_nodes(io, &id).await?;
    if !recorded.is_empty() {
        return Err(Error::Check {
            problems: vec![format!(
                "{} is still recorded as published to {recorded:?}",
                attachment.label
            )],
        });
    }
    attachment.detached = true;
    Ok(format!(
        "NodeUnpublishVolume ×2: pod {}'s mount is gone and its target path removed\n\
         NodeUnstageVolume ×2: file system unmounted, loop device detached, rbd-fuse unmounted\n\
         ControllerUnpublishVolume ×2: no {PUBLICATION_PREFIX}* key is left on the volume's \
         journal entry (was {PUBLICATION_PREFIX}{})\n\
         (the second call of each found nothing to do and answered OK, as CSI requires)",
        attachment.pod, node.node_id
    ))
}

fn nothing_left_on_node(left: &NodeLeftovers, world: &World) -> String {
    let mut table = Table::new(["what", "count"]);
    for (what, count) in [
        (
            "mounts under the kubelet directory or of the demo's volumes",
            left.mounts.len(),
        ),
        (
            "loop devices over the demo's images",
            left.loop_devices.len(),
        ),
        ("rbd-fuse processes serving them", left.rbd_fuse.len()),
    ] {
        table.row([what.to_owned(), count.to_string()]);
    }
    let images: Vec<&str> = world.attached.iter().map(Attachment::image_name).collect();
    format!(
        "{}looked in /proc/self/mountinfo, /sys/block/loop*/loop/backing_file and /proc/*/cmdline \
         for the kubelet directory, the volume IDs and the images {}",
        table.render(""),
        images.join(", ")
    )
}
