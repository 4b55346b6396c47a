//! `sepia-controller`: flags and wiring only. See the library's module map for the rest.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use controller::advertised::AlphaCapabilities;
use controller::settings::TrashPurge;
use controller::settings::flags::{ControllerFlags, StartError, run_to_exit};
use controller::{CloneDepth, Settings, State};
use tracing::{info, warn};

const COMPONENT: &str = "sepia-controller";
/// How long a shutdown waits for queued events to reach NATS.
const EVENTS_FLUSH: Duration = Duration::from_secs(5);

/// CSI controller plugin for Ceph RBD (ceph-csi compatible).
#[derive(Debug, Parser)]
#[command(version)]
struct Flags {
    #[command(flatten)]
    shared: ControllerFlags,
    /// CSI driver name (ceph-csi's, e.g. rook-ceph.rbd.csi.ceph.com, to take over its volumes).
    #[arg(long, default_value = "rbd.csi.sepia.io")]
    driver_name: String,
    /// Clone depth at which intermediate images are flattened in the background.
    #[arg(long, default_value_t = 4)]
    rbd_soft_max_clone_depth: u32,
    /// Clone depth at which restores and clones wait (ABORTED) for a flatten.
    #[arg(long, default_value_t = 8)]
    rbd_hard_max_clone_depth: u32,
    /// How trashed images are purged: `mgr` (ceph-csi's background task per image), `direct`
    /// (within the call), or `schedule` (a mgr trash purge schedule on the driver's namespace).
    #[arg(long, default_value = "mgr")]
    trash_purge: TrashPurge,
    /// Alpha capabilities of CSI to advertise and serve, comma-separated, or `all` / `none`:
    /// `single-node-multi-writer` (the RWO/RWOP access modes), `get-volume` (the
    /// ControllerGetVolume RPC), `volume-condition` (its volume health), `get-snapshot` (the
    /// GetSnapshot RPC, new in CSI 1.12: COs and csi-sanity up to v5.4 reject it as an unknown
    /// capability). An alpha RPC not listed answers UNIMPLEMENTED. None is on unless listed; the
    /// manifests list the first three, which Kubernetes has relied on for years.
    #[arg(long, default_value = AlphaCapabilities::DEFAULT)]
    alpha_capabilities: AlphaCapabilities,
    /// Connects to Ceph in flight at once; must be below --max-blocking-threads, whose rest
    /// stays for calls on connections already made. A request needing a new connection beyond
    /// this answers UNAVAILABLE at once (a connect with a wrong key holds a thread until
    /// --ceph-connect-timeout).
    #[arg(long, default_value_t = ceph::ConnectLimits::default().total)]
    max_concurrent_connects: usize,
    /// Connects in flight at once as one Ceph user (whatever the key).
    #[arg(long, default_value_t = ceph::ConnectLimits::default().per_identity)]
    max_connects_per_user: usize,
}

/// The rules between this binary's own flags (the clone depths, the connect limits).
fn own_rules(flags: &Flags) -> Result<(CloneDepth, ceph::ConnectLimits), String> {
    let clone_depth = CloneDepth::new(
        flags.rbd_soft_max_clone_depth,
        flags.rbd_hard_max_clone_depth,
    )?;
    Ok((clone_depth, connect_limits(flags)?))
}

/// `--max-concurrent-connects` and `--max-connects-per-user`, checked against the blocking pool.
fn connect_limits(flags: &Flags) -> Result<ceph::ConnectLimits, String> {
    let limits = ceph::ConnectLimits {
        total: flags.max_concurrent_connects,
        per_identity: flags.max_connects_per_user,
    };
    let max_blocking_threads = flags.shared.max_blocking_threads;
    if limits.total == 0 || limits.total >= max_blocking_threads {
        return Err(format!(
            "--max-concurrent-connects {} must be at least 1 and below --max-blocking-threads {}",
            limits.total, max_blocking_threads
        ));
    }
    if limits.per_identity == 0 || limits.per_identity > limits.total {
        return Err(format!(
            "--max-connects-per-user {} must be within 1..={}",
            limits.per_identity, limits.total
        ));
    }
    Ok(limits)
}

/// glibc gives every thread that allocates its own arena (up to 8 per core); with librados'
/// threads and the blocking pool that multiplies the heap for no gain in a process this size.
fn limit_malloc_arenas() {
    // SAFETY: mallopt only adjusts allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let flags = Flags::parse();
    if flags.shared.check_args {
        // Every rule `run` would apply before connecting.
        let checked = flags
            .shared
            .check()
            .and_then(|()| own_rules(&flags).map(drop));
        return shutdown::exit::checked(COMPONENT, checked);
    }
    let runtime = flags.shared.runtime().map_err(StartError::Runtime);
    run_to_exit(COMPONENT, runtime, run(flags))
}

async fn run(flags: Flags) -> Result<(), StartError> {
    let (clone_depth, connect_limits) =
        own_rules(&flags).map_err(|rule| StartError::Flags { rule })?;
    let shared = &flags.shared;
    let failpoints = shared.failpoints().map_err(StartError::Failpoints)?;
    let mut telemetry = telemetry::PluginTelemetry::new();
    ceph::observe_calls(telemetry.ceph_call_observer());
    let events = shared
        .publisher(COMPONENT, telemetry.registry())
        .map_err(StartError::Events)?;
    let metrics = controller::metrics::Metrics::register(&mut telemetry);
    let settings = Settings {
        connect_limits,
        clone_depth,
        trash_purge: flags.trash_purge,
        alpha: flags.alpha_capabilities,
        ..shared.settings(flags.driver_name, failpoints, events.clone(), metrics)
    };
    let config = shared.cluster_config().await;
    telemetry
        .serve(&shared.http, config.clone(), std::future::pending())
        .await
        .map_err(StartError::MetricsEndpoint)?;
    let state = State::new(settings, config);
    // Only with standing credentials: requests' secrets are not kept after the request.
    if state.settings.controller_credentials_dir.is_some() {
        controller::snapshot::resume::spawn_resume(&state);
    }
    let incoming = csi::server::bind(&shared.endpoint)
        .await
        .map_err(StartError::ListenSocket)?;
    info!(endpoint = %shared.endpoint, driver = %state.settings.driver_name, "serving");
    let served = controller::server::serve(state, incoming, shutdown::requested())
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
