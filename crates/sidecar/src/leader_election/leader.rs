//! Lease leader election with client-go's semantics: acquire when the Lease is free or its
//! holder stopped renewing for a lease duration (judged by when *we* saw the record change, so
//! clock skew between nodes does not matter); renew every retry period; a leader that cannot
//! renew within the renew deadline gives up (fail-stop — see [`super::leadership`] for what
//! stops and when) because after that point another replica may already lead.
//!
//! The timings, with `LD` = `--leader-election-lease-duration` (15 s), `RD` =
//! `--leader-election-renew-deadline` (10 s), `RP` = `--leader-election-retry-period` (5 s) and
//! `S` = the moment the leader *sent* its last successful renewal (not when the answer came
//! back: the API server may have stored it any time after `S`):
//! - a standby takes the Lease no earlier than `LD` after it saw the last renewal, and it saw
//!   it after it was stored, so never before `S + LD`;
//! - the leader tries to renew every `RP`; with none succeeding since `S` it gives up at
//!   `S + RD`, and its workers are aborted and the process exits within
//!   [`super::fail_stop::FAIL_STOP_GRACE`] (an OS-thread watchdog aborts the process at
//!   `S + RD + FAIL_STOP_GRACE` if anything hangs);
//! - so the flags must satisfy `RD + FAIL_STOP_GRACE < LD` (checked at start-up) and the old
//!   leader has stopped before anyone else may act. `RD > 1.2·RP` is client-go's own rule.
//!
//! Not kube-lease-manager: it takes whole seconds, has no renew deadline and does not report
//! when it last renewed, so neither the fail-stop rule nor a stale-lease health check could be
//! built on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use parking_lot::Mutex;
use telemetry::Health;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::SidecarError;

/// csi-lib-utils' `DefaultHealthCheckTimeout`: `/healthz` fails once the lease has been
/// expired for this long without the process noticing.
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Which Lease, who we are, and the three client-go durations.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    /// `--leader-election-labels`: put on the Lease by the replica that holds it.
    pub labels: BTreeMap<String, String>,
}

/// What the rest of the process (and `/healthz`) may ask about leadership.
#[derive(Debug, Clone, Default)]
pub struct LeaderStatus(Arc<Mutex<StatusInner>>);

#[derive(Debug, Default)]
struct StatusInner {
    leading: bool,
    /// When the last successful acquire or renewal was *sent*.
    last_renewal: Option<Instant>,
}

impl LeaderStatus {
    pub fn is_leader(&self) -> bool {
        self.0.lock().leading
    }

    /// When the last successful acquire or renewal was sent (the `S` of the module docs);
    /// kept after stepping down, because the deadline it sets still binds this process.
    pub fn last_renewal(&self) -> Option<Instant> {
        self.0.lock().last_renewal
    }

    pub(crate) fn renewed(&self, at: Instant) {
        let mut inner = self.0.lock();
        inner.leading = true;
        inner.last_renewal = Some(at);
    }

    fn stepped_down(&self) {
        self.0.lock().leading = false;
    }

    /// Unhealthy when this replica leads but its last renewal is older than the lease
    /// duration plus [`HEALTH_CHECK_TIMEOUT`]: a renew loop that hangs instead of failing.
    pub fn health(&self, lease_duration: Duration, now: Instant) -> Health {
        let inner = self.0.lock();
        match (inner.leading, inner.last_renewal) {
            (true, Some(renewed)) if now > renewed + lease_duration + HEALTH_CHECK_TIMEOUT => {
                Health::Unhealthy(format!(
                    "leader election lease not renewed for {:?}",
                    now - renewed
                ))
            }
            _ => Health::Healthy,
        }
    }
}

/// The record we last saw and when we saw it change (client-go's `observedTime`).
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    holder: String,
    renew_time: Option<String>,
    at: Instant,
}

/// One replica's side of the election.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    status: LeaderStatus,
    observed: Option<Observed>,
}

