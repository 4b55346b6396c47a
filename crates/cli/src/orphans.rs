//! `sepia orphans`: leftovers in `--pool`, or in every RBD pool of the cluster (each in the
//! cluster's RADOS namespace, see [`pools`]), each with why it is one and how old it is; `--delete` removes exactly the listed ones, each re-checked under
//! the lock the controller itself takes for that object, through the controller's own code.
//!
//! Kinds of leftover:
//! - an entry whose image is gone (a crash inside DeleteVolume after the image, before the
//!   journal; or an image deleted behind the driver's back): removed by the controller's
//!   DeleteVolume/DeleteSnapshot, under the request name's lock, so a CreateVolume in flight
//!   (entry reserved, image not yet made) makes the removal skip it;
//! - an entry object no directory key points at (ceph-csi reserves the object first): removed
//!   the same way, but only while it has no image (its ID may still be in a PV);
//! - a directory key whose entry object is gone: compare-and-removed under the name lock;
//! - a `csi-vol-`/`csi-snap-` image (or its `-temp`) without an entry: no request can reach it
//!   any more; removed (refused while a client watches it);
//! - trashed driver images past their deferment end, and deleted sources kept in the trash by
//!   their clones: see [`trash`];
//! - with a kubeconfig, volumes no PV references and PVs whose volume is gone: see
//!   [`kubernetes`].
//!
//! Removal is [`delete`]'s.

pub mod cephfs;
pub mod delete;
pub mod kubernetes;
pub mod pools;
pub mod trash;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use controller::pool::cluster::Pool;
use indicatif::{ProgressBar, ProgressStyle};
use journal::{Journal, Kind, Location};
use serde::Serialize;
use uuid::Uuid;

use crate::args::OrphansArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::render::{self, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    EntryWithoutImage,
    UnreferencedEntry,
    DanglingKey,
    MalformedKey,
    ImageWithoutEntry,
    /// A trashed driver image past its deferment end that nothing keeps: its purge was lost.
    TrashExpired,
    /// A deleted volume or snapshot whose image the trash keeps for its clones.
    KeptByClones,
    /// With a kubeconfig: a volume no PersistentVolume has as its handle.
    NoPersistentVolume,
    /// With a kubeconfig: a PersistentVolume whose volume has no journal entry.
    PvWithoutVolume,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `rbd` or `cephfs`.
    pub driver: &'static str,
    /// The clusterID of config.json it was found in.
    pub cluster_id: String,
    pub what: What,
    pub kind: &'static str,
    /// `pool` or `pool/namespace`.
    pub pool: String,
    /// The object or image, as `pool/namespace/name` or `object key`.
    pub object: String,
    /// The volume or snapshot ID, where there is one.
    pub id: Option<String>,
    /// The uuid the finding is about (its entry's, its image's, or the key's target).
    pub uuid: Option<String>,
    pub request_name: Option<String>,
    pub why: String,
    /// Seconds since it was last written (object mtime, image creation), when known.
    pub age_seconds: Option<u64>,
    /// Whether `--delete` removes it (else `why` says why not).
    pub removable: bool,
    #[serde(skip)]
    pub(crate) location: Option<Location>,
    /// The trash id of a trashed image.
    #[serde(skip)]
    pub(crate) trash_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// The clusters of config.json scanned: `--cluster-id`, or every one.
    pub clusters: Vec<String>,
    /// The pools scanned, as `pool` or `pool/namespace` (CephFS: `fs/group`).
    pub pools: Vec<String>,
    pub findings: Vec<Finding>,
    /// Per finding removed (`--delete`): `object: removed` or `object: <why not>`.
    pub removed: Vec<String>,
}

/// One cluster of config.json, connected, with what was scanned in it.
struct Scanned {
    cx: Context,
    pools: Vec<Pool>,
    filesystems: Vec<cephfs_controller::fs::Fs>,
}

