//! The CephFS half's steps (see [`crate::cephfs::flow::CEPHFS_PLAN`]), as the provisioner,
//! snapshotter, resizer and kubelet make the calls; files are written and read on the node as
//! the pods would.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use ceph::Timeouts;
use csi::v1::VolumeCapability;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use journal::Kind;
use rig::access::Access;
use rig::size::{GIB, format_size};

use crate::acts::node_act::GROWN;
use crate::acts::provision::{K8S_NAMESPACE, claim, made_volume};
use crate::cephfs::in_ceph::{CephfsPlace, info_line};
use crate::cephfs::world::CephfsWorld;
use crate::drivers::controller::{Claim, Driver, Source, Volume, VolumeClass};
use crate::drivers::kubelet::Kubelet;
use crate::drivers::node_plugin::NodeDriver;
use crate::error::{Error, Result};
use crate::made::Made;
use crate::on_node::files::{listing, read_text, write_durably};
use crate::on_node::mounted::{ceph_fuse_processes, df, fs_size, mount_at, mount_table};
use crate::options::{CephfsOptions, Options};
use crate::show::volume_details;
use crate::story::Story;
use crate::table::{Table, indent};
use crate::world::{Attachment, NodeSide};

/// Pause between CreateVolume calls while the mgr clones.
const CLONE_POLL: Duration = Duration::from_secs(1);
/// How long a grown quota may take to reach the ceph-fuse mount's `df`, and a ceph-fuse
/// daemon to exit after its unmount.
const SETTLE: Duration = Duration::from_secs(20);
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// Written by pod demo/alice, read by pod demo/bob, and the other way round.
const FROM_ALICE: (&str, &str) = ("from-alice.txt", "written by pod demo/alice\n");
const FROM_BOB: (&str, &str) = ("from-bob.txt", "written by pod demo/bob\n");
/// Written after the snapshot: the restore must not hold it.
const AFTER: (&str, &str) = (
    "after-snapshot.txt",
    "written into PVC demo/shared after VolumeSnapshot demo/shared-snap was taken\n",
);

