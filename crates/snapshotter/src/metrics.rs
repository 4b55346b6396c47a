//! snapshot-controller's operation histogram, by upstream's name and labels
//! (`snapshot_controller_operation_total_seconds{driver_name, operation_name, operation_status,
//! snapshot_type}`), plus a counter of readiness polls (the price of our short poll).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use telemetry::CSI_OPERATION_BUCKETS;

/// `operation_name` values upstream uses.
pub mod operation {
    /// From VolumeSnapshot creation to readyToUse.
    pub const CREATE_AND_READY: &str = "CreateSnapshotAndReady";
    /// From the VolumeSnapshot's deletion to its last finalizer going.
    pub const DELETE: &str = "DeleteSnapshot";
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    driver_name: String,
    operation_name: String,
    operation_status: String,
    snapshot_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    driver_name: String,
}

type Durations = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn histogram() -> Histogram {
    Histogram::new(CSI_OPERATION_BUCKETS)
}

/// Cheap to clone; clones share the metrics.
#[derive(Clone, Debug)]
pub struct SnapshotMetrics {
    operations: Durations,
    polls: Family<PollLabels, Counter>,
}

impl SnapshotMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            operations: Durations::new_with_constructor(histogram),
            polls: Family::default(),
        };
        registry.register(
            "snapshot_controller_operation_total_seconds",
            "Total number of seconds spent by the controller on an operation",
            metrics.operations.clone(),
        );
        registry.register(
            "sepia_snapshotter_ready_polls",
            "Calls made to learn whether a not-ready snapshot became ready",
            metrics.polls.clone(),
        );
        metrics
    }

    /// One finished operation. `pre_provisioned` picks `snapshot_type`.
    pub fn operation(
        &self,
        driver: &str,
        name: &str,
        success: bool,
        pre_provisioned: bool,
        took: Duration,
    ) {
        let labels = OperationLabels {
            driver_name: driver.to_owned(),
            operation_name: name.to_owned(),
            operation_status: if success { "success" } else { "unknown" }.to_owned(),
            snapshot_type: if pre_provisioned {
                "pre-provisioned"
            } else {
                "dynamic"
            }
            .to_owned(),
        };
        self.operations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// One readiness poll.
    pub fn poll(&self, driver: &str) {
        self.polls
            .get_or_create(&PollLabels {
                driver_name: driver.to_owned(),
            })
            .inc();
    }
}