pub async fn run(args: &OrphansArgs) -> Result<()> {
    let grace = Duration::from(args.trash_grace);
    let mut report = Report {
        clusters: Vec::new(),
        pools: Vec::new(),
        findings: Vec::new(),
        removed: Vec::new(),
    };
    let mut scanned = Vec::new();
    for cluster_id in cluster_ids(args)? {
        let shared = crate::args::Shared {
            cluster_id: Some(cluster_id.clone()),
            ..args.shared.clone()
        };
        let cx = Context::connect(&shared).await?;
        let pools = pools::scanned(&cx).await?;
        let mut findings = Vec::new();
        for pool in &pools {
            findings.extend(scan(&cx, pool, grace).await?);
        }
        let mut filesystems = Vec::new();
        for name in &args.filesystems {
            let fs = crate::cephfs::open_named(&cx, name).await?;
            findings.extend(cephfs::scan(&fs).await?);
            filesystems.push(fs);
        }
        if let Some(kube) = &cx.kube {
            kubernetes::protect_referenced(&kube.persistent_volumes().await?, &mut findings);
        }
        for finding in &mut findings {
            finding.cluster_id.clone_from(&cluster_id);
        }
        report.clusters.push(cluster_id);
        report.pools.extend(pools.iter().map(pool_label));
        report.pools.extend(filesystems.iter().map(cephfs::label));
        report.findings.extend(findings);
        scanned.push(Scanned {
            cx,
            pools,
            filesystems,
        });
    }
    if args.delete && report.findings.iter().any(|f| f.removable) {
        if !args.yes {
            // The list goes to stderr with the question, so stdout keeps one report.
            table(&report).write(&mut std::io::stderr())?;
            if !delete::confirm(report.findings.iter().filter(|f| f.removable).count())? {
                return Err(Error::Usage {
                    what: "nothing removed: not confirmed (pass --yes to skip the question)"
                        .to_owned(),
                });
            }
        }
        for Scanned {
            cx,
            pools,
            filesystems,
        } in &scanned
        {
            let own: Vec<Finding> = report
                .findings
                .iter()
                .filter(|f| f.cluster_id == cx.cluster.id)
                .cloned()
                .collect();
            let removed = delete::delete(cx, pools, filesystems, &own).await?;
            report.removed.extend(removed);
        }
    }
    render::print(args.shared.output, &report, table)
}

/// `--cluster-id`, or every cluster config.json names (each its own RADOS namespaces).
fn cluster_ids(args: &OrphansArgs) -> Result<Vec<String>> {
    if let Some(id) = &args.shared.cluster_id {
        return Ok(vec![id.clone()]);
    }
    let config = crate::context::load_config(&args.shared.cluster_config)?;
    let ids: Vec<String> = config
        .entries()
        .iter()
        .map(|e| e.cluster_id.clone())
        .collect();
    if ids.is_empty() {
        return Err(Error::Config {
            what: format!("{} names no cluster", args.shared.cluster_config.display()),
        });
    }
    Ok(ids)
}

/// `pool` or `pool/namespace`, as findings name their pool.
pub(crate) fn pool_label(pool: &Pool) -> String {
    pool.spec("").trim_end_matches('/').to_owned()
}

/// Every leftover of both journals, the images and the trash of `pool`; trashed images count
/// once `grace` has passed since their deferment end.
pub async fn scan(cx: &Context, pool: &Pool, grace: Duration) -> Result<Vec<Finding>> {
    let images: BTreeSet<String> = ceph::rbd::list(&pool.io)
        .await
        .map_err(|e| Error::ceph(format!("list images of {}", pool.spec("")), e))?
        .into_iter()
        .map(|spec| spec.name)
        .collect();
    let mut findings = Vec::new();
    for kind in [Kind::Volume, Kind::Snapshot] {
        let journal = match kind {
            Kind::Volume => pool.volumes()?,
            Kind::Snapshot => pool.snapshots()?,
        };
        journal_findings(cx, pool, &journal, &images, &mut findings).await?;
    }
    image_findings(cx, pool, &images, &mut findings).await?;
    trash::findings(cx, pool, &images, grace, &mut findings).await?;
    if let Some(kube) = &cx.kube {
        let pvs = kube.persistent_volumes().await?;
        kubernetes::findings(cx, pool, &pvs, &mut findings).await?;
        kubernetes::protect_referenced(&pvs, &mut findings);
    }
    for finding in &mut findings {
        finding.uuid = finding.location.map(|l| l.uuid.to_string());
        finding.pool = pool_label(pool);
    }
    Ok(findings)
}

