//! The test's own rbd namespace on the bed, shared by the in-process fixture and the
//! fixture of real controller processes: the requests that point there, the checks a test
//! makes through its own admin connection (independent of the controller under test), and the
//! clean-up that removes everything left there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use ceph::rbd::{self, SnapNamespace};
use ceph::{Cluster, IoCtx};
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::*;

use super::{CLUSTER_ID, admin, bed, eventually, mount_cap, uuid_of};

/// An image open in another client: its watch is what the controller sees.
pub struct HeldOpen {
    _rados: Cluster,
    /// That client's view of the test's namespace.
    pub io: IoCtx,
    pub image: rbd::Image,
}

impl HeldOpen {
    /// Closes the image: the watch is gone once this returns.
    pub async fn close(self) {
        self.image.close().await.unwrap();
    }
}

/// A namespace of the bed's pool, made for one test.
pub struct Namespace {
    pub namespace: String,
    /// The test's own admin connection, for checking Ceph independently of the controller.
    pub rados: Cluster,
    pub pool_io: IoCtx,
    pub io: IoCtx,
}

impl Namespace {
    /// A fresh rbd namespace.
    pub async fn create() -> Namespace {
        let bed = bed();
        let rados = admin().await;
        let namespace = bed.unique_name("ctl");
        let pool_io = rados.ioctx(&bed.pool, "").await.expect("pool ioctx");
        rbd::namespace_create(&pool_io, &namespace)
            .await
            .expect("create rbd namespace");
        let io = rados
            .ioctx(&bed.pool, &namespace)
            .await
            .expect("namespace ioctx");
        Namespace {
            namespace,
            rados,
            pool_io,
            io,
        }
    }

    pub(super) fn cleaner(&self) -> Cleaner {
        Cleaner {
            pool_io: self.pool_io.clone(),
            io: self.io.clone(),
            namespace: self.namespace.clone(),
            rados: self.rados.clone(),
        }
    }

    pub fn secrets(&self) -> HashMap<String, String> {
        let bed = bed();
        HashMap::from([
            ("userID".to_owned(), bed.user.clone()),
            ("userKey".to_owned(), bed.key.clone()),
        ])
    }

