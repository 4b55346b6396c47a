//! The user story of docs/architecture.md §1, as a user would live it: only Kubernetes objects in, and
//! only what a user can see out (object status, the bytes in a pod, the images in the pool and
//! the subvolumes in the filesystem). [`user_story`] is the RBD story, [`cephfs_story`] the
//! shared-file one.
//! Each step fails with the object and state it was waiting for.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail, ensure};
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::objects::{self, Kind};
use crate::wait;
use crate::{CEPHFS_DRIVER, DRIVER, DRIVERS};

const GIB: u64 = 1 << 30;

/// The whole story on one cluster: provision, write, snapshot, restore, clone, expand online,
/// delete, and check that neither Kubernetes nor Ceph keeps anything.
pub async fn user_story<C: Cluster>(cluster: &C) -> Result<()> {
    let client = cluster.client();
    let ns = cluster.namespace();
    let pvcs = Kind::Pvc.api(&client, ns);
    let snapshots = Kind::VolumeSnapshot.api(&client, ns);
    let mut volumes = Vec::new();

    step("PVC → bound PV of the Sepia driver");
    create(
        &pvcs,
        objects::pvc("data", cluster.storage_class(), "1Gi", None),
    )
    .await?;
    volumes.push(bound_volume(cluster, "data").await?);

    let before_snapshot = format!("written before the snapshot {}", uuid::Uuid::new_v4());
    step("a pod writes data");
    cluster.write("data", &before_snapshot).await?;

    step("VolumeSnapshot → readyToUse with a restoreSize");
    create(
        &snapshots,
        objects::volume_snapshot("data-snap", "data", cluster.snapshot_class()),
    )
    .await?;
    let snapshot = ready_snapshot(cluster, "data-snap", DRIVER).await?;

    let after_snapshot = format!("written after the snapshot {}", uuid::Uuid::new_v4());
    cluster.write("data", &after_snapshot).await?;

    step("restore the snapshot into a new PVC; a pod reads what was there at snapshot time");
    create(
        &pvcs,
        objects::pvc(
            "restored",
            cluster.storage_class(),
            "1Gi",
            Some(objects::snapshot_source("data-snap")),
        ),
    )
    .await?;
    volumes.push(bound_volume(cluster, "restored").await?);
    let restored = cluster.read("restored").await?;
    ensure!(
        restored == before_snapshot,
        "restored PVC holds {restored:?}, expected the data of snapshot time {before_snapshot:?}"
    );

    step("clone the PVC; a pod reads its current data");
    create(
        &pvcs,
        objects::pvc(
            "cloned",
            cluster.storage_class(),
            "1Gi",
            Some(objects::pvc_source("data")),
        ),
    )
    .await?;
    volumes.push(bound_volume(cluster, "cloned").await?);
    let cloned = cluster.read("cloned").await?;
    ensure!(
        cloned == after_snapshot,
        "cloned PVC holds {cloned:?}, expected the source's current data {after_snapshot:?}"
    );

    step("expand the bound PVC to 2Gi while a pod uses it");
    let seen = cluster
        .expand_while_mounted("data", "2Gi", GIB * 3 / 2)
        .await?;
    ensure!(
        seen >= GIB * 3 / 2,
        "the pod sees a {seen}-byte filesystem after expanding to 2Gi"
    );
    let capacity = wait::until(&pvcs, "data", "PVC capacity 2Gi", |pvc| {
        capacity_bytes(pvc, &["status", "capacity", "storage"]) >= Some(2 * GIB)
    })
    .await?;
    ensure!(capacity.is_some(), "PVC data vanished while expanding");

    step("delete everything; no PV, VolumeSnapshotContent or Ceph image is left");
    snapshots
        .delete("data-snap", &DeleteParams::default())
        .await?;
    for name in ["restored", "cloned", "data"] {
        pvcs.delete(name, &DeleteParams::default()).await?;
    }
    let pvs = Kind::Pv.api(&client, ns);
    for volume in &volumes {
        wait::gone(&pvs, &volume.pv, "PersistentVolume").await?;
    }
    let contents = Kind::VolumeSnapshotContent.api(&client, ns);
    wait::gone(&contents, &snapshot.content, "VolumeSnapshotContent").await?;
    let ours: BTreeSet<String> = volumes
        .iter()
        .map(|v| v.image.clone())
        .chain(snapshot.image.clone())
        .collect();
    wait::until_some("Ceph images of this run removed", || async {
        let left: Vec<String> = cluster
            .ceph_images()
            .await?
            .into_iter()
            .filter(|image| ours.contains(image))
            .collect();
        if !left.is_empty() {
            tracing::info!(?left, "images still in the pool");
        }
        Ok(left.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}

/// The shared-file story on one cluster: a ReadWriteMany CephFS claim used by two pods at once,
/// snapshot, restore (the snapshot-time content only), expansion (the quota, no node step),
/// delete, and neither Kubernetes nor Ceph keeps anything.
pub async fn cephfs_story<C: Cluster>(cluster: &C) -> Result<()> {
    let client = cluster.client();
    let ns = cluster.namespace();
    let pvcs = Kind::Pvc.api(&client, ns);
    let snapshots = Kind::VolumeSnapshot.api(&client, ns);
    let class = cluster.cephfs_storage_class();
    let mut volumes = Vec::new();

    step("CephFS: RWX PVC → bound PV of the CephFS driver");
    create(&pvcs, objects::shared_pvc("shared", class, "1Gi", None)).await?;
    volumes.push(bound_pv(cluster, "shared", CEPHFS_DRIVER, "subvolumeName").await?);

    step("two pods mount it at once; each reads what the other wrote");
    let run = uuid::Uuid::new_v4();
    let (first, second) = (format!("pod A wrote {run}"), format!("pod B wrote {run}"));
    let (second_read, first_read) = cluster.exchange("shared", &first, &second).await?;
    ensure!(
        second_read == first,
        "pod B read {second_read:?} from pod A's file, expected {first:?}"
    );
    ensure!(
        first_read == second,
        "pod A read {first_read:?} from pod B's file, expected {second:?}"
    );

    step("a pod writes; VolumeSnapshot of the CephFS claim → readyToUse");
    let before_snapshot = format!("written before the CephFS snapshot {run}");
    cluster.write("shared", &before_snapshot).await?;
    create(
        &snapshots,
        objects::volume_snapshot("shared-snap", "shared", cluster.cephfs_snapshot_class()),
    )
    .await?;
    let snapshot = ready_snapshot(cluster, "shared-snap", CEPHFS_DRIVER).await?;
    let after_snapshot = format!("written after the CephFS snapshot {run}");
    cluster.write("shared", &after_snapshot).await?;

    step("restore the snapshot into a new RWX PVC; a pod reads the snapshot-time data only");
    create(
        &pvcs,
        objects::shared_pvc(
            "shared-restored",
            class,
            "1Gi",
            Some(objects::snapshot_source("shared-snap")),
        ),
    )
    .await?;
    volumes.push(bound_pv(cluster, "shared-restored", CEPHFS_DRIVER, "subvolumeName").await?);
    let restored = cluster.read("shared-restored").await?;
    ensure!(
        restored == before_snapshot,
        "restored CephFS PVC holds {restored:?}, expected the data of snapshot time \
         {before_snapshot:?}"
    );
    let source = cluster.read("shared").await?;
    ensure!(
        source == after_snapshot,
        "the CephFS source PVC holds {source:?} after the restore, expected {after_snapshot:?}"
    );

    step("expand the CephFS PVC to 2Gi while a pod uses it; df shows the new quota");
    let seen = cluster
        .expand_while_mounted("shared", "2Gi", GIB * 3 / 2)
        .await?;
    ensure!(
        seen >= GIB * 3 / 2,
        "the pod sees a {seen}-byte filesystem after expanding to 2Gi"
    );
    let capacity = wait::until(&pvcs, "shared", "PVC capacity 2Gi", |pvc| {
        capacity_bytes(pvc, &["status", "capacity", "storage"]) >= Some(2 * GIB)
    })
    .await?;
    ensure!(capacity.is_some(), "PVC shared vanished while expanding");
    let pvs = Kind::Pv.api(&client, ns);
    wait::until(&pvs, &volumes[0].pv, "PV capacity 2Gi", |pv| {
        capacity_bytes(pv, &["spec", "capacity", "storage"]) >= Some(2 * GIB)
    })
    .await?;

    step("Ceph holds a subvolume per claim");
    let ours: BTreeSet<String> = volumes.iter().map(|v| v.image.clone()).collect();
    let present: BTreeSet<String> = cluster.cephfs_subvolumes().await?.into_iter().collect();
    ensure!(
        ours.is_subset(&present),
        "subvolumes {ours:?} of this run's PVs not all in Ceph's list {present:?}"
    );

    step("delete everything; no PV, VolumeSnapshotContent or subvolume is left");
    snapshots
        .delete("shared-snap", &DeleteParams::default())
        .await?;
    for name in ["shared-restored", "shared"] {
        pvcs.delete(name, &DeleteParams::default()).await?;
    }
    for volume in &volumes {
        wait::gone(&pvs, &volume.pv, "PersistentVolume").await?;
    }
    let contents = Kind::VolumeSnapshotContent.api(&client, ns);
    wait::gone(&contents, &snapshot.content, "VolumeSnapshotContent").await?;
    wait::until_some("CephFS subvolumes of this run removed", || async {
        let left: Vec<String> = cluster
            .cephfs_subvolumes()
            .await?
            .into_iter()
            .filter(|name| ours.contains(name))
            .collect();
        if !left.is_empty() {
            tracing::info!(?left, "subvolumes still in the group");
        }
        Ok(left.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}

/// Every node that runs the node plugins has both drivers in its CSINode, with a node ID.
pub async fn driver_registered<C: Cluster>(cluster: &C) -> Result<()> {
    for driver in DRIVERS {
        registered(cluster, driver).await?;
    }
    Ok(())
}

async fn registered<C: Cluster>(cluster: &C, driver: &str) -> Result<()> {
    let client = cluster.client();
    let csinodes = Kind::CsiNode.api(&client, cluster.namespace());
    let what = format!("a CSINode listing {driver}");
    let registered = wait::until_some(&what, || async {
        let list = csinodes.list(&Default::default()).await?;
        let ids: Vec<String> = list
            .items
            .iter()
            .filter_map(|n| {
                let drivers = n.data["spec"]["drivers"].as_array()?;
                let ours = drivers.iter().find(|d| d["name"] == driver)?;
                Some(ours["nodeID"].as_str()?.to_owned())
            })
            .collect();
        Ok((!ids.is_empty()).then_some(ids))
    })
    .await?;
    ensure!(
        registered.iter().all(|id| !id.is_empty()),
        "a CSINode lists {driver} with an empty nodeID: {registered:?}"
    );
    Ok(())
}

/// A PV as the scenario remembers it for the final clean-up check.
#[derive(Debug, Clone)]
pub struct Volume {
    pub pv: String,
    /// Its name in Ceph from the PV's volume attributes (ceph-csi's keys): the RBD image
    /// (`imageName`) or the CephFS subvolume (`subvolumeName`).
    pub image: String,
}

/// Waits for `pvc` to be Bound and checks its PV is Sepia's RBD driver's.
pub async fn bound_volume<C: Cluster>(cluster: &C, pvc: &str) -> Result<Volume> {
    bound_pv(cluster, pvc, DRIVER, "imageName").await
}

/// Waits for `pvc` to be Bound and checks its PV is `driver`'s, naming its Ceph object in
/// volume attribute `name_key`.
async fn bound_pv<C: Cluster>(
    cluster: &C,
    pvc: &str,
    driver: &str,
    name_key: &str,
) -> Result<Volume> {
    let client = cluster.client();
    let pvcs = Kind::Pvc.api(&client, cluster.namespace());
    let claim = wait::until(&pvcs, pvc, "PVC Bound", |o| {
        o.is_some_and(|c| c["status"]["phase"] == "Bound")
    })
    .await?
    .context("PVC vanished")?;
    let pv_name = claim["spec"]["volumeName"]
        .as_str()
        .with_context(|| format!("bound PVC {pvc} has no spec.volumeName"))?
        .to_owned();
    let pv = Kind::Pv.api(&client, "").get(&pv_name).await?;
    let csi = &pv.data["spec"]["csi"];
    ensure!(
        csi["driver"] == driver,
        "PV {pv_name} of PVC {pvc} belongs to driver {}, not {driver}",
        csi["driver"]
    );
    let image = csi["volumeAttributes"][name_key]
        .as_str()
        .with_context(|| format!("PV {pv_name} has no volumeAttributes.{name_key}"))?
        .to_owned();
    Ok(Volume { pv: pv_name, image })
}

/// A ready snapshot: its content, and the RBD image that holds it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub content: String,
    pub image: Option<String>,
}

async fn ready_snapshot<C: Cluster>(cluster: &C, name: &str, driver: &str) -> Result<Snapshot> {
    let client = cluster.client();
    let snapshots = Kind::VolumeSnapshot.api(&client, cluster.namespace());
    let snapshot = wait::until(&snapshots, name, "VolumeSnapshot readyToUse", |o| {
        o.is_some_and(|s| s["status"]["readyToUse"] == true)
    })
    .await?
    .context("VolumeSnapshot vanished")?;
    let status = &snapshot["status"];
    let restore = status["restoreSize"].as_str().map(str::to_owned);
    let restore_bytes = restore
        .as_deref()
        .and_then(objects::quantity_bytes)
        .or_else(|| status["restoreSize"].as_u64());
    ensure!(
        restore_bytes.is_some_and(|b| b >= GIB),
        "ready VolumeSnapshot {name} has restoreSize {}, expected at least 1Gi",
        status["restoreSize"]
    );
    let content = status["boundVolumeSnapshotContentName"]
        .as_str()
        .context("ready VolumeSnapshot without boundVolumeSnapshotContentName")?
        .to_owned();
    let vsc = Kind::VolumeSnapshotContent
        .api(&client, "")
        .get(&content)
        .await?;
    ensure!(
        vsc.data["spec"]["driver"] == driver,
        "content {content} belongs to {}",
        vsc.data["spec"]["driver"]
    );
    let handle = vsc.data["status"]["snapshotHandle"]
        .as_str()
        .context("bound content without status.snapshotHandle")?;
    // The ID ends in the 36-character uuid; the image is csi-snap-<uuid> (docs/architecture.md §4, §5).
    let image = handle
        .len()
        .checked_sub(36)
        .and_then(|at| handle.get(at..))
        .map(|uuid| format!("csi-snap-{uuid}"));
    Ok(Snapshot { content, image })
}

/// Raises a PVC's storage request, as `kubectl patch` would.
pub async fn request_size(pvcs: &Api<DynamicObject>, pvc: &str, size: &str) -> Result<()> {
    let patch = json!({"spec": {"resources": {"requests": {"storage": size}}}});
    pvcs.patch(pvc, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("raising PVC {pvc} to {size}"))?;
    Ok(())
}

/// The quantity at `path` in `object`, in bytes.
pub fn capacity_bytes(object: Option<&Value>, path: &[&str]) -> Option<u64> {
    let mut value = object?;
    for key in path {
        value = value.get(key)?;
    }
    objects::quantity_bytes(value.as_str()?)
}

async fn create(api: &Api<DynamicObject>, object: Value) -> Result<()> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let object: DynamicObject = serde_json::from_value(object)?;
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(()),
        Err(error) => bail!("creating {name}: {error}"),
    }
}

fn step(what: &str) {
    eprintln!("[e2e] {what}");
}
