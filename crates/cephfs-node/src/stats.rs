//! NodeGetVolumeStats: bytes and inodes of a staged or published subvolume (`statfs`; with a
//! quota ceph-fuse and the kernel client report the quota as the size), and a VolumeCondition
//! that turns abnormal when the client behind the mount is dead or stuck — answered within the
//! probe deadline, never hung. Only for a path proven to be this volume's
//! ([`crate::ownership`]); anything else is NOT_FOUND.

use std::path::PathBuf;

use node::NodeError;

use crate::driver::CephfsNode;
use node::health::stats_gate::Usage;

use crate::health::{self, Probe};
use crate::ownership;

#[derive(Debug)]
pub struct StatsRequest {
    pub volume_id: String,
    pub volume_path: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeStats {
    pub bytes: Option<Usage>,
    pub inodes: Option<Usage>,
    /// `Some(message)` when the volume is not healthy.
    pub abnormal: Option<String>,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, path = %request.volume_path.display()))]
pub async fn stats(node: &CephfsNode, request: StatsRequest) -> Result<VolumeStats, NodeError> {
    let (staged, _) = ownership::find(node, &request.volume_id, &request.volume_path).await?;
    let probe = health::probe(
        node,
        staged.record.mounter,
        &staged.record.mount_point,
        &request.volume_path,
    )
    .await?;
    Ok(match probe {
        Probe::Answers(bytes, inodes) => VolumeStats {
            bytes: Some(bytes),
            inodes: Some(inodes),
            abnormal: None,
        },
        Probe::Abnormal(why) => VolumeStats {
            abnormal: Some(why),
            ..VolumeStats::default()
        },
    })
}
