//! Act one (steps 1–2): both plugins answer, and the demo gets an RBD namespace of its own.

use ceph::{Cluster, Timeouts};
use rig::access::Access;
use rig::csi_call::StorageClass;
use rig::scratch::ScratchNamespace;

use crate::drivers::controller::Driver;
use crate::drivers::kubelet::Kubelet;
use crate::drivers::node_plugin::NodeDriver;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::story::Story;
use crate::world::{NodeSide, World};

/// The file system of the story's volumes: xfs grows while mounted here, where ext4's online
/// growth needs CAP_SYS_RESOURCE, which this sandbox withholds.
pub const FS_TYPE: &str = "xfs";

/// Connects to both plugins and to Ceph and creates the namespace; the pool's id.
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
    let (driver, identity, node, node_identity, kubelet) = story
        .step(async {
            let driver = Driver::connect(
                &opts.endpoint,
                class,
                FS_TYPE,
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
            let node = NodeDriver::connect(
                &opts.node_endpoint,
                FS_TYPE,
                access.csi_secrets(),
                opts.rpc_timeout,
            )
            .await?;
            let node_identity = node.identify().await?;
            if node_identity.ready == Some(false) {
                return Err(Error::BadReply {
                    rpc: "Probe (node plugin)",
                    missing: "ready=true",
                });
            }
            if node_identity.node_id.is_empty() {
                return Err(Error::BadReply {
                    rpc: "NodeGetInfo",
                    missing: "a node ID",
                });
            }
            if let Some(expected) = &opts.node_id
                && *expected != node_identity.node_id
            {
                return Err(Error::on_node(format!(
                    "the node plugin answers node ID {:?}, not {expected:?}",
                    node_identity.node_id
                )));
            }
            if node_identity.name != identity.name {
                return Err(Error::on_node(format!(
                    "the node plugin is driver {:?}, the controller {:?}",
                    node_identity.name, identity.name
                )));
            }
            let kubelet = Kubelet::open(&opts.kubelet_dir, node_identity.name.clone()).await?;
            Ok((driver, identity, node, node_identity, kubelet))
        })
        .await?;
    story.detail(&format!(
        "controller: driver {} {}, ready\ncontroller capabilities: {}\nnode plugin: driver {} \
         {}, ready; node ID {:?}, max volumes per node {}\nnode capabilities: {}\nvolumes are \
         formatted {FS_TYPE}: it grows while mounted here (ext4 would need CAP_SYS_RESOURCE, \
         which this sandbox lacks)",
        identity.name,
        identity.vendor_version,
        identity.capabilities.join(", "),
        node_identity.name,
        node_identity.vendor_version,
        node_identity.node_id,
        if node_identity.max_volumes_per_node == 0 {
            "unlimited".to_owned()
        } else {
            node_identity.max_volumes_per_node.to_string()
        },
        node_identity.capabilities.join(", "),
    ));
    world.node = Some(NodeSide {
        driver: node,
        node_id: node_identity.node_id,
        kubelet,
    });
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
