//! ControllerGetVolume: size, publications and condition of one volume. CSI sends no secrets
//! with it, so it runs as the controller's standing identity.

use std::collections::HashMap;

use crate::error::Result;
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::pool::lookup;
use crate::publish;
use crate::secrets::Source;
use crate::state::State;

/// What ControllerGetVolume answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeStatus {
    pub volume_id: String,
    pub capacity: u64,
    pub context: HashMap<String, String>,
    pub published_nodes: Vec<String>,
    /// Why the volume is not usable, when it is not (its image is gone).
    pub abnormal: Option<String>,
}

pub async fn get_volume(state: &State, volume_id: &str) -> Result<VolumeStatus> {
    let volume =
        lookup::find_volume(state, volume_id, Source::Standing("ControllerGetVolume")).await?;
    let pool = &volume.pool;
    let (capacity, abnormal) = match image::open(pool, &volume.entry.image_name).await? {
        Some(img) => (
            image::with_closed(
                pool,
                img,
                |img| async move { image::size(pool, &img).await },
            )
            .await?,
            None,
        ),
        None => (
            0,
            Some(format!("its image {} does not exist", volume.spec())),
        ),
    };
    Ok(VolumeStatus {
        volume_id: volume_id.to_owned(),
        capacity,
        context: basic_context(pool, &volume.entry.image_name),
        published_nodes: publish::published_nodes(pool, &volume.entry.location.uuid).await?,
        abnormal,
    })
}

/// The volume context keys that can be rebuilt without the StorageClass.
pub fn basic_context(pool: &Pool, image_name: &str) -> HashMap<String, String> {
    HashMap::from([
        ("clusterID".to_owned(), pool.cluster.id.clone()),
        ("pool".to_owned(), pool.io.pool_name().to_owned()),
        ("imageName".to_owned(), image_name.to_owned()),
        ("journalPool".to_owned(), pool.io.pool_name().to_owned()),
        ("radosNamespace".to_owned(), pool.io.namespace().to_owned()),
    ])
}
