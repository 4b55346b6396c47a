//! Who sent a request and whether they may do it: authentication by bearer token
//! ([`identity`]), then RBAC ([`rbac`]) on the request's attributes ([`request_info`]), before
//! the request is routed, as the real server's filter chain does. The three are grouped as
//! that one gate; the rest of the stand-in only takes its outcome (the user, or a 403 worded as
//! the real server words it) and, in the public handle, mints tokens. It is handed the store
//! (for ServiceAccounts and RBAC objects) and the issued tokens, never the server's state.

pub(crate) mod identity;
pub(crate) mod rbac;
pub(crate) mod request_info;

use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::http_io::ApiRequest;
use crate::resources::Gvr;
use crate::status::ApiError;
use crate::store::Store;
use identity::{Tokens, UserInfo};
use rbac::{Decision, Policy};
use request_info::{Attributes, ResourceAttributes};

/// The request's user: 401 for an unknown token or one whose ServiceAccount is gone.
pub(crate) fn authenticate(
    store: &Mutex<Store>,
    tokens: &Mutex<Tokens>,
    req: &ApiRequest,
) -> Result<UserInfo, ApiError> {
    let exists = |namespace: &str, name: &str| {
        let store = store.lock();
        store
            .info(&Gvr::new("", "v1", "serviceaccounts"))
            .is_some_and(|info| store.get(&info, namespace, name).is_ok())
    };
    tokens
        .lock()
        .authenticate(req.authorization.as_deref(), exists)
}

/// 403 unless `user` may make this request.
pub(crate) fn authorize_request(
    store: &Mutex<Store>,
    user: &UserInfo,
    req: &ApiRequest,
) -> Result<(), ApiError> {
    authorize(
        store,
        user,
        &request_info::attributes(&req.method, &req.path, &req.query),
    )
}

/// The real server's extra check when a PATCH (server-side apply) would create the object:
/// the user also needs `create`.
pub(crate) fn authorize_create_on_update(
    store: &Mutex<Store>,
    user: &UserInfo,
    req: &ApiRequest,
) -> Result<(), ApiError> {
    match request_info::attributes(&req.method, &req.path, &req.query) {
        Attributes::Resource(r) => authorize(
            store,
            user,
            &Attributes::Resource(ResourceAttributes {
                verb: "create".into(),
                ..r
            }),
        ),
        Attributes::NonResource { .. } => Ok(()),
    }
}

fn authorize(
    store: &Mutex<Store>,
    user: &UserInfo,
    attributes: &Attributes,
) -> Result<(), ApiError> {
    if user.is_master() {
        return Ok(());
    }
    let namespace = match attributes {
        Attributes::Resource(r) => r.namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let policy = Policy::from_store(&store.lock(), namespace);
    match rbac::authorize(user, attributes, &policy) {
        Decision::Allow => Ok(()),
        Decision::Deny { reason } => Err(forbidden(attributes, &user.name, &reason)),
    }
}

/// The authorizer's denial as a 403, worded as the real server's `Forbidden` response writer words
/// it: `<resource>[.<group>] ["<name>"] is forbidden: User "<user>" cannot <verb> resource
/// "<resource>[/<sub>]" in API group "<group>" (in the namespace "<ns>" | at the cluster
/// scope)[: <reason>]`, or `forbidden: User "<user>" cannot <verb> path "<path>"`.
fn forbidden(attributes: &Attributes, user: &str, reason: &str) -> ApiError {
    let suffix = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    let r = match attributes {
        Attributes::Resource(r) => r,
        Attributes::NonResource { verb, path } => {
            let mut error = ApiError::new(
                403,
                "Forbidden",
                format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"{suffix}"),
            );
            error.details = Some(json!({}));
            return error;
        }
    };
    let resource = if r.subresource.is_empty() {
        r.resource.clone()
    } else {
        format!("{}/{}", r.resource, r.subresource)
    };
    let scope = if r.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", r.namespace)
    };
    let qualified = if r.group.is_empty() {
        r.resource.clone()
    } else {
        format!("{}.{}", r.resource, r.group)
    };
    let object = if r.name.is_empty() {
        qualified
    } else {
        format!("{qualified} \"{}\"", r.name)
    };
    let mut error = ApiError::new(
        403,
        "Forbidden",
        format!(
            "{object} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}{suffix}",
            r.verb, r.group
        ),
    );
    let mut details = serde_json::Map::new();
    for (key, value) in [
        ("name", &r.name),
        ("group", &r.group),
        ("kind", &r.resource),
    ] {
        if !value.is_empty() {
            details.insert(key.to_owned(), Value::String(value.clone()));
        }
    }
    error.details = Some(Value::Object(details));
    error
}
