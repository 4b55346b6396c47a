//! Act two (steps 3–12): the user's story through CSI — a PVC mounted in a pod that writes a
//! file, a snapshot of it, another file, a restore of the snapshot mounted in a second pod
//! (holding only the first file), a clone of the PVC, and the PVC grown while mounted. The
//! node's side of each step is in [`crate::acts::node_act`].

use journal::Kind;
use rig::size::{GIB, format_size};

use crate::acts::node_act::{self, Content, GROWN};
use crate::drivers::controller::{Claim, Source, Volume};
use crate::error::{Error, Result};
use crate::made::Made;
use crate::on_node::files::{AFTER_SNAPSHOT, BEFORE_SNAPSHOT};
use crate::show::volume_details;
use crate::story::Story;
use crate::world::{Attachment, World};

/// The namespace (Kubernetes) of the story's PVCs, snapshots and pods.
pub(crate) const K8S_NAMESPACE: &str = "demo";

/// Runs steps 3–12, recording in `world.made` what each created and in `world.attached` what
/// it published to the node.
pub(crate) async fn provision(story: &mut Story, world: &mut World) -> Result<()> {
    let (Some(driver), Some(node), Some(io)) = (
        world.driver.as_ref(),
        world.node.as_ref(),
        world.scratch.as_ref().map(|s| &s.io),
    ) else {
        return Err(Error::Check {
            problems: vec!["no controller or node connection, or no namespace".into()],
        });
    };
    let data = claim("data");
    let volume = story.step(driver.create_volume(&data, GIB, None)).await?;
    story.detail(&volume_details(&volume));
    world.made.push(made_volume(&data, &volume, None));

    world.attached.push(Attachment::new(
        node,
        "PVC demo/data",
        &volume,
        &data.pv_name,
        "demo/writer",
    ));
    let writer = world.attached.len() - 1;
    let detail = story
        .step(node_act::controller_publish(
            driver,
            node,
            io,
            &mut world.attached[writer],
        ))
        .await?;
    story.detail(&detail);
    let detail = story
        .step(node_act::stage_and_publish(
            node,
            &world.attached[writer],
            Content::Empty,
        ))
        .await?;
    story.detail(&detail);
    let detail = story
        .step(node_act::write(&world.attached[writer], BEFORE_SNAPSHOT))
        .await?;
    story.detail(&detail);

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
        "snapshot_id {}\nsize {}, ready after {} CreateSnapshot call(s)\ntaken while PVC \
         demo/data is mounted and in use: its files were fsync'd, but like Kubernetes the demo \
         does not freeze the file system, so the snapshot is crash-consistent (mounting a \
         restore replays the xfs log)",
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

    let detail = story
        .step(node_act::write(&world.attached[writer], AFTER_SNAPSHOT))
        .await?;
    story.detail(&detail);

    let mut restored = None;
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
        world.made.push(made_volume(&pvc, &made, Some(&source)));
        if restored.is_none() {
            restored = Some((pvc, made));
        }
    }

    if let Some((pvc, made)) = restored {
        world.attached.push(Attachment::new(
            node,
            "PVC demo/data-restored",
            &made,
            &pvc.pv_name,
            "demo/reader",
        ));
        let origin = world.attached[writer].clone();
        if let Some(reader) = world.attached.last_mut() {
            let detail = story
                .step(async {
                    let published = node_act::controller_publish(driver, node, io, reader).await?;
                    let mounted =
                        node_act::stage_and_publish(node, reader, Content::Restored).await?;
                    let checked = node_act::check_restore(reader, &origin).await?;
                    Ok(format!("{published}\n{mounted}\n{checked}"))
                })
                .await?;
            story.detail(&detail);
        }
    }

    let detail = story
        .step(node_act::expand(
            driver,
            node,
            &world.attached[writer],
            GROWN,
        ))
        .await?;
    story.detail(&detail);
    if let Some(data) = world.made.first_mut() {
        data.size = GROWN;
    }
    Ok(())
}

/// What the story records of a created volume.
pub(crate) fn made_volume(pvc: &Claim, volume: &Volume, source: Option<&Source>) -> Made {
    Made {
        label: format!("PVC {K8S_NAMESPACE}/{}", pvc.name),
        kind: Kind::Volume,
        request_name: pvc.pv_name.clone(),
        id: volume.volume_id.clone(),
        size: GIB,
        from: source.map(|source| match source {
            Source::Snapshot(id) | Source::Volume(id) => id.clone(),
        }),
        pvc_name: Some(pvc.name.clone()),
    }
}

/// A PVC in the demo's Kubernetes namespace with a fresh PV name (the external-provisioner
/// names PVs `pvc-<PVC uid>`).
pub(crate) fn claim(name: &str) -> Claim {
    Claim {
        namespace: K8S_NAMESPACE.into(),
        name: name.into(),
        pv_name: format!("pvc-{}", uuid::Uuid::new_v4()),
    }
}