    pub fn params(&self) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".to_owned(), CLUSTER_ID.to_owned()),
            ("pool".to_owned(), bed().pool.clone()),
        ])
    }

    pub fn create_request(&self, name: &str, size: i64) -> CreateVolumeRequest {
        CreateVolumeRequest {
            name: name.to_owned(),
            capacity_range: Some(CapacityRange {
                required_bytes: size,
                limit_bytes: 0,
            }),
            volume_capabilities: vec![mount_cap(Mode::SingleNodeWriter)],
            parameters: self.params(),
            secrets: self.secrets(),
            ..Default::default()
        }
    }

    pub fn restore_request(&self, name: &str, size: i64, snapshot_id: &str) -> CreateVolumeRequest {
        let mut req = self.create_request(name, size);
        req.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Snapshot(
                volume_content_source::SnapshotSource {
                    snapshot_id: snapshot_id.to_owned(),
                },
            )),
        });
        req
    }

    pub fn clone_request(&self, name: &str, size: i64, volume_id: &str) -> CreateVolumeRequest {
        let mut req = self.create_request(name, size);
        req.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Volume(
                volume_content_source::VolumeSource {
                    volume_id: volume_id.to_owned(),
                },
            )),
        });
        req
    }

    pub fn snapshot_request(&self, name: &str, source_volume_id: &str) -> CreateSnapshotRequest {
        CreateSnapshotRequest {
            source_volume_id: source_volume_id.to_owned(),
            name: name.to_owned(),
            secrets: self.secrets(),
            parameters: HashMap::from([("clusterID".to_owned(), CLUSTER_ID.to_owned())]),
        }
    }

    pub fn delete_volume_request(&self, volume_id: &str) -> DeleteVolumeRequest {
        DeleteVolumeRequest {
            volume_id: volume_id.to_owned(),
            secrets: self.secrets(),
        }
    }

    pub fn delete_snapshot_request(&self, snapshot_id: &str) -> DeleteSnapshotRequest {
        DeleteSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            secrets: self.secrets(),
        }
    }

    /// `pool/namespace/image`, as the `rbd` CLI names an image of this namespace.
    pub fn spec(&self, image: &str) -> String {
        format!("{}/{}/{image}", bed().pool, self.namespace)
    }

    /// Writes `data` at `offset` of `image` (through the `rbd` CLI).
    pub fn write_data(&self, image: &str, offset: u64, data: &[u8]) {
        bed().rbd_write(&self.spec(image), offset, data);
    }

    /// Reads `len` bytes at `offset` of `image` (through the `rbd` CLI).
    pub fn read_data(&self, image: &str, offset: u64, len: usize) -> Vec<u8> {
        bed().rbd_read(&self.spec(image), offset, len)
    }

    /// Names of the images in the namespace (not in the trash), sorted.
    pub async fn images(&self) -> Vec<String> {
        let mut names: Vec<String> = rbd::list(&self.io)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        names.sort();
        names
    }

    pub async fn trash(&self) -> Vec<String> {
        let mut names: Vec<String> = rbd::trash_list(&self.io)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        names.sort();
        names
    }

    /// `(namespace, name or original name)` of an image's snapshots.
    pub async fn snapshots_of(&self, image: &str) -> Vec<(String, String)> {
        let img = rbd::open(&self.io, image).await.unwrap();
        let snaps = img.snap_list().await.unwrap();
        img.close().await.unwrap();
        let mut out: Vec<(String, String)> = snaps.into_iter().map(snap_label).collect();
        out.sort();
        out
    }

    pub async fn image_size(&self, image: &str) -> u64 {
        let img = rbd::open(&self.io, image).await.unwrap();
        let size = img.size().await.unwrap();
        img.close().await.unwrap();
        size
    }

    /// `image` held open by another client (a connection of its own), as a node that mapped it
    /// would, or a process that crashed with it open, until [`HeldOpen::close`].
    pub async fn hold_open(&self, image: &str) -> HeldOpen {
        let rados = admin().await;
        let io = rados.ioctx(&bed().pool, &self.namespace).await.unwrap();
        let image = rbd::open(&io, image).await.unwrap();
        HeldOpen {
            _rados: rados,
            io,
            image,
        }
    }

    /// The parent `image@snap` of an image, if it is a clone.
    pub async fn parent_of(&self, image: &str) -> Option<String> {
        let img = rbd::open(&self.io, image).await.unwrap();
        let parent = img.parent().await.unwrap();
        img.close().await.unwrap();
        parent.map(|p| format!("{}@{}", p.image_name, p.snap_name))
    }

    /// The journal entry keys and values of `oid` (csi.* and sepia.*).
    pub async fn omap(&self, oid: &str) -> BTreeMap<String, String> {
        match self.io.omap_list(oid, "", "", 1000).await {
            Ok((pairs, _)) => pairs
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                .collect(),
            Err(e) if e.is_not_found() => BTreeMap::new(),
            Err(e) => panic!("omap of {oid}: {e}"),
        }
    }

    /// The image a CreateVolume reserved for `request_name` in the journal (its reply may
    /// never have come).
    pub async fn reserved_volume_image(&self, request_name: &str) -> String {
        let directory = self.omap("csi.volumes.default").await;
        let uuid = directory
            .get(&format!("csi.volume.{request_name}"))
            .unwrap_or_else(|| panic!("no reservation for {request_name}: {directory:?}"));
        format!("csi-vol-{uuid}")
    }

    /// Waits until the snapshot's entry records its image id: its preparation finished.
    pub async fn wait_image_id(&self, snapshot_id: &str, limit: Duration) {
        let oid = format!("csi.snap.{}", uuid_of(snapshot_id));
        let stored = eventually(limit, || async {
            self.omap(&oid).await.contains_key("csi.imageid")
        })
        .await;
        assert!(stored, "snapshot {snapshot_id} was never prepared");
    }

    /// Registers a node the way the node plugin does (the shared registry contract).
    pub async fn register_node(&self, node_id: &str) {
        let value = serde_json::json!({"nodeId": node_id, "driver": "rbd.csi.sepia.io", "updatedAt": "2026-01-01T00:00:00Z"});
        self.io
            .omap_set_creating(
                "sepia.nodes.default",
                &[(node_id, value.to_string().as_bytes())],
            )
            .await
            .unwrap();
    }

    /// Waits until the mgr has no pending `rbd task` for this namespace (trash purges, flattens).
    pub async fn wait_for_mgr(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let out = self
                .rados
                .mgr_command(serde_json::json!({"prefix": "rbd task list", "format": "json"}))
                .await
                .unwrap();
            let tasks: Vec<serde_json::Value> = out.json().unwrap();
            let mine = tasks
                .iter()
                .filter(|t| t["refs"]["pool_namespace"].as_str() == Some(self.namespace.as_str()))
                .count();
            if mine == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mgr tasks of {} never finished: {tasks:?}",
                self.namespace
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What is left in the namespace that the controller made and must not leave behind once
    /// every volume and snapshot is deleted: images, trash entries, RBD objects of images
    /// (`rbd_id.`, `rbd_header.`, `rbd_data.`, `rbd_object_map.`), journal entry objects, and
    /// omap keys of any other object (the journal directories, `rbd_directory`'s image keys,
    /// `rbd_trash`, `rbd_children`, ...). Empty when nothing leaked.
    pub async fn leftovers(&self) -> Vec<String> {
        const IMAGE_OBJECTS: [&str; 4] = ["rbd_id.", "rbd_header.", "rbd_data.", "rbd_object_map."];
        const ENTRY_OBJECTS: [&str; 2] = ["csi.volume.", "csi.snap."];
        let mut left: Vec<String> = Vec::new();
        left.extend(
            self.images()
                .await
                .into_iter()
                .map(|i| format!("image {i}")),
        );
        left.extend(
            self.trash()
                .await
                .into_iter()
                .map(|t| format!("trash entry {t}")),
        );
        for oid in self.io.list_objects().await.unwrap() {
            if IMAGE_OBJECTS
                .iter()
                .chain(ENTRY_OBJECTS.iter())
                .any(|p| oid.starts_with(p))
            {
                left.push(format!("object {oid}"));
                continue;
            }
            let keys = match self.io.omap_list(&oid, "", "", 1000).await {
                Ok((pairs, _)) => pairs,
                Err(e) if e.is_not_found() => continue,
                Err(e) => panic!("omap of {oid}: {e}"),
            };
            // The node registry is test set-up, not the controller's.
            if oid == "sepia.nodes.default" {
                continue;
            }
            left.extend(
                keys.into_iter()
                    // librbd's own marker of the directory's state, not an image's key.
                    .filter(|(k, _)| !(oid == "rbd_directory" && k == "state"))
                    .map(|(k, _)| format!("omap key {oid}/{k}")),
            );
        }
        left.sort();
        left
    }

    /// Everything in the namespace, with uuids and image ids replaced by labels so two runs
    /// compare equal: images with their snapshots (trash namespace included) and parents, trash
    /// entries, every object with its omap keys, and the values of journal keys.
    /// `labels` names the uuids the test knows (volume and snapshot ids' uuids).
    pub async fn listing(&self, labels: &[(&str, &str)]) -> Listing {
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let images = rbd::list(&self.io).await.unwrap();
        let trash = rbd::trash_list(&self.io).await.unwrap();
        let relabel_uuids = |text: &str| {
            let mut text = text.to_owned();
            for (uuid, label) in labels {
                text = text.replace(uuid, &format!("<{label}>"));
            }
            text
        };
        for image in &images {
            ids.insert(
                image.id.clone(),
                format!("<id:{}>", relabel_uuids(&image.name)),
            );
        }
        for entry in &trash {
            ids.insert(
                entry.id.clone(),
                format!("<id:trash:{}>", relabel_uuids(&entry.name)),
            );
        }
        let relabel = |text: &str| {
            let mut text = relabel_uuids(text);
            for (id, label) in &ids {
                text = text.replace(id.as_str(), label);
            }
            // What is left are librbd's own uuids (trash-namespace snapshot names).
            uuids_hidden(&snap_ids_hidden(&text))
        };
        let mut listing = Listing::default();
        for image in &images {
            let img = rbd::open(&self.io, &image.name).await.unwrap();
            let snaps = img.snap_list().await.unwrap();
            let parent = img.parent().await.unwrap();
            img.close().await.unwrap();
            let mut snaps: Vec<String> = snaps
                .into_iter()
                .map(|s| format!("{:?}", snap_label(s)))
                .collect();
            snaps.sort();
            let parent = parent.map(|p| format!("{}@{}", p.image_name, p.snap_name));
            listing.images.insert(
                relabel(&image.name),
                format!(
                    "snaps={} parent={}",
                    relabel(&snaps.join(",")),
                    relabel(&parent.unwrap_or_default())
                ),
            );
        }
        listing.trash = trash.iter().map(|e| relabel(&e.name)).collect();
        for oid in self.io.list_objects().await.unwrap() {
            let keys = match self.io.omap_list(&oid, "", "", 10_000).await {
                Ok((pairs, _)) => pairs,
                Err(e) if e.is_not_found() => continue,
                Err(e) => panic!("omap of {oid}: {e}"),
            };
            let journal = oid.starts_with("csi.");
            let mut keys: Vec<String> = keys
                .into_iter()
                .map(|(k, v)| {
                    let value = String::from_utf8_lossy(&v);
                    if journal && !k.starts_with("sepia.snapshot.") {
                        format!("{}={}", relabel(&k), relabel(&value))
                    } else {
                        relabel(&k)
                    }
                })
                .collect();
            // Relabelled keys no longer sort like the originals.
            keys.sort();
            listing.objects.insert(relabel(&oid), keys);
        }
        listing
    }
}

