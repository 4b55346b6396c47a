//! ListVolumes: every finished volume of every configured cluster and pool, a page at a time,
//! with the nodes it is published to. One read per volume (its journal entry object holds the
//! image name and the publication records); sizes are not reported (CSI makes them optional and
//! they would cost opening every image).

use std::collections::HashMap;

use journal::records::publication;
use journal::{Kind, Listed};

use crate::error::Result;
use crate::pool::cluster::Pool;
use crate::pool::listing::{self, Token};
use crate::pool::lookup;
use crate::secrets::Source;
use crate::state::State;
use crate::volume::get::basic_context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVolume {
    pub volume_id: String,
    pub context: HashMap<String, String>,
    pub published_nodes: Vec<String>,
}

pub async fn list_volumes(
    state: &State,
    max: usize,
    start: Option<Token>,
) -> Result<(Vec<ListedVolume>, Option<Token>)> {
    let page = listing::page_all(
        state,
        Kind::Volume,
        Source::Standing("ListVolumes"),
        start,
        max,
    )
    .await?;
    let mut volumes = Vec::with_capacity(page.entries.len());
    for (pool, listed) in &page.entries {
        if let Some(volume) = resolve(pool, listed).await? {
            volumes.push(volume);
        }
    }
    Ok((volumes, page.next))
}

/// The listed volume, or None for an entry that is not a finished volume of this name.
async fn resolve(directory: &Pool, listed: &Listed) -> Result<Option<ListedVolume>> {
    let Some(location) = listed.location else {
        return Ok(None);
    };
    let Some(pool) = directory.sibling_if_exists(location.pool_id).await? else {
        return Ok(None);
    };
    let Some(keys) = listing::entry_keys(&pool, &Kind::Volume.entry_oid(&location.uuid)).await?
    else {
        return Ok(None);
    };
    let finished = listing::text(&keys, "csi.volname") == Some(listed.request_name.as_str())
        && listing::text(&keys, journal::attributes::IMAGE_ID).is_some();
    if !finished {
        return Ok(None);
    }
    let image_name = listing::text(&keys, journal::attributes::IMAGE_NAME)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}{}", Kind::Volume.default_image_prefix(), location.uuid));
    Ok(Some(ListedVolume {
        volume_id: lookup::volume_id(&pool.cluster, &location)?,
        context: basic_context(&pool, &image_name),
        published_nodes: publication::nodes_in(&keys),
    }))
}
