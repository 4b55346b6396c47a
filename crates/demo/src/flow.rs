//! The story: what a Kubernetes user does, as the CSI calls the sidecars would make, with a
//! look into Ceph in the middle and a proof that nothing is left at the end.
//!
//! It runs in four acts, one file each: [`crate::setup`] (steps 1–2), [`crate::provision`]
//! (3–7), [`crate::inspect`] (8–9) and [`crate::teardown`] (10–17). The first failing step
//! ends the story; [`crate::cleanup`] then deletes what was made and removes the namespace.

use std::collections::HashSet;

use bench::access::{Access, default_bed_env};
use bench::scratch::ScratchNamespace;
use ceph::Cluster;

use crate::driver::Driver;
use crate::error::Result;
use crate::made::Made;
use crate::options::Options;
use crate::story::Story;

/// Every step, in order.
pub const PLAN: [&str; 17] = [
    "Probe, GetPluginInfo, ControllerGetCapabilities",
    "Create an empty RBD namespace for the demo",
    "CreateVolume: PVC demo/data, 1 GiB",
    "CreateSnapshot: VolumeSnapshot demo/data-snap, until readyToUse",
    "CreateVolume from the snapshot: PVC demo/data-restored",
    "CreateVolume from PVC demo/data: PVC demo/data-clone",
    "ControllerExpandVolume: PVC demo/data to 2 GiB",
    "Read what Ceph holds: images, omap journal, IDs",
    "Check that Ceph holds exactly what was made",
    "DeleteVolume: PVC demo/data-clone",
    "DeleteVolume: PVC demo/data-restored",
    "DeleteSnapshot: VolumeSnapshot demo/data-snap",
    "DeleteVolume: PVC demo/data",
    "Delete them again: already gone is success",
    "Wait for the mgr to purge the RBD trash",
    "Check that nothing is left",
    "Remove the demo's RBD namespace",
];

/// What the story has made and still holds; what clean-up works from after a failure.
pub(crate) struct World {
    pub driver: Option<Driver>,
    pub cluster: Option<Cluster>,
    pub scratch: Option<ScratchNamespace>,
    /// Volumes and snapshots in creation order: data, data-snap, data-restored, data-clone.
    pub made: Vec<Made>,
    /// IDs already deleted through CSI.
    pub deleted: HashSet<String>,
}

/// Runs the demo; `Ok(true)` when every step succeeded. Prints as it goes.
pub async fn run(opts: &Options) -> Result<bool> {
    let bed_env = opts.bed_env.clone().unwrap_or_else(default_bed_env);
    let access = Access::from_bed_env(&bed_env)?;
    println!(
        "Sepia demo: CSI driver at {}, clusterID {:?}, pool {}, RBD namespace {}\n",
        opts.endpoint, opts.cluster_id, opts.pool, opts.namespace
    );
    let mut story = Story::new(&PLAN);
    let mut world = World {
        driver: None,
        cluster: None,
        scratch: None,
        made: Vec::new(),
        deleted: HashSet::new(),
    };
    let walked = walk(&mut story, &mut world, opts, &access).await;
    if walked.is_err() {
        crate::cleanup::clean_up(&mut world).await;
    }
    println!("\nSummary\n{}", story.summary());
    Ok(walked.is_ok() && story.succeeded())
}

async fn walk(story: &mut Story, world: &mut World, opts: &Options, access: &Access) -> Result<()> {
    let pool_id = crate::setup::setup(story, world, opts, access).await?;
    crate::provision::provision(story, world).await?;
    crate::inspect::inspect(story, world, opts, pool_id).await?;
    crate::teardown::teardown(story, world, opts).await
}
