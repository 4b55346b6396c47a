//! The four CSI phases against one endpoint.

use crate::csi_target::CsiTarget;
use crate::phase::{PhaseResult, PhaseSpec, run_phase};

/// Request names of one run: `bench-<run>-vol-0007`, `bench-<run>-snap-0007`.
pub fn request_names(run_id: &str, kind: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("bench-{run_id}-{kind}-{i:04}"))
        .collect()
}

/// One CreateVolume and DeleteVolume before timing starts, so the driver has connected to Ceph
/// (a one-off cost per cluster and credentials) when the first timed request arrives.
pub async fn warm_up(target: &CsiTarget, run_id: &str) -> Result<(), crate::outcome::OpError> {
    let volume = target
        .create_volume(format!("bench-{run_id}-warmup"))
        .await?;
    target.delete_volume(volume.value).await.map(drop)
}

/// CreateVolume ×N → CreateSnapshot of each → DeleteSnapshot ×N → DeleteVolume ×N.
pub async fn run_csi(
    target: &CsiTarget,
    run_id: &str,
    count: usize,
    concurrency: usize,
) -> Vec<PhaseResult> {
    let spec = |op, detail: &str| PhaseSpec {
        op,
        variant: "csi",
        detail: detail.to_owned(),
        concurrency,
    };
    let t = target.clone();
    let created = run_phase(
        spec("CreateVolume", "CreateVolume RPC"),
        request_names(run_id, "vol", count),
        move |name| {
            let t = t.clone();
            async move { t.create_volume(name).await }
        },
    )
    .await;
    let volumes: Vec<String> = created.outputs.iter().flatten().cloned().collect();

    let snapshot_inputs: Vec<(String, String)> = created
        .outputs
        .iter()
        .zip(request_names(run_id, "snap", count))
        .filter_map(|(volume, name)| volume.clone().map(|v| (v, name)))
        .collect();
    let t = target.clone();
    let snapshotted = run_phase(
        spec("CreateSnapshot", "CreateSnapshot RPC (first reply)"),
        snapshot_inputs,
        move |(volume, name)| {
            let t = t.clone();
            async move { t.create_snapshot(volume, name).await }
        },
    )
    .await;
    let snapshots: Vec<String> = snapshotted.outputs.iter().flatten().cloned().collect();

    let t = target.clone();
    let snapshots_deleted = run_phase(
        spec("DeleteSnapshot", "DeleteSnapshot RPC"),
        snapshots,
        move |id| {
            let t = t.clone();
            async move { t.delete_snapshot(id).await }
        },
    )
    .await;
    let t = target.clone();
    let volumes_deleted = run_phase(
        spec("DeleteVolume", "DeleteVolume RPC"),
        volumes,
        move |id| {
            let t = t.clone();
            async move { t.delete_volume(id).await }
        },
    )
    .await;
    vec![
        created.result,
        snapshotted.result,
        snapshots_deleted.result,
        volumes_deleted.result,
    ]
}
