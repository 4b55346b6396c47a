//! Paging through journal directories for ListVolumes, ListSnapshots and the start-up resume
//! pass: every configured cluster (config order), every pool (by id) the credentials can read
//! (the others are skipped, logged), request names in omap order. A page never holds
//! more than asked, and the next-page token says where to continue:
//! `1.<hex clusterID>.<pool id>.<hex last request name>`. It is opaque to the CO; a token we
//! cannot read is ABORTED, as the spec says.

use std::collections::BTreeMap;
use std::sync::Arc;

use journal::{Kind, Listed};
use serde::Deserialize;
use tracing::info;

use crate::error::{Error, Result};
use crate::pool::cluster::{Cluster, Pool};
use crate::pool::connect;
use crate::secrets::Source;
use crate::state::State;

/// Largest page when the CO sets no limit (bounds memory; the CO follows next_token).
pub const DEFAULT_PAGE: usize = 1000;

/// Where the next page starts: after `after` in pool `pool_id` of `cluster_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub cluster_id: String,
    pub pool_id: i64,
    pub after: String,
}

impl Token {
    pub fn encode(&self) -> String {
        format!(
            "1.{}.{}.{}",
            hex::encode(&self.cluster_id),
            self.pool_id,
            hex::encode(&self.after)
        )
    }

    /// Parses a `starting_token`; "" means the first page.
    pub fn decode(token: &str) -> Result<Option<Token>> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = |rule| Error::InvalidToken {
            token: token.to_owned(),
            rule,
        };
        let mut parts = token.split('.');
        let (Some("1"), Some(cluster), Some(pool), Some(after), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid("not a token this controller handed out"));
        };
        let text = |hex_text: &str| {
            hex::decode(hex_text)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("not a token this controller handed out"))
        };
        Ok(Some(Token {
            cluster_id: text(cluster)?,
            pool_id: pool
                .parse()
                .map_err(|_| invalid("not a token this controller handed out"))?,
            after: text(after)?,
        }))
    }
}

/// The page size for a request's `max_entries`.
pub fn page_size(max_entries: i32) -> Result<usize> {
    match usize::try_from(max_entries) {
        Ok(0) => Ok(DEFAULT_PAGE),
        Ok(n) => Ok(n.min(DEFAULT_PAGE)),
        Err(_) => Err(Error::invalid("max_entries", "must not be negative")),
    }
}

/// Directory entries of one page, each with the pool of its directory.
pub struct Page {
    pub entries: Vec<(Pool, Listed)>,
    pub next: Option<Token>,
}

