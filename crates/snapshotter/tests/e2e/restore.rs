//! Restore, end to end with every Sepia binary: a PVC provisioned by `sepia-provisioner`,
//! written through `sepia-node`, snapshotted by `sepia-snapshotter`, restored into new PVCs —
//! from the dynamic snapshot and from a pre-provisioned content (the seeds' cross-cluster
//! restore) — and read back through the node plugin. Then everything is deleted and Ceph is
//! empty.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use snapshot_api::{DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent};

use crate::cluster::{Kubelet, binder, write_durably};
use crate::harness::*;
use crate::pre_provisioned::{imported_content, snapshot_of_content};

const NS: &str = "shop";
const BEFORE: &[u8] = b"written before the snapshot";
const AFTER: &[u8] = b"overwritten after the snapshot";

async fn read_back(kubelet: &mut Kubelet, pv: &PersistentVolume) -> (Vec<u8>, bool) {
    let mount = kubelet.mount(pv).await;
    let data = std::fs::read(mount.join("data.txt")).unwrap();
    let later = mount.join("later.txt").exists();
    kubelet.unmount(pv).await;
    (data, later)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restores_from_dynamic_and_pre_provisioned_snapshots_hold_the_data_of_the_cut() {
    let mut env = Env::start("restore").await;
    env.start_snapshotter("snapshotter", &[]);
    env.start_provisioner();
    let mut kubelet = env.start_node().await;
    let binding = tokio::spawn(binder(env.client.clone()));
    env.put_storage_class();
    env.put_class("rbd-default", DeletionPolicy::Delete, true);

    // The origin volume, provisioned and written through the node plugin.
    env.put_provisioned_claim(NS, "origin", "64Mi", None);
    let origin = env.wait_claim_bound(NS, "origin").await;
    let mount = kubelet.mount(&origin).await;
    write_durably(&mount.join("data.txt"), BEFORE);
    kubelet.unmount(&origin).await;

    // A dynamic snapshot, and a seed cut directly through CSI and imported as a
    // pre-provisioned content.
    env.put_snapshot(NS, "cut", "origin", None);
    let cut = env.wait_ready(NS, "cut").await;
    let origin_handle = origin
        .spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_handle
        .clone();
    let seed = env
        .create_csi_snapshot("seed-of-origin", &origin_handle)
        .await;
    env.standin
        .put(&imported_content(
            "seed-content",
            &seed.snapshot_id,
            NS,
            "seed",
            DeletionPolicy::Delete,
        ))
        .unwrap();
    env.standin
        .put(&snapshot_of_content(NS, "seed", "seed-content"))
        .unwrap();
    env.wait_ready(NS, "seed").await;

    // Writes after the cuts must not show in the restores.
    let mount = kubelet.mount(&origin).await;
    write_durably(&mount.join("data.txt"), AFTER);
    write_durably(&mount.join("later.txt"), b"later");
    kubelet.unmount(&origin).await;

    assert_eq!(
        cut.status
            .as_ref()
            .unwrap()
            .restore_size
            .as_ref()
            .unwrap()
            .0,
        "64Mi"
    );
    env.put_provisioned_claim(NS, "from-cut", "64Mi", Some("cut"));
    env.put_provisioned_claim(NS, "from-seed", "64Mi", Some("seed"));
    let from_cut = env.wait_claim_bound(NS, "from-cut").await;
    let from_seed = env.wait_claim_bound(NS, "from-seed").await;
    assert_eq!(
        read_back(&mut kubelet, &from_cut).await,
        (BEFORE.to_vec(), false)
    );
    assert_eq!(
        read_back(&mut kubelet, &from_seed).await,
        (BEFORE.to_vec(), false)
    );
    assert_eq!(
        read_back(&mut kubelet, &origin).await,
        (AFTER.to_vec(), true)
    );

    // Everything goes, children before parents (a trashed RBD image with clones waits for
    // them, and the test's controller purges directly instead of through the busy mgr):
    // restored claims, then the snapshots, then the origin.
    for claim in ["from-cut", "from-seed"] {
        env.delete::<PersistentVolumeClaim>(NS, claim);
    }
    for pv in [&from_cut, &from_seed] {
        let name = pv.metadata.name.clone().unwrap();
        env.wait_gone::<PersistentVolume>("", &name, &format!("PV {name} gone"))
            .await;
    }
    for snapshot in ["cut", "seed"] {
        env.delete::<VolumeSnapshot>(NS, snapshot);
    }
    for snapshot in ["cut", "seed"] {
        env.wait_gone::<VolumeSnapshot>(NS, snapshot, &format!("{snapshot} gone"))
            .await;
    }
    env.wait_gone::<VolumeSnapshotContent>("", "seed-content", "seed content gone")
        .await;
    env.delete::<PersistentVolumeClaim>(NS, "origin");
    let name = origin.metadata.name.clone().unwrap();
    env.wait_gone::<PersistentVolume>("", &name, "origin PV gone")
        .await;
    env.wait_images(&[]).await;
    binding.abort();
}
