//! [`launch`]: the `main` every sidecar binary shares, so each binary's `main.rs` is only its
//! flags and its wiring; and [`start`], the first step of that wiring (the binary's own rules,
//! then [`Sidecar::start`]). Logging comes first (a start-up failure must be logged like any
//! other), then the one warning about ignored flags; every failure becomes a non-zero exit so
//! Kubernetes restarts the pod. These run what `startup` parsed, so they sit on top of it.

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;

use telemetry::TelemetryGuard;

use crate::error::SidecarError;
use crate::runtime::Sidecar;
use crate::startup::args::SidecarArgs;
use crate::startup::command::{SidecarCommand, warn_ignored};

/// Installs logging and (with `--otlp-endpoint`) trace export for the process.
///
/// # Errors
/// A bad `--log-filter`, or telemetry already installed.
pub fn init_telemetry(args: &SidecarArgs, component: &str) -> Result<TelemetryGuard, SidecarError> {
    Ok(telemetry::init(&args.telemetry_config(component))?)
}

/// Installs telemetry from the shared flags of `command`, warns about ignored flags, runs
/// `run(command)` and turns its result into the exit code, the error logged with its causes
/// ([`shutdown::log_failure`]; before telemetry is up, on stderr).
///
/// A failure exits the process here and now (status 1), without waiting for the runtime's
/// blocking threads: after a lost Lease nothing of this process may outlive its deadline.
pub async fn launch<C, E, Fut>(command: C, run: impl FnOnce(C) -> Fut) -> ExitCode
where
    C: SidecarCommand,
    E: Error + 'static,
    Fut: Future<Output = Result<(), E>>,
{
    let telemetry = match init_telemetry(command.shared(), C::COMPONENT) {
        Ok(guard) => guard,
        Err(error) => {
            shutdown::log_failure(C::COMPONENT, &error);
            return ExitCode::FAILURE;
        }
    };
    warn_ignored(&command);
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            shutdown::log_failure(C::COMPONENT, &error);
            drop(telemetry);
            std::process::exit(1);
        }
    }
}

/// Checks `command`'s own rules, then starts the runtime ([`Sidecar::start`], which checks
/// the shared ones) from its shared flags as `C::COMPONENT`.
///
/// # Errors
/// [`SidecarError::InvalidArguments`] naming the broken rule, or [`Sidecar::start`]'s.
pub async fn start<C: SidecarCommand>(command: &C) -> Result<Sidecar, SidecarError> {
    command
        .validate_own()
        .map_err(|rule| SidecarError::InvalidArguments { rule })?;
    Sidecar::start(command.shared().clone(), C::COMPONENT).await
}
