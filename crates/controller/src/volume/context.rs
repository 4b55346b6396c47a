//! The volume context CreateVolume returns: what the node plugin needs to map the image
//! without a journal lookup, with ceph-csi's key names.

use std::collections::HashMap;

use crate::params::VolumeParams;
use crate::pool::cluster::Pool;

/// StorageClass parameters (minus Kubernetes' own) plus `clusterID`, `pool`, `imageName`,
/// `journalPool`, `radosNamespace` (and `dataPool` when set).
pub fn volume_context(
    params: &VolumeParams,
    pool: &Pool,
    image_name: &str,
) -> HashMap<String, String> {
    let mut context: HashMap<String, String> = params
        .context
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    context.insert("clusterID".to_owned(), pool.cluster.id.clone());
    context.insert("pool".to_owned(), pool.io.pool_name().to_owned());
    context.insert("imageName".to_owned(), image_name.to_owned());
    context.insert("journalPool".to_owned(), pool.io.pool_name().to_owned());
    context.insert("radosNamespace".to_owned(), pool.io.namespace().to_owned());
    if let Some(data_pool) = &params.data_pool {
        context.insert("dataPool".to_owned(), data_pool.clone());
    }
    context
}
