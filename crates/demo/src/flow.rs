//! The story: what a Kubernetes user does, as the CSI calls the sidecars and kubelet would
//! make, with a pod's files written and read on the node, a look into Ceph in the middle and
//! a proof that nothing is left at the end, neither in Ceph nor on the node.
//!
//! It runs in six acts, one file each: [`crate::acts::setup`] (steps 1–2), [`crate::acts::provision`]
//! (3–12, with the node's side in [`crate::acts::node_act`]), [`crate::acts::inspect`] (13–14),
//! [`crate::acts::detach`] (15–17), [`crate::acts::operator_tool`] (18–19: `sepia inspect` and `sepia
//! orphans`) and [`crate::acts::teardown`] (20–27). The first failing step ends
//! the story; [`crate::acts::cleanup`] then unmounts what is mounted, deletes what was made and
//! removes the namespace. With the CephFS flags, the CephFS half ([`crate::cephfs::flow`])
//! follows a successful RBD half, numbered on in the same story.

use std::collections::HashSet;

use rig::access::{Access, default_bed_env};

use crate::error::Result;
use crate::options::Options;
use crate::story::Story;
use crate::world::World;

/// Every step, in order.
pub const PLAN: [&str; 27] = [
    "Both plugins: Probe, GetPluginInfo; ControllerGetCapabilities, NodeGetInfo, NodeGetCapabilities",
    "Create an empty RBD namespace for the demo",
    "CreateVolume: PVC demo/data, 1 GiB, xfs",
    "ControllerPublishVolume: PVC demo/data to the node",
    "NodeStageVolume + NodePublishVolume: PVC demo/data into pod demo/writer",
    "Write before-snapshot.txt into PVC demo/data",
    "CreateSnapshot: VolumeSnapshot demo/data-snap, until readyToUse",
    "Write after-snapshot.txt into PVC demo/data",
    "CreateVolume from the snapshot: PVC demo/data-restored",
    "CreateVolume from PVC demo/data: PVC demo/data-clone",
    "ControllerPublish, NodeStage, NodePublish PVC demo/data-restored into pod demo/reader: old content only",
    "Expand PVC demo/data to 2 GiB while mounted: ControllerExpandVolume, NodeExpandVolume",
    "Read what Ceph holds: images, omap journal, IDs",
    "Check that Ceph holds exactly what was made",
    "NodeUnpublish, NodeUnstage, ControllerUnpublish PVC demo/data-restored, each twice",
    "NodeUnpublish, NodeUnstage, ControllerUnpublish PVC demo/data, each twice",
    "Check that nothing is left mounted or mapped on the node",
    "sepia inspect PVC demo/data: its ID, journal entry and image, as an operator sees them",
    "sepia orphans: no leftovers in the demo's namespace",
    "DeleteVolume: PVC demo/data-clone",
    "DeleteVolume: PVC demo/data-restored",
    "DeleteSnapshot: VolumeSnapshot demo/data-snap",
    "DeleteVolume: PVC demo/data",
    "Delete them again: already gone is success",
    "Wait for the mgr to purge the RBD trash",
    "Check that nothing is left in Ceph",
    "Remove the demo's RBD namespace",
];

/// Runs the demo; `Ok(true)` when every step succeeded. Prints as it goes.
pub async fn run(opts: &Options) -> Result<bool> {
    let bed_env = opts.bed_env.clone().unwrap_or_else(default_bed_env);
    let access = Access::from_bed_env(&bed_env)?;
    println!(
        "Sepia demo: CSI controller at {}, node plugin at {}, clusterID {:?}, pool {}, RBD \
         namespace {}, kubelet directory {}\n",
        opts.endpoint,
        opts.node_endpoint,
        opts.cluster_id,
        opts.pool,
        opts.namespace,
        opts.kubelet_dir.display()
    );
    let cephfs = opts.cephfs();
    let mut plan = PLAN.to_vec();
    if cephfs.is_some() {
        plan.extend(crate::cephfs::flow::CEPHFS_PLAN);
    }
    let mut story = Story::new(&plan);
    let mut world = World {
        driver: None,
        node: None,
        cluster: None,
        scratch: None,
        made: Vec::new(),
        deleted: HashSet::new(),
        attached: Vec::new(),
    };
    let walked = walk(&mut story, &mut world, opts, &access).await;
    if walked.is_err() {
        crate::acts::cleanup::clean_up(&mut world).await;
    }
    let walked = match (walked, &cephfs) {
        (Ok(()), Some(cephfs)) => {
            println!("\nCephFS: a volume many pods share");
            crate::cephfs::flow::run(&mut story, opts, cephfs, &access).await
        }
        (walked, _) => walked,
    };
    println!("\nSummary\n{}", story.summary());
    Ok(walked.is_ok() && story.succeeded())
}

async fn walk(story: &mut Story, world: &mut World, opts: &Options, access: &Access) -> Result<()> {
    let pool_id = crate::acts::setup::setup(story, world, opts, access).await?;
    crate::acts::provision::provision(story, world).await?;
    crate::acts::inspect::inspect(story, world, opts, pool_id).await?;
    crate::acts::detach::detach(story, world).await?;
    crate::acts::operator_tool::look(story, world, opts, access).await?;
    crate::acts::teardown::teardown(story, world, opts).await
}
