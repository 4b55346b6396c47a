//! Who sent a request and whether they may do it: authentication by bearer token
//! ([`identity`]), then RBAC ([`rbac`]) on the request's attributes ([`request_info`]), before
//! the request is routed, as the real server's filter chain does. The three are grouped as
//! that one gate; the rest of the stand-in only takes its outcome (the user, or the
//! attributes a refusal's wording names) and, in the public handle, mints tokens.

pub(crate) mod identity;
pub(crate) mod rbac;
pub(crate) mod request_info;

use crate::api::http_io::ApiRequest;
use crate::resources::Gvr;
use crate::server::Shared;
use crate::status::ApiError;
use identity::UserInfo;
use rbac::{Decision, Policy};
use request_info::{Attributes, ResourceAttributes};

/// The request's user: 401 for an unknown token or one whose ServiceAccount is gone.
pub(crate) fn authenticate(shared: &Shared, req: &ApiRequest) -> Result<UserInfo, ApiError> {
    let exists = |namespace: &str, name: &str| {
        let store = shared.store.lock();
        store
            .info(&Gvr::new("", "v1", "serviceaccounts"))
            .is_some_and(|info| store.get(&info, namespace, name).is_ok())
    };
    shared
        .tokens
        .lock()
        .authenticate(req.authorization.as_deref(), exists)
}

/// 403 unless `user` may make this request.
pub(crate) fn authorize_request(
    shared: &Shared,
    user: &UserInfo,
    req: &ApiRequest,
) -> Result<(), ApiError> {
    authorize(
        shared,
        user,
        &request_info::attributes(&req.method, &req.path, &req.query),
    )
}

/// The real server's extra check when a PATCH (server-side apply) would create the object:
/// the user also needs `create`.
pub(crate) fn authorize_create_on_update(
    shared: &Shared,
    user: &UserInfo,
    req: &ApiRequest,
) -> Result<(), ApiError> {
    match request_info::attributes(&req.method, &req.path, &req.query) {
        Attributes::Resource(r) => authorize(
            shared,
            user,
            &Attributes::Resource(ResourceAttributes {
                verb: "create".into(),
                ..r
            }),
        ),
        Attributes::NonResource { .. } => Ok(()),
    }
}

fn authorize(shared: &Shared, user: &UserInfo, attributes: &Attributes) -> Result<(), ApiError> {
    if user.is_master() {
        return Ok(());
    }
    let namespace = match attributes {
        Attributes::Resource(r) => r.namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let policy = Policy::from_store(&shared.store.lock(), namespace);
    match rbac::authorize(user, attributes, &policy) {
        Decision::Allow => Ok(()),
        Decision::Deny { reason } => Err(ApiError::forbidden(attributes, &user.name, &reason)),
    }
}
