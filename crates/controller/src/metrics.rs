//! The controller's metrics besides the per-RPC and Ceph-call ones every plugin has
//! (`telemetry::plugin_endpoint`): lock contention and background work. Labels are kinds,
//! never ids:
//!
//! - `sepia_lock_contention_total{lock,holder}` — attempts to take a lock that found it held,
//!   without waiting: the request answers ABORTED (a repeated CreateSnapshot or the start-up
//!   resume finding a preparation under way skip it instead). `lock` is `request_name`, `id`
//!   (a volume's or snapshot's shared/exclusive lock), `prepare` or `publish`; `holder` is
//!   `this_process` (the in-memory half refused) or `other_process` (RADOS refused: another
//!   controller holds it).
//! - `sepia_background_tasks_running{task}` — work this process runs after the reply
//!   (`snapshot_preparation`);
//! - `sepia_background_tasks_finished_total{task,outcome}` — the same when done (`ok`,
//!   `failed`, `abandoned`: a simulated crash or a runtime shutting down);
//! - `sepia_background_tasks_queued_total{task}` — work handed to the Ceph mgr (`flatten`,
//!   `trash_purge`), which runs it outside any controller.
//!
//! One [`Metrics`] (with the CSI server's `telemetry::GrpcMetrics`) lives in the
//! [`crate::Settings`]; its `Default` is registered nowhere (tests,
//! embedding), the binary registers it in the served registry.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Which lock refused a request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Lock {
    request_name,
    id,
    prepare,
    publish,
}

/// Where the holder of a contended lock is.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Holder {
    this_process,
    other_process,
}

/// Work that goes on after a reply.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Task {
    snapshot_preparation,
    flatten,
    trash_purge,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum Outcome {
    ok,
    failed,
    abandoned,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContentionLabels {
    lock: Lock,
    holder: Holder,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: Task,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedLabels {
    task: Task,
    outcome: Outcome,
}

/// See the module doc. Cheap to clone; clones share the counters.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// The CSI server's per-RPC metrics (from `telemetry::PluginTelemetry::grpc`), for the
    /// server's layer.
    pub grpc: telemetry::GrpcMetrics,
    contention: Family<ContentionLabels, Counter>,
    running: Family<TaskLabels, Gauge>,
    finished: Family<FinishedLabels, Counter>,
    queued: Family<TaskLabels, Counter>,
}

impl Metrics {
    /// The plugin's gRPC metrics, and the controller's families registered next to them.
    pub fn register(telemetry: &mut telemetry::PluginTelemetry) -> Self {
        let grpc = telemetry.grpc();
        Self::register_in(telemetry.registry(), grpc)
    }

    fn register_in(registry: &mut Registry, grpc: telemetry::GrpcMetrics) -> Self {
        let metrics = Self {
            grpc,
            ..Self::default()
        };
        let sepia = registry.sub_registry_with_prefix("sepia");
        sepia.register(
            "lock_contention",
            "Lock attempts that found the lock held (the request answers ABORTED), by lock and where its holder is",
            metrics.contention.clone(),
        );
        sepia.register(
            "background_tasks_running",
            "Background work this controller runs now, by task",
            metrics.running.clone(),
        );
        sepia.register(
            "background_tasks_finished",
            "Background work this controller finished, by task and outcome",
            metrics.finished.clone(),
        );
        sepia.register(
            "background_tasks_queued",
            "Background work handed to the Ceph mgr, by task",
            metrics.queued.clone(),
        );
        metrics
    }

    /// A request was refused because `lock` was held.
    pub fn contended(&self, lock: Lock, holder: Holder) {
        self.contention
            .get_or_create(&ContentionLabels { lock, holder })
            .inc();
    }

    /// `task` was handed to the mgr.
    pub fn queued(&self, task: Task) {
        self.queued.get_or_create(&TaskLabels { task }).inc();
    }

    /// `task` starts here; running until the returned guard finishes or is dropped.
    pub fn running(&self, task: Task) -> Running {
        let gauge = self.running.get_or_create(&TaskLabels { task }).clone();
        gauge.inc();
        Running {
            metrics: self.clone(),
            task,
            gauge,
            outcome: Outcome::abandoned,
        }
    }
}

/// A background task in progress (see [`Metrics::running`]).
#[must_use = "the task counts as running until this is dropped"]
pub struct Running {
    metrics: Metrics,
    task: Task,
    gauge: Gauge,
    outcome: Outcome,
}

impl Running {
    /// The task ends now, successfully or not.
    pub fn finish(mut self, ok: bool) {
        self.outcome = if ok { Outcome::ok } else { Outcome::failed };
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.gauge.dec();
        self.metrics
            .finished
            .get_or_create(&FinishedLabels {
                task: self.task,
                outcome: self.outcome,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn contention_and_tasks_are_counted_by_kind() {
        let mut registry = Registry::default();
        let metrics = Metrics::register_in(&mut registry, telemetry::GrpcMetrics::default());
        metrics.contended(Lock::id, Holder::this_process);
        metrics.contended(Lock::id, Holder::this_process);
        metrics.contended(Lock::request_name, Holder::other_process);
        metrics.queued(Task::flatten);
        let done = metrics.running(Task::snapshot_preparation);
        let crashed = metrics.running(Task::snapshot_preparation);
        assert!(
            encoded(&registry)
                .contains("sepia_background_tasks_running{task=\"snapshot_preparation\"} 2")
        );
        done.finish(true);
        drop(crashed);
        let text = encoded(&registry);
        for line in [
            "sepia_lock_contention_total{lock=\"id\",holder=\"this_process\"} 2",
            "sepia_lock_contention_total{lock=\"request_name\",holder=\"other_process\"} 1",
            "sepia_background_tasks_queued_total{task=\"flatten\"} 1",
            "sepia_background_tasks_running{task=\"snapshot_preparation\"} 0",
            "sepia_background_tasks_finished_total{task=\"snapshot_preparation\",outcome=\"ok\"} 1",
            "sepia_background_tasks_finished_total{task=\"snapshot_preparation\",outcome=\"abandoned\"} 1",
        ] {
            assert!(text.contains(line), "{line}\nnot in\n{text}");
        }
    }
}