pub(crate) async fn walk(
    story: &mut Story,
    world: &mut CephfsWorld,
    opts: &Options,
    cephfs: &CephfsOptions,
    access: &Access,
) -> Result<()> {
    let detail = story.step(connect(world, opts, cephfs, access)).await?;
    story.detail(&detail);
    let (Some(driver), Some(node), Some(place)) = (&world.driver, &world.node, &world.place) else {
        return Err(Error::Check {
            problems: vec!["no CephFS controller, node plugin or Ceph connection".into()],
        });
    };

    let shared = claim("shared");
    let volume = story.step(driver.create_volume(&shared, GIB, None)).await?;
    story.detail(&volume_details(&volume));
    world.made.push(made_volume(&shared, &volume, None));

    for pod in ["demo/alice", "demo/bob"] {
        world.attached.push(Attachment::new(
            node,
            "PVC demo/shared",
            &volume,
            &shared.pv_name,
            pod,
        ));
    }
    world.staged.push(volume.volume_id.clone());
    let detail = story
        .step(stage_and_publish(node, &world.attached[0..2]))
        .await?;
    story.detail(&detail);
    let (alice, bob) = (&world.attached[0], &world.attached[1]);

    let detail = story.step(share(alice, bob)).await?;
    story.detail(&detail);

    let snapshot_name = format!("snapshot-{}", uuid::Uuid::new_v4());
    let snapshot = story
        .step(driver.create_snapshot(
            &volume.volume_id,
            &snapshot_name,
            K8S_NAMESPACE,
            "shared-snap",
        ))
        .await?;
    story.detail(&format!(
        "snapshot_id {}\nsize {}, ready after {} CreateSnapshot call(s): a CephFS snapshot of \
         the subvolume, taken by the mgr",
        snapshot.snapshot_id,
        format_size(u64::try_from(snapshot.size_bytes).unwrap_or(0)),
        snapshot.calls
    ));
    world.made.push(Made {
        label: "VolumeSnapshot demo/shared-snap".into(),
        kind: Kind::Snapshot,
        request_name: snapshot_name,
        id: snapshot.snapshot_id.clone(),
        size: GIB,
        from: Some(volume.volume_id.clone()),
        pvc_name: None,
    });

    let detail = story
        .step(async {
            write_durably(&alice.paths.target, AFTER.0, AFTER.1).await?;
            Ok(format!(
                "pod demo/alice wrote {}; pod demo/bob lists:\n  {}",
                AFTER.0,
                listing(&bob.paths.target).await?.join("\n  ")
            ))
        })
        .await?;
    story.detail(&detail);

    let restored_claim = claim("shared-restored");
    let source = Source::Snapshot(snapshot.snapshot_id.clone());
    let (restored, progress) = story
        .step(create_while_cloning(
            driver,
            place,
            &restored_claim,
            &source,
        ))
        .await?;
    story.detail(&format!("{progress}{}", volume_details(&restored)));
    world
        .made
        .push(made_volume(&restored_claim, &restored, Some(&source)));

    world.attached.push(Attachment::new(
        node,
        "PVC demo/shared-restored",
        &restored,
        &restored_claim.pv_name,
        "demo/reader",
    ));
    world.staged.push(restored.volume_id.clone());
    let reader = world.attached.len() - 1;
    let detail = story
        .step(async {
            let mounted = stage_and_publish(node, &world.attached[reader..]).await?;
            let checked = check_restore(&world.attached[reader]).await?;
            Ok(format!("{mounted}\n{checked}"))
        })
        .await?;
    story.detail(&detail);

    let clone_claim = claim("shared-clone");
    let source = Source::Volume(volume.volume_id.clone());
    let (clone, progress) = story
        .step(create_while_cloning(driver, place, &clone_claim, &source))
        .await?;
    story.detail(&format!("{progress}{}", volume_details(&clone)));
    world
        .made
        .push(made_volume(&clone_claim, &clone, Some(&source)));

    let detail = story
        .step(expand(driver, &world.attached[0], GROWN))
        .await?;
    story.detail(&detail);

    let detail = story.step(holdings(place, &world.made)).await?;
    story.detail(&detail);

    let detail = story
        .step(detach(node, &mut world.attached, &mut world.staged))
        .await?;
    story.detail(&detail);

    let detail = story
        .step(delete_all(driver, &world.made, &mut world.deleted))
        .await?;
    story.detail(&detail);

    let detail = story.step(nothing_left(place, node.kubelet.root())).await?;
    story.detail(&detail);

    let objects = story.step(place.remove()).await?;
    world.removed = true;
    story.detail(&format!(
        "ceph fs subvolumegroup rm {} {}; removed the journal namespace's empty directory \
         objects: {}",
        place.fs,
        place.group,
        if objects.is_empty() {
            "none".to_owned()
        } else {
            objects.join(", ")
        }
    ));
    Ok(())
}

/// A CephFS PV's capability: many pods on many nodes read and write it.
pub fn shared_capability() -> VolumeCapability {
    VolumeCapability {
        access_mode: Some(AccessMode {
            mode: Mode::MultiNodeMultiWriter as i32,
        }),
        access_type: Some(AccessType::Mount(MountVolume::default())),
    }
}

/// The provisioner Secret of a CephFS StorageClass (ceph-csi's keys).
pub(crate) fn admin_secrets(access: &Access) -> HashMap<String, String> {
    HashMap::from([
        ("adminID".to_owned(), access.credentials.user.clone()),
        ("adminKey".to_owned(), access.credentials.key().to_owned()),
    ])
}

