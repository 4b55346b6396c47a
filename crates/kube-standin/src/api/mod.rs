//! One HTTP request → one store operation → one response, by route and method.
//!
//! Reads and writes lock the store only for their synchronous part; watches run as their own
//! task feeding a streamed body.
//!
//! The HTTP side only handlers need is here too: [`routing`] (URL path → route) and
//! [`discovery`] (`/version`, `/api`, `/apis`); the request itself and JSON responses are
//! [`crate::http_io`]'s, PartialObjectMetadata reductions [`crate::metadata_only`]'s.

pub(crate) mod discovery;
pub(crate) mod routing;

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use serde_json::Value;

use crate::access;
use crate::access::identity::UserInfo;
use crate::http_io::{ApiRequest, Body, json_response};
use crate::list::{ListRequest, list};
use crate::metadata_only;
use crate::mutations::patch::PatchKind;
use crate::mutations::write_rules::WriteScope;
use crate::mutations::{DeleteOptions, Deleted, UpdateOp};
use crate::resources::ResourceInfo;
use crate::shared::Shared;
use crate::status::ApiError;
use crate::store::write_log::Verb;
use crate::watch;
use routing::{Route, route};

/// Serve one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: ApiRequest,
    user: UserInfo,
) -> Result<Response<Body>, ApiError> {
    access::authorize_request(&shared.store, &user, &req)?;
    let routed = route(&shared.store.lock().table, &req.path)?;
    serve(&shared, &req, &user, routed).await
}