async fn journal_findings(
    cx: &Context,
    pool: &Pool,
    journal: &Journal,
    images: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let kind = journal.kind();
    let layout = journal.layout();
    let scan = journal.scan().await?;
    let unreferenced: BTreeSet<Uuid> = scan.orphans.iter().map(|l| l.uuid).collect();
    for listed in scan.dangling {
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            pool: String::new(),
            trash_id: None,
            what: What::DanglingKey,
            kind: kind.noun(),
            object: format!(
                "{} {}",
                layout.directory_oid(),
                layout.directory_key(&listed.request_name)
            ),
            id: None,
            uuid: None,
            why: "the directory key points at an entry object that does not exist".to_owned(),
            age_seconds: age(pool, layout.directory_oid()).await?,
            removable: true,
            location: listed.location,
            request_name: Some(listed.request_name),
        });
    }
    for request_name in scan.malformed {
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            pool: String::new(),
            trash_id: None,
            what: What::MalformedKey,
            kind: kind.noun(),
            object: format!(
                "{} {}",
                layout.directory_oid(),
                layout.directory_key(&request_name)
            ),
            id: None,
            uuid: None,
            why: "the directory key's value is not a uuid; left for a person to look at".to_owned(),
            age_seconds: age(pool, layout.directory_oid()).await?,
            removable: false,
            location: None,
            request_name: Some(request_name),
        });
    }
    // Every entry object of this pool: the referenced ones from the directory, and the
    // unreferenced ones the scan found.
    let mut entries: Vec<Location> = scan.orphans;
    entries.extend(listed_locations(journal, pool.io.pool_id()).await?);
    for location in entries {
        let oid = layout.entry_oid(&location.uuid);
        let id = controller::pool::lookup::volume_id(&cx.cluster, &location)?;
        let unreferenced_entry = unreferenced.contains(&location.uuid);
        let (request_name, image_name) = match journal.entry(&location).await {
            Ok(entry) if cut_not_prepared(pool, images, &entry).await? => continue,
            Ok(entry) => (Some(entry.request_name), entry.image_name),
            Err(journal::Error::NotFound { .. }) => continue,
            Err(journal::Error::Incomplete { .. }) => (
                None,
                format!(
                    "{}{}",
                    kind.default_image_prefix(),
                    location.uuid.hyphenated()
                ),
            ),
            Err(e) => return Err(e.into()),
        };
        let has_image = images.contains(&image_name);
        let (what, why, removable) = match (unreferenced_entry, has_image) {
            (false, true) => continue,
            (false, false) => (
                What::EntryWithoutImage,
                format!("its image {image_name} does not exist"),
                true,
            ),
            (true, false) => (
                What::UnreferencedEntry,
                format!("no directory key points at it and its image {image_name} does not exist"),
                true,
            ),
            (true, true) => (
                What::UnreferencedEntry,
                format!(
                    "no directory key points at it; not removed because its image {image_name} \
                     exists and a PV may still use its ID"
                ),
                false,
            ),
        };
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            pool: String::new(),
            trash_id: None,
            what,
            kind: kind.noun(),
            age_seconds: age(pool, &oid).await?,
            object: oid,
            id: Some(id),
            uuid: None,
            request_name,
            why,
            removable,
            location: Some(location),
        });
    }
    Ok(())
}

/// The entry locations in pool `pool_id` that `journal`'s directory lists, every page.
pub(crate) async fn listed_locations(journal: &Journal, pool_id: i64) -> Result<Vec<Location>> {
    let mut locations = Vec::new();
    let mut start_after = String::new();
    loop {
        let page = journal
            .list(&start_after, journal::listing::MAX_PAGE)
            .await?;
        locations.extend(
            page.entries
                .iter()
                .filter_map(|l| l.location)
                .filter(|l| l.pool_id == pool_id),
        );
        match page.next {
            Some(next) => start_after = next,
            None => return Ok(locations),
        }
    }
}

