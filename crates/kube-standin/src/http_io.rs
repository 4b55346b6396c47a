//! The HTTP side of a request: what is read from it (method, path, query parameters, headers,
//! body) and JSON responses. The request is read once by the server and then handed down the
//! whole path — the access gate, the handlers, watches — so it sits below all of them.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;

use crate::metadata_only;
use crate::selectors::{FieldSelector, LabelSelector, Selectors};
use crate::status::ApiError;
use crate::store::write_log::{Verb, WriteContext};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// What a handler needs from the HTTP request.
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Query,
    pub(crate) content_type: String,
    pub(crate) accept: String,
    pub(crate) user_agent: String,
    /// The `Authorization` header, if any (read by authentication only).
    pub(crate) authorization: Option<String>,
    pub(crate) body: Bytes,
}

impl ApiRequest {
    pub(crate) async fn read(req: http::Request<Incoming>) -> Result<Self, ApiError> {
        let header = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let content_type = header(header::CONTENT_TYPE);
        let accept = header(header::ACCEPT);
        let user_agent = header(header::USER_AGENT);
        let authorization = Some(header(header::AUTHORIZATION)).filter(|a| !a.is_empty());
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = Query::parse(req.uri().query());
        let body = req
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
            .to_bytes();
        Ok(Self {
            method,
            path,
            query,
            content_type,
            accept,
            user_agent,
            authorization,
            body,
        })
    }

    pub(crate) fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body is not valid JSON (the stand-in accepts JSON bodies only): {e}"
            ))
        })
    }

    pub(crate) fn write_context(&self, verb: Verb, status: bool) -> WriteContext {
        // The real server defaults the field manager to the User-Agent's product token.
        let field_manager = self.query.get("fieldManager").map_or_else(
            || self.user_agent.split('/').next().unwrap_or("").to_owned(),
            str::to_owned,
        );
        WriteContext {
            verb,
            subresource: status.then(|| "status".to_owned()),
            field_manager,
            user_agent: self.user_agent.clone(),
            dry_run: self.query.get("dryRun").is_some(),
        }
    }

    pub(crate) fn selectors(&self) -> Result<Selectors, ApiError> {
        Ok(Selectors {
            labels: LabelSelector::parse(self.query.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.query.get("fieldSelector").unwrap_or(""))?,
        })
    }

    pub(crate) fn metadata_only(&self) -> bool {
        metadata_only::wanted(&self.accept)
    }
}

pub(crate) fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.http_status(), &err.to_status())
}

/// Query parameters (last value wins, as Go's `url.Values.Get` returns the first — the clients
/// we serve never repeat one).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true") || self.get(key) == Some("1")
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("{key}: invalid value {v:?}")))
            })
            .transpose()
    }
}
