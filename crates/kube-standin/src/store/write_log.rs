//! The log of every write, for scenario assertions ("only one replica acted", "the sidecar
//! patched status exactly once").

use crate::resources::Gvr;
use crate::store::ObjectKey;

/// What kind of request made a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// POST.
    Create,
    /// PUT.
    Replace,
    /// PATCH with a merge, JSON or strategic merge patch.
    Patch,
    /// PATCH with server-side apply.
    Apply,
    /// DELETE.
    Delete,
    /// The garbage collector removing a dependent whose owners are gone.
    GarbageCollect,
    /// A test helper acting directly on the store (`StandIn::put_object`, …).
    Direct,
}

/// What a write did to the stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    /// A new object.
    Created,
    /// An existing object changed (new resourceVersion).
    Updated,
    /// A DELETE set `deletionTimestamp`; finalizers keep the object.
    DeletionStarted,
    /// The object left the store.
    Deleted,
    /// The request succeeded without changing anything (no new resourceVersion, no watch
    /// event — the real server skips no-op updates the same way).
    Unchanged,
}

/// One successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    /// The global resourceVersion after the write.
    pub resource_version: u64,
    /// The request kind.
    pub verb: Verb,
    /// `Some("status")` for writes through the status subresource.
    pub subresource: Option<String>,
    /// The resource written.
    pub gvr: Gvr,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// What happened.
    pub effect: WriteEffect,
    /// The request's field manager (the `fieldManager` parameter, else the User-Agent's
    /// product, as the real server defaults it).
    pub field_manager: String,
    /// The request's `User-Agent`, to tell replicas of a sidecar apart. kube-rs sends none by
    /// default: a binary that wants to be recognisable sets one (`kube::Config::headers`) or
    /// a distinct `fieldManager`.
    pub user_agent: String,
}

/// Who is writing and how; threaded through the store's write paths.
#[derive(Debug, Clone)]
pub(crate) struct WriteContext {
    pub(crate) verb: Verb,
    pub(crate) subresource: Option<String>,
    pub(crate) field_manager: String,
    pub(crate) user_agent: String,
    pub(crate) dry_run: bool,
}

impl WriteContext {
    pub(crate) fn direct() -> Self {
        Self {
            verb: Verb::Direct,
            subresource: None,
            field_manager: "sepia-kube-standin".into(),
            user_agent: "sepia-kube-standin".into(),
            dry_run: false,
        }
    }

    pub(crate) fn garbage_collector() -> Self {
        Self {
            verb: Verb::GarbageCollect,
            subresource: None,
            field_manager: "generic-garbage-collector".into(),
            user_agent: "generic-garbage-collector".into(),
            dry_run: false,
        }
    }
}

impl WriteRecord {
    pub(crate) fn new(ctx: &WriteContext, key: &ObjectKey, rv: u64, effect: WriteEffect) -> Self {
        Self {
            resource_version: rv,
            verb: ctx.verb,
            subresource: ctx.subresource.clone(),
            gvr: key.gvr.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            effect,
            field_manager: ctx.field_manager.clone(),
            user_agent: ctx.user_agent.clone(),
        }
    }
}
