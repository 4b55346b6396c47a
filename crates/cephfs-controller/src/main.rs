//! `sepia-cephfs-controller`: flags and wiring only. See the library's module map for the rest.

use std::process::ExitCode;
use std::time::Duration;

use cephfs_controller::Driver;
use clap::Parser;
use controller::State;
use controller::settings::flags::{ControllerFlags, StartError, run_to_exit};
use tracing::{info, warn};

const COMPONENT: &str = "sepia-cephfs-controller";
/// How long a shutdown waits for queued events to reach NATS.
const EVENTS_FLUSH: Duration = Duration::from_secs(5);

/// CSI controller plugin for CephFS (ceph-csi compatible).
#[derive(Debug, Parser)]
#[command(version)]
struct Flags {
    #[command(flatten)]
    shared: ControllerFlags,
    /// CSI driver name (ceph-csi's, e.g. rook-ceph.cephfs.csi.ceph.com, to take over its volumes).
    #[arg(long, default_value = "cephfs.csi.sepia.io")]
    driver_name: String,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    if flags.shared.check_args {
        return shutdown::exit::checked(COMPONENT, flags.shared.check());
    }
    let runtime = flags.shared.runtime().map_err(StartError::Runtime);
    run_to_exit(COMPONENT, runtime, run(flags))
}

async fn run(flags: Flags) -> Result<(), StartError> {
    let shared = &flags.shared;
    let failpoints = shared.failpoints().map_err(StartError::Failpoints)?;
    let mut telemetry = telemetry::PluginTelemetry::new();
    ceph::observe_calls(telemetry.ceph_call_observer());
    let events = shared
        .publisher(COMPONENT, telemetry.registry())
        .map_err(StartError::Events)?;
    let metrics = controller::metrics::Metrics::register(&mut telemetry);
    // No alpha RPCs on this side.
    let settings = shared.settings(flags.driver_name, failpoints, events.clone(), metrics);
    let config = shared.cluster_config().await;
    telemetry
        .serve(&shared.http, config.clone(), std::future::pending())
        .await
        .map_err(StartError::MetricsEndpoint)?;
    let driver = Driver::new(State::new(settings, config));
    let incoming = csi::server::bind(&shared.endpoint)
        .await
        .map_err(StartError::ListenSocket)?;
    info!(endpoint = %shared.endpoint, driver = %driver.state.settings.driver_name, "serving");
    let served = cephfs_controller::server::serve(driver, incoming, shutdown::requested())
        .await
        .map_err(|source| StartError::Serving {
            endpoint: shared.endpoint.clone(),
            source,
        });
    if let Err(e) = events.flush(EVENTS_FLUSH).await {
        warn!(error = %e, "events not sent before shutdown");
    }
    served
}