/// Both plugins answer, as the same driver; Ceph is reachable and the group is new.
async fn connect(
    world: &mut CephfsWorld,
    opts: &Options,
    cephfs: &CephfsOptions,
    access: &Access,
) -> Result<String> {
    let class = VolumeClass {
        cluster_id: opts.cluster_id.clone(),
        parameters: [
            ("clusterID".to_owned(), opts.cluster_id.clone()),
            ("fsName".to_owned(), cephfs.fs_name.clone()),
        ]
        .into(),
        capability: shared_capability(),
    };
    let driver = Driver::connect_with(
        &cephfs.endpoint,
        class,
        admin_secrets(access),
        opts.rpc_timeout,
    )
    .await?;
    let identity = driver.identify().await?;
    let node = NodeDriver::connect_with(
        &cephfs.node_endpoint,
        shared_capability(),
        access.csi_secrets(),
        opts.rpc_timeout,
    )
    .await?;
    let node_identity = node.identify().await?;
    if identity.ready == Some(false) || node_identity.ready == Some(false) {
        return Err(Error::BadReply {
            rpc: "Probe",
            missing: "ready=true",
        });
    }
    if node_identity.name != identity.name {
        return Err(Error::on_node(format!(
            "the CephFS node plugin is driver {:?}, the controller {:?}",
            node_identity.name, identity.name
        )));
    }
    let kubelet = Kubelet::open(&opts.kubelet_dir, node_identity.name.clone()).await?;
    world.driver = Some(driver);
    world.node = Some(NodeSide {
        driver: node,
        node_id: node_identity.node_id.clone(),
        kubelet,
    });
    let cluster = ceph::Cluster::connect(&access.credentials, &Timeouts::default())
        .await
        .map_err(|e| Error::ceph("connect to Ceph", e))?;
    let place = CephfsPlace::open(&cluster, &cephfs.fs_name, &cephfs.group).await?;
    let text = format!(
        "controller: driver {} {}, capabilities: {}\nnode plugin: driver {} {}, node ID {:?}, \
         capabilities: {}\nfile system {}, subvolume group {} (new; the controller makes it on \
         the first CreateVolume), journal in the metadata pool (id {}), RADOS namespace {}\n\
         PVs are ReadWriteMany (MULTI_NODE_MULTI_WRITER); no ControllerPublish: CephFS needs no \
         attach",
        identity.name,
        identity.vendor_version,
        identity.capabilities.join(", "),
        node_identity.name,
        node_identity.vendor_version,
        node_identity.node_id,
        node_identity.capabilities.join(", "),
        place.fs,
        place.group,
        place.metadata_pool_id,
        place.group,
    );
    world.place = Some(place);
    Ok(text)
}

/// NodeStage once (the attachments share a volume and its staging path), then NodePublish
/// into every attachment's pod; where each sits in the mount table.
async fn stage_and_publish(node: &NodeSide, attachments: &[Attachment]) -> Result<String> {
    let Some(first) = attachments.first() else {
        return Ok(String::new());
    };
    for attachment in attachments {
        attachment.paths.prepare().await?;
    }
    node.driver.stage(&first.node_volume()).await?;
    for attachment in attachments {
        node.driver.publish(&attachment.node_volume()).await?;
    }
    let table = mount_table().await?;
    let root = node.kubelet.root();
    let mut out = Table::new(["", "mount point (below the kubelet dir)", "type", "source"]);
    // ceph-csi's layout: the file system is mounted at `<staging path>/<volume ID>`.
    let staged = first.paths.staging.join(&first.volume_id);
    let mut rows = vec![("staged (ceph-fuse)".to_owned(), &staged)];
    rows.extend(
        attachments
            .iter()
            .map(|a| (format!("pod {}", a.pod), &a.paths.target)),
    );
    for (what, path) in rows {
        let Some(mount) = mount_at(&table, path) else {
            return Err(Error::on_node(format!(
                "nothing is mounted at {}",
                path.display()
            )));
        };
        out.row([
            what,
            path.strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string(),
            mount.fs_type.clone(),
            mount.source.clone(),
        ]);
    }
    let daemons = ceph_fuse_processes(root).await?;
    Ok(format!(
        "{}\nceph-fuse processes of the demo: {} (one per staged volume; the key reaches each \
         through a short-lived file, never argv)\n\
         df -h in pod {}:\n{}",
        out.render(""),
        daemons.len(),
        first.pod,
        indent(&df(&first.paths.target).await?)
    ))
}

