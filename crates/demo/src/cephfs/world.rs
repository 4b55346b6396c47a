//! What the CephFS half holds between its steps: what [`crate::cephfs::act`] fills in and
//! [`crate::cephfs::flow`]'s clean-up works from after a failure. Its own module so the steps
//! and the flow that runs them share it without reaching into each other.

use std::collections::HashSet;

use crate::cephfs::in_ceph::CephfsPlace;
use crate::drivers::controller::Driver;
use crate::made::Made;
use crate::world::{Attachment, NodeSide};

/// What the CephFS half has made and still holds; what clean-up works from.
#[derive(Default)]
pub(crate) struct CephfsWorld {
    pub driver: Option<Driver>,
    pub node: Option<NodeSide>,
    pub place: Option<CephfsPlace>,
    /// Volumes and snapshots in creation order.
    pub made: Vec<Made>,
    /// IDs already deleted through CSI.
    pub deleted: HashSet<String>,
    /// Pod publications; those of one volume share its staging path.
    pub attached: Vec<Attachment>,
    /// Volume IDs staged and not yet unstaged.
    pub staged: Vec<String>,
    /// The group was removed at the end.
    pub removed: bool,
}
