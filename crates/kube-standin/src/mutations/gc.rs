//! A synchronous stand-in for the garbage collector's ownerReference handling.
//!
//! The real garbage collector is a separate controller; it deletes dependents once none of their
//! owners exist (background propagation) and, for `propagationPolicy: Orphan`, strips the
//! deleted owner's reference instead. The stand-in does both inline, right after the owner
//! leaves the store. Simplifications: deletion happens in the same request rather than
//! eventually, `Foreground` is treated as `Background` (no `foregroundDeletion` finalizer), and
//! references to owners that vanished are left on dependents that still have a live owner.

use serde_json::Value;

use crate::object_meta;
use crate::store::history::ChangeKind;
use crate::store::write_log::WriteContext;
use crate::store::{ObjectKey, Store};

fn owner_uids(obj: &Value) -> Vec<&str> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r.get("uid")?.as_str()).collect())
        .unwrap_or_default()
}

impl Store {
    fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .any(|s| object_meta::uid(&s.value) == uid)
    }

    fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.objects
            .iter()
            .filter(|(_, s)| owner_uids(&s.value).contains(&uid))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Delete the dependents of a removed owner that have no live owner left.
    pub(crate) fn collect_dependents(&mut self, owner_uid: &str) {
        let ctx = WriteContext::garbage_collector();
        for key in self.dependents_of(owner_uid) {
            let Some(stored) = self.objects.get(&key) else {
                continue;
            };
            let orphaned = owner_uids(&stored.value)
                .iter()
                .all(|uid| !self.uid_exists(uid));
            if !orphaned {
                continue;
            }
            let Some(info) = self.info(&key.gvr) else {
                continue;
            };
            // Finalizers on the dependent are honoured: it gets a deletionTimestamp and stays.
            // A failure here can only be a dependent already gone; nothing to collect then.
            let _ = self.delete(&info, &key.namespace, &key.name, &Default::default(), &ctx);
        }
    }

    /// `propagationPolicy: Orphan`: remove the owner's reference from its dependents.
    pub(crate) fn orphan_dependents(&mut self, owner_uid: &str) {
        let ctx = WriteContext::garbage_collector();
        for key in self.dependents_of(owner_uid) {
            let Some(stored) = self.objects.get(&key).cloned() else {
                continue;
            };
            let mut updated = stored.value.clone();
            let meta = object_meta::meta_mut(&mut updated);
            if let Some(Value::Array(refs)) = meta.get_mut("ownerReferences") {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
                if refs.is_empty() {
                    meta.remove("ownerReferences");
                }
            }
            self.commit(
                key,
                ChangeKind::Modified,
                updated,
                stored.fields,
                Some(stored.value),
                &ctx,
            );
        }
    }
}
