//! After a failed step: unmount and unpublish what is on the node, delete what the story made
//! (best effort, through CSI, as Kubernetes would), then remove the namespace with whatever
//! is still in it, and say what that was. Unmounting comes first: a mapped image cannot be
//! deleted, and a mount over a deleted image would stay behind on the node.

use std::time::Duration;

use journal::Kind;
use rig::scratch::wait_for_trash_purge;

use crate::drivers::controller::Driver;
use crate::error::Result;
use crate::made::Made;
use crate::world::World;

/// How long the mgr gets to purge what the clean-up deletes trashed; leftovers are then
/// force-removed with the namespace.
const PURGE_GRACE: Duration = Duration::from_secs(30);

/// DeleteVolume or DeleteSnapshot of `made`.
pub(crate) async fn delete(driver: &Driver, made: &Made) -> Result<()> {
    match made.kind {
        Kind::Volume => driver.delete_volume(&made.id).await,
        Kind::Snapshot => driver.delete_snapshot(&made.id).await,
    }
}

pub(crate) async fn clean_up(world: &mut World) {
    println!("\nCleaning up after the failure:");
    detach_all(world).await;
    if let Some(driver) = &world.driver {
        for made in world.made.iter().rev() {
            if world.deleted.contains(&made.id) {
                continue;
            }
            match delete(driver, made).await {
                Ok(()) => println!("  deleted {} through CSI", made.label),
                Err(e) => println!("  could not delete {} through CSI: {e}", made.label),
            }
        }
    }
    if let Some(scratch) = world.scratch.take() {
        let _ = wait_for_trash_purge(&scratch.io, PURGE_GRACE).await;
        let name = scratch.name.clone();
        match scratch.remove().await {
            Ok(before) => println!(
                "  removed RBD namespace {name} (it held {})",
                before.brief()
            ),
            Err(e) => println!("  could not remove RBD namespace {name}: {e}"),
        }
    }
}

/// NodeUnpublish, NodeUnstage and ControllerUnpublish of every volume not yet detached,
/// newest first; each call is tried even when an earlier one failed.
async fn detach_all(world: &mut World) {
    let (Some(driver), Some(node)) = (&world.driver, &world.node) else {
        return;
    };
    for attachment in world.attached.iter_mut().rev().filter(|a| !a.detached) {
        let id = &attachment.volume_id;
        let paths = &attachment.paths;
        let outcomes = [
            (
                "NodeUnpublishVolume",
                node.driver.unpublish(id, paths).await,
            ),
            ("NodeUnstageVolume", node.driver.unstage(id, paths).await),
            (
                "ControllerUnpublishVolume",
                driver.controller_unpublish(id, &node.node_id).await,
            ),
        ];
        attachment.detached = outcomes.iter().all(|(_, outcome)| outcome.is_ok());
        for (rpc, outcome) in outcomes {
            match outcome {
                Ok(()) => println!("  {rpc} of {}: done", attachment.label),
                Err(e) => println!("  {rpc} of {} failed: {e}", attachment.label),
            }
        }
    }
}
