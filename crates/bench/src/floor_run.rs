//! The floor's phases: the full per-operation call sequences on one set of images, then the
//! single librbd calls on another, at the same concurrency as the CSI run.

use crate::csi_run::request_names;
use crate::floor::Floor;
use crate::outcome::OpError;
use crate::phase::{Phase, PhaseResult, PhaseSpec, run_phase};

/// A throw-away create and delete before timing, as for the CSI run.
pub async fn warm_up(floor: &Floor, run_id: &str) -> Result<(), OpError> {
    let volume = floor
        .create_volume(format!("bench-{run_id}-floor-warmup"))
        .await?;
    floor.delete_volume(volume.value).await.map(drop)
}

/// Runs both sets; lines come back grouped by operation, full floor first.
pub async fn run_floor(
    floor: &Floor,
    run_id: &str,
    count: usize,
    concurrency: usize,
) -> Vec<PhaseResult> {
    let full = run_full(floor, run_id, count, concurrency).await;
    let bare = run_bare(floor, run_id, count, concurrency).await;
    full.into_iter()
        .zip(bare)
        .flat_map(|(full, bare)| [full, bare])
        .collect()
}

fn spec(op: &'static str, variant: &'static str, detail: &str, concurrency: usize) -> PhaseSpec {
    PhaseSpec {
        op,
        variant,
        detail: detail.to_owned(),
        concurrency,
    }
}

/// Runs `op` of `floor` over `inputs`.
async fn phase<I, T, F, Fut>(spec: PhaseSpec, floor: &Floor, inputs: Vec<I>, op: F) -> Phase<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(Floor, I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<crate::phase::Done<T>, OpError>> + Send + 'static,
{
    let floor = floor.clone();
    run_phase(spec, inputs, move |input| op(floor.clone(), input)).await
}

async fn run_full(floor: &Floor, run_id: &str, count: usize, c: usize) -> [PhaseResult; 4] {
    let created = phase(
        spec(
            "CreateVolume",
            "floor",
            "journal read+reserve, rbd create, id, csi.imageid",
            c,
        ),
        floor,
        request_names(run_id, "floor-vol", count),
        |f, name| async move { f.create_volume(name).await },
    )
    .await;
    let inputs: Vec<_> = created
        .outputs
        .iter()
        .zip(request_names(run_id, "floor-snap", count))
        .filter_map(|(volume, name)| volume.clone().map(|v| (v, name)))
        .collect();
    let snapshotted = phase(
        spec(
            "CreateSnapshot",
            "floor",
            "reserve, snap+clone+snap rm, snap of clone, id",
            c,
        ),
        floor,
        inputs,
        |f, (volume, name)| async move { f.create_snapshot(volume, name).await },
    )
    .await;
    let snapshots_deleted = phase(
        spec(
            "DeleteSnapshot",
            "floor",
            "entry read, snap rm, trash mv, mgr task, unjournal",
            c,
        ),
        floor,
        snapshotted.outputs.into_iter().flatten().collect(),
        |f, snapshot| async move { f.delete_snapshot(snapshot).await },
    )
    .await;
    let volumes_deleted = phase(
        spec(
            "DeleteVolume",
            "floor",
            "entry read, watchers, trash mv, mgr task, unjournal",
            c,
        ),
        floor,
        created.outputs.into_iter().flatten().collect(),
        |f, volume| async move { f.delete_volume(volume).await },
    )
    .await;
    [
        created.result,
        snapshotted.result,
        snapshots_deleted.result,
        volumes_deleted.result,
    ]
}

async fn run_bare(floor: &Floor, run_id: &str, count: usize, c: usize) -> [PhaseResult; 4] {
    let created = phase(
        spec("CreateVolume", "floor-bare", "rbd create only", c),
        floor,
        request_names(run_id, "bare", count),
        |f, name| async move { f.bare_create(name).await },
    )
    .await;
    let images: Vec<String> = created.outputs.into_iter().flatten().collect();
    let snapshotted = phase(
        spec(
            "CreateSnapshot",
            "floor-bare",
            "open, snap create (1 mon commit), close",
            c,
        ),
        floor,
        images.clone(),
        |f, image| async move { f.bare_snap_create(image).await },
    )
    .await;
    let snapshots_deleted = phase(
        spec("DeleteSnapshot", "floor-bare", "open, snap rm, close", c),
        floor,
        snapshotted.outputs.into_iter().flatten().collect(),
        |f, image| async move { f.bare_snap_remove(image).await },
    )
    .await;
    let volumes_deleted = phase(
        spec(
            "DeleteVolume",
            "floor-bare",
            "id read, trash mv, mgr task only",
            c,
        ),
        floor,
        images,
        |f, image| async move { f.bare_trash(image).await },
    )
    .await;
    [
        created.result,
        snapshotted.result,
        snapshots_deleted.result,
        volumes_deleted.result,
    ]
}
