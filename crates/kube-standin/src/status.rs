//! Failures as `metav1.Status` objects.
//!
//! kube-rs turns a non-2xx response whose body parses as a `Status` into
//! `kube::Error::Api(status)`, and controllers branch on `code` and `reason` (the lease manager
//! matches `reason == "Conflict"`, the finalizer helper surfaces 422s). So every failure the
//! stand-in produces carries the code, reason and message wording the real API server uses.

use http::StatusCode;
use serde_json::{Value, json};

use crate::resources::ResourceInfo;

/// One API failure: what the real server would answer, as code + reason + message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code, also written into `Status.code`.
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Gone`, …).
    pub reason: String,
    /// Human-readable message, worded like the real server's.
    pub message: String,
    /// `Status.details` (name, group, kind) when the failure concerns one object.
    pub details: Option<Value>,
}

impl ApiError {
    /// A failure with an explicit code and reason (fault injection uses this directly).
    pub fn new(code: u16, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
        }
    }

    fn about(mut self, info: &ResourceInfo, name: &str) -> Self {
        self.details = Some(details(info, name));
        self
    }

    pub(crate) fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", info.qualified_plural()),
        )
        .about(info, name)
    }

    pub(crate) fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", info.qualified_plural()),
        )
        .about(info, name)
    }

    /// The optimistic-concurrency failure (stale `resourceVersion`, failed precondition): the
    /// wording is the one client-go and kube users grep for.
    pub(crate) fn conflict(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                info.qualified_plural()
            ),
        )
        .about(info, name)
    }

    pub(crate) fn stale_resource_version(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// Validation failures are 422 `Invalid`, like the real server's field validation.
    pub(crate) fn invalid(info: &ResourceInfo, name: &str, message: impl Into<String>) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {}", info.kind, message.into()),
        )
        .about(info, name)
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn path_not_found(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    /// A request without valid credentials (unknown token, deleted ServiceAccount).
    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The HTTP status to send; unknown codes fall back to 500 rather than panicking.
    pub(crate) fn http_status(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        status
    }
}

/// `Status.details` as the real server fills it: `kind` holds the resource's plural.
pub(crate) fn details(info: &ResourceInfo, name: &str) -> Value {
    let mut details = json!({ "name": name, "kind": info.gvr.plural });
    if !info.gvr.group.is_empty() {
        details["group"] = Value::String(info.gvr.group.clone());
    }
    details
}

/// The `Status` a DELETE answers with when the object is gone at once.
pub(crate) fn deleted(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    let mut details = details(info, name);
    details["uid"] = Value::String(uid.to_owned());
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
