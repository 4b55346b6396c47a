//! What a cluster would show while a scenario runs, turned into a failure at once instead of a
//! step timing out minutes later: a process that exited (a flag it refused, a crash), a request
//! the API refused for want of RBAC (401/403: a verb or resource the manifests do not grant),
//! a liveness probe failing as often as the manifest's failureThreshold (kubelet would restart
//! the container).

use std::time::Duration;

use anyhow::{Result, bail};
use kube_standin::{RequestRecord, StandIn};
use tokio::time::Instant;

use super::probe::HttpProbe;
use super::processes::Processes;

const POLL: Duration = Duration::from_millis(500);

/// Every refused request so far, one line per distinct refusal (who, what, and what the API
/// answered), with how often it was repeated.
pub fn refusals(standin: &StandIn) -> Vec<String> {
    let mut distinct: Vec<(String, usize)> = Vec::new();
    for record in standin
        .requests()
        .iter()
        .filter(|r| r.status == 401 || r.status == 403)
    {
        let line = describe(record);
        match distinct.iter_mut().find(|(l, _)| *l == line) {
            Some((_, count)) => *count += 1,
            None => distinct.push((line, 1)),
        }
    }
    distinct
        .into_iter()
        .map(|(line, count)| {
            if count == 1 {
                line
            } else {
                format!("{line} (×{count})")
            }
        })
        .collect()
}

fn describe(r: &RequestRecord) -> String {
    let user = if r.user.is_empty() {
        "(not authenticated)"
    } else {
        &r.user
    };
    format!(
        "{} {} {} → {} {}",
        user, r.method, r.path, r.status, r.message
    )
}

/// Fails on the first refused request or exited process.
pub fn check(standin: &StandIn, processes: &Processes) -> Result<()> {
    processes.check_running()?;
    let refused = refusals(standin);
    if !refused.is_empty() {
        bail!(
            "the API refused requests of the binaries under the manifests' RBAC ({} distinct):\n  {}",
            refused.len(),
            refused.join("\n  ")
        );
    }
    Ok(())
}

/// One container's probe and its kubelet-side state.
struct Probed {
    label: String,
    probe: HttpProbe,
    next: Instant,
    failures: u32,
    passed: bool,
}

/// Every container's liveness probe, probed as kubelet does: on its period after its initial
/// delay, failed after failureThreshold failures in a row.
pub struct Liveness {
    probes: Vec<Probed>,
}

impl Liveness {
    pub fn new(probes: Vec<(String, HttpProbe)>) -> Self {
        let now = Instant::now();
        Self {
            probes: probes
                .into_iter()
                .map(|(label, probe)| Probed {
                    next: now + probe.initial_delay,
                    label,
                    probe,
                    failures: 0,
                    passed: false,
                })
                .collect(),
        }
    }

    /// Probes whatever is due; fails when one has failed `failureThreshold` times in a row.
    pub async fn due(&mut self) -> Result<()> {
        for p in &mut self.probes {
            if Instant::now() < p.next {
                continue;
            }
            p.next = Instant::now() + p.probe.period;
            match p.probe.check().await {
                Ok(()) => {
                    p.failures = 0;
                    p.passed = true;
                }
                Err(error) => {
                    p.failures += 1;
                    if p.failures >= p.probe.failure_threshold {
                        bail!(
                            "{}: liveness probe failed {} times in a row (kubelet would restart \
                             it): {error:#}",
                            p.label,
                            p.failures
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps probing until every probe has passed at least once (a short scenario may end
    /// before the first probe is due); fails as [`Liveness::due`] does.
    pub async fn until_all_passed(&mut self) -> Result<()> {
        while self.probes.iter().any(|p| !p.passed) {
            self.due().await?;
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }
}

/// Runs until something fails; returns that failure.
pub async fn watch(
    standin: &StandIn,
    processes: &Processes,
    liveness: &mut Liveness,
) -> anyhow::Error {
    loop {
        let checked = match check(standin, processes) {
            Ok(()) => liveness.due().await,
            Err(error) => Err(error),
        };
        if let Err(error) = checked {
            return error;
        }
        tokio::time::sleep(POLL).await;
    }
}
