//! `csi_sidecar_operations_seconds`: the latency histogram of every CSI call a sidecar makes,
//! with the name, labels and buckets of kubernetes-csi's csi-lib-utils, so dashboards and alerts
//! written for the upstream sidecars work unchanged.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// csi-lib-utils' buckets (seconds): CSI calls range from sub-second probes to many-minute
/// clones, hence the long tail.
pub const CSI_OPERATION_BUCKETS: [f64; 13] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 25.0, 50.0, 120.0, 300.0, 600.0,
];

const METRIC_NAME: &str = "csi_sidecar_operations_seconds";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    driver_name: String,
    method_name: String,
    grpc_status_code: String,
}

type HistogramFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    Histogram::new(CSI_OPERATION_BUCKETS)
}

/// Records CSI call latencies for one driver. Cheap to clone; clones share the histograms.
#[derive(Clone, Debug)]
pub struct CsiOperationMetrics {
    driver_name: String,
    operations: HistogramFamily,
}

impl CsiOperationMetrics {
    /// Registers the histogram in `registry`. `driver_name` is the CSI driver's name as
    /// GetPluginInfo reports it (the `driver_name` label).
    pub fn register(registry: &mut Registry, driver_name: impl Into<String>) -> Self {
        let operations = HistogramFamily::new_with_constructor(new_histogram);
        registry.register(
            METRIC_NAME,
            "Time taken by CSI operations",
            operations.clone(),
        );
        Self {
            driver_name: driver_name.into(),
            operations,
        }
    }

    /// Records one finished call. `method` is the full gRPC method, e.g.
    /// `/csi.v1.Controller/CreateVolume`, as csi-lib-utils labels it.
    pub fn observe(&self, method: &str, code: tonic::Code, duration: Duration) {
        let labels = OperationLabels {
            driver_name: self.driver_name.clone(),
            method_name: method.to_owned(),
            grpc_status_code: grpc_code_name(code).to_owned(),
        };
        self.operations
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }
}

/// The status code spelled as Go's `codes.Code.String()` spells it, which is what the upstream
/// sidecars put in `grpc_status_code`.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}
