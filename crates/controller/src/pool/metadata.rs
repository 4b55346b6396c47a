//! Image metadata tags naming the Kubernetes objects behind an image (ceph-csi's
//! `--setmetadata`), so `rbd image-meta list` answers "whose image is this?".
//!
//! librbd copies a parent's metadata into a clone, so a restored volume inherits its snapshot's
//! tags and a snapshot image its volume's; each side removes the other's keys.

use ceph::rbd::Image;

use crate::error::{Error, Result};
use crate::params::{self, SnapshotTags, VolumeTags};
use crate::pool::cluster::Pool;

const VOLUME_KEYS: [&str; 3] = [params::PVC_NAME, params::PVC_NAMESPACE, params::PV_NAME];
const SNAPSHOT_KEYS: [&str; 3] = [
    params::SNAPSHOT_NAME,
    params::SNAPSHOT_NAMESPACE,
    params::SNAPSHOT_CONTENT_NAME,
];

impl VolumeTags {
    pub fn is_empty(&self) -> bool {
        self.pvc_name.is_none() && self.pvc_namespace.is_none() && self.pv_name.is_none()
    }

    fn pairs(&self) -> [(&'static str, Option<&str>); 3] {
        [
            (params::PVC_NAME, self.pvc_name.as_deref()),
            (params::PVC_NAMESPACE, self.pvc_namespace.as_deref()),
            (params::PV_NAME, self.pv_name.as_deref()),
        ]
    }
}

impl SnapshotTags {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.namespace.is_none() && self.content_name.is_none()
    }

    fn pairs(&self) -> [(&'static str, Option<&str>); 3] {
        [
            (params::SNAPSHOT_NAME, self.name.as_deref()),
            (params::SNAPSHOT_NAMESPACE, self.namespace.as_deref()),
            (params::SNAPSHOT_CONTENT_NAME, self.content_name.as_deref()),
        ]
    }
}

/// Tags a volume image; `cloned` also drops snapshot tags inherited from the parent.
pub async fn tag_volume(pool: &Pool, image: &Image, tags: &VolumeTags, cloned: bool) -> Result<()> {
    if cloned {
        remove(pool, image, &SNAPSHOT_KEYS).await?;
    }
    set(pool, image, &tags.pairs()).await
}

/// Tags a snapshot image, dropping the volume tags it inherited from its source.
pub async fn tag_snapshot(pool: &Pool, image: &Image, tags: &SnapshotTags) -> Result<()> {
    remove(pool, image, &VOLUME_KEYS).await?;
    set(pool, image, &tags.pairs()).await
}

async fn set(pool: &Pool, image: &Image, pairs: &[(&'static str, Option<&str>)]) -> Result<()> {
    for (key, value) in pairs {
        if let Some(value) = value {
            image.metadata_set(key, value).await.map_err(|e| {
                Error::ceph(
                    "set image metadata",
                    format!("{} key {key}", pool.spec(image.name())),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

async fn remove(pool: &Pool, image: &Image, keys: &[&str]) -> Result<()> {
    for key in keys {
        image.metadata_remove(key).await.map_err(|e| {
            Error::ceph(
                "remove image metadata",
                format!("{} key {key}", pool.spec(image.name())),
                e,
            )
        })?;
    }
    Ok(())
}
