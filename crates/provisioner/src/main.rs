//! `sepia-provisioner`: flags → telemetry → sidecar runtime (kube client, CSI handshake,
//! NATS) → the provisioner's watch loops, run while holding the Lease. Wiring only.

use std::process::ExitCode;

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use provisioner::args::Args;
use provisioner::metrics::ProvisionerMetrics;
use provisioner::plan::PlanSettings;
use provisioner::source::data_source::SourceRules;
use provisioner::watch::{self, Parts};
use sidecar::leader_election::lease_name;
use sidecar::{Sidecar, SidecarCommand};

#[tokio::main]
async fn main() -> ExitCode {
    sidecar::launch(sidecar::startup::command::parse::<Args>(), run).await
}

async fn run(args: Args) -> Result<(), sidecar::SidecarError> {
    args.validate_own()
        .map_err(|rule| sidecar::SidecarError::InvalidArguments { rule })?;
    let mut sidecar = Sidecar::start(args.sidecar.clone(), Args::COMPONENT).await?;
    let driver = sidecar.csi.driver().clone();
    if !driver.has_controller(ControllerCap::CreateDeleteVolume) {
        return Err(sidecar::SidecarError::DriverUnusable {
            driver: driver.name,
            reason: "it does not advertise CREATE_DELETE_VOLUME".to_owned(),
        });
    }
    let metrics = ProvisionerMetrics::register(&mut sidecar.registry);
    let parts = Parts {
        handles: sidecar.handles(),
        wakeups: sidecar.wakeups.clone(),
        metrics,
        settings: PlanSettings {
            name_prefix: args.volume_name_prefix.clone(),
            default_fs_type: args.default_fstype.clone(),
            extra_metadata: args.extra_create_metadata,
            single_node_multi_writer: driver.has_controller(ControllerCap::SingleNodeMultiWriter),
        },
        sources: SourceRules {
            prevent_volume_mode_conversion: args.prevent_volume_mode_conversion,
            cross_namespace: args
                .sidecar
                .feature_gates()
                .get("CrossNamespaceVolumeDataSource")
                .copied()
                .unwrap_or(false),
        },
        loop_settings: sidecar.loop_settings(args.resync_period),
    };
    let lease = lease_name::provisioner(&driver.name);
    sidecar
        .run(lease, move |stop| watch::run(parts, stop))
        .await
}