impl LeaderElector {
    /// `client` should be used for nothing else (see [`crate::kube_client::throttled_client`]).
    pub fn new(client: Client, config: LeaderElectionConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            status: LeaderStatus::default(),
            observed: None,
        }
    }

    pub fn status(&self) -> LeaderStatus {
        self.status.clone()
    }

    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// Waits until this replica holds the Lease. `false` if `shutdown` fired first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> bool {
        tracing::info!(lease = %self.config.lease_name, namespace = %self.config.namespace,
            identity = %self.config.identity, "waiting to acquire the leader Lease");
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity,
                        "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "acquiring the leader Lease failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(jittered(self.config.retry_period)) => {}
            }
        }
    }

    /// Renews every retry period while leading. Returns `Ok` when `shutdown` fires (still
    /// holding the Lease: call [`LeaderElector::release`] once the controllers have stopped,
    /// so no standby starts while they finish), and [`SidecarError::LeadershipLost`] when no
    /// renewal succeeded within the renew deadline.
    pub async fn keep(&mut self, shutdown: &CancellationToken) -> Result<(), SidecarError> {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
            let last_success = self.status.last_renewal().unwrap_or_else(Instant::now);
            let deadline = last_success + self.config.renew_deadline;
            loop {
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                    Ok(Ok(true)) => break,
                    Ok(Ok(false)) => tracing::warn!("renewing the leader Lease was refused"),
                    Ok(Err(error)) => tracing::warn!(%error, "renewing the leader Lease failed"),
                    Err(_elapsed) => {}
                }
                let next = Instant::now() + self.config.retry_period;
                if next >= deadline {
                    tokio::time::sleep_until(deadline).await;
                }
                if Instant::now() >= deadline {
                    self.status.stepped_down();
                    return Err(SidecarError::LeadershipLost {
                        namespace: self.config.namespace.clone(),
                        name: self.config.lease_name.clone(),
                        renew_deadline: self.config.renew_deadline,
                    });
                }
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep_until(next) => {}
                }
            }
        }
    }

    /// Gives the Lease up so a standby takes over at once instead of after a lease duration
    /// (upstream's optional `ReleaseLeaderElectionOnExit`). Best effort.
    pub async fn release(&mut self) {
        self.status.stepped_down();
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.lease_name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.lease_name, "released the leader Lease"),
            Err(error) => tracing::warn!(%error, "releasing the leader Lease failed"),
        }
    }

    /// One attempt: create the Lease, renew it if ours, or take it over if its holder stopped
    /// renewing. `Ok(false)` when someone else validly holds it or won a race.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        // Before any request: the API server stores the renewal no earlier than this.
        let sent = Instant::now();
        let now = Timestamp::now();
        let duration_secs = whole_seconds(self.config.lease_duration);
        let Some(mut lease) = self.api.get_opt(&self.config.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    labels: (!self.config.labels.is_empty()).then(|| self.config.labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.status.renewed(sent);
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let record = (
            holder.clone(),
            spec.renew_time.as_ref().map(|t| t.0.to_string()),
        );
        let seen_now = Instant::now();
        let observed_at = match &self.observed {
            Some(o) if (o.holder.clone(), o.renew_time.clone()) == record => o.at,
            _ => {
                self.observed = Some(Observed {
                    holder: record.0.clone(),
                    renew_time: record.1.clone(),
                    at: seen_now,
                });
                seen_now
            }
        };
        let ours = holder == self.config.identity;
        let their_duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        if !holder.is_empty() && !ours && seen_now < observed_at + their_duration {
            return Ok(false);
        }
        if !ours {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(duration_secs);
        spec.renew_time = Some(MicroTime(now));
        if !self.config.labels.is_empty() {
            lease
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(self.config.labels.clone());
        }
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.status.renewed(sent);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// `leaseDurationSeconds` is whole seconds; round up so a short test duration is never 0.
fn whole_seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// client-go waits `retry_period · (1 + rand·1.2)` between acquire attempts so replicas do not
/// collide in lockstep; a smaller spread (up to +20 %) keeps take-over fast.
fn jittered(period: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() % 1000) as u32;
    period + period * random / 5000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_seconds_round_up_and_never_reach_zero() {
        assert_eq!(whole_seconds(Duration::from_secs(15)), 15);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(10)), 1);
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(5));
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_secs(6),
                "{d:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn health_fails_only_for_a_leader_with_a_stale_renewal() {
        let status = LeaderStatus::default();
        let lease = Duration::from_secs(15);
        assert_eq!(status.health(lease, Instant::now()), Health::Healthy);
        status.renewed(Instant::now());
        assert_eq!(
            status.health(lease, Instant::now() + Duration::from_secs(34)),
            Health::Healthy
        );
        assert!(matches!(
            status.health(lease, Instant::now() + Duration::from_secs(36)),
            Health::Unhealthy(_)
        ));
        status.stepped_down();
        assert_eq!(
            status.health(lease, Instant::now() + Duration::from_secs(100)),
            Health::Healthy
        );
    }
}
