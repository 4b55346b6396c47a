//! Act four (steps 10–17): the deletes, in the order a user cleaning up would cause them, the
//! same deletes again (CSI: deleting what is gone succeeds), the mgr's trash purge, the proof
//! that nothing is left, and the namespace's removal.

use bench::inventory::Inventory;
use bench::scratch::wait_for_trash_purge;
use ceph::rbd;

use crate::cleanup::delete;
use crate::error::{Error, Result};
use crate::flow::World;
use crate::options::Options;
use crate::show::nothing_left;
use crate::story::Story;

/// Positions in `World::made` (data, data-snap, data-restored, data-clone), newest first:
/// clones and restores before the snapshot and the volume they came from.
const DELETE_ORDER: [usize; 4] = [3, 2, 1, 0];

pub(crate) async fn teardown(story: &mut Story, world: &mut World, opts: &Options) -> Result<()> {
    let (Some(driver), Some(cluster), Some(io)) = (
        world.driver.as_ref(),
        world.cluster.clone(),
        world.scratch.as_ref().map(|s| s.io.clone()),
    ) else {
        return Err(Error::Check {
            problems: vec!["no driver, Ceph connection or namespace".into()],
        });
    };
    for index in DELETE_ORDER {
        let Some(made) = world.made.get(index).cloned() else {
            continue;
        };
        story.step(delete(driver, &made)).await?;
        world.deleted.insert(made.id.clone());
    }
    story
        .step(async {
            for made in world.made.iter().rev() {
                delete(driver, made).await?;
            }
            Ok(())
        })
        .await?;
    story.detail(
        "DeleteVolume and DeleteSnapshot of every ID again: all answered OK (CSI: deleting what \
         is gone succeeds)",
    );

    let took = story
        .step(async { Ok(wait_for_trash_purge(&io, opts.purge_timeout).await?) })
        .await?;
    story.detail(&format!(
        "rbd trash ls: empty after {:.1} s",
        took.as_secs_f64()
    ));
    let left = story
        .step(async {
            let left = Inventory::take(&io).await?;
            if left.holds_nothing() {
                Ok(left)
            } else {
                Err(Error::Check {
                    problems: vec![format!("left behind: {}", left.brief())],
                })
            }
        })
        .await?;
    story.detail(&nothing_left(&left));

    let Some(scratch) = world.scratch.take() else {
        return Ok(());
    };
    let namespace = scratch.name.clone();
    story
        .step(async {
            scratch.remove().await?;
            let pool_io = cluster
                .ioctx(&opts.pool, "")
                .await
                .map_err(|e| Error::ceph("open pool", e))?;
            let namespaces = rbd::namespace_list(&pool_io)
                .await
                .map_err(|e| Error::ceph("rbd namespace ls", e))?;
            if namespaces.contains(&namespace) {
                return Err(Error::Check {
                    problems: vec![format!("RBD namespace {namespace} still exists")],
                });
            }
            Ok(())
        })
        .await?;
    story.detail(&format!("rbd namespace ls: {namespace} is gone"));
    Ok(())
}
