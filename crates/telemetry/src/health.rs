//! The question `/healthz` asks. A component supplies the answer as a function because only it
//! knows what "healthy" means: a sidecar is unhealthy when its leader Lease went stale, the node
//! plugin when its CSI socket is gone.

use std::sync::Arc;

/// One health verdict. The reason is served verbatim in the `/healthz` body, so it must never
/// contain secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy(String),
}

/// A cheap, cloneable handle to the component's health function. Called on every `/healthz`
/// request, so it should read state, not do I/O.
#[derive(Clone)]
pub struct HealthCheck(Arc<dyn Fn() -> Health + Send + Sync>);

impl HealthCheck {
    pub fn new(check: impl Fn() -> Health + Send + Sync + 'static) -> Self {
        Self(Arc::new(check))
    }

    /// For components with no liveness condition beyond "the process answers".
    pub fn always_healthy() -> Self {
        Self::new(|| Health::Healthy)
    }

    pub fn check(&self) -> Health {
        (self.0)()
    }
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HealthCheck").field(&self.check()).finish()
    }
}
