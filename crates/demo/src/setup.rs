//! Act one (steps 1–2): the driver answers, and the demo gets an RBD namespace of its own.

use bench::access::Access;
use bench::csi_target::StorageClass;
use bench::scratch::ScratchNamespace;
use ceph::{Cluster, Timeouts};

use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::flow::World;
use crate::options::Options;
use crate::story::Story;

/// Connects to the driver and to Ceph and creates the namespace; the pool's id.
pub(crate) async fn setup(
    story: &mut Story,
    world: &mut World,
    opts: &Options,
    access: &Access,
) -> Result<i64> {
    let class = StorageClass {
        cluster_id: opts.cluster_id.clone(),
        pool: opts.pool.clone(),
        image_features: "layering".to_owned(),
    };
    let (driver, identity) = story
        .step(async {
            let driver = Driver::connect(
                &opts.endpoint,
                class,
                access.csi_secrets(),
                opts.rpc_timeout,
            )
            .await?;
            let identity = driver.identify().await?;
            if identity.ready == Some(false) {
                return Err(Error::BadReply {
                    rpc: "Probe",
                    missing: "ready=true",
                });
            }
            Ok((driver, identity))
        })
        .await?;
    story.detail(&format!(
        "driver {} {}, ready\ncontroller capabilities: {}",
        identity.name,
        identity.vendor_version,
        identity.capabilities.join(", ")
    ));
    world.driver = Some(driver);

    let (cluster, scratch, pool_id) = story
        .step(async {
            let cluster = Cluster::connect(&access.credentials, &Timeouts::default())
                .await
                .map_err(|e| Error::ceph("connect to Ceph", e))?;
            let pool_id = cluster
                .pool_id(&opts.pool)
                .await
                .map_err(|e| Error::ceph(format!("look up pool {}", opts.pool), e))?;
            // Refuses an existing namespace: it may hold someone's data.
            let scratch = ScratchNamespace::create(&cluster, &opts.pool, &opts.namespace).await?;
            Ok((cluster, scratch, pool_id))
        })
        .await?;
    story.detail(&format!(
        "pool {} (id {pool_id}), RBD namespace {} — the controller's config.json names it as the \
         cluster's rbd.radosNamespace",
        opts.pool, scratch.name
    ));
    world.cluster = Some(cluster);
    world.scratch = Some(scratch);
    Ok(pool_id)
}