/// A normalised view of a namespace (see [`Namespace::listing`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub images: BTreeMap<String, String>,
    pub trash: BTreeSet<String>,
    pub objects: BTreeMap<String, Vec<String>>,
}

fn snap_label(s: rbd::SnapInfo) -> (String, String) {
    match s.namespace {
        SnapNamespace::Trash { original_name } => ("trash".to_owned(), original_name),
        other => (format!("{other:?}").to_lowercase(), s.name),
    }
}

/// Snapshot ids come from the pool's global sequence: `snapshot_<16 hex>` keys differ between
/// runs, so their numbers are hidden.
fn snap_ids_hidden(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('_') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let hex_len = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex_len == 16 {
            out.push_str("<snapid>");
            rest = &rest[16..];
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every `8-4-4-4-12` hex uuid by `<uuid>`.
fn uuids_hidden(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    let is_uuid_at = |at: usize| {
        let mut pos = at;
        for (i, len) in SHAPE.iter().enumerate() {
            if bytes.len() < pos + len || !bytes[pos..pos + len].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            pos += len;
            if i < 4 {
                if bytes.get(pos) != Some(&b'-') {
                    return false;
                }
                pos += 1;
            }
        }
        true
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if is_uuid_at(at) {
            out.push_str("<uuid>");
            at += 36;
        } else {
            let ch = text[at..].chars().next().unwrap_or_default();
            out.push(ch);
            at += ch.len_utf8().max(1);
        }
    }
    out
}

/// Removes everything a test left in its namespace, and the namespace.
pub(super) struct Cleaner {
    pool_io: IoCtx,
    io: IoCtx,
    namespace: String,
    rados: Cluster,
}

/// How long clean-up waits for images to become removable: a controller killed with an image
/// open leaves a watch that the OSD drops only after its watch timeout (30 s by default).
const CLEANUP_LIMIT: Duration = Duration::from_secs(90);

impl Cleaner {
    /// Best effort: images (clones before parents, hence several passes; images still watched
    /// by a killed process are retried until their watch expires), trash, objects, and the rbd
    /// namespace.
    pub(super) async fn clean(self) {
        let io = &self.io;
        let deadline = tokio::time::Instant::now() + CLEANUP_LIMIT;
        let mut before = usize::MAX;
        loop {
            let images = rbd::list(io).await.unwrap_or_default();
            if images.is_empty() || tokio::time::Instant::now() > deadline {
                break;
            }
            if images.len() >= before {
                // No progress: wait for watches to expire rather than spin.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            before = images.len();
            for spec in images {
                if let Ok(image) = rbd::open(io, &spec.name).await {
                    for snap in image.snap_list().await.unwrap_or_default() {
                        if snap.namespace == SnapNamespace::User {
                            let _ = image.snap_remove(&snap.name).await;
                        }
                    }
                    let _ = image.close().await;
                }
                let _ = rbd::remove(io, &spec.name).await;
            }
        }
        for _ in 0..6 {
            let trash = rbd::trash_list(io).await.unwrap_or_default();
            if trash.is_empty() {
                break;
            }
            for entry in trash {
                let _ = rbd::trash_remove(io, &entry.id, true).await;
            }
        }
        for oid in io.list_objects().await.unwrap_or_default() {
            let _ = io.remove(&oid).await;
        }
        if let Err(e) = rbd::namespace_remove(&self.pool_io, &self.namespace).await {
            eprintln!(
                "cleanup: could not remove rbd namespace {}: {e}",
                self.namespace
            );
        }
        drop(self.rados);
    }
}
