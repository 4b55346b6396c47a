//! Act three (steps 13–14): what Ceph holds — images, the omap journal decoded and raw, the IDs
//! taken apart — and the check that it is exactly what the story made.

use crate::error::{Error, Result};
use crate::in_ceph::images::list_images;
use crate::in_ceph::journal_view::JournalView;
use crate::made::check;
use crate::options::Options;
use crate::show::ceph_holdings;
use crate::story::Story;
use crate::world::World;

pub(crate) async fn inspect(
    story: &mut Story,
    world: &World,
    opts: &Options,
    pool_id: i64,
) -> Result<()> {
    let (Some(cluster), Some(scratch)) = (&world.cluster, &world.scratch) else {
        return Err(Error::Check {
            problems: vec!["no Ceph connection or namespace".into()],
        });
    };
    let io = &scratch.io;
    let (images, journal) = story
        .step(async {
            let images = list_images(io).await?;
            let journal = JournalView::read(cluster, io).await?;
            Ok((images, journal))
        })
        .await?;
    story.detail(&ceph_holdings(&world.made, &images, &journal, opts));
    story
        .step(async {
            let problems = check(&world.made, &images, &journal, &opts.cluster_id, pool_id);
            if problems.is_empty() {
                Ok(())
            } else {
                Err(Error::Check { problems })
            }
        })
        .await?;
    story.detail(&format!(
        "{} images; every ID decodes to clusterID {:?} and pool {pool_id}, leads to its journal \
         entry and image with the expected size and parent",
        images.len(),
        opts.cluster_id
    ));
    Ok(())
}
