//! The object store: every object as JSON with its field ownership, one global revision
//! counter, the change history and the write log.
//!
//! One mutex guards it all (held only for the synchronous part of a request), which gives the
//! same guarantee as etcd behind the real server: changes are totally ordered by revision, and a
//! watch that starts at revision N sees exactly the changes after N. The change history
//! ([`history`]), the write log ([`write_log`]) and each object's field ownership
//! ([`managed_fields`]) are here because they are written under that same mutex, in the same
//! commit as the object; `mutations` decides what they record.

pub(crate) mod history;
pub(crate) mod managed_fields;
pub(crate) mod write_log;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;

use crate::object_meta::{self, meta_mut};
use crate::resources::{Gvr, ResourceInfo, ResourceTable};
use crate::status::ApiError;
use history::{Change, ChangeKind, History};
use managed_fields::ManagedFields;
use write_log::{WriteContext, WriteEffect, WriteRecord};

/// Where an object lives. Ordered like the real server's storage keys, so lists come out sorted
/// by namespace, then name, and `continue` tokens can name a position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub(crate) gvr: Gvr,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ObjectKey {
    pub(crate) fn new(gvr: &Gvr, namespace: &str, name: &str) -> Self {
        Self {
            gvr: gvr.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) value: Value,
    pub(crate) fields: ManagedFields,
}

pub(crate) struct Store {
    pub(crate) table: ResourceTable,
    pub(crate) objects: BTreeMap<ObjectKey, Stored>,
    rv: u64,
    history: History,
    writes: Vec<WriteRecord>,
    notify: watch::Sender<u64>,
}

impl Store {
    pub(crate) fn new(table: ResourceTable, history_limit: usize) -> Self {
        Self {
            table,
            objects: BTreeMap::new(),
            rv: 0,
            history: History::new(history_limit),
            writes: Vec::new(),
            notify: watch::Sender::new(0),
        }
    }

    pub(crate) fn current_rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// Wakes watches whenever the revision moves.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    pub(crate) fn writes(&self) -> &[WriteRecord] {
        &self.writes
    }

    pub(crate) fn info(&self, gvr: &Gvr) -> Option<ResourceInfo> {
        self.table.find(gvr).cloned()
    }

    pub(crate) fn get(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.objects
            .get(&ObjectKey::new(&info.gvr, namespace, name))
            .map(|s| s.value.clone())
            .ok_or_else(|| ApiError::not_found(info, name))
    }

    /// Objects of one resource (in one namespace, or all), in key order.
    pub(crate) fn iter_resource<'a>(
        &'a self,
        gvr: &'a Gvr,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        let start = ObjectKey::new(gvr, namespace.unwrap_or(""), "");
        self.objects
            .range(start..)
            .take_while(move |(k, _)| &k.gvr == gvr && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(k, s)| (k, &s.value))
    }

    pub(crate) fn record_unchanged(&mut self, key: &ObjectKey, ctx: &WriteContext) {
        if !ctx.dry_run {
            self.writes
                .push(WriteRecord::new(ctx, key, self.rv, WriteEffect::Unchanged));
        }
    }

    /// Commit one change: next revision, stamped into the object, history, write log, wake-up.
    /// `value: None` removes the object (`previous` must then be its last state).
    pub(crate) fn commit(
        &mut self,
        key: ObjectKey,
        kind: ChangeKind,
        mut object: Value,
        fields: ManagedFields,
        previous: Option<Value>,
        ctx: &WriteContext,
    ) -> Value {
        self.rv += 1;
        meta_mut(&mut object).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let effect = match kind {
            ChangeKind::Added => WriteEffect::Created,
            ChangeKind::Deleted => WriteEffect::Deleted,
            ChangeKind::Modified
                if object_meta::is_deleting(&object)
                    && previous
                        .as_ref()
                        .is_some_and(|p| !object_meta::is_deleting(p)) =>
            {
                WriteEffect::DeletionStarted
            }
            ChangeKind::Modified => WriteEffect::Updated,
        };
        self.writes
            .push(WriteRecord::new(ctx, &key, self.rv, effect));
        if kind == ChangeKind::Deleted {
            self.objects.remove(&key);
        } else {
            if key.gvr.plural == "customresourcedefinitions"
                && key.gvr.group == "apiextensions.k8s.io"
            {
                self.table.register_crd(&object);
            }
            self.objects.insert(
                key.clone(),
                Stored {
                    value: object.clone(),
                    fields,
                },
            );
        }
        self.history.push(Change {
            rv: self.rv,
            gvr: key.gvr,
            namespace: key.namespace,
            kind,
            object: Arc::new(object.clone()),
            previous: previous.map(Arc::new),
        });
        self.notify.send_replace(self.rv);
        object
    }
}
