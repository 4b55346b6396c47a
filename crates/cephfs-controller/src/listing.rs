//! ListVolumes and ListSnapshots, from the journals: every configured cluster (standing
//! credentials: CSI sends these RPCs no secrets), every filesystem in it, the directory of each
//! in request-name order. The token (`controller::pool::listing::Token`) names the cluster, the
//! FSCID (in its pool field) and the last request name given out.

use controller::error::Result;
use controller::pool::listing::Token;
use journal::{Journal, Kind, Listed};
use serde::Deserialize;
use serde_json::json;

use crate::driver::Driver;
use crate::fs::{self, Fs, Which};
use crate::lookup::{self, Lookup};
use crate::secrets::Creds;
use crate::snapshot::time;

/// One page: entries and the token of the next page.
pub struct Page<T> {
    pub entries: Vec<T>,
    pub next: Option<String>,
}

/// A listed volume.
pub struct ListedVolume {
    pub volume_id: String,
}

/// A listed snapshot.
pub struct ListedSnapshot {
    pub snapshot_id: String,
    /// `None` when its source volume is gone (deleted with its snapshots retained).
    pub source_volume_id: Option<String>,
    pub size: u64,
    pub created: Option<prost_types::Timestamp>,
}

#[derive(Deserialize)]
struct Dump {
    filesystems: Vec<DumpedFs>,
}

#[derive(Deserialize)]
struct DumpedFs {
    id: u64,
}

/// Walks the journals from `token` on, collecting up to `max` entries that `keep` turns into
/// answers.
async fn walk<T>(
    driver: &Driver,
    rpc: &'static str,
    kind: Kind,
    token: Option<Token>,
    max: usize,
    mut keep: impl AsyncKeep<T>,
) -> Result<Page<T>> {
    let state = &driver.state;
    let mut clusters: Vec<String> = state
        .clusters()
        .entries()
        .iter()
        .map(|e| e.cluster_id.clone())
        .collect();
    clusters.sort();
    let mut entries = Vec::new();
    for cluster_id in clusters {
        if let Some(t) = &token
            && cluster_id < t.cluster_id
        {
            continue;
        }
        let cluster = fs::connect(state, &cluster_id, Creds::Standing(rpc)).await?;
        let out = cluster
            .rados
            .mon_command(json!({"prefix": "fs dump", "format": "json"}))
            .await
            .map_err(|e| controller::Error::ceph("fs dump", cluster_id.clone(), e))?;
        let dump: Dump = out
            .json()
            .map_err(|e| controller::Error::ceph("fs dump", cluster_id.clone(), e))?;
        let mut ids: Vec<u64> = dump.filesystems.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        for fscid in ids {
            let fscid_key = i64::try_from(fscid).unwrap_or(i64::MAX);
            let mut after = String::new();
            if let Some(t) = &token
                && t.cluster_id == cluster_id
            {
                if fscid_key < t.pool_id {
                    continue;
                }
                if fscid_key == t.pool_id {
                    after = t.after.clone();
                }
            }
            let Some(fs) = Fs::open(state, &cluster, Which::Id(fscid)).await? else {
                continue;
            };
            let journal: &Journal = match kind {
                Kind::Volume => &fs.volumes,
                Kind::Snapshot => &fs.snapshots,
            };
            loop {
                let want = u32::try_from(max - entries.len())
                    .unwrap_or(u32::MAX)
                    .max(1);
                let page = journal.list(&after, want).await?;
                for listed in page.entries {
                    after.clone_from(&listed.request_name);
                    if let Some(entry) = keep.keep(&fs, journal, &listed).await? {
                        entries.push(entry);
                    }
                    if entries.len() == max {
                        let next = Token {
                            cluster_id: cluster_id.clone(),
                            pool_id: fscid_key,
                            after: listed.request_name.clone(),
                        };
                        return Ok(Page {
                            entries,
                            next: Some(next.encode()),
                        });
                    }
                }
                if page.next.is_none() {
                    break;
                }
            }
        }
    }
    Ok(Page {
        entries,
        next: None,
    })
}

/// What a walk does with one directory entry (an async closure over the filesystem).
trait AsyncKeep<T> {
    async fn keep(&mut self, fs: &Fs, journal: &Journal, listed: &Listed) -> Result<Option<T>>;
}

struct Volumes;

