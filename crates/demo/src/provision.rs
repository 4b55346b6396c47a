//! Act two (steps 3–7): the user's story through CSI — a PVC, a snapshot of it, a restore of
//! the snapshot, a clone of the PVC, and an expansion of the PVC.

use bench::size::{GIB, format_size};
use journal::Kind;

use crate::driver::{Claim, Source};
use crate::error::{Error, Result};
use crate::flow::World;
use crate::made::Made;
use crate::show::volume_details;
use crate::story::Story;

/// The namespace (Kubernetes) of the story's PVCs and snapshots.
const K8S_NAMESPACE: &str = "demo";

/// Runs steps 3–7, recording in `world.made` what each created.
pub(crate) async fn provision(story: &mut Story, world: &mut World) -> Result<()> {
    let Some(driver) = world.driver.as_ref() else {
        return Err(Error::Check {
            problems: vec!["no driver connection".into()],
        });
    };
    let data = claim("data");
    let volume = story.step(driver.create_volume(&data, GIB, None)).await?;
    story.detail(&volume_details(&volume));
    world.made.push(Made {
        label: "PVC demo/data".into(),
        kind: Kind::Volume,
        request_name: data.pv_name.clone(),
        id: volume.volume_id.clone(),
        size: GIB,
        from: None,
        pvc_name: Some(data.name.clone()),
    });

    let snapshot_name = format!("snapshot-{}", uuid::Uuid::new_v4());
    let snapshot = story
        .step(driver.create_snapshot(
            &volume.volume_id,
            &snapshot_name,
            K8S_NAMESPACE,
            "data-snap",
        ))
        .await?;
    story.detail(&format!(
        "snapshot_id {}\nsize {}, ready after {} CreateSnapshot call(s)",
        snapshot.snapshot_id,
        format_size(u64::try_from(snapshot.size_bytes).unwrap_or(0)),
        snapshot.calls
    ));
    world.made.push(Made {
        label: "VolumeSnapshot demo/data-snap".into(),
        kind: Kind::Snapshot,
        request_name: snapshot_name,
        id: snapshot.snapshot_id.clone(),
        size: GIB,
        from: Some(volume.volume_id.clone()),
        pvc_name: None,
    });

    for (name, source) in [
        (
            "data-restored",
            Source::Snapshot(snapshot.snapshot_id.clone()),
        ),
        ("data-clone", Source::Volume(volume.volume_id.clone())),
    ] {
        let pvc = claim(name);
        let made = story
            .step(driver.create_volume(&pvc, GIB, Some(&source)))
            .await?;
        story.detail(&volume_details(&made));
        world.made.push(Made {
            label: format!("PVC {K8S_NAMESPACE}/{name}"),
            kind: Kind::Volume,
            request_name: pvc.pv_name.clone(),
            id: made.volume_id,
            size: GIB,
            from: Some(match source {
                Source::Snapshot(id) | Source::Volume(id) => id,
            }),
            pvc_name: Some(pvc.name.clone()),
        });
    }

    let (capacity, node_expansion) = story
        .step(async {
            let (capacity, node_expansion) = driver.expand(&volume.volume_id, 2 * GIB).await?;
            if u64::try_from(capacity).unwrap_or(0) < 2 * GIB {
                return Err(Error::BadReply {
                    rpc: "ControllerExpandVolume",
                    missing: "a capacity of at least 2 GiB",
                });
            }
            Ok((capacity, node_expansion))
        })
        .await?;
    story.detail(&format!(
        "capacity {}, node expansion required: {node_expansion} (the node plugin grows the \
         filesystem)",
        format_size(u64::try_from(capacity).unwrap_or(0))
    ));
    if let Some(data) = world.made.first_mut() {
        data.size = 2 * GIB;
    }
    Ok(())
}

/// A PVC in the demo's Kubernetes namespace with a fresh PV name (the external-provisioner
/// names PVs `pvc-<PVC uid>`).
fn claim(name: &str) -> Claim {
    Claim {
        namespace: K8S_NAMESPACE.into(),
        name: name.into(),
        pv_name: format!("pvc-{}", uuid::Uuid::new_v4()),
    }
}
