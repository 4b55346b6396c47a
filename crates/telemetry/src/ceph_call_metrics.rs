//! `sepia_ceph_call_seconds{operation,outcome}`: how long each librados/librbd call took, fed
//! by the ceph crate's call observer (every Ceph call passes its one blocking-call wrapper).
//! The operation is the wrapper's short name (`omap_get_by_keys`, `rbd_clone3`): a few dozen
//! values, never an object or image name. Prefixed, unlike the gRPC metrics, because the Ceph
//! mgr's exporter owns the `ceph_` names.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Seconds: a healthy OSD answers in milliseconds, a connect or a flatten takes seconds, and
/// the deadlines end at tens of seconds.
pub const CEPH_CALL_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    outcome: &'static str,
}

type Durations = Family<CallLabels, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    Histogram::new(CEPH_CALL_BUCKETS)
}

/// Ceph call latencies. Cheap to clone; clones share the histograms.
#[derive(Clone, Debug)]
pub struct CephCallMetrics {
    durations: Durations,
}

impl CephCallMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let durations = Durations::new_with_constructor(new_histogram);
        registry.register_with_unit(
            "sepia_ceph_call",
            "Time taken by librados/librbd calls, by operation and outcome (ok, error, timeout)",
            Unit::Seconds,
            durations.clone(),
        );
        Self { durations }
    }

    /// Records one finished call.
    pub fn observe(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        self.durations
            .get_or_create(&CallLabels { operation, outcome })
            .observe(took.as_secs_f64());
    }

    /// The same as a closure, in the shape `ceph::observe_calls` takes (neither crate depends
    /// on the other).
    pub fn observer(
        &self,
    ) -> impl Fn(&'static str, &'static str, Duration) + Send + Sync + 'static {
        let metrics = self.clone();
        move |operation, outcome, took| metrics.observe(operation, outcome, took)
    }
}
