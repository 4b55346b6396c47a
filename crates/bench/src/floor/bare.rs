//! Single librbd calls, each the irreducible Ceph work inside a CSI operation. Printed next to
//! the floor so a reader sees how much of an operation is Ceph itself.

use ceph::rbd::{self, Features};

use super::Floor;
use crate::outcome::{OpError, OpResult};
use crate::phase::Done;

impl Floor {
    /// `rbd create` alone.
    pub async fn bare_create(&self, image_name: String) -> OpResult<Done<String>> {
        rbd::create(
            &self.io,
            &image_name,
            self.size,
            &self.create_options(Features::empty()),
        )
        .await
        .map_err(|e| OpError::from_ceph("rbd create", &e))?;
        Ok(Done::now(image_name))
    }

    /// Open, `snap create <image>@<image>` (one monitor commit for the snapshot id), close.
    pub async fn bare_snap_create(&self, image_name: String) -> OpResult<Done<String>> {
        let image = rbd::open(&self.io, &image_name)
            .await
            .map_err(|e| OpError::from_ceph("open", &e))?;
        let created = image.snap_create(&image_name).await;
        let closed = image.close().await;
        created.map_err(|e| OpError::from_ceph("snap create", &e))?;
        closed.map_err(|e| OpError::from_ceph("close", &e))?;
        Ok(Done::now(image_name))
    }

    /// Open, `snap rm <image>@<image>`, close.
    pub async fn bare_snap_remove(&self, image_name: String) -> OpResult<Done<String>> {
        let image = rbd::open(&self.io, &image_name)
            .await
            .map_err(|e| OpError::from_ceph("open", &e))?;
        let removed = image.snap_remove(&image_name).await;
        let closed = image.close().await;
        removed.map_err(|e| OpError::from_ceph("snap rm", &e))?;
        closed.map_err(|e| OpError::from_ceph("close", &e))?;
        Ok(Done::now(image_name))
    }

    /// What a trash-based delete cannot skip: the image id (one object read), `rbd trash mv`,
    /// and queueing the mgr's background purge. (`rbd rm` instead deletes every data object
    /// before answering, which is why CSI drivers do not.)
    pub async fn bare_trash(&self, image_name: String) -> OpResult<Done<()>> {
        let image_id = self.image_id(&image_name).await?;
        rbd::trash_move(&self.io, &image_name)
            .await
            .map_err(|e| OpError::from_ceph("trash move", &e))?;
        self.purge_task(&image_id).await?;
        Ok(Done::now(()))
    }
}
