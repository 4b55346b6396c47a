//! The log of every HTTP request served, failures included, for retry assertions ("the
//! provisioner retried the PATCH after the injected 500").

use std::collections::VecDeque;

/// Requests kept; the oldest are dropped beyond this so a long-running binary cannot grow the
/// log without bound.
const KEEP: usize = 50_000;

/// One HTTP request and the status it got (0: the connection was dropped by a fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// URL path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// HTTP status sent (a watch records 200 when it starts streaming).
    pub status: u16,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// The authenticated user (`system:admin`, `system:serviceaccount:<ns>:<name>`, …); empty
    /// when authentication failed or a fault answered first.
    pub user: String,
    /// The `Status` message of a failure (empty on success): what a refused client was told.
    pub message: String,
}

impl RequestRecord {
    pub(crate) fn new<B>(req: &http::Request<B>) -> Self {
        Self {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or("").to_owned(),
            status: 0,
            user_agent: req
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            user: String::new(),
            message: String::new(),
        }
    }

    /// Whether this was a watch request.
    pub fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1")
    }
}

#[derive(Debug, Default)]
pub(crate) struct RequestLog(VecDeque<RequestRecord>);

impl RequestLog {
    pub(crate) fn push(&mut self, record: RequestRecord) {
        self.0.push_back(record);
        while self.0.len() > KEEP {
            self.0.pop_front();
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.0.iter().cloned().collect()
    }
}
