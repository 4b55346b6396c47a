//! Runs one phase: the same operation over many inputs, at most `concurrency` at a time, timing
//! each one from its start to its answer.
//!
//! Every operation is its own tokio task (a permit of a semaphore is taken before spawning), so
//! `concurrency` operations really are in flight together on the multi-threaded runtime, as
//! `concurrency` provisioner workers would be.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::outcome::{ErrorTally, OpError};
use crate::stats::{Summary, summarize};

/// What a successful operation hands to the next phase.
#[derive(Debug, Clone)]
pub struct Done<T> {
    pub value: T,
    /// When the first answer was not final (a snapshot not yet `ready_to_use`, polled until it
    /// was): the time of that first answer. The operation's own latency is then the time until
    /// ready. `None` when the first answer was final.
    pub first_reply: Option<Duration>,
}

impl<T> Done<T> {
    pub fn now(value: T) -> Done<T> {
        Done {
            value,
            first_reply: None,
        }
    }
}

/// One line of the report: an operation measured in one way.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// The CSI operation this measures (`CreateVolume`).
    pub op: &'static str,
    /// `csi`, `floor` or `floor-bare`.
    pub variant: &'static str,
    /// What exactly was timed (`journal+create+id`, `rbd create only`).
    pub detail: String,
    pub attempted: usize,
    /// Latency to the first answer.
    pub latency: Summary,
    /// Latency until ready, when some first answers were not final (`ready_to_use=false`);
    /// `None` when every first answer was final (then it equals `latency`).
    pub ready: Option<Summary>,
    pub errors: ErrorTally,
}

/// A finished phase: its report line and, per input (same order), the successful outputs.
pub struct Phase<T> {
    pub result: PhaseResult,
    pub outputs: Vec<Option<T>>,
}

/// Describes a phase before it runs.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    pub op: &'static str,
    pub variant: &'static str,
    pub detail: String,
    pub concurrency: usize,
}

/// Runs `op` once per input, at most `spec.concurrency` at a time.
pub async fn run_phase<I, T, F, Fut>(spec: PhaseSpec, inputs: Vec<I>, op: F) -> Phase<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Done<T>, OpError>> + Send + 'static,
{
    let attempted = inputs.len();
    let op = Arc::new(op);
    let permits = Arc::new(Semaphore::new(spec.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut errors = ErrorTally::default();
    let started = Instant::now();
    for (index, input) in inputs.into_iter().enumerate() {
        // Only a closed semaphore refuses a permit, and this one is never closed.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            errors.record(&OpError::new("TASK_FAILED", "concurrency limiter closed"));
            continue;
        };
        let op = Arc::clone(&op);
        tasks.spawn(async move {
            let _permit = permit;
            let start = Instant::now();
            let outcome = op(input).await;
            (index, start.elapsed(), outcome)
        });
    }
    let mut outputs: Vec<Option<T>> = (0..attempted).map(|_| None).collect();
    let mut replies = Vec::with_capacity(attempted);
    let mut until_ready = Vec::with_capacity(attempted);
    let mut answered_early = false;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, latency, Ok(done))) => {
                answered_early |= done.first_reply.is_some();
                replies.push(done.first_reply.unwrap_or(latency));
                until_ready.push(latency);
                if let Some(slot) = outputs.get_mut(index) {
                    *slot = Some(done.value);
                }
            }
            Ok((_, _, Err(err))) => errors.record(&err),
            Err(join) => errors.record(&OpError::new("TASK_FAILED", join.to_string())),
        }
    }
    let wall = started.elapsed();
    let failed = errors.total();
    let ready = answered_early.then(|| summarize(&until_ready, failed, wall));
    Phase {
        result: PhaseResult {
            op: spec.op,
            variant: spec.variant,
            detail: spec.detail,
            attempted,
            latency: summarize(&replies, failed, wall),
            ready,
            errors,
        },
        outputs,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn phase_bounds_concurrency_keeps_input_order_and_counts_failures() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let spec = PhaseSpec {
            op: "CreateVolume",
            variant: "csi",
            detail: "test".into(),
            concurrency: 3,
        };
        let (flight, top) = (Arc::clone(&in_flight), Arc::clone(&peak));
        let phase = run_phase(spec, (0..20u32).collect(), move |i| {
            let (flight, top) = (Arc::clone(&flight), Arc::clone(&top));
            async move {
                let now = flight.fetch_add(1, Ordering::SeqCst) + 1;
                top.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
                flight.fetch_sub(1, Ordering::SeqCst);
                if i % 5 == 4 {
                    Err(OpError::new("INTERNAL", format!("op {i} failed")))
                } else {
                    Ok(Done::now(i * 10))
                }
            }
        })
        .await;
        assert!(
            peak.load(Ordering::SeqCst) <= 3,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
        assert_eq!(phase.result.attempted, 20);
        assert_eq!(phase.result.latency.ok, 16);
        assert_eq!(phase.result.latency.failed, 4);
        assert_eq!(phase.result.errors.by_code.get("INTERNAL"), Some(&4));
        assert!(phase.result.ready.is_none());
        for (i, out) in phase.outputs.iter().enumerate() {
            let want = (i % 5 != 4).then_some(i as u32 * 10);
            assert_eq!(*out, want, "output {i}");
        }
    }

    #[tokio::test]
    async fn early_answers_report_reply_and_ready_latency_separately() {
        let spec = PhaseSpec {
            op: "CreateSnapshot",
            variant: "csi",
            detail: "test".into(),
            concurrency: 2,
        };
        let phase = run_phase(spec, vec![(); 4], |()| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(Done {
                value: (),
                first_reply: Some(Duration::from_millis(1)),
            })
        })
        .await;
        let ready = phase.result.ready.expect("some answers were not final");
        assert_eq!(phase.result.latency.p99_ms, 1.0);
        assert!(ready.p50_ms >= 30.0, "{ready:?}");
    }
}
