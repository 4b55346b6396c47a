//! With a kubeconfig: volumes no PersistentVolume references and PVs whose volume has no
//! journal entry, and the rule that `--delete` never removes what a PV references.

use std::collections::BTreeSet;

use controller::pool::cluster::Pool;
use journal::Kind;

use super::{Finding, What, age};
use crate::context::Context;
use crate::error::Result;
use crate::kube::PvHandle;

/// Volumes no PV references, and PVs (of this cluster and pool) whose volume has no entry.
/// Neither is removed by `--delete`: a volume may be provisioned right now and its PV not made
/// yet, and PVs are for Kubernetes' own reclaim.
pub(super) async fn findings(
    cx: &Context,
    pool: &Pool,
    pvs: &[PvHandle],
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let journal = pool.volumes()?;
    let handles: BTreeSet<&str> = pvs.iter().map(|pv| pv.handle.as_str()).collect();
    let listed: BTreeSet<String> = findings.iter().filter_map(|f| f.id.clone()).collect();
    let mut start_after = String::new();
    loop {
        let page = journal
            .list(&start_after, journal::listing::MAX_PAGE)
            .await?;
        for entry in &page.entries {
            let Some(location) = entry.location.filter(|l| l.pool_id == pool.io.pool_id()) else {
                continue;
            };
            let id = controller::pool::lookup::volume_id(&cx.cluster, &location)?;
            if handles.contains(id.as_str()) || listed.contains(&id) {
                continue;
            }
            let oid = journal.layout().entry_oid(&location.uuid);
            findings.push(Finding {
                driver: "rbd",
                cluster_id: String::new(),
                pool: String::new(),
                trash_id: None,
                what: What::NoPersistentVolume,
                kind: Kind::Volume.noun(),
                age_seconds: age(pool, &oid).await?,
                object: oid,
                id: Some(id),
                uuid: None,
                request_name: Some(entry.request_name.clone()),
                why: "no PersistentVolume has this volume handle; not removed by --delete (its PV \
                      may not be made yet): delete it through its StorageClass's driver"
                    .to_owned(),
                removable: false,
                location: Some(location),
            });
        }
        match page.next {
            Some(next) => start_after = next,
            None => break,
        }
    }
    for pv in pvs {
        let Ok(composite) = journal::CompositeId::decode(&pv.handle) else {
            continue;
        };
        let Ok(location) = controller::pool::lookup::location_of(&composite) else {
            continue;
        };
        if composite.cluster_id() != cx.cluster.id || location.pool_id != pool.io.pool_id() {
            continue;
        }
        let oid = journal.layout().entry_oid(&location.uuid);
        let exists = crate::context::object_exists(pool, &oid).await?;
        if exists {
            continue;
        }
        findings.push(Finding {
            driver: "rbd",
            cluster_id: String::new(),
            pool: String::new(),
            trash_id: None,
            what: What::PvWithoutVolume,
            kind: Kind::Volume.noun(),
            object: format!("PersistentVolume {}", pv.name),
            id: Some(pv.handle.clone()),
            uuid: None,
            request_name: None,
            why: format!(
                "its volume has no journal entry {oid}; not removed by --delete (a Kubernetes \
                 object: delete the PV{})",
                pv.claim
                    .as_deref()
                    .map(|c| format!(" and its claim {c}"))
                    .unwrap_or_default()
            ),
            age_seconds: None,
            removable: false,
            location: Some(location),
        });
    }
    Ok(())
}

/// Whatever a PV references is never removed.
pub(super) fn protect_referenced(pvs: &[PvHandle], findings: &mut [Finding]) {
    for finding in findings.iter_mut().filter(|f| f.removable) {
        let Some(id) = &finding.id else { continue };
        if let Some(pv) = pvs.iter().find(|pv| &pv.handle == id) {
            finding.removable = false;
            finding.why = format!(
                "{}; not removed: PersistentVolume {} references it",
                finding.why, pv.name
            );
        }
    }
}
