//! The provisioning counters of sig-storage-lib-external-provisioner, by the same names and
//! labels, so upstream dashboards show Sepia too.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClaimLabels {
    class: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VolumeLabels {
    class: String,
}

type Durations<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 14))
}

#[derive(Clone, Debug)]
pub struct ProvisionerMetrics {
    provisioned: Family<ClaimLabels, Counter>,
    provision_failed: Family<ClaimLabels, Counter>,
    provision_duration: Durations<ClaimLabels>,
    deleted: Family<VolumeLabels, Counter>,
    delete_failed: Family<VolumeLabels, Counter>,
    delete_duration: Durations<VolumeLabels>,
}

impl ProvisionerMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            provisioned: Family::default(),
            provision_failed: Family::default(),
            provision_duration: Family::new_with_constructor(duration_histogram),
            deleted: Family::default(),
            delete_failed: Family::default(),
            delete_duration: Family::new_with_constructor(duration_histogram),
        };
        registry.register(
            "controller_persistentvolumeclaim_provision",
            "Total number of persistent volumes provisioned successfully",
            m.provisioned.clone(),
        );
        registry.register(
            "controller_persistentvolumeclaim_provision_failed",
            "Total number of persistent volume provision failures",
            m.provision_failed.clone(),
        );
        registry.register(
            "controller_persistentvolumeclaim_provision_duration_seconds",
            "Latency in seconds to provision persistent volumes",
            m.provision_duration.clone(),
        );
        registry.register(
            "controller_persistentvolume_delete",
            "Total number of persistent volumes deleted successfully",
            m.deleted.clone(),
        );
        registry.register(
            "controller_persistentvolume_delete_failed",
            "Total number of persistent volume delete failures",
            m.delete_failed.clone(),
        );
        registry.register(
            "controller_persistentvolume_delete_duration_seconds",
            "Latency in seconds to delete persistent volumes",
            m.delete_duration.clone(),
        );
        m
    }

    pub fn provision(&self, class: &str, source: &str, ok: bool, took: Duration) {
        let labels = ClaimLabels {
            class: class.to_owned(),
            source: source.to_owned(),
        };
        if ok {
            self.provisioned.get_or_create(&labels).inc();
            self.provision_duration
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        } else {
            self.provision_failed.get_or_create(&labels).inc();
        }
    }

    pub fn delete(&self, class: &str, ok: bool, took: Duration) {
        let labels = VolumeLabels {
            class: class.to_owned(),
        };
        if ok {
            self.deleted.get_or_create(&labels).inc();
            self.delete_duration
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        } else {
            self.delete_failed.get_or_create(&labels).inc();
        }
    }
}