impl AsyncKeep<ListedVolume> for Volumes {
    async fn keep(
        &mut self,
        fs: &Fs,
        _: &Journal,
        listed: &Listed,
    ) -> Result<Option<ListedVolume>> {
        Ok(match &listed.location {
            Some(location) => Some(ListedVolume {
                volume_id: fs.id_of(location.uuid)?,
            }),
            None => None,
        })
    }
}

/// Snapshots, optionally only those of one source subvolume.
struct Snapshots {
    source: Option<String>,
}

impl AsyncKeep<ListedSnapshot> for Snapshots {
    async fn keep(
        &mut self,
        fs: &Fs,
        journal: &Journal,
        listed: &Listed,
    ) -> Result<Option<ListedSnapshot>> {
        let Some(location) = &listed.location else {
            return Ok(None);
        };
        let entry = match journal.entry(location).await {
            Ok(entry) => entry,
            Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let Some(parent) = entry.source.clone() else {
            return Ok(None);
        };
        if self.source.as_ref().is_some_and(|s| *s != parent) {
            return Ok(None);
        }
        describe(fs, &entry, &parent).await.map(Some)
    }
}

/// A snapshot's answer: its ID, its source volume's ID (when that volume's entry is still
/// there), the source's quota and the snapshot's creation time.
async fn describe(fs: &Fs, entry: &journal::Entry, parent: &str) -> Result<ListedSnapshot> {
    let source_volume_id = source_volume_id(fs, parent).await?;
    let size = match fs.info(parent).await? {
        Some(info) => info.quota().unwrap_or(0),
        None => 0,
    };
    let created = fs
        .snapshot_info(parent, &entry.image_name)
        .await?
        .and_then(|i| time::parse(&i.created_at));
    Ok(ListedSnapshot {
        snapshot_id: fs.id_of(entry.location.uuid)?,
        source_volume_id,
        size,
        created,
    })
}

/// The volume ID of subvolume `csi-vol-<uuid>` when its journal entry exists.
async fn source_volume_id(fs: &Fs, subvolume: &str) -> Result<Option<String>> {
    // Names end in the uuid whatever the prefix (`volumeNamePrefix`).
    let Some(uuid) = subvolume
        .len()
        .checked_sub(36)
        .and_then(|start| subvolume.get(start..))
        .and_then(|tail| uuid::Uuid::parse_str(tail).ok())
    else {
        return Ok(None);
    };
    match fs.volumes.entry(&fs.location(uuid)).await {
        Ok(entry) if entry.image_name == subvolume => Ok(Some(fs.id_of(uuid)?)),
        Ok(_) | Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn list_volumes(
    driver: &Driver,
    token: Option<Token>,
    max: usize,
) -> Result<Page<ListedVolume>> {
    walk(driver, "ListVolumes", Kind::Volume, token, max, Volumes).await
}

/// Snapshots, all of them or those of `source_volume_id`, or the one `snapshot_id` names.
pub async fn list_snapshots(
    driver: &Driver,
    token: Option<Token>,
    max: usize,
    snapshot_id: Option<&str>,
    source_volume_id: Option<&str>,
) -> Result<Page<ListedSnapshot>> {
    let state = &driver.state;
    let none = || Page {
        entries: Vec::new(),
        next: None,
    };
    if let Some(id) = snapshot_id {
        // CSI: a snapshot that does not exist is an empty list, not an error.
        let Lookup::Found(found) =
            lookup::lookup(state, Kind::Snapshot, id, Creds::Standing("ListSnapshots")).await?
        else {
            return Ok(none());
        };
        let Some(parent) = found.entry.source.clone() else {
            return Ok(none());
        };
        let listed = describe(&found.fs, &found.entry, &parent).await?;
        if source_volume_id.is_some_and(|v| listed.source_volume_id.as_deref() != Some(v)) {
            return Ok(none());
        }
        return Ok(Page {
            entries: vec![listed],
            next: None,
        });
    }
    let source_subvolume = match source_volume_id {
        None => None,
        Some(id) => {
            match lookup::lookup(state, Kind::Volume, id, Creds::Standing("ListSnapshots")).await? {
                Lookup::Found(found) => Some(found.entry.image_name.clone()),
                _ => return Ok(none()),
            }
        }
    };
    walk(
        driver,
        "ListSnapshots",
        Kind::Snapshot,
        token,
        max,
        Snapshots {
            source: source_subvolume,
        },
    )
    .await
}