/// A page over every cluster and pool.
pub async fn page_all(
    state: &State,
    kind: Kind,
    source: Source<'_>,
    start: Option<Token>,
    max: usize,
) -> Result<Page> {
    let config = state.clusters();
    let clusters = config.entries();
    let first = match &start {
        None => 0,
        Some(token) => clusters
            .iter()
            .position(|c| c.cluster_id == token.cluster_id)
            .ok_or_else(|| Error::InvalidToken {
                token: token.encode(),
                rule: "it names a cluster that is no longer configured",
            })?,
    };
    let mut entries = Vec::new();
    // The first refusal, and whether any pool could be read: credentials that can read no
    // pool at all are an error, not an empty list.
    let mut refused = None;
    let mut readable = false;
    for entry in &clusters[first..] {
        let cluster = connect::cluster(state, &entry.cluster_id, source.clone()).await?;
        for pool_id in pool_ids(&cluster).await? {
            let after = match &start {
                Some(t) if t.cluster_id == cluster.id && pool_id < t.pool_id => continue,
                Some(t) if t.cluster_id == cluster.id && pool_id == t.pool_id => t.after.clone(),
                _ => String::new(),
            };
            let pool = match cluster.pool_by_id(pool_id).await {
                Ok(pool) => pool,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(Error::ceph("open pool", format!("pool id {pool_id}"), e)),
            };
            match page_pool(&pool, kind, after, max, &mut entries).await {
                Ok(Some(next)) => {
                    return Ok(Page {
                        entries,
                        next: Some(next),
                    });
                }
                Ok(None) => readable = true,
                // A user limited to some pools (`profile rbd pool=<name>`) walks those.
                Err(e) if is_refused(&e) => {
                    info!(cluster = %cluster.id, pool = pool.io.pool_name(), error = %e, "skipping a pool these credentials cannot read");
                    refused.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
    }
    if start.is_none()
        && !readable
        && let Some(e) = refused
    {
        return Err(e);
    }
    Ok(Page {
        entries,
        next: None,
    })
}

/// Whether Ceph refused a read for lack of caps.
fn is_refused(e: &Error) -> bool {
    let denied = |c: &ceph::Error| matches!(c, ceph::Error::PermissionDenied { .. });
    match e {
        Error::Ceph { source, .. } | Error::Journal(journal::Error::Ceph { source, .. }) => {
            denied(source)
        }
        _ => false,
    }
}

/// A page over one pool (ListSnapshots of one source volume).
pub async fn page_one(pool: &Pool, kind: Kind, start: Option<Token>, max: usize) -> Result<Page> {
    let after = match start {
        Some(t) if t.cluster_id == pool.cluster.id && t.pool_id == pool.io.pool_id() => t.after,
        Some(t) => {
            return Err(Error::InvalidToken {
                token: t.encode(),
                rule: "it belongs to another listing",
            });
        }
        None => String::new(),
    };
    let mut entries = Vec::new();
    let next = page_pool(pool, kind, after, max, &mut entries).await?;
    Ok(Page { entries, next })
}

/// Appends the pool's entries after `after` until `out` holds `max`; returns the token to
/// continue with when it filled up.
async fn page_pool(
    pool: &Pool,
    kind: Kind,
    mut after: String,
    max: usize,
    out: &mut Vec<(Pool, Listed)>,
) -> Result<Option<Token>> {
    let journal = match kind {
        Kind::Volume => pool.volumes()?,
        Kind::Snapshot => pool.snapshots()?,
    };
    loop {
        let remaining = max.saturating_sub(out.len());
        if remaining == 0 {
            return Ok(Some(Token {
                cluster_id: pool.cluster.id.clone(),
                pool_id: pool.io.pool_id(),
                after,
            }));
        }
        let page = journal
            .list(
                &after,
                u32::try_from(remaining)
                    .unwrap_or(u32::MAX)
                    .min(journal::listing::MAX_PAGE),
            )
            .await?;
        if let Some(last) = page.entries.last() {
            after.clone_from(&last.request_name);
        }
        out.extend(page.entries.into_iter().map(|l| (pool.clone(), l)));
        if page.next.is_none() {
            return Ok(None);
        }
    }
}

#[derive(Deserialize)]
struct LsPool {
    poolnum: i64,
}

/// Ids of the cluster's pools, ascending.
async fn pool_ids(cluster: &Arc<Cluster>) -> Result<Vec<i64>> {
    let out = cluster
        .rados
        .mon_command(serde_json::json!({"prefix": "osd lspools", "format": "json"}))
        .await
        .map_err(|e| Error::ceph("list pools", format!("cluster {}", cluster.id), e))?;
    let pools: Vec<LsPool> = out
        .json()
        .map_err(|e| Error::ceph("list pools", format!("cluster {}", cluster.id), e))?;
    let mut ids: Vec<i64> = pools.into_iter().map(|p| p.poolnum).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// All keys of an entry object (ceph-csi's `csi.*` and our `sepia.*`), in one read; `None`
/// when the object is gone, or in a pool the credentials cannot read (its directory can).
pub async fn entry_keys(pool: &Pool, oid: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    match pool.io.omap_list(oid, "", "", 1024).await {
        Ok((keys, _)) => Ok(Some(keys.into_iter().collect())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e @ ceph::Error::PermissionDenied { .. }) => {
            info!(pool = pool.io.pool_name(), oid, error = %e, "skipping a journal entry these credentials cannot read");
            Ok(None)
        }
        Err(e) => Err(Error::ceph("read journal entry", oid.to_owned(), e)),
    }
}

/// A key's value as text.
pub fn text<'a>(keys: &'a BTreeMap<String, Vec<u8>>, key: &str) -> Option<&'a str> {
    keys.get(key)
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = Token {
            cluster_id: "rook-ceph".into(),
            pool_id: 7,
            after: "pvc-1.2".into(),
        };
        assert_eq!(Token::decode(&token.encode()).unwrap(), Some(token));
        assert_eq!(Token::decode("").unwrap(), None);
        for bad in [
            "x",
            "1.zz.1.00",
            "2.00.1.00",
            "1.00.x.00",
            "1.00.1.00.extra",
        ] {
            assert!(
                matches!(Token::decode(bad), Err(Error::InvalidToken { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(5).unwrap(), 5);
        assert!(page_size(-1).is_err());
    }
}
