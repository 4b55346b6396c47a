//! The CephFS half of the story, after the RBD one: a ReadWriteMany volume staged once with
//! ceph-fuse and published into two pods that read each other's files, a snapshot, a restore
//! (the mgr clones for a while: CreateVolume answers ABORTED until it is done, and is
//! retried), a clone, an expansion seen by `df`, what Ceph holds, and the teardown down to
//! nothing. The steps are in [`crate::cephfs::act`]; Ceph is read in [`crate::cephfs::in_ceph`].
//! The first failing step ends the half; [`clean_up`] then unmounts and deletes what it made
//! and removes the group.

use rig::access::Access;

use crate::cephfs::world::CephfsWorld;
use crate::error::Result;
use crate::options::{CephfsOptions, Options};
use crate::story::Story;

/// The CephFS half's steps, in order, after [`crate::flow::PLAN`].
pub const CEPHFS_PLAN: [&str; 15] = [
    "CephFS: both plugins answer; a new subvolume group for the demo",
    "CephFS CreateVolume: PVC demo/shared, 1 GiB, ReadWriteMany",
    "NodeStageVolume (ceph-fuse) once, NodePublishVolume into pods demo/alice and demo/bob",
    "Pods demo/alice and demo/bob each read what the other wrote",
    "CreateSnapshot: VolumeSnapshot demo/shared-snap",
    "Write after-snapshot.txt into PVC demo/shared",
    "CreateVolume from the snapshot: PVC demo/shared-restored, retried while the mgr clones",
    "NodeStage, NodePublish PVC demo/shared-restored into pod demo/reader: old content only",
    "CreateVolume from PVC demo/shared: PVC demo/shared-clone, retried while the mgr clones",
    "ControllerExpandVolume: PVC demo/shared to 2 GiB while mounted",
    "Read what Ceph holds: fs subvolume ls/info, omap journal",
    "NodeUnpublish every pod, NodeUnstage every volume, each twice",
    "DeleteVolume, DeleteSnapshot everything, each twice",
    "Check that nothing is left: subvolume, journal key, ceph-fuse process or mount",
    "Remove the demo's subvolume group and journal namespace",
];

/// Runs the CephFS steps; cleans up after a failure.
pub(crate) async fn run(
    story: &mut Story,
    opts: &Options,
    cephfs: &CephfsOptions,
    access: &Access,
) -> Result<()> {
    let mut world = CephfsWorld::default();
    let walked = crate::cephfs::act::walk(story, &mut world, opts, cephfs, access).await;
    if walked.is_err() {
        clean_up(&mut world).await;
    }
    walked
}

/// Unpublish, unstage, delete through CSI, remove the group: best effort, each said.
async fn clean_up(world: &mut CephfsWorld) {
    println!("\nCleaning up the CephFS half after the failure:");
    if let Some(node) = &world.node {
        for attachment in world.attached.iter().filter(|a| !a.detached) {
            match node
                .driver
                .unpublish(&attachment.volume_id, &attachment.paths)
                .await
            {
                Ok(()) => println!("  NodeUnpublishVolume of {}: done", attachment.label),
                Err(e) => println!("  NodeUnpublishVolume of {} failed: {e}", attachment.label),
            }
        }
        for volume_id in &world.staged {
            let Some(attachment) = world.attached.iter().find(|a| a.volume_id == *volume_id) else {
                continue;
            };
            match node.driver.unstage(volume_id, &attachment.paths).await {
                Ok(()) => println!("  NodeUnstageVolume of {}: done", attachment.label),
                Err(e) => println!("  NodeUnstageVolume of {} failed: {e}", attachment.label),
            }
        }
    }
    if let Some(driver) = &world.driver {
        for made in world.made.iter().rev() {
            if world.deleted.contains(&made.id) {
                continue;
            }
            match crate::acts::cleanup::delete(driver, made).await {
                Ok(()) => println!("  deleted {} through CSI", made.label),
                Err(e) => println!("  could not delete {} through CSI: {e}", made.label),
            }
        }
    }
    if let Some(place) = world.place.as_ref().filter(|_| !world.removed) {
        match place.remove().await {
            Ok(objects) => println!(
                "  removed subvolume group {} and the journal namespace's objects {objects:?}",
                place.group
            ),
            Err(e) => println!("  could not remove subvolume group {}: {e}", place.group),
        }
    }
}
