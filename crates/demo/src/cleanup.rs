//! After a failed step: delete what the story made (best effort, through CSI, as Kubernetes
//! would), then remove the namespace with whatever is still in it, and say what that was.

use std::time::Duration;

use bench::scratch::wait_for_trash_purge;
use journal::Kind;

use crate::driver::Driver;
use crate::error::Result;
use crate::flow::World;
use crate::made::Made;

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