/// Whether `entry` is a snapshot cut on its source but not yet cloned into its own image
/// (CreateSnapshot answers at the cut and prepares after the reply): not a leftover.
async fn cut_not_prepared(
    pool: &Pool,
    images: &BTreeSet<String>,
    entry: &journal::Entry,
) -> Result<bool> {
    let source = match (&entry.kind, &entry.source) {
        (Kind::Snapshot, Some(source)) => source,
        _ => return Ok(false),
    };
    if images.contains(&entry.image_name) || !images.contains(source) {
        return Ok(false);
    }
    let Some(image) = controller::pool::image::open(pool, source).await? else {
        return Ok(false);
    };
    let snaps = controller::pool::image::snapshots(pool, &image).await;
    controller::pool::image::close(pool, image).await?;
    Ok(controller::pool::image::has_user_snapshot(
        &snaps?,
        &entry.image_name,
    ))
}

/// `csi-vol-<uuid>`, `csi-snap-<uuid>` and their `-temp` images without an entry object.
async fn image_findings(
    cx: &Context,
    pool: &Pool,
    images: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let candidates: Vec<(String, Kind, Uuid)> = images
        .iter()
        .filter_map(|name| {
            let (kind, uuid) = driver_image(name)?;
            Some((name.clone(), kind, uuid))
        })
        .collect();
    let bar = progress(candidates.len(), "images");
    for (name, kind, uuid) in candidates {
        bar.inc(1);
        let oid = kind.entry_oid(&uuid);
        let exists = crate::context::object_exists(pool, &oid).await?;
        if exists {
            continue;
        }
        let created = match controller::pool::image::open(pool, &name).await? {
            Some(image) => {
                let created = image.create_timestamp().await.ok();
                controller::pool::image::close(pool, image).await?;
                created
            }
            None => continue,
        };
        let location = Location {
            pool_id: pool.io.pool_id(),
            uuid,
        };
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            pool: String::new(),
            trash_id: None,
            what: What::ImageWithoutEntry,
            kind: kind.noun(),
            object: pool.spec(&name),
            id: Some(controller::pool::lookup::volume_id(&cx.cluster, &location)?),
            uuid: None,
            request_name: None,
            why: format!("no journal entry {oid}: no request can reach this image"),
            age_seconds: created.and_then(since),
            removable: true,
            location: Some(location),
        });
    }
    bar.finish_and_clear();
    Ok(())
}

/// The kind and uuid of an image named the way the driver names them.
pub(crate) fn driver_image(name: &str) -> Option<(Kind, Uuid)> {
    let base = name.strip_suffix("-temp").unwrap_or(name);
    [Kind::Volume, Kind::Snapshot].into_iter().find_map(|kind| {
        let uuid = base.strip_prefix(kind.default_image_prefix())?;
        Some((kind, Uuid::parse_str(uuid).ok()?))
    })
}

pub(crate) async fn age(pool: &Pool, oid: &str) -> Result<Option<u64>> {
    let modified = pool
        .io
        .modified(oid)
        .await
        .map_err(|e| Error::ceph(format!("stat {oid}"), e))?;
    Ok(modified.and_then(since))
}

pub(crate) fn since(time: SystemTime) -> Option<u64> {
    SystemTime::now()
        .duration_since(time)
        .ok()
        .map(|d| d.as_secs())
}

pub(crate) fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len}") {
        bar.set_style(style);
    }
    bar.set_message(format!("checking {what}"));
    bar
}

/// `pool: ` before an object whose name does not say its pool (journal objects).
fn place(f: &Finding) -> String {
    if f.object.starts_with(&f.pool) {
        String::new()
    } else {
        format!("{}: ", f.pool)
    }
}

fn table(r: &Report) -> Table {
    let mut t = Table::default();
    let section = format!("orphans in {}", r.pools.join(", "));
    if r.findings.is_empty() {
        t.row(&section, "none", "");
    }
    for f in &r.findings {
        let age = f.age_seconds.map_or("age unknown".to_owned(), |s| {
            format!("{} old", humantime::format_duration(Duration::from_secs(s)))
        });
        let id =
            f.id.as_deref()
                .map(|id| format!(" [{id}]"))
                .unwrap_or_default();
        t.row(
            &section,
            format!("{:?} {}", f.what, f.kind),
            format!("{}{}{id}: {} ({age})", place(f), f.object, f.why),
        );
    }
    for line in &r.removed {
        t.row("removed", "", line);
    }
    t
}
