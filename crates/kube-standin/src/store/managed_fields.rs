//! Field ownership for server-side apply, simplified.
//!
//! kube-lease-manager's mutual exclusion rests on it: a manager acquires a free Lease with a
//! non-forced apply of `spec.holderIdentity`, and the real server answers 409 Conflict when
//! another field manager owns that field with a different value. Without ownership, two managers
//! racing for the same Lease would both succeed. Model (documented simplifications):
//! - ownership is tracked per leaf path (maps recurse; lists and scalars are leaves, so every
//!   list is atomic), kept beside the object and not rendered into `metadata.managedFields`;
//! - apply: a leaf another manager owns with a different live value conflicts unless `force`;
//!   after apply the manager owns exactly the applied leaves, and leaves it owned before but no
//!   longer applies are removed from the object when nobody else owns them;
//! - any other write (create, PUT, merge/JSON/strategic patch): the writer takes ownership of
//!   every leaf it changed, and removed leaves are dropped from every owner.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A path of map keys from the object root.
pub(crate) type FieldPath = Vec<String>;

/// Metadata the server owns; never part of anyone's applied configuration.
const SERVER_OWNED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Leaf paths of an object, excluding type meta and server-owned metadata.
pub(crate) fn leaf_paths(obj: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match v {
            // An empty map owns nothing: only its future children can be owned.
            Value::Null => {}
            Value::Object(map) => {
                for (k, child) in map {
                    let skip = match path.as_slice() {
                        [] => k == "apiVersion" || k == "kind",
                        [m] => m == "metadata" && SERVER_OWNED_META.contains(&k.as_str()),
                        _ => false,
                    };
                    if skip {
                        continue;
                    }
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(obj, &mut Vec::new(), &mut out);
    out
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |cur, key| cur.get(key))
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for key in parents {
        match cur.get_mut(key) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(map) = cur.as_object_mut() {
        map.remove(last);
    }
}

/// `.spec.holderIdentity`, the notation of the real server's conflict messages.
pub(crate) fn dotted(path: &[String]) -> String {
    path.iter().map(|p| format!(".{p}")).collect()
}

/// Who owns which leaves of one object.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManagedFields {
    owners: BTreeMap<String, BTreeSet<FieldPath>>,
}

/// An apply that would overwrite another manager's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApplyConflict {
    pub(crate) manager: String,
    pub(crate) path: FieldPath,
}

impl ManagedFields {
    /// Ownership after a non-apply write by `manager` turned `old` into `new`.
    pub(crate) fn record_update(&mut self, manager: &str, old: &Value, new: &Value) {
        let old_leaves = leaf_paths(old);
        let new_leaves = leaf_paths(new);
        for removed in old_leaves.difference(&new_leaves) {
            for owned in self.owners.values_mut() {
                owned.retain(|p| !overlaps(p, removed));
            }
        }
        let changed: Vec<&FieldPath> = new_leaves
            .iter()
            .filter(|p| value_at(old, p) != value_at(new, p))
            .collect();
        for (other, owned) in &mut self.owners {
            if other != manager {
                owned.retain(|p| !changed.iter().any(|c| overlaps(p, c)));
            }
        }
        let mine = self.owners.entry(manager.to_owned()).or_default();
        mine.extend(changed.into_iter().cloned());
        self.owners.retain(|_, owned| !owned.is_empty());
    }

    /// Fields of other managers that `applied` would change on `live`.
    pub(crate) fn conflicts(
        &self,
        manager: &str,
        live: &Value,
        applied: &Value,
    ) -> Vec<ApplyConflict> {
        let mut found = Vec::new();
        for path in leaf_paths(applied) {
            if value_at(live, &path) == value_at(applied, &path) {
                continue;
            }
            for (other, owned) in &self.owners {
                if other != manager && owned.iter().any(|p| overlaps(p, &path)) {
                    found.push(ApplyConflict {
                        manager: other.clone(),
                        path: path.clone(),
                    });
                }
            }
        }
        found
    }

    /// Record an apply by `manager` (after conflicts were checked or forced) and remove from
    /// `merged` the leaves the manager stopped applying that nobody else owns.
    pub(crate) fn record_apply(
        &mut self,
        manager: &str,
        applied: &Value,
        merged: &mut Value,
        force: bool,
    ) {
        let applied_leaves = leaf_paths(applied);
        if force {
            for (other, owned) in &mut self.owners {
                if other != manager {
                    owned.retain(|p| !applied_leaves.iter().any(|a| overlaps(p, a)));
                }
            }
        }
        let previous = self.owners.remove(manager).unwrap_or_default();
        for dropped in previous.difference(&applied_leaves) {
            let still_owned = self
                .owners
                .values()
                .any(|owned| owned.iter().any(|p| overlaps(p, dropped)));
            let re_applied = applied_leaves.iter().any(|a| overlaps(a, dropped));
            if !still_owned && !re_applied {
                remove_at(merged, dropped);
            }
        }
        if !applied_leaves.is_empty() {
            self.owners.insert(manager.to_owned(), applied_leaves);
        }
        self.owners.retain(|_, owned| !owned.is_empty());
    }

    #[cfg(test)]
    pub(crate) fn owned_by(&self, manager: &str) -> BTreeSet<FieldPath> {
        self.owners.get(manager).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPath {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn apply_of_a_field_owned_by_another_manager_conflicts_unless_values_agree() {
        let mut fields = ManagedFields::default();
        let applied_a = json!({"spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
        let mut live = json!({"metadata": {"name": "l"}});
        fields.record_apply("a", &applied_a, &mut live, false);
        live["spec"] = applied_a["spec"].clone();

        let applied_b = json!({"spec": {"holderIdentity": "b", "leaseDurationSeconds": 15}});
        let conflicts = fields.conflicts("b", &live, &applied_b);
        assert_eq!(
            conflicts,
            vec![ApplyConflict {
                manager: "a".into(),
                path: p("spec.holderIdentity")
            }]
        );
        // Same value: shared ownership, no conflict.
        assert!(
            fields
                .conflicts("b", &live, &json!({"spec": {"leaseDurationSeconds": 15}}))
                .is_empty()
        );
    }

    #[test]
    fn updates_transfer_ownership_and_removed_fields_lose_owners() {
        let mut fields = ManagedFields::default();
        let mut live = json!({"spec": {"holderIdentity": "a"}});
        fields.record_apply(
            "a",
            &json!({"spec": {"holderIdentity": "a"}}),
            &mut live,
            false,
        );
        let cleared = json!({"spec": {}});
        fields.record_update("b", &live, &cleared);
        assert!(fields.owned_by("a").is_empty());
        assert!(
            fields
                .conflicts("c", &cleared, &json!({"spec": {"holderIdentity": "c"}}))
                .is_empty()
        );
    }

    #[test]
    fn fields_no_longer_applied_are_removed_when_unowned() {
        let mut fields = ManagedFields::default();
        let mut live = json!({"spec": {"x": 1, "y": 2}});
        fields.record_apply("a", &json!({"spec": {"x": 1, "y": 2}}), &mut live, false);
        let mut merged = live.clone();
        fields.record_apply("a", &json!({"spec": {"x": 1}}), &mut merged, false);
        assert_eq!(merged, json!({"spec": {"x": 1}}));
        assert_eq!(fields.owned_by("a"), BTreeSet::from([p("spec.x")]));
    }
}
