//! The questions `/healthz` asks. A component supplies the answers as functions because only it
//! knows what "healthy" means: a sidecar is unhealthy when its leader Lease went stale, the node
//! plugin when its CSI socket is gone. Named checks are also served alone under
//! `/healthz/<name>`, as Kubernetes components and the kubernetes-csi sidecars serve theirs
//! (`/healthz/leader-election`, which upstream's manifests probe).

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

/// Every check of a component: `/healthz` is healthy when all are, `/healthz/<name>` answers
/// for one named check.
#[derive(Clone, Debug, Default)]
pub struct HealthChecks {
    checks: Vec<(Option<&'static str>, HealthCheck)>,
}

impl HealthChecks {
    /// Adds a check served under `/healthz/<name>` as well as in `/healthz`. `name` must be a
    /// plain path segment (letters, digits, `-`).
    pub fn with(mut self, name: &'static str, check: HealthCheck) -> Self {
        self.checks.push((Some(name), check));
        self
    }

    /// The names served under `/healthz/`.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.checks.iter().filter_map(|(name, _)| *name)
    }

    /// The named check, if there is one.
    pub fn named(&self, name: &str) -> Option<&HealthCheck> {
        self.checks
            .iter()
            .find(|(n, _)| *n == Some(name))
            .map(|(_, check)| check)
    }

    /// All checks at once: the first unhealthy one (prefixed with its name), else healthy.
    pub fn check(&self) -> Health {
        for (name, check) in &self.checks {
            if let Health::Unhealthy(reason) = check.check() {
                return Health::Unhealthy(match name {
                    Some(name) => format!("{name}: {reason}"),
                    None => reason,
                });
            }
        }
        Health::Healthy
    }
}

/// A single check without a name: only in `/healthz`.
impl From<HealthCheck> for HealthChecks {
    fn from(check: HealthCheck) -> Self {
        Self {
            checks: vec![(None, check)],
        }
    }
}
