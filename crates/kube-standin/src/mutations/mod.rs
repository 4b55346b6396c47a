//! Create, update (PUT / PATCH / apply, main resource or `/status`) and delete on the store.
//!
//! Every update goes through one path, as in the real server: compute a candidate from the
//! current object, check the resourceVersion precondition, compose the stored object under the
//! write rules, skip no-ops, and finish a pending deletion once the last finalizer is gone.
//!
//! What that one path applies lives beside it: [`write_rules`] (server metadata, status
//! isolation, generation, finalizers, the resourceVersion precondition) with the field
//! [`defaults`] the real server fills in, [`patch`] (merge, JSON, strategic-as-merge and apply
//! merge) and [`gc`] (ownerReference garbage collection, run inline after a delete).
//! Server-side apply ownership and conflicts are the store's
//! ([`crate::store::managed_fields`]), kept beside each object; this path records into them.

pub(crate) mod defaults;
pub(crate) mod gc;
pub(crate) mod patch;
pub(crate) mod write_rules;

use serde_json::Value;

use crate::object_meta::{self, finalizers, is_deleting};
use crate::resources::ResourceInfo;
use crate::status::{self, ApiError};
use crate::store::history::ChangeKind;
use crate::store::managed_fields::{ManagedFields, dotted};
use crate::store::write_log::WriteContext;
use crate::store::{ObjectKey, Store};
use patch::{PatchKind, apply_merge, json_patch, merge_patch};
use write_rules::{
    WriteScope, check_resource_version, compose_update, mark_deleting, prepare_create,
};

/// How an update computes its candidate from the current object.
#[derive(Debug, Clone)]
pub(crate) enum UpdateOp {
    /// PUT: the body is the candidate.
    Replace(Value),
    /// PATCH with merge, JSON or strategic merge semantics.
    Patch(PatchKind, Value),
    /// Server-side apply (creates the object when missing).
    Apply { applied: Value, force: bool },
}

/// The result of an update.
#[derive(Debug, Clone)]
pub(crate) struct Updated {
    pub(crate) object: Value,
    /// Apply created the object (answered with 201 like the real server).
    pub(crate) created: bool,
}

/// DELETE options the stand-in honours.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_rv: Option<String>,
    pub(crate) orphan: bool,
}

/// The answer to a DELETE.
#[derive(Debug, Clone)]
pub(crate) enum Deleted {
    /// Finalizers keep the object; it now has a deletionTimestamp.
    Pending(Value),
    /// The object is gone; the body is a success `Status`.
    Gone(Value),
}

