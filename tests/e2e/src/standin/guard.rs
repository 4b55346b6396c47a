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

/// Every container's liveness probe, probed on its period after its initial delay.
pub struct Liveness {
    probes: Vec<(String, HttpProbe, Instant, u32)>,
}

impl Liveness {
    pub fn new(probes: Vec<(String, HttpProbe)>) -> Self {
        let now = Instant::now();
        Self {
            probes: probes
                .into_iter()
                .map(|(label, p)| {
                    let first = now + p.initial_delay;
                    (label, p, first, 0)
                })
                .collect(),
        }
    }

    /// Probes whatever is due; fails when one has failed `failureThreshold` times in a row.
    pub async fn due(&mut self) -> Result<()> {
        for (label, probe, next, failures) in &mut self.probes {
            if Instant::now() < *next {
                continue;
            }
            *next = Instant::now() + probe.period;
            match probe.check().await {
                Ok(()) => *failures = 0,
                Err(error) => {
                    *failures += 1;
                    if *failures >= probe.failure_threshold {
                        bail!(
                            "{label}: liveness probe failed {failures} times in a row (kubelet \
                             would restart it): {error:#}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Every probe once, now: each must succeed.
    pub async fn all_now(&self) -> Result<()> {
        for (label, probe, _, _) in &self.probes {
            if let Err(error) = probe.check().await {
                bail!("{label}: liveness probe: {error:#}");
            }
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
