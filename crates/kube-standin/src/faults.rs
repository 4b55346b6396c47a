//! Fault injection: make the next N matching requests fail, stall or drop their connection, so
//! a sidecar's retry and requeue logic can be exercised against a server that misbehaves the way
//! real ones do (a 500 from etcd trouble, a 409 from a racing writer, a slow response, a reset).

use std::time::Duration;

use http::Method;

use crate::status::ApiError;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this error instead of serving the request.
    Fail(ApiError),
    /// Wait, then serve the request normally.
    Delay(Duration),
    /// Close the connection without answering.
    Disconnect,
}

/// A rule: requests with this method (any if `None`) whose path contains `path_contains`, the
/// next `times` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    method: Option<Method>,
    path_contains: String,
    remaining: usize,
    action: FaultAction,
}

impl Fault {
    /// Matches every request whose path contains `path_contains`, once, failing it with 500.
    pub fn on_path(path_contains: impl Into<String>) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            remaining: 1,
            action: FaultAction::Fail(ApiError::new(500, "InternalError", "injected fault")),
        }
    }

    /// Only requests with this method (`"PATCH"`, `"PUT"`, …).
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Apply to the next `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = n;
        self
    }

    /// Fail with this HTTP code (reason derived from it: `Conflict`, `InternalError`, …).
    /// Note that kube's default client retries 429, 503 and 504 by itself (up to 15 times with
    /// backoff), so those reach the caller only once the rule's `times` exceeds that.
    pub fn fail_with(mut self, code: u16) -> Self {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        self.action = FaultAction::Fail(ApiError::new(
            code,
            reason,
            format!("injected fault ({code})"),
        ));
        self
    }

    /// Fail with exactly this error.
    pub fn fail(mut self, error: ApiError) -> Self {
        self.action = FaultAction::Fail(error);
        self
    }

    /// Delay matching requests.
    pub fn delay(mut self, by: Duration) -> Self {
        self.action = FaultAction::Delay(by);
        self
    }

    /// Drop the connection of matching requests.
    pub fn disconnect(mut self) -> Self {
        self.action = FaultAction::Disconnect;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.remaining > 0
            && self.method.as_ref().is_none_or(|m| m == method)
            && path.contains(&self.path_contains)
    }
}

/// The active rules, consumed as they fire.
#[derive(Debug, Default)]
pub(crate) struct Faults(Vec<Fault>);

impl Faults {
    pub(crate) fn add(&mut self, fault: Fault) {
        self.0.push(fault);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The action for this request, consuming one use of the first matching rule.
    pub(crate) fn take(&mut self, method: &Method, path: &str) -> Option<FaultAction> {
        let fault = self.0.iter_mut().find(|f| f.matches(method, path))?;
        fault.remaining -= 1;
        let action = fault.action.clone();
        self.0.retain(|f| f.remaining > 0);
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_the_requested_number_of_times_for_matching_requests_only() {
        let mut faults = Faults::default();
        faults.add(
            Fault::on_path("/leases/")
                .method(Method::PATCH)
                .times(2)
                .fail_with(409),
        );
        assert_eq!(
            faults.take(
                &Method::GET,
                "/apis/coordination.k8s.io/v1/namespaces/d/leases/x"
            ),
            None
        );
        for _ in 0..2 {
            match faults.take(
                &Method::PATCH,
                "/apis/coordination.k8s.io/v1/namespaces/d/leases/x",
            ) {
                Some(FaultAction::Fail(e)) => {
                    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            faults.take(
                &Method::PATCH,
                "/apis/coordination.k8s.io/v1/namespaces/d/leases/x"
            ),
            None
        );
    }
}