impl Store {
    pub(crate) fn create(
        &mut self,
        info: &ResourceInfo,
        url_ns: &str,
        body: Value,
        scope: WriteScope,
        ctx: &WriteContext,
    ) -> Result<Value, ApiError> {
        let object = prepare_create(info, url_ns, body, scope)?;
        let key = ObjectKey::new(
            &info.gvr,
            object_meta::namespace(&object),
            object_meta::name(&object),
        );
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(info, &key.name));
        }
        if ctx.dry_run {
            return Ok(object);
        }
        let mut fields = ManagedFields::default();
        fields.record_update(&ctx.field_manager, &Value::Null, &object);
        Ok(self.commit(key, ChangeKind::Added, object, fields, None, ctx))
    }

    pub(crate) fn update(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        scope: WriteScope,
        op: UpdateOp,
        ctx: &WriteContext,
    ) -> Result<Updated, ApiError> {
        let key = ObjectKey::new(&info.gvr, namespace, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            return match op {
                UpdateOp::Apply { mut applied, .. } if scope != WriteScope::Status => {
                    let meta = object_meta::meta_mut(&mut applied);
                    meta.insert("name".into(), Value::String(name.to_owned()));
                    let object = self.create(info, namespace, applied.clone(), scope, ctx)?;
                    self.take_apply_ownership(&key, &ctx.field_manager, &applied);
                    Ok(Updated {
                        object,
                        created: true,
                    })
                }
                _ => Err(ApiError::not_found(info, name)),
            };
        };
        let current = stored.value;
        let mut fields = stored.fields;
        let apply = matches!(op, UpdateOp::Apply { .. });
        let candidate = match op {
            UpdateOp::Replace(body) => body,
            UpdateOp::Patch(PatchKind::Json, patch) => json_patch(&current, &patch)?,
            UpdateOp::Patch(_, patch) => {
                let mut candidate = current.clone();
                merge_patch(&mut candidate, &patch);
                candidate
            }
            UpdateOp::Apply { applied, force } => {
                let conflicts = fields.conflicts(&ctx.field_manager, &current, &applied);
                if !conflicts.is_empty() && !force {
                    let list: Vec<String> = conflicts
                        .iter()
                        .map(|c| format!("conflict with \"{}\": {}", c.manager, dotted(&c.path)))
                        .collect();
                    return Err(ApiError::conflict(
                        info,
                        name,
                        &format!(
                            "Apply failed with {} conflict(s): {}",
                            conflicts.len(),
                            list.join("; ")
                        ),
                    ));
                }
                let mut merged = current.clone();
                apply_merge(&mut merged, &applied);
                fields.record_apply(&ctx.field_manager, &applied, &mut merged, force);
                merged
            }
        };
        check_resource_version(info, &current, &candidate)?;
        let new = compose_update(info, &current, candidate, scope)?;
        if !apply {
            fields.record_update(&ctx.field_manager, &current, &new);
        }
        let finishing_deletion = is_deleting(&new) && finalizers(&new).is_empty();
        if new == current && !finishing_deletion {
            self.record_unchanged(&key, ctx);
            return Ok(Updated {
                object: current,
                created: false,
            });
        }
        if ctx.dry_run {
            return Ok(Updated {
                object: new,
                created: false,
            });
        }
        let object = if finishing_deletion {
            let uid = object_meta::uid(&new).to_owned();
            let gone = self.commit(key, ChangeKind::Deleted, new, fields, Some(current), ctx);
            self.collect_dependents(&uid);
            gone
        } else {
            self.commit(key, ChangeKind::Modified, new, fields, Some(current), ctx)
        };
        Ok(Updated {
            object,
            created: false,
        })
    }

    fn take_apply_ownership(&mut self, key: &ObjectKey, manager: &str, applied: &Value) {
        if let Some(stored) = self.objects.get_mut(key) {
            let mut fields = ManagedFields::default();
            let mut value = stored.value.clone();
            fields.record_apply(manager, applied, &mut value, false);
            stored.fields = fields;
        }
    }

    pub(crate) fn delete(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
        ctx: &WriteContext,
    ) -> Result<Deleted, ApiError> {
        let key = ObjectKey::new(&info.gvr, namespace, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(info, name));
        };
        let current = stored.value;
        let uid = object_meta::uid(&current).to_owned();
        if let Some(wanted) = &opts.precondition_uid
            && *wanted != uid
        {
            return Err(ApiError::conflict(
                info,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {wanted}, UID in object meta: {uid}"
                ),
            ));
        }
        if let Some(wanted) = &opts.precondition_rv {
            let actual = object_meta::resource_version(&current);
            if wanted != actual {
                return Err(ApiError::conflict(
                    info,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {wanted}, ResourceVersion in object meta: {actual}"
                    ),
                ));
            }
        }
        if !finalizers(&current).is_empty() {
            if is_deleting(&current) {
                self.record_unchanged(&key, ctx);
                return Ok(Deleted::Pending(current));
            }
            let mut marked = current.clone();
            mark_deleting(&mut marked);
            if ctx.dry_run {
                return Ok(Deleted::Pending(marked));
            }
            let object = self.commit(
                key,
                ChangeKind::Modified,
                marked,
                stored.fields,
                Some(current),
                ctx,
            );
            return Ok(Deleted::Pending(object));
        }
        if ctx.dry_run {
            return Ok(Deleted::Gone(status::deleted(info, name, &uid)));
        }
        // The DELETED event carries the last stored state (stamped with the deletion's
        // revision), as the real watch cache sends it.
        self.commit(
            key,
            ChangeKind::Deleted,
            current.clone(),
            stored.fields,
            Some(current),
            ctx,
        );
        if opts.orphan {
            self.orphan_dependents(&uid);
        } else {
            self.collect_dependents(&uid);
        }
        Ok(Deleted::Gone(status::deleted(info, name, &uid)))
    }
}