async fn serve(
    shared: &Arc<Shared>,
    req: &ApiRequest,
    user: &UserInfo,
    route: Route,
) -> Result<Response<Body>, ApiError> {
    let ok = |v: &Value| Ok(json_response(StatusCode::OK, v));
    match (route, &req.method) {
        (Route::Version, &Method::GET) => ok(&discovery::version()),
        (Route::CoreVersions, &Method::GET) => ok(&discovery::core_versions(&shared.address)),
        (Route::Groups, &Method::GET) => ok(&discovery::groups(&shared.store.lock().table)),
        (Route::GroupResources { group, version }, &Method::GET) => {
            discovery::group_resources(&shared.store.lock().table, &group, &version)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or_else(|| ApiError::path_not_found(&req.path))
        }
        (Route::Collection { info, namespace }, &Method::GET) => {
            if req.query.flag("watch") {
                watch::start(shared, req, info, namespace)
            } else {
                let list = list(&shared.store.lock(), &info, &list_request(req, namespace)?)?;
                if req.metadata_only() {
                    ok(&metadata_only::to_partial_list(&list))
                } else {
                    ok(&list)
                }
            }
        }
        (Route::Collection { info, namespace }, &Method::POST) => {
            if info.namespaced && namespace.is_none() {
                return Err(ApiError::method_not_allowed());
            }
            let ctx = req.write_context(Verb::Create, false);
            let created = shared.store.lock().create(
                &info,
                namespace.as_deref().unwrap_or(""),
                req.json_body()?,
                WriteScope::Main,
                &ctx,
            )?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (Route::Collection { info, namespace }, &Method::DELETE) => {
            delete_collection(shared, req, &info, namespace)
        }
        (
            Route::Object {
                info,
                namespace,
                name,
                ..
            },
            &Method::GET,
        ) => {
            let obj = shared.store.lock().get(&info, &namespace, &name)?;
            if req.metadata_only() {
                ok(&metadata_only::to_partial(&obj))
            } else {
                ok(&obj)
            }
        }
        (
            Route::Object {
                info,
                namespace,
                name,
                status,
            },
            &Method::PUT,
        ) => {
            let ctx = req.write_context(Verb::Replace, status);
            let scope = if status {
                WriteScope::Status
            } else {
                WriteScope::Main
            };
            let updated = shared.store.lock().update(
                &info,
                &namespace,
                &name,
                scope,
                UpdateOp::Replace(req.json_body()?),
                &ctx,
            )?;
            ok(&updated.object)
        }
        (
            Route::Object {
                info,
                namespace,
                name,
                status,
            },
            &Method::PATCH,
        ) => patch(shared, req, user, &info, &namespace, &name, status),
        (
            Route::Object {
                info,
                namespace,
                name,
                status: false,
            },
            &Method::DELETE,
        ) => {
            let ctx = req.write_context(Verb::Delete, false);
            let opts = delete_options(req)?;
            match shared
                .store
                .lock()
                .delete(&info, &namespace, &name, &opts, &ctx)?
            {
                Deleted::Pending(obj) | Deleted::Gone(obj) => ok(&obj),
            }
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn list_request(req: &ApiRequest, namespace: Option<String>) -> Result<ListRequest, ApiError> {
    Ok(ListRequest {
        namespace,
        selectors: req.selectors()?,
        limit: req
            .query
            .number("limit")?
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
        continue_token: req.query.get("continue").map(str::to_owned),
    })
}

fn patch(
    shared: &Arc<Shared>,
    req: &ApiRequest,
    user: &UserInfo,
    info: &ResourceInfo,
    namespace: &str,
    name: &str,
    status: bool,
) -> Result<Response<Body>, ApiError> {
    let kind = PatchKind::from_content_type(&req.content_type)?;
    let force = req.query.flag("force");
    let body = req.json_body()?;
    let (verb, op) = if kind == PatchKind::Apply {
        if req.query.get("fieldManager").is_none() {
            return Err(ApiError::unprocessable(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        if body.get("apiVersion").is_none() || body.get("kind").is_none() {
            return Err(ApiError::bad_request(
                "invalid object type: apply configurations must set apiVersion and kind",
            ));
        }
        (
            Verb::Apply,
            UpdateOp::Apply {
                applied: body,
                force,
            },
        )
    } else {
        if force {
            return Err(ApiError::unprocessable(
                "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
            ));
        }
        if kind == PatchKind::Strategic && info.is_custom() {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json (strategic merge patch is not supported for custom resources)",
            ));
        }
        (Verb::Patch, UpdateOp::Patch(kind, body))
    };
    let ctx = req.write_context(verb, status);
    let scope = if status {
        WriteScope::Status
    } else {
        WriteScope::Main
    };
    let creates =
        verb == Verb::Apply && !status && shared.store.lock().get(info, namespace, name).is_err();
    if creates {
        access::authorize_create_on_update(&shared.store, user, req)?;
    }
    let updated = shared
        .store
        .lock()
        .update(info, namespace, name, scope, op, &ctx)?;
    let code = if updated.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(code, &updated.object))
}

fn delete_options(req: &ApiRequest) -> Result<DeleteOptions, ApiError> {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        req.json_body()?
    };
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| req.query.get("propagationPolicy"));
    let orphan =
        policy == Some("Orphan") || body.get("orphanDependents") == Some(&Value::Bool(true));
    let precondition = |field: &str| {
        body.get("preconditions")
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(DeleteOptions {
        precondition_uid: precondition("uid"),
        precondition_rv: precondition("resourceVersion"),
        orphan,
    })
}

fn delete_collection(
    shared: &Arc<Shared>,
    req: &ApiRequest,
    info: &ResourceInfo,
    namespace: Option<String>,
) -> Result<Response<Body>, ApiError> {
    if info.namespaced && namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    let selectors = req.selectors()?;
    let opts = delete_options(req)?;
    let ctx = req.write_context(Verb::Delete, false);
    let mut store = shared.store.lock();
    let keys: Vec<(String, String)> = store
        .iter_resource(&info.gvr, namespace.as_deref())
        .filter(|(_, obj)| selectors.matches(obj))
        .map(|(k, _)| (k.namespace.clone(), k.name.clone()))
        .collect();
    for (ns, name) in keys {
        match store.delete(info, &ns, &name, &opts, &ctx) {
            // Already taken by the garbage collector as a dependent of an earlier item.
            Err(e) if e.code == 404 => {}
            other => {
                other?;
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
        }),
    ))
}