/// Each pod writes a file, and reads the other's.
async fn share(alice: &Attachment, bob: &Attachment) -> Result<String> {
    let mut lines = Vec::new();
    for ((name, text), writer, reader) in [(FROM_ALICE, alice, bob), (FROM_BOB, bob, alice)] {
        write_durably(&writer.paths.target, name, text).await?;
        let read = read_text(&reader.paths.target, name).await?;
        if read.as_deref() != Some(text) {
            return Err(Error::on_node(format!(
                "pod {} reads {read:?} in {name}, which pod {} wrote as {text:?}",
                reader.pod, writer.pod
            )));
        }
        lines.push(format!(
            "pod {} wrote {name}; pod {} reads it: {}",
            writer.pod,
            reader.pod,
            text.trim_end()
        ));
    }
    Ok(format!(
        "{}\nls -l in pod {}:\n  {}",
        lines.join("\n"),
        alice.pod,
        listing(&alice.paths.target).await?.join("\n  ")
    ))
}

/// CreateVolume from `source`, called again while it answers ABORTED (the mgr is still
/// cloning), as the external-provisioner retries; each retry prints a progress line with the
/// clone's state as it happens. The volume and a line saying how long it took.
async fn create_while_cloning(
    driver: &Driver,
    place: &CephfsPlace,
    claim: &Claim,
    source: &Source,
) -> Result<(Volume, String)> {
    let start = Instant::now();
    let mut aborted = 0;
    let mut subvolume = None;
    loop {
        match driver.create_volume(claim, GIB, Some(source)).await {
            Ok(volume) => {
                let progress = if aborted == 0 {
                    "the clone was complete at the first call\n".to_owned()
                } else {
                    format!(
                        "CreateVolume answered ABORTED {aborted} time(s) while the mgr cloned; \
                         complete after {:.1} s\n",
                        start.elapsed().as_secs_f64()
                    )
                };
                return Ok((volume, progress));
            }
            Err(Error::Rig(rig::Error::Rpc {
                code: "ABORTED",
                message,
                ..
            })) if start.elapsed() < driver.rpc_timeout() => {
                if subvolume.is_none() {
                    subvolume = clone_target(place, &claim.pv_name).await?;
                }
                let state = match &subvolume {
                    Some(name) => place
                        .clone_status(name)
                        .await
                        .unwrap_or_else(|e| format!("unreadable: {e}")),
                    None => "not in the journal yet".to_owned(),
                };
                // The whole answer once; then the clone's state only.
                let said = if aborted == 0 {
                    format!("ABORTED ({message})")
                } else {
                    "ABORTED again".to_owned()
                };
                aborted += 1;
                if aborted == 1 {
                    println!();
                }
                println!(
                    "        {:>5.1} s: CreateVolume answered {said}; fs clone status {}: {state}",
                    start.elapsed().as_secs_f64(),
                    subvolume.as_deref().unwrap_or("?"),
                );
                tokio::time::sleep(CLONE_POLL).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The subvolume the journal reserved for `request_name`.
async fn clone_target(place: &CephfsPlace, request_name: &str) -> Result<Option<String>> {
    Ok(place
        .journal()
        .await?
        .entries
        .into_iter()
        .find(|e| e.kind == Kind::Volume && e.request_name == request_name)
        .map(|e| e.image_name))
}

/// The restore holds what both pods wrote before the snapshot and not what came after.
async fn check_restore(reader: &Attachment) -> Result<String> {
    let target = &reader.paths.target;
    let mut problems = Vec::new();
    for (name, text) in [FROM_ALICE, FROM_BOB] {
        let read = read_text(target, name).await?;
        if read.as_deref() != Some(text) {
            problems.push(format!("{name} in {} holds {read:?}", reader.label));
        }
    }
    if read_text(target, AFTER.0).await?.is_some() {
        problems.push(format!(
            "{} holds {}, written after the snapshot",
            reader.label, AFTER.0
        ));
    }
    if !problems.is_empty() {
        return Err(Error::OnNode { problems });
    }
    Ok(format!(
        "ls -l in pod {}:\n  {}\n{} is absent, as it should be: it was written after the \
         snapshot",
        reader.pod,
        listing(target).await?.join("\n  "),
        AFTER.0
    ))
}

/// ControllerExpandVolume raises the subvolume's quota; ceph-fuse shows the quota as the
/// file system's size, so `df` at the mount grows with no node call.
async fn expand(driver: &Driver, alice: &Attachment, size: u64) -> Result<String> {
    let target = &alice.paths.target;
    let df_before = df(target).await?;
    let before = fs_size(target).await?;
    let (capacity, node_expansion) = driver.expand(&alice.volume_id, size).await?;
    if u64::try_from(capacity).unwrap_or(0) < size {
        return Err(Error::BadReply {
            rpc: "ControllerExpandVolume",
            missing: "the requested capacity",
        });
    }
    let start = Instant::now();
    let mut after = fs_size(target).await?;
    while after < size && start.elapsed() < SETTLE {
        tokio::time::sleep(SETTLE_POLL).await;
        after = fs_size(target).await?;
    }
    if after < size {
        return Err(Error::on_node(format!(
            "df at pod {} still shows {} after {SETTLE:?}, not {}",
            alice.pod,
            format_size(after),
            format_size(size)
        )));
    }
    Ok(format!(
        "df -h in pod {} before:\n{}ControllerExpandVolume: subvolume quota {}; node expansion \
         required: {node_expansion}\ndf -h after:\n{}file system size (statvfs): {} → {}",
        alice.pod,
        indent(&df_before),
        format_size(u64::try_from(capacity).unwrap_or(0)),
        indent(&df(target).await?),
        format_size(before),
        format_size(after),
    ))
}

/// `fs subvolume ls`, `info` and `snapshot ls` of each, and the journal, decoded then raw.
async fn holdings(place: &CephfsPlace, made: &[Made]) -> Result<String> {
    let subvolumes = place.subvolumes().await?;
    let journal = place.journal().await?;
    let label = |entry: &journal::Entry| {
        made.iter()
            .find(|m| m.kind == entry.kind && m.request_name == entry.request_name)
            .map_or_else(|| "(not the demo's)".to_owned(), |m| m.label.clone())
    };
    let mut out = format!(
        "$ ceph fs subvolume ls {} {}\n  {}\n",
        place.fs,
        place.group,
        subvolumes.join("\n  ")
    );
    for name in &subvolumes {
        let info = place.info(name).await?;
        let snapshots = place.snapshots(name).await?;
        let who = journal
            .entries
            .iter()
            .find(|e| e.kind == Kind::Volume && e.image_name == *name)
            .map_or_else(|| "(no journal entry)".to_owned(), &label);
        out.push_str(&format!(
            "$ ceph fs subvolume info {} {name} {}   # {who}\n  {}\n  snapshots: {}\n",
            place.fs,
            place.group,
            info_line(&info),
            if snapshots.is_empty() {
                "none".to_owned()
            } else {
                snapshots.join(", ")
            }
        ));
    }
    let journal_of_shared = journal
        .entries
        .iter()
        .find(|e| {
            e.kind == Kind::Volume
                && made
                    .first()
                    .is_some_and(|m| m.request_name == e.request_name)
        })
        .map(|e| e.location.uuid.to_string());
    out.push_str(&format!(
        "\nThe journal (ceph-csi's omap layout, pool id {}, namespace {}), decoded (CephFS \
         entries have no csi.imageid: the subvolume name is the handle):\n{}\n{}\n\
         and raw:\n{}",
        place.metadata_pool_id,
        place.group,
        journal.volumes_table(&label).render("  "),
        journal.snapshots_table(&label).render("  "),
        journal.raw_dump(
            &format!("<metadata pool {}>", place.metadata_pool_id),
            &place.group,
            &|oid: &str| {
                oid.ends_with(".default")
                    || journal_of_shared
                        .as_deref()
                        .is_some_and(|uuid| oid.ends_with(uuid))
            }
        )
    ));
    let expected = made.iter().filter(|m| m.kind == Kind::Volume).count();
    if subvolumes.len() != expected || !journal.unreadable.is_empty() {
        return Err(Error::Check {
            problems: vec![format!(
                "{} subvolume(s) for {expected} volume(s); unreadable journal keys: {:?}",
                subvolumes.len(),
                journal.unreadable
            )],
        });
    }
    Ok(out)
}

/// NodeUnpublish of every pod, then NodeUnstage of every volume, each twice (the second
/// finds nothing and succeeds).
async fn detach(
    node: &NodeSide,
    attached: &mut [Attachment],
    staged: &mut Vec<String>,
) -> Result<String> {
    let mut lines = Vec::new();
    for attachment in attached.iter_mut() {
        for _ in 0..2 {
            node.driver
                .unpublish(&attachment.volume_id, &attachment.paths)
                .await?;
        }
        attachment.detached = true;
        lines.push(format!(
            "NodeUnpublishVolume {} from pod {}: ok, again: ok",
            attachment.label, attachment.pod
        ));
    }
    while let Some(volume_id) = staged.first().cloned() {
        let Some(attachment) = attached.iter().find(|a| a.volume_id == volume_id) else {
            break;
        };
        for _ in 0..2 {
            node.driver.unstage(&volume_id, &attachment.paths).await?;
        }
        lines.push(format!(
            "NodeUnstageVolume {}: ceph-fuse unmounted; again: ok",
            attachment.label
        ));
        staged.remove(0);
    }
    Ok(lines.join("\n"))
}

/// Newest first: clone, restore, snapshot, volume; then each again.
async fn delete_all(
    driver: &Driver,
    made: &[Made],
    deleted: &mut HashSet<String>,
) -> Result<String> {
    let mut lines = Vec::new();
    for round in ["", " again (already gone: success)"] {
        for made in made.iter().rev() {
            crate::acts::cleanup::delete(driver, made).await?;
            deleted.insert(made.id.clone());
            lines.push(format!("deleted {}{round}", made.label));
        }
    }
    Ok(lines.join("\n"))
}

/// No subvolume in the group, no key in the journal, no ceph-fuse process or mount of the
/// demo's on the node (daemons get a moment to exit after their unmount).
async fn nothing_left(place: &CephfsPlace, kubelet_root: &Path) -> Result<String> {
    let subvolumes = place.subvolumes().await?;
    let journal = place.journal().await?;
    let start = Instant::now();
    let mut daemons = ceph_fuse_processes(kubelet_root).await?;
    while !daemons.is_empty() && start.elapsed() < SETTLE {
        tokio::time::sleep(SETTLE_POLL).await;
        daemons = ceph_fuse_processes(kubelet_root).await?;
    }
    let mounts: Vec<String> = mount_table()
        .await?
        .into_iter()
        .filter(|m| m.mount_point.starts_with(kubelet_root))
        .map(|m| format!("{} ({})", m.mount_point.display(), m.fs_type))
        .collect();
    let mut problems = Vec::new();
    if !subvolumes.is_empty() {
        problems.push(format!("subvolumes left: {subvolumes:?}"));
    }
    if journal.directory_keys != (0, 0) || !journal.entries.is_empty() {
        problems.push(format!(
            "journal keys left: {} volume(s), {} snapshot(s)",
            journal.directory_keys.0, journal.directory_keys.1
        ));
    }
    if !daemons.is_empty() {
        problems.push(format!("ceph-fuse processes left: {daemons:?}"));
    }
    if !mounts.is_empty() {
        problems.push(format!("mounts left: {mounts:?}"));
    }
    if !problems.is_empty() {
        return Err(Error::Check { problems });
    }
    Ok(format!(
        "$ ceph fs subvolume ls {} {}: []\njournal directories: 0 volume keys, 0 snapshot keys\n\
         ceph-fuse processes of the demo: none; mounts below the kubelet dir: none",
        place.fs, place.group
    ))
}
