//! What a scenario needs from an environment beyond the Kubernetes API: someone to run a
//! workload on a volume (a real kubelet, or the stand-in's kubelet actor over CSI) and a way to
//! look into Ceph (the Rook toolbox, or the bed's `rbd` and `ceph`).

use std::future::Future;

use anyhow::Result;

/// One environment the scenarios run in.
pub trait Cluster: Sync {
    /// A client with the rights of a cluster user.
    fn client(&self) -> kube::Client;
    /// The namespace this run creates its objects in.
    fn namespace(&self) -> &str;
    /// StorageClass with provisioner = the Sepia driver and `allowVolumeExpansion: true`.
    fn storage_class(&self) -> &str;
    /// VolumeSnapshotClass of the Sepia driver.
    fn snapshot_class(&self) -> &str;
    /// StorageClass of the CephFS driver (ReadWriteMany, `allowVolumeExpansion: true`).
    fn cephfs_storage_class(&self) -> &str;
    /// VolumeSnapshotClass of the CephFS driver, deletionPolicy Delete.
    fn cephfs_snapshot_class(&self) -> &str;
    /// Mount `pvc` in a workload and write `data` to `/data/e2e.txt`.
    fn write(&self, pvc: &str, data: &str) -> impl Future<Output = Result<()>> + Send;
    /// Mount `pvc` in a workload and read `/data/e2e.txt`.
    fn read(&self, pvc: &str) -> impl Future<Output = Result<String>> + Send;
    /// With `pvc` mounted in a running workload, raise its request to `new_size` (a quantity
    /// such as `2Gi`) and return the filesystem size in bytes the workload then sees.
    fn expand_while_mounted(
        &self,
        pvc: &str,
        new_size: &str,
        min_fs_bytes: u64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Mount the ReadWriteMany `pvc` in two workloads running at the same time: the first
    /// writes `first` to `/data/first.txt`, the second reads it and writes `second` to
    /// `/data/second.txt`, which the first reads. Returns (what the second read, what the first
    /// read).
    fn exchange(
        &self,
        pvc: &str,
        first: &str,
        second: &str,
    ) -> impl Future<Output = Result<(String, String)>> + Send;
    /// Names of the subvolumes in the subvolume group the CephFS StorageClass provisions into
    /// (`ceph fs subvolume ls <fs> <group>`).
    fn cephfs_subvolumes(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Names of the RBD images in the pool (and RADOS namespace) the StorageClass uses.
    fn ceph_images(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
}
