//! An in-process stand-in of the Kubernetes API server, for driving kube-rs controllers (our
//! sidecars, in tests or as real binaries via a kubeconfig) where no cluster can run.
//!
//! It serves the REST paths kube-rs uses over plain HTTP on 127.0.0.1, keeping objects as JSON
//! and enforcing the API behaviour controllers depend on: resourceVersion conflicts, status
//! subresource isolation, generation, finalizers and deletionTimestamp, watch resumption and
//! 410 Gone, server-side apply field conflicts, and RBAC: every request is authenticated by
//! its bearer token and authorised against the Roles, ClusterRoles and bindings stored in it,
//! answering 401 and 403 as the real server does. Where it simplifies, the module that does so
//! says how.
//!
//! # Use
//! `StandIn::start().await?` binds 127.0.0.1:0; `standin.client()?` is a kube client for it,
//! `standin.write_kubeconfig(path)?` a kubeconfig for a real binary's `--kubeconfig`, both as
//! the all-powerful admin. To run under RBAC, load the roles and bindings (`apply_yaml`, or
//! create them through the API) and give the binary its ServiceAccount's identity:
//! `write_kubeconfig_for(path, &standin.service_account_token(ns, name))`. Tests
//! then act and observe through the helpers: `put_object`/`put` (a user or kubelet writing
//! without resourceVersion checks), `get_json`/`get`, `wait_for`, `events()` (every write with
//! its verb and field manager), `requests()`, `inject_fault`, `pause`/`resume`.
//! `StandIn::builder()` shrinks the watch history window or the maximum watch length to push
//! clients through 410 Gone and re-watch paths.
//!
//! # Module map
//! A request flows `server` → `access` → `api` → `store` + `mutations`/`list`/`watch`; what
//! every step of that flow takes (`shared`, `http_io`, `metadata_only`, `status`,
//! `selectors`, `resources`) sits below it, and no module reaches back up the flow:
//! - [`standin`]: the public handle — start, `client()`, kubeconfig, identities and clients
//!   per identity, objects from YAML, test helpers.
//! - `server`: hyper accept loop, per-connection tasks, pause/shutdown, fault application.
//! - `shared`: the state one stand-in shares (store, faults, request record, tokens,
//!   tunables, pause/shutdown), held by the server, handlers, watches and the handle.
//! - `http_io`: the request as read (method, path, query parameters, headers, body) and JSON
//!   responses, handed from the server through `access` to `api` and `watch`.
//! - `access`: authentication then authorization of each request, before routing:
//!   `identity` (bearer tokens → users and groups: ServiceAccounts, the admin, anonymous),
//!   `request_info` (a request's verb, group, resource, subresource, namespace and name),
//!   `rbac` (the RBAC decision: rules, bindings, scopes; pure); a refusal's 403 wording.
//! - `api`: per-method handlers; turns HTTP into store calls and results into responses.
//!   With `routing` (URL path → collection/object/subresource), `discovery` (`/version`,
//!   `/api`, `/apis` from the resource table).
//! - `metadata_only`: PartialObjectMetadata reductions, for gets, lists and watch events.
//! - `resources`: the table of served resources (one line per resource) and CRD registration.
//! - `store`: objects keyed by (gvr, namespace, name), the global revision, commit; with
//!   `history` (the bounded change history, compaction), `write_log` (every write, for
//!   tests to assert on) and `managed_fields` (simplified server-side-apply field ownership
//!   and conflicts, kept beside each object).
//! - `mutations`: create / update (PUT, PATCH, apply, `/status`) / delete on the store; with
//!   `write_rules` (pure rules for stored objects: server metadata, status isolation,
//!   generation, finalizer rules, resourceVersion precondition), `defaults` (field defaults the
//!   real server fills in: PVC volumeMode, PV phase, …), `patch` (merge patch, JSON patch,
//!   strategic (as merge) and apply merge), `gc` (ownerReference garbage collection, inline).
//! - `list`: selectors + `limit`/`continue` paging.
//! - `watch`: watch streams from the store's history window, bookmarks, 410 Gone.
//! - `selectors`: label and field selectors.
//! - `status`: failures as `metav1.Status` with the real codes, reasons and wording.
//! - `faults`, `request_log`: fault injection and the request record tests assert on.
//! - `kubeconfig`, `object_meta`, `error`: kubeconfig file, JSON metadata access, error type.
//! - `yaml`: multi-document YAML as JSON objects.

mod access;
mod api;
mod error;
mod faults;
mod http_io;
mod kubeconfig;
mod list;
mod metadata_only;
mod mutations;
mod object_meta;
mod request_log;
mod resources;
mod selectors;
mod server;
mod shared;
pub mod standin;
mod status;
mod store;
mod watch;
mod yaml;

pub use access::identity::UserInfo;
pub use error::StandInError;
pub use faults::{Fault, FaultAction};
pub use request_log::RequestRecord;
pub use resources::{Gvr, ResourceInfo, StatusPolicy};
pub use standin::{StandIn, StandInBuilder};
pub use status::ApiError;
pub use store::write_log::{Verb, WriteEffect, WriteRecord};
pub use yaml::parse_yaml;
