//! Act six (steps 20–27): the deletes, in the order a user cleaning up would cause them, the
//! same deletes again (CSI: deleting what is gone succeeds), the mgr's trash purge, the proof
//! that nothing is left, and the namespace's removal.

use std::time::{Duration, Instant};

use ceph::{IoCtx, rbd};
use rig::inventory::Inventory;
use rig::scratch::wait_for_trash_purge;

use crate::acts::cleanup::delete;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::show::nothing_left;
use crate::story::Story;
use crate::world::World;

/// How long the OSDs may take to trim the snapshot clones of deleted images' objects.
const SNAP_TRIM_WAIT: Duration = Duration::from_secs(120);
const SNAP_TRIM_POLL: Duration = Duration::from_millis(250);

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
    let (left, trimmed) = story.step(wait_for_nothing_left(&io)).await?;
    if let Some((objects, took)) = trimmed {
        story.detail(&format!(
            "{objects} data object(s) of deleted images were still listed at first: object \
             clones the OSDs keep for a snapshot (PVC demo/data was written after its snapshot), \
             which the OSDs' snapshot trimmer removes in the background, here {:.1} s later",
            took.as_secs_f64()
        ));
    }
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

/// The namespace's inventory once it holds nothing. Data objects of deleted images that were
/// written after a snapshot outlive the image as snapshot clones until the OSDs trim the
/// deleted snapshot (asynchronously, seconds later); those alone are waited for, with how many
/// there were and how long they took. Anything else left is a failure at once.
async fn wait_for_nothing_left(io: &IoCtx) -> Result<(Inventory, Option<(usize, Duration)>)> {
    let start = Instant::now();
    let mut first_clones = None;
    loop {
        let left = Inventory::take(io).await?;
        if left.holds_nothing() {
            return Ok((left, first_clones.map(|n| (n, start.elapsed()))));
        }
        let only_data_objects = left.images.is_empty()
            && left.trash.is_empty()
            && left.directory_key_count() == 0
            && left.journal_entries.is_empty()
            && left
                .image_objects
                .iter()
                .all(|o| o.starts_with("rbd_data."));
        if !only_data_objects || start.elapsed() >= SNAP_TRIM_WAIT {
            let mut names = left.image_objects.clone();
            names.truncate(8);
            return Err(Error::Check {
                problems: vec![format!(
                    "left behind after {:.0} s: {} (image objects: {})",
                    start.elapsed().as_secs_f64(),
                    left.brief(),
                    names.join(", ")
                )],
            });
        }
        first_clones.get_or_insert(left.image_objects.len());
        tokio::time::sleep(SNAP_TRIM_POLL).await;
    }
}
