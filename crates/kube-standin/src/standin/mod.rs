//! [`StandIn`]: the handle tests hold — start, connect, look inside, act as a user or kubelet,
//! inject faults, pause. Identities and clients per identity are in `identities`, objects
//! from YAML in `apply`.

mod apply;
mod identities;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::access::identity::Tokens;
use crate::error::StandInError;
use crate::faults::{Fault, Faults};
use crate::kubeconfig;
use crate::mutations::write_rules::WriteScope;
use crate::mutations::{DeleteOptions, UpdateOp};
use crate::object_meta;
use crate::request_log::{RequestLog, RequestRecord};
use crate::resources::{Gvr, ResourceInfo, ResourceTable};
use crate::server;
use crate::shared::{Config, Shared};
use crate::store::Store;
use crate::store::write_log::{WriteContext, WriteRecord};

/// Options for a stand-in; [`StandIn::builder`].
#[derive(Debug, Clone, Default)]
pub struct StandInBuilder {
    config: Config,
    table: ResourceTable,
}

impl StandInBuilder {
    /// Number of changes kept for watches to resume from (default 10 000). A watch or paged
    /// list from before the window gets 410 Gone, as after an etcd compaction.
    pub fn history_limit(mut self, changes: usize) -> Self {
        self.config.history_limit = changes;
        self
    }

    /// Cap on any watch's duration (default 30 min): lower it to make clients re-watch often.
    pub fn max_watch_timeout(mut self, timeout: Duration) -> Self {
        self.config.max_watch_timeout = timeout;
        self
    }

    /// Interval of progress BOOKMARKs on watches that allow them (default 60 s).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.config.bookmark_interval = interval;
        self
    }

    /// Serve an extra resource (CRDs created through the API are registered automatically).
    pub fn resource(mut self, info: ResourceInfo) -> Self {
        self.table.register(info);
        self
    }

    /// Bind 127.0.0.1:0 and start serving.
    pub async fn start(self) -> Result<StandIn, StandInError> {
        let (listener, addr) = server::bind().await.map_err(StandInError::Bind)?;
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(self.table, self.config.history_limit)),
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(RequestLog::default()),
            tokens: Mutex::new(Tokens::default()),
            config: self.config,
            address: addr.to_string(),
            connections: Mutex::new(shutdown.child_token()),
            shutdown,
            paused: AtomicBool::new(false),
        });
        tokio::spawn(server::serve(shared.clone(), listener));
        Ok(StandIn { shared, addr })
    }
}

/// An in-process stand-in of the Kubernetes API server. Serves until dropped.
pub struct StandIn {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl StandIn {
    /// Start a stand-in with default options.
    pub async fn start() -> Result<Self, StandInError> {
        Self::builder().start().await
    }

    /// Options before starting.
    pub fn builder() -> StandInBuilder {
        StandInBuilder::default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A `kube::Config` for this stand-in as its all-powerful admin (`system:admin` in
    /// `system:masters`, never checked against RBAC); default namespace `default`.
    pub fn kube_config(&self) -> Result<kube::Config, StandInError> {
        self.kube_config_with_token(&self.admin_token())
    }

    /// A kube client talking to this stand-in as its admin.
    pub fn client(&self) -> Result<kube::Client, StandInError> {
        kube::Client::try_from(self.kube_config()?).map_err(StandInError::Client)
    }

    /// Write a kubeconfig for a real binary's `--kubeconfig`, as the admin.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), StandInError> {
        self.write_kubeconfig_for(path, &self.admin_token())
    }

    /// Write a kubeconfig carrying `token` (see [`StandIn::service_account_token`]): a binary
    /// started with it is authorised under the RBAC objects in the stand-in.
    pub fn write_kubeconfig_for(
        &self,
        path: impl AsRef<Path>,
        token: &str,
    ) -> Result<(), StandInError> {
        kubeconfig::write(&self.url(), token, path.as_ref())
    }

    /// Stop serving: open connections and watches are cut.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// Simulate an unreachable API server: cut every open connection (watches end) and drop
    /// new ones until [`StandIn::resume`].
    pub fn pause(&self) {
        self.shared.pause();
    }

    /// Serve again after [`StandIn::pause`].
    pub fn resume(&self) {
        self.shared.resume();
    }

    /// Add a fault rule (see [`Fault`]).
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.lock().add(fault);
    }

    /// Remove every pending fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().clear();
    }

    /// Serve an extra resource from now on.
    pub fn register_resource(&self, info: ResourceInfo) {
        self.shared.store.lock().table.register(info);
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().current_rv()
    }

