//! The demo's look into Ceph, against objects made with the journal crate and librbd in the
//! shape a ceph-csi compatible driver leaves them: the decoded tables, the raw dump and the
//! checks see what is there, and notice what is not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::AssertUnwindSafe;

use ceph::rbd::{self, CreateOptions, Features};
use ceph::{Cluster, Credentials, IoCtx, Timeouts};
use demo::in_ceph::images::{PVC_NAME_KEY, images_table, list_images};
use demo::in_ceph::journal_view::JournalView;
use demo::made::{Made, check};
use futures::FutureExt as _;
use journal::{CompositeId, Config, Journal, Kind, Request};
use rig::scratch::ScratchNamespace;
use sepia_testbed::Bed;

const SIZE: u64 = 64 << 20;

fn layering() -> CreateOptions {
    CreateOptions {
        features: Some(Features::LAYERING),
        ..Default::default()
    }
}

async fn image_id(io: &IoCtx, name: &str, pvc: Option<&str>) -> String {
    let image = rbd::open(io, name).await.unwrap();
    if let Some(pvc) = pvc {
        image.metadata_set(PVC_NAME_KEY, pvc).await.unwrap();
    }
    let id = image.id().await.unwrap();
    image.close().await.unwrap();
    id
}

/// PVC data, a snapshot of it in ceph-csi's shape (a clone holding a snapshot of itself), and
/// a restore cloned from that snapshot. Returns what a CSI driver would have handed out.
async fn make_world(cluster: &Cluster, io: &IoCtx) -> Vec<Made> {
    let config = Config::default();
    let volumes = Journal::volumes(cluster.clone(), io.clone(), &config).unwrap();
    let snapshots = Journal::snapshots(cluster.clone(), io.clone(), &config).unwrap();
    let pool_id = io.pool_id() as u64;
    let id = |uuid| CompositeId::new("demo", pool_id, uuid).unwrap().encode();

    let data = volumes
        .reserve(&Request::new("pvc-data").with_owner("demo"))
        .await
        .unwrap()
        .entry;
    rbd::create(io, &data.image_name, SIZE, &layering())
        .await
        .unwrap();
    let data_id = image_id(io, &data.image_name, Some("data")).await;
    volumes
        .store_image_id(&data.location, &data_id)
        .await
        .unwrap();

    let snap = snapshots
        .reserve(&Request::new("snapshot-data").with_source(&data.image_name))
        .await
        .unwrap()
        .entry;
    let parent = rbd::open(io, &data.image_name).await.unwrap();
    parent.snap_create(&snap.image_name).await.unwrap();
    rbd::clone(
        io,
        &data.image_name,
        &snap.image_name,
        io,
        &snap.image_name,
        &layering(),
    )
    .await
    .unwrap();
    parent.snap_remove(&snap.image_name).await.unwrap();
    parent.close().await.unwrap();
    let clone = rbd::open(io, &snap.image_name).await.unwrap();
    clone.snap_create(&snap.image_name).await.unwrap();
    clone.close().await.unwrap();
    let snap_id = image_id(io, &snap.image_name, None).await;
    snapshots
        .store_image_id(&snap.location, &snap_id)
        .await
        .unwrap();

    let restored = volumes
        .reserve(&Request::new("pvc-restored"))
        .await
        .unwrap()
        .entry;
    rbd::clone(
        io,
        &snap.image_name,
        &snap.image_name,
        io,
        &restored.image_name,
        &layering(),
    )
    .await
    .unwrap();
    let restored_id = image_id(io, &restored.image_name, Some("restored")).await;
    volumes
        .store_image_id(&restored.location, &restored_id)
        .await
        .unwrap();

    vec![
        Made {
            label: "PVC demo/data".into(),
            kind: Kind::Volume,
            request_name: "pvc-data".into(),
            id: id(data.location.uuid),
            size: SIZE,
            from: None,
            pvc_name: Some("data".into()),
        },
        Made {
            label: "VolumeSnapshot demo/data-snap".into(),
            kind: Kind::Snapshot,
            request_name: "snapshot-data".into(),
            id: id(snap.location.uuid),
            size: SIZE,
            from: Some(id(data.location.uuid)),
            pvc_name: None,
        },
        Made {
            label: "PVC demo/restored".into(),
            kind: Kind::Volume,
            request_name: "pvc-restored".into(),
            id: id(restored.location.uuid),
            size: SIZE,
            from: Some(id(snap.location.uuid)),
            pvc_name: Some("restored".into()),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_decodes_the_journal_and_notices_a_missing_image() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let scratch = ScratchNamespace::create(&cluster, &bed.pool, &bed.unique_name("demo-inspect"))
        .await
        .unwrap();
    let io = scratch.io.clone();
    let namespace = scratch.name.clone();
    let pool_id = io.pool_id();

    let body = async {
        let made = make_world(&cluster, &io).await;
        let images = list_images(&io).await.unwrap();
        let journal = JournalView::read(&cluster, &io).await.unwrap();
        assert_eq!(
            check(&made, &images, &journal, "demo", pool_id),
            Vec::<String>::new()
        );
        assert_eq!(journal.directory_keys, (2, 1));
        assert_eq!(journal.entries.len(), 3);
        assert_eq!(journal.entries[0].owner.as_deref(), Some("demo"));

        // The decoded tables name requests and images; the image table shows the parents.
        let data = &journal.entries[0];
        let rendered = journal
            .volumes_table(&|e| e.request_name.to_uppercase())
            .render("");
        assert!(
            rendered.contains("PVC-DATA") && rendered.contains(&data.image_name),
            "{rendered}"
        );
        let snap = journal
            .entries
            .iter()
            .find(|e| e.kind == Kind::Snapshot)
            .unwrap();
        let rendered = images_table(&images).render("");
        assert!(
            rendered.contains(&format!("{}@{}", snap.image_name, snap.image_name)),
            "the restore's parent is the snapshot: {rendered}"
        );

        // The raw dump is `rados listomapvals`: the directory key and the uuid as hex.
        let raw = journal.raw_dump(&bed.pool, &namespace, &|_| true);
        assert!(raw.contains(&format!(
            "$ rados -p {} --namespace {namespace} listomapvals csi.volumes.default\n",
            bed.pool
        )));
        let uuid = data.location.uuid.to_string();
        let first_line: String = uuid.as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x} "))
            .collect();
        assert!(
            raw.contains(&format!(
                "csi.volume.pvc-data\nvalue (36 bytes) :\n00000000  {first_line}"
            )),
            "{raw}"
        );
        let cli = bed.cli(
            "rados",
            &[
                "-p",
                &bed.pool,
                "--namespace",
                &namespace,
                "listomapvals",
                "csi.volumes.default",
            ],
        );
        assert!(
            raw.contains(&cli),
            "our dump contains rados' own output:\n{cli}\n---\n{raw}"
        );

        let only_directories =
            journal.raw_dump(&bed.pool, &namespace, &|oid| oid.ends_with(".default"));
        assert!(
            !only_directories.contains("csi.imagename"),
            "{only_directories}"
        );
        assert!(
            only_directories.contains(&format!("(not shown, same layout: csi.volume.{uuid}")),
            "{only_directories}"
        );

        // A restore whose image went missing is reported, naming the PVC.
        let restored = journal
            .entries
            .iter()
            .find(|e| e.request_name == "pvc-restored")
            .unwrap();
        rbd::trash_move(&io, &restored.image_name).await.unwrap();
        let images = list_images(&io).await.unwrap();
        let problems = check(&made, &images, &journal, "demo", pool_id);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("PVC demo/restored: image csi-vol-"),
            "{problems:?}"
        );
    };
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let before = scratch.remove().await.unwrap();
    assert!(!before.holds_nothing(), "the world was there until removed");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