    /// Every successful write so far, in order (no-op updates included as `Unchanged`).
    pub fn events(&self) -> Vec<WriteRecord> {
        self.shared.store.lock().writes().to_vec()
    }

    /// Every HTTP request so far (the most recent 50 000), with the status it got.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().snapshot()
    }

    fn info(&self, gvr: &Gvr) -> Result<ResourceInfo, StandInError> {
        self.shared
            .store
            .lock()
            .info(gvr)
            .ok_or_else(|| StandInError::UnknownResource(gvr.api_version() + "/" + &gvr.plural))
    }

    /// One object as stored (`namespace` is ignored for cluster-scoped kinds).
    pub fn get_json(&self, gvr: &Gvr, namespace: &str, name: &str) -> Option<Value> {
        let info = self.info(gvr).ok()?;
        let ns = if info.namespaced { namespace } else { "" };
        self.shared.store.lock().get(&info, ns, name).ok()
    }

    /// One typed object as stored.
    pub fn get<K>(&self, namespace: &str, name: &str) -> Result<Option<K>, StandInError>
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.get_json(&Gvr::of::<K>(), namespace, name)
            .map(serde_json::from_value)
            .transpose()
            .map_err(StandInError::from)
    }

    /// All objects of a resource (in one namespace, or all with `None`), sorted by key.
    pub fn list_json(&self, gvr: &Gvr, namespace: Option<&str>) -> Vec<Value> {
        let store = self.shared.store.lock();
        store
            .iter_resource(gvr, namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Create or overwrite an object as test set-up or as an outside actor (a user, the
    /// kubelet): no resourceVersion check, spec and status both taken as given. Server-owned
    /// metadata, generation, finalizer rules, watch events and the write log still apply.
    pub fn put_object(&self, gvr: &Gvr, mut object: Value) -> Result<Value, StandInError> {
        let info = self.info(gvr)?;
        object_meta::remove(&mut object, "resourceVersion");
        let ns = if info.namespaced {
            object_meta::namespace(&object).to_owned()
        } else {
            String::new()
        };
        let name = object_meta::name(&object).to_owned();
        let ctx = WriteContext::direct();
        let mut store = self.shared.store.lock();
        if store.get(&info, &ns, &name).is_ok() {
            let updated = store.update(
                &info,
                &ns,
                &name,
                WriteScope::Everything,
                UpdateOp::Replace(object),
                &ctx,
            )?;
            Ok(updated.object)
        } else {
            Ok(store.create(&info, &ns, object, WriteScope::Everything, &ctx)?)
        }
    }

    /// Typed [`StandIn::put_object`].
    pub fn put<K>(&self, object: &K) -> Result<K, StandInError>
    where
        K: kube::Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let stored = self.put_object(&Gvr::of::<K>(), serde_json::to_value(object)?)?;
        Ok(serde_json::from_value(stored)?)
    }

    /// Delete as a user would (finalizers respected). `Ok(true)` if the object left the store,
    /// `Ok(false)` if finalizers keep it.
    pub fn delete_object(
        &self,
        gvr: &Gvr,
        namespace: &str,
        name: &str,
    ) -> Result<bool, StandInError> {
        let info = self.info(gvr)?;
        let ns = if info.namespaced { namespace } else { "" };
        let outcome = self.shared.store.lock().delete(
            &info,
            ns,
            name,
            &DeleteOptions::default(),
            &WriteContext::direct(),
        )?;
        Ok(matches!(outcome, crate::mutations::Deleted::Gone(_)))
    }

    /// Wait until `predicate` holds for the object (`None`: absent), re-checking on every
    /// change. Returns the object as it was when the predicate held.
    pub async fn wait_for<P>(
        &self,
        gvr: &Gvr,
        namespace: &str,
        name: &str,
        predicate: P,
        timeout: Duration,
    ) -> Result<Option<Value>, StandInError>
    where
        P: Fn(Option<&Value>) -> bool,
    {
        let deadline = Instant::now() + timeout;
        let mut wake = self.shared.store.lock().subscribe();
        loop {
            wake.borrow_and_update();
            let current = self.get_json(gvr, namespace, name);
            if predicate(current.as_ref()) {
                return Ok(current);
            }
            let timed_out = tokio::select! {
                changed = wake.changed() => changed.is_err(),
                () = tokio::time::sleep_until(deadline) => true,
            };
            if timed_out {
                return Err(StandInError::Timeout {
                    what: format!("{}/{} {namespace}/{name}", gvr.api_version(), gvr.plural),
                    seconds: timeout.as_secs_f64(),
                });
            }
        }
    }
}
